/**
 * The WASM device: the CPU of Edgeflow. One shared WebAssembly.Memory holds every tensor; the
 * kernel modules are instantiated on it by the main thread and by a pool of workers; a kernel
 * writes its arguments into an args block and `launch`es a task that all threads run at once.
 *
 * The device knows nothing about particular kernels: its plugin (kernels_wasm/plugin.ts) gives it
 * the compiled modules and the names of their task functions.
 *
 * Two ways to launch. "thread" (the default for a session's only WASM device): the JavaScript
 * thread runs the task as thread 0 and returns when it is done, so a kernel costs no more than
 * its work, but devices launching this way take turns on the one JavaScript thread. "worker" (the
 * default when a session holds several WASM devices and the machine has a core for each launcher
 * besides the JavaScript thread's): a launcher worker runs the tasks, taking
 * them from a command queue (queue.ts) as a GPU takes its command buffers; `run` returns once the
 * kernel is queued and the JavaScript thread goes on with other nodes, so several devices compute
 * at once, each on its own threads. What reads memory waits for the queue.
 */
import { bytesOf, retain } from "../../core/buffer.ts";
import type {
  BufferSpec,
  Device,
  DeviceOptions,
  DevicePerformance,
  MemoryStats,
} from "../../core/device.ts";
import { fullDeviceName } from "../../core/device_spec.ts";
import { byteSize, type DType } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { KernelContext, KernelInstance } from "../../core/kernel.ts";
import type { Shape } from "../../core/shape.ts";
import { Tensor } from "../../core/tensor.ts";
import { Allocator, type AllocatorStats, Block, sizeClass } from "./allocator.ts";
import { Storage, WasmBuffer } from "./buffer.ts";
import {
  instantiateAll,
  type NamedModule,
  type RuntimeExports,
  taskFunctions,
} from "./instance.ts";
import { WorkerPool } from "./pool.ts";
import { LaunchQueue, type LaunchSpan } from "./queue.ts";
import { RING } from "./control.ts";

/** Options of `create` (DeviceOptions keys a session passes through `deviceOptions.WASM`). */
export interface WasmDeviceOptions extends DeviceOptions {
  /** Threads including the main thread; default navigator.hardwareConcurrency. */
  threads?: number;
  /** Upper bound of the memory in bytes; default and most 4 GiB. */
  maxMemory?: number;
  /** Iterations a waiting thread spins before it sleeps; default 20000 (some tens of µs). */
  spin?: number;
  /**
   * Who runs the tasks (see above): "thread" (default for one device) or "worker" (default
   * when the session holds several, `count` > 1, and the machine has more cores than `count`).
   */
  launch?: "thread" | "worker";
  /**
   * How many WASM devices the session creates (its deviceCount): with several (and a core for
   * each launcher besides the JS thread's), each defaults to launching from a worker and to an
   * equal share of the cores.
   */
  count?: number;
  /**
   * Web Workers for the pool: they start faster and hold less memory than node:worker_threads'
   * but keep the process alive until the device is disposed (pool.ts); for servers.
   */
  keepAlive?: boolean;
}

/** What the kernel plugin supplies. */
export interface WasmDeviceConfig extends WasmDeviceOptions {
  /** Modules in instantiation order; the last is the emscripten module with the runtime. */
  modules: readonly NamedModule[];
  /** Task functions the kernels launch, by index. */
  taskNames: readonly string[];
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** At least the kernel module's INITIAL_MEMORY (1 MiB, kernels_wasm/build.ts). */
const INITIAL_PAGES = 32;
const STACK_BYTES = 256 << 10;
const ARGS_BYTES = 1024;
/** Jobs smaller than this (element operations, ~ns each) run on the calling thread alone. */
export const PARALLEL_WORK = 1 << 14;
/** Jobs at least this large wake sleeping workers. */
export const WAKE_WORK = 1 << 19;

/** A dtype's storage over an ArrayBuffer holding its elements. */
function storageOver(
  dtype: DType,
  buffer: ArrayBufferLike,
  offset = 0,
  length?: number,
): Tensor["data"] {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, offset, length);
    case "int32":
      return new Int32Array(buffer, offset, length);
    case "int64":
      return new BigInt64Array(buffer, offset, length);
    case "bfloat16":
    case "float16":
      return new Uint16Array(buffer, offset, length);
    case "int8":
      return new Int8Array(buffer, offset, length);
    case "bool":
    case "uint8":
      return new Uint8Array(buffer, offset, length);
    default:
      throw new EdgeflowError(`the WASM device holds numeric tensors, not ${dtype}`);
  }
}

