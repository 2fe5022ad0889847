/**
 * Instantiating the kernel modules on a shared memory: the same code on the main thread and in
 * every worker, so all of them run the same functions over the same bytes.
 */

/** A compiled module and the name the modules after it import its exports under. */
export interface NamedModule {
  readonly name: string;
  readonly module: WebAssembly.Module;
}

/** What the device needs from the last (main) module, built by emscripten as STANDALONE_WASM. */
export interface RuntimeExports {
  /** Runs static constructors and initialises data once for all instances (main thread only). */
  _initialize(): void;
  /** The first byte after static data and the main stack: where the allocator starts. */
  heap_base(): number;
  /** Bytes of scratch memory each thread needs, and where thread 0's starts. */
  workspace_bytes(): number;
  set_workspaces(base: number): void;
  /** Moves this instance's stack pointer (a per-instance wasm global) to its own region. */
  stackRestore(top: number): void;
  emscripten_stack_set_limits(base: number, end: number): void;
}

/** A task function: (args pointer, thread index, thread count). */
export type TaskFunction = (args: number, tid: number, nt: number) => void;

/**
 * Instantiates `modules` in order on `memory`; each may import the exports of those before it
 * under their names. Returns the last instance's exports.
 */
export function instantiateAll(
  modules: readonly NamedModule[],
  memory: WebAssembly.Memory,
): WebAssembly.Exports {
  const imports: WebAssembly.Imports = { env: { memory } };
  let exports: WebAssembly.Exports = {};
  for (const { name, module } of modules) {
    exports = new WebAssembly.Instance(module, imports).exports;
    imports[name] = exports;
  }
  return exports;
}

/** The named task functions, in order; throws when the module lacks one. */
export function taskFunctions(
  exports: WebAssembly.Exports,
  names: readonly string[],
): TaskFunction[] {
  return names.map((name) => {
    const f = exports[name];
    if (typeof f !== "function") throw new Error(`the kernel module does not export ${name}`);
    return f as TaskFunction;
  });
}
