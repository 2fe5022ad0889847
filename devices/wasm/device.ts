/**
 * The WASM device: the CPU of Edgeflow. One shared WebAssembly.Memory holds every tensor; the
 * kernel modules are instantiated on it by the main thread and by a pool of workers; a kernel
 * writes its arguments into an args block and `launch`es a task that all threads run at once.
 *
 * The device knows nothing about particular kernels: its plugin (kernels_wasm/plugin.ts) gives it
 * the compiled modules and the names of their task functions.
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

/** Options of `create` (DeviceOptions keys a session passes through `deviceOptions.WASM`). */
export interface WasmDeviceOptions extends DeviceOptions {
  /** Threads including the main thread; default navigator.hardwareConcurrency. */
  threads?: number;
  /** Upper bound of the memory in bytes; default and most 4 GiB. */
  maxMemory?: number;
  /** Iterations a waiting thread spins before it sleeps; default 20000 (some tens of µs). */
  spin?: number;
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
  /** Kernels run synchronously on the JavaScript thread (and its helpers), in turn with other such devices. */
  readonly runsOn = "js-thread";
  readonly performance: DevicePerformance;
  /** Views over the memory; re-created whenever it grows. */
  u8!: Uint8Array;
  i32!: Int32Array;
  f32!: Float32Array;
  /** Host↔device traffic since creation: how tests see that a training step moves no weights. */
  readonly transfers = { uploads: 0, uploadBytes: 0, downloads: 0, downloadBytes: 0 };
  private readonly allocator: Allocator;
  private readonly argsPtr: number;
  private pool?: WorkerPool;
  private disposed = false;

  private constructor(
    index: number,
    readonly wasmMemory: WebAssembly.Memory,
    runtime: RuntimeExports,
    private readonly maxBytes: number,
  ) {
    this.name = fullDeviceName("WASM", index);
    this.refreshViews();
    this.allocator = new Allocator(
      runtime.heap_base(),
      wasmMemory,
      maxBytes,
      () => this.refreshViews(),
    );
    this.argsPtr = this.allocator.alloc(ARGS_BYTES, true);
    this.performance = { flops: 3e10, bandwidth: 1e10, transfer: 1e10, launch: 2e-6 };
  }

  static async create(config: WasmDeviceConfig): Promise<WasmDevice> {
    const threads = Math.max(1, Math.floor(config.threads ?? navigator.hardwareConcurrency ?? 1));
    const maxPages = Math.min(MAX_PAGES, Math.ceil((config.maxMemory ?? MAX_PAGES * PAGE) / PAGE));
    const memory = new WebAssembly.Memory({
      initial: Math.min(INITIAL_PAGES, maxPages),
      maximum: maxPages,
      shared: true,
    });
    const exports = instantiateAll(config.modules, memory);
    const runtime = exports as unknown as RuntimeExports;
    runtime._initialize();
    const device = new WasmDevice(config.index ?? 0, memory, runtime, maxPages * PAGE);
    const tasks = taskFunctions(exports, config.taskNames);
    const a = device.allocator;
    runtime.set_workspaces(a.alloc(threads * runtime.workspace_bytes(), true));
    const stacks = Array.from({ length: threads - 1 }, () => {
      const base = a.alloc(STACK_BYTES, true);
      return { base, top: base + STACK_BYTES };
    });
    // Spinning only helps while every thread has a core; oversubscribed, it steals theirs.
    const spin = threads <= (navigator.hardwareConcurrency ?? 1) ? config.spin ?? 20000 : 0;
    device.pool = await WorkerPool.start(tasks, {
      stacks,
      spin,
      keepAlive: config.keepAlive,
      init: { modules: config.modules, memory, taskNames: config.taskNames, spin },
    });
    device.performance.flops *= threads;
    return device;
  }