export class WasmDevice implements Device<WasmBuffer> {
  readonly type = "WASM" as const;
  readonly name: string;
  /**
   * Launching from the JavaScript thread, kernels run there (and on its helpers), in turn with
   * other such devices; launching from a worker, the device runs on its own (undefined).
   */
  readonly runsOn: string | undefined = "js-thread";
  /** Launching from a worker, the JS thread still issues the kernels (records their launches). */
  readonly launchesOn: string | undefined;
  readonly performance: DevicePerformance;
  /** Views over the memory; re-created whenever it grows. */
  private view8!: Uint8Array;
  private view32!: Int32Array;
  private viewF32!: Float32Array;
  /** Host↔device traffic since creation: how tests see that a training step moves no weights. */
  readonly transfers = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0 };
  private readonly allocator: Allocator;
  private readonly argsPtr: number;
  private pool?: WorkerPool;
  /** The command queue, launching from a worker. */
  private queue?: LaunchQueue;
  /** Where the last launch's argument words are. */
  private lastArgs: number;
  /** When each kernel launched from a worker ran there, for run metadata. */
  private readonly spans = new WeakMap<KernelContext, LaunchSpan>();
  private disposed = false;

  private constructor(
    index: number,
    readonly wasmMemory: WebAssembly.Memory,
    runtime: RuntimeExports,
    private readonly maxBytes: number,
    worker: boolean,
  ) {
    this.name = fullDeviceName("WASM", index);
    if (worker) {
      this.runsOn = undefined;
      this.launchesOn = "js-thread";
    }
    this.refreshViews();
    this.allocator = new Allocator(
      runtime.heap_base(),
      wasmMemory,
      maxBytes,
      () => this.refreshViews(),
    );
    this.argsPtr = this.allocator.alloc(ARGS_BYTES, true);
    this.lastArgs = this.argsPtr;
    if (worker) {
      // One argument block per ring slot: a command's words stay put until it has run.
      const base = this.allocator.alloc(RING * ARGS_BYTES, true);
      this.queue = new LaunchQueue(this.name, base, ARGS_BYTES);
    }
    this.performance = { flops: 3e10, bandwidth: 1e10, transfer: 1e10, launch: 2e-6 };
  }

  static async create(config: WasmDeviceConfig): Promise<WasmDevice> {
    const cores = navigator.hardwareConcurrency ?? 1;
    const count = Math.max(1, Math.floor(config.count ?? 1));
    // Launching from workers pays only where each launcher gets a core of its own beside the JS
    // thread: on 2 cores, two worker-launching devices measured 1.6x slower than one device on
    // the JS thread (bench:placement, the launchers waking on oversubscribed cores).
    const worker = (config.launch ?? (count > 1 && cores > count ? "worker" : "thread")) ===
      "worker";
    if (config.launch !== undefined && config.launch !== "thread" && config.launch !== "worker") {
      throw new EdgeflowError(
        `WASM option 'launch' must be "thread" or "worker", got ${JSON.stringify(config.launch)}`,
      );
    }
    // Devices computing at once (launching from workers) share the cores: each takes its part by
    // default. Devices taking turns on the JS thread each use every core.
    const threads = Math.max(1, Math.floor(config.threads ?? (worker ? cores / count : cores)));
    const maxPages = Math.min(MAX_PAGES, Math.ceil((config.maxMemory ?? MAX_PAGES * PAGE) / PAGE));
    const memory = new WebAssembly.Memory({
      initial: Math.min(INITIAL_PAGES, maxPages),
      maximum: maxPages,
      shared: true,
    });
    const exports = instantiateAll(config.modules, memory);
    const runtime = exports as unknown as RuntimeExports;
    runtime._initialize();
    const device = new WasmDevice(config.index ?? 0, memory, runtime, maxPages * PAGE, worker);
    const tasks = taskFunctions(exports, config.taskNames);
    const a = device.allocator;
    runtime.set_workspaces(a.alloc(threads * runtime.workspace_bytes(), true));
    const stack = () => {
      const base = a.alloc(STACK_BYTES, true);
      return { base, top: base + STACK_BYTES };
    };
    const stacks = Array.from({ length: threads - 1 }, stack);
    // Spinning only helps while every thread has a core; oversubscribed, it steals theirs.
    const spin = threads * count <= cores ? config.spin ?? 20000 : 0;
    const queue = device.queue;
    device.pool = await WorkerPool.start(tasks, {
      stacks,
      spin,
      keepAlive: config.keepAlive,
      init: { modules: config.modules, memory, taskNames: config.taskNames, spin },
      launcher: queue && { ...stack(), queue: queue.buffer },
    });
    device.performance.flops *= threads;
    return device;
  }

  /** Threads kernels run on, the main thread (or the launcher) included. */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  /** Who runs the tasks: this thread, or the device's launcher worker. */
  get launchMode(): "thread" | "worker" {
    return this.queue ? "worker" : "thread";
  }

  // Views over the memory. Launching from a worker, who reads or writes memory through them
  // sees every kernel queued so far done: the launcher runs them first (queue.ts).
  get u8(): Uint8Array {
    if (this.queue?.busy) this.queue.sync();
    return this.view8;
  }
  get i32(): Int32Array {
    if (this.queue?.busy) this.queue.sync();
    return this.view32;
  }
  get f32(): Float32Array {
    if (this.queue?.busy) this.queue.sync();
    return this.viewF32;
  }

  allocate(spec: BufferSpec): WasmBuffer {
    this.checkOpen();
    const bytes = bytesOf(spec);
    const storage = new Storage(this.alloc(bytes), sizeClass(bytes));
    if (this.queue?.recording) this.written.push(storage);
    return new WasmBuffer(this, spec.dtype, spec.shape.slice(), storage);
  }

  /** Storages the kernel being recorded allocated: it writes them. */
  private readonly written: Storage[] = [];
  /** The queue's command count after the last stateful kernel queued (see run). */
  private statefulAt = 0;

  /** A buffer of another shape over the same storage (no copy). */
  view(buffer: WasmBuffer, shape: Shape): WasmBuffer {
    return new WasmBuffer(this, buffer.dtype, shape.slice(), buffer.storage);
  }

  free(buffer: WasmBuffer): void {
    const storage = buffer.storage;
    if (--storage.buffers === 0 && !this.disposed) this.release(storage.ptr, storage.size);
  }

  /**
   * A block of `bytes`. Launching from a worker, memory freed under pending kernels comes back
   * only once they are done: out of memory with some pending, wait for them and try again.
   */
  private alloc(bytes: number): number {
    try {
      return this.allocator.alloc(bytes);
    } catch (e) {
      if (!this.queue?.busy) throw e;
      this.queue.sync();
      return this.allocator.alloc(bytes);
    }
  }

  /** Returns a block to the allocator, once the commands pending that may use it are done. */
  private release(ptr: number, size: number): void {
    if (this.queue?.busy) {
      this.queue.defer(() => !this.disposed && this.allocator.release(ptr, size));
    } else this.allocator.release(ptr, size);
  }

  /** Views `adopt` handed out, by the buffer behind each (device.ts says why). */
  private readonly adopted = new WeakMap<Tensor, WasmBuffer>();

  adopt(t: Tensor): { buffer: WasmBuffer; view: Tensor } {
    const buffer = retain(this.upload(t));
    // The memory is shared: a view stays valid (at its length) when the memory grows.
    const view = this.peek(buffer);
    this.adopted.set(view, buffer);
    return { buffer, view };
  }

  upload(t: Tensor): WasmBuffer {
    if (t.dtype === "string" || t.dtype === "resource" || t.dtype === "variant") {
      throw new EdgeflowError(`the WASM device holds numeric tensors, not ${t.dtype}`);
    }
    // A view from `adopt` whose buffer is still held: its bytes are already here.
    const own = this.adopted.get(t);
    if (own && own.refs > 0) return own;
    const b = this.allocate(t);
    const data = t.data as ArrayBufferView, bytes = bytesOf(t);
    // A new block: no pending command touches it.
    this.view8.set(new Uint8Array(data.buffer, data.byteOffset, bytes), b.ptr);
    this.transfers.uploads++;
    this.transfers.uploadBytes += bytes;
    return b;
  }

  /**
   * To another WASM device: one copy from this memory into the other's, once the kernels queued
   * here are done (without blocking the JavaScript thread).
   */
  transferTo(b: WasmBuffer, to: Device): WasmBuffer | Promise<WasmBuffer> | undefined {
    if (!(to instanceof WasmDevice) || to === this) return undefined;
    if (this.pending(b)) {
      return this.queue!.drained(this.readyAt(b)).then(() => this.copyTo(b, to));
    }
    return this.copyTo(b, to);
  }

  private copyTo(b: WasmBuffer, to: WasmDevice): WasmBuffer {
    const bytes = bytesOf(b);
    const copy = to.allocate(b);
    // The kernels writing b are done (transferTo waited for them).
    to.view8.set(this.view8.subarray(b.ptr, b.ptr + bytes), copy.ptr);
    this.transfers.downloads++;
    this.transfers.downloadBytes += bytes;
    to.transfers.uploads++;
    to.transfers.uploadBytes += bytes;
    return copy;
  }

  download(b: WasmBuffer): Promise<Tensor> {
    if (this.pending(b)) {
      return this.queue!.drained(this.readyAt(b)).then(() => this.copyOut(b));
    }
    return Promise.resolve(this.copyOut(b));
  }

  /**
   * Whether a queued kernel that writes `b` may not have run yet. Copies out of `b` wait for
   * those kernels only, not for the whole queue: a value another device needs leaves as soon as
   * it is computed.
   */
  private pending(b: WasmBuffer): boolean {
    return this.queue !== undefined && this.readyAt(b) > this.queue.done;
  }

  /** The queue's command count after which `b`'s contents are final. */
  private readyAt(b: WasmBuffer): number {
    return Math.max(b.storage.readyAt, this.statefulAt);
  }

  /** Waits (without blocking) for every kernel queued so far; throws the first that failed. */
  sync(): Promise<void> | void {
    if (this.queue?.busy) return this.queue.drained();
  }

  private copyOut(b: WasmBuffer): Tensor {
    const n = b.shape.reduce((x, y) => x * y, 1);
    const bytes = n * byteSize(b.dtype);
    // The typed-array constructor copies out of the shared memory fastest: 4 MiB measured
    // 0.33-0.45 ms, against 0.5-0.6 ms for slice() (V8 copies shared memory word by word there)
    // and as much for a new typed array followed by set() (which zero-fills it first).
    // The kernels writing b are done (download waited for them).
    const copy = new Uint8Array(this.view8.subarray(b.ptr, b.ptr + bytes)).buffer;
    const data = storageOver(b.dtype, copy);
    this.transfers.downloads++;
    this.transfers.downloadBytes += bytes;
    return new Tensor(b.dtype, b.shape, data);
  }

  /** A view of the buffer's memory (no copy), valid until the memory grows. */
  peek(b: WasmBuffer): Tensor {
    const q = this.queue;
    // Launching from a worker: wait (blocking) for the kernels that write b, or for everything
    // when the kernel being recorded launched already (it may be writing b).
    if (q && (q.recording && q.recorded > q.done ? true : this.pending(b))) {
      q.sync(q.recording ? Infinity : this.readyAt(b));
    }
    const n = b.shape.reduce((x, y) => x * y, 1);
    return new Tensor(b.dtype, b.shape, storageOver(b.dtype, this.view8.buffer, b.ptr, n));
  }

  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void> {
    const q = this.queue;
    if (!q) return kernel.run(ctx);
    const where = ctx.node && { node: ctx.node.name, op: ctx.node.op.name };
    q.begin();
    q.recordingNode = where;
    let ran: void | Promise<void>;
    try {
      ran = kernel.run(ctx);
    } catch (e) {
      q.abandon();
      this.written.length = 0;
      throw e;
    }
    // A kernel that awaits launches after its first await synchronously (see launch).
    const span = q.end(where?.node, where?.op);
    // What it wrote is ready when its commands are done: what it allocated, and its outputs
    // (an input it wrote in place, a view it forwarded).
    const ready = q.recorded;
    for (const st of this.written) st.readyAt = ready;
    this.written.length = 0;
    for (const o of (ctx as { outputs?: readonly unknown[] }).outputs ?? []) {
      if (o instanceof WasmBuffer && o.storage.readyAt < ready) o.storage.readyAt = ready;
    }
    // A stateful kernel (a variable's update) may write buffers that are none of its outputs:
    // copies out of any buffer wait for it.
    if (span && (!ctx.node || ctx.node.op.stateful)) this.statefulAt = ready;
    if (span) this.spans.set(ctx, span);
    return ran;
  }

  /**
   * When the kernel ran on the launcher (epoch ms), where it launched from a worker: filled in
   * once the launcher has run it (by the end of the step).
   */
  kernelStats(ctx: KernelContext): Record<string, number> | undefined {
    return this.spans.get(ctx) as Record<string, number> | undefined;
  }

  /**
   * Runs task `task` split into `tasks` pieces. `words` are the kernel's arguments, after the
   * task counter and count the C side reads at words 0 and 1. `work` is the job's size in
   * element operations (about a nanosecond each): below PARALLEL_WORK it stays on this thread;
   * below WAKE_WORK it takes only the workers that are awake (still spinning after a job), since
   * waking a sleeping one costs from ten to hundreds of microseconds (a VM's idle core).
   */
  launch(task: number, tasks: number, words: readonly number[], work = Infinity): void {
    if (tasks <= 0) return;
    if (words.length + 2 > ARGS_BYTES / 4) {
      throw new Error(`too many argument words for task ${task}`);
    }
    const q = this.queue;
    const args = q ? q.reserve() : this.argsPtr;
    const i32 = this.view32, a = args >>> 2;
    i32[a] = 0;
    i32[a + 1] = tasks;
    for (let i = 0; i < words.length; i++) i32[a + 2 + i] = words[i];
    const threads = work < PARALLEL_WORK ? 1 : Math.min(tasks, this.threads);
    this.lastArgs = args;
    if (!q) return this.pool!.run(task, args, threads, work >= WAKE_WORK);
    q.push(task, args, threads, work >= WAKE_WORK);
    // Outside a kernel's run (or after its first await) a launch is done when it returns.
    if (!q.recording) q.sync();
  }

  /** Argument word i of the last launch, after the task words: where tasks return results. */
  argWord(i: number): number {
    return this.i32[(this.lastArgs >>> 2) + 2 + i];
  }

  /** Temporary memory for a kernel (packed matrices, index tables); release it when done. */
  scratch(bytes: number): Block {
    this.checkOpen();
    return new Block(this.alloc(bytes), sizeClass(bytes));
  }
  releaseScratch(block: Block): void {
    if (!this.disposed) this.release(block.ptr, block.size);
  }

  memory(): MemoryStats {
    const s = this.allocator.stats();
    return { inUse: s.inUse, peak: s.peak, capacity: this.maxBytes };
  }

  /** The allocator's view: live, cached and internal bytes, and the heap's extent. */
  allocatorStats(): AllocatorStats {
    return this.allocator.stats();
  }

  resetPeak(): void {
    this.allocator.resetPeak();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.queue?.close();
    await this.pool?.close();
  }

  private refreshViews(): void {
    const buffer = this.wasmMemory.buffer;
    this.view8 = new Uint8Array(buffer);
    this.view32 = new Int32Array(buffer);
    this.viewF32 = new Float32Array(buffer);
  }

  private checkOpen(): void {
    if (this.disposed) throw new EdgeflowError(`${this.name} is closed`);
  }
}