  /** Threads kernels run on, the main thread included. */
  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  allocate(spec: BufferSpec): WasmBuffer {
    this.checkOpen();
    const bytes = bytesOf(spec);
    const storage = new Storage(this.allocator.alloc(bytes), sizeClass(bytes));
    return new WasmBuffer(this, spec.dtype, spec.shape.slice(), storage);
  }

  /** A buffer of another shape over the same storage (no copy). */
  view(buffer: WasmBuffer, shape: Shape): WasmBuffer {
    return new WasmBuffer(this, buffer.dtype, shape.slice(), buffer.storage);
  }

  free(buffer: WasmBuffer): void {
    const storage = buffer.storage;
    if (--storage.buffers === 0 && !this.disposed) {
      this.allocator.release(storage.ptr, storage.size);
    }
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
    this.u8.set(new Uint8Array(data.buffer, data.byteOffset, bytes), b.ptr);
    this.transfers.uploads++;
    this.transfers.uploadBytes += bytes;
    return b;
  }

  /** To another WASM device: one copy from this memory into the other's. */
  transferTo(b: WasmBuffer, to: Device): WasmBuffer | undefined {
    if (!(to instanceof WasmDevice) || to === this) return undefined;
    const bytes = bytesOf(b);
    const copy = to.allocate(b);
    to.u8.set(this.u8.subarray(b.ptr, b.ptr + bytes), copy.ptr);
    this.transfers.downloads++;
    this.transfers.downloadBytes += bytes;
    to.transfers.uploads++;
    to.transfers.uploadBytes += bytes;
    return copy;
  }

  download(b: WasmBuffer): Promise<Tensor> {
    const n = b.shape.reduce((x, y) => x * y, 1);
    const bytes = n * byteSize(b.dtype);
    // The typed-array constructor copies out of the shared memory fastest: 4 MiB measured
    // 0.33-0.45 ms, against 0.5-0.6 ms for slice() (V8 copies shared memory word by word there)
    // and as much for a new typed array followed by set() (which zero-fills it first).
    const copy = new Uint8Array(this.u8.subarray(b.ptr, b.ptr + bytes)).buffer;
    const data = storageOver(b.dtype, copy);
    this.transfers.downloads++;
    this.transfers.downloadBytes += bytes;
    return Promise.resolve(new Tensor(b.dtype, b.shape, data));
  }

  /** A view of the buffer's memory (no copy), valid until the memory grows. */
  peek(b: WasmBuffer): Tensor {
    const n = b.shape.reduce((x, y) => x * y, 1);
    return new Tensor(b.dtype, b.shape, storageOver(b.dtype, this.u8.buffer, b.ptr, n));
  }

  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void> {
    return kernel.run(ctx);
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
    const i32 = this.i32, a = this.argsPtr >>> 2;
    i32[a] = 0;
    i32[a + 1] = tasks;
    for (let i = 0; i < words.length; i++) i32[a + 2 + i] = words[i];
    const threads = work < PARALLEL_WORK ? 1 : Math.min(tasks, this.threads);
    this.pool!.run(task, this.argsPtr, threads, work >= WAKE_WORK);
  }

  /** Argument word i of the last launch, after the task words: where tasks return results. */
  argWord(i: number): number {
    return this.i32[(this.argsPtr >>> 2) + 2 + i];
  }

  /** Temporary memory for a kernel (packed matrices, index tables); release it when done. */
  scratch(bytes: number): Block {
    this.checkOpen();
    return new Block(this.allocator.alloc(bytes), sizeClass(bytes));
  }
  releaseScratch(block: Block): void {
    if (!this.disposed) this.allocator.release(block.ptr, block.size);
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
    await this.pool?.close();
  }

  private refreshViews(): void {
    const buffer = this.wasmMemory.buffer;
    this.u8 = new Uint8Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.f32 = new Float32Array(buffer);
  }

  private checkOpen(): void {
    if (this.disposed) throw new EdgeflowError(`${this.name} is closed`);
  }
}
