/**
 * WebGpuDevice: Edgeflow's GPU, through the WebGPU API (Deno's, or a browser's). Kernels only
 * record work (see recorder.ts); a run's dispatches share one command buffer, and the device
 * waits for the GPU only in `download` (readback.ts). Buffers come from a size-class pool
 * (pool.ts), pipelines from a cache filled when a session builds its plan (`prepare`).
 *
 * Failures: allocation beyond the device's limits, device loss and errors the GPU reports
 * asynchronously (out of memory) become EdgeflowErrors; after a loss every call fails with the
 * loss's reason, and a new session (or `webgpuPlugin.create`) makes a fresh device.
 */
import type {
  BufferSpec,
  Device,
  DevicePerformance,
  MemoryStats,
  PreparedKernel,
} from "../../core/device.ts";
import { fullDeviceName } from "../../core/device_spec.ts";
import { EdgeflowError, type ErrorContext } from "../../core/errors.ts";
import type { Node } from "../../core/graph.ts";
import type {
  Kernel,
  KernelConstruction,
  KernelContext,
  KernelInstance,
} from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { formatShape, type Shape } from "../../core/shape.ts";
import type { Tensor } from "../../core/tensor.ts";
import { GpuBuffer } from "./buffer.ts";
import { ConstantCache } from "./constants.ts";
import type { PipelineCache } from "./pipelines.ts";
import { BufferPool } from "./pool.ts";
import type { Dispatch, Program } from "./program.ts";
import { Readback } from "./readback.ts";
import { Recorder } from "./recorder.ts";
import type { Warmup } from "./warmup.ts";
import type { GpuListener, SharedGpu } from "./shared.ts";
import { encode, storageBytes, type StorageType, storageType } from "./storage.ts";

/** Options of `webgpuPlugin.create` (Session's `deviceOptions.WEBGPU`). */
export interface WebGpuOptions {
  index?: number;
  /**
   * Store float16 tensors as native f16 and compute them in half precision. Needs the adapter's
   * shader-f16 feature (create fails with an EdgeflowError without it); off by default, so
   * float16 values are otherwise held and computed in f32 and rounded to float16 on store.
   */
  shaderF16?: boolean;
  /** Bytes the device may hold at once; an allocation beyond fails with an EdgeflowError. */
  memoryLimit?: number;
  /** Free bytes the buffer pool keeps for reuse (default 256 MiB). */
  poolBytes?: number;
  powerPreference?: GPUPowerPreference;
  /**
   * The matrix-multiply strategy (kernels_gpu/matmul/gemm.ts): "tiled" stages tiles in workgroup
   * memory (GPUs), "panel" blocks in registers (CPU adapters); by default chosen by adapter.
   */
  gemm?: "tiled" | "panel";
  [key: string]: unknown;
}

/**
 * A WebGPU kernel's instance for one node. Its `programs` are derived once, when the plan is
 * built, from the node's static dtypes, ranks and attrs: `prepare` compiles them and `run`
 * dispatches the same objects ([] where they depend on the run; those compile on first use).
 */
// deno-lint-ignore no-explicit-any
export interface GpuInstance<A extends Attrs = any> extends KernelInstance<A, WebGpuDevice> {
  readonly programs: readonly Program[];
}

/** A kernel of this device: a plain `run`, or a `create` making a GpuInstance per node. */
// deno-lint-ignore no-explicit-any
export interface GpuKernel<A extends Attrs = any> extends Kernel<A, WebGpuDevice> {
  create?(construction: KernelConstruction<A, WebGpuDevice>): GpuInstance<A>;
}

/** Whether an instance declares the programs it dispatches (a GpuInstance). */
function isGpuInstance(instance: KernelInstance): instance is GpuInstance {
  return "programs" in instance && Array.isArray(instance.programs);
}

export class WebGpuDevice implements Device<GpuBuffer> {
  readonly type = "WEBGPU" as const;
  readonly name: string;
  readonly performance: DevicePerformance;
  /** Whether float16 is stored as native f16 (the `shaderF16` option). */
  readonly nativeF16: boolean;
  readonly pipelines: PipelineCache;
  readonly recorder: Recorder;
  readonly pool: BufferPool;
  /** Workgroups per dispatch dimension, at most. */
  readonly maxWorkgroups: number;
  readonly gpu: GPUDevice;
  readonly info: GPUAdapterInfo;
  private readonly shared: SharedGpu;
  private readonly listener: GpuListener;
  private readonly staging: BufferPool;
  private readonly readback: Readback;
  private readonly constants: ConstantCache;
  private readonly warmup: Warmup;
  private readonly maxBinding: number;
  private readonly memoryLimit: number;
  private inUse = 0;
  private peak = 0;
  private lost?: EdgeflowError;
  private reported?: EdgeflowError;
  private disposed = false;

  /** A device of its own (pools, batches, memory accounting) on the process's shared GPU. */
  constructor(shared: SharedGpu, readonly options: WebGpuOptions = {}) {
    const { device: gpu, info } = shared;
    this.shared = shared;
    this.gpu = gpu;
    this.info = info;
    this.name = fullDeviceName("WEBGPU", options.index ?? 0);
    this.nativeF16 = options.shaderF16 === true;
    this.performance = info.isFallbackAdapter
      ? { flops: 2e10, bandwidth: 5e9, transfer: 5e9, launch: 5e-5 }
      : { flops: 5e12, bandwidth: 2e11, transfer: 1e10, launch: 1e-5 };
    this.maxBinding = gpu.limits.maxStorageBufferBindingSize;
    this.maxWorkgroups = gpu.limits.maxComputeWorkgroupsPerDimension;
    this.memoryLimit = options.memoryLimit ?? Infinity;
    // (GPUBufferUsage is read here, not at module load, so runtimes without WebGPU can import.)
    const usage = GPUBufferUsage;
    this.pool = new BufferPool(
      gpu,
      usage.STORAGE | usage.COPY_SRC | usage.COPY_DST,
      options.poolBytes ?? 256 * 2 ** 20,
    );
    this.staging = new BufferPool(gpu, usage.MAP_READ | usage.COPY_DST, 64 * 2 ** 20);
    this.pipelines = shared.pipelines;
    this.recorder = new Recorder(gpu, this.pool);
    this.readback = new Readback(this.recorder, this.staging, () => this.failure());
    this.constants = new ConstantCache(this);
    this.warmup = shared.warmup;
    this.listener = {
      lost: (info) => {
        if (this.disposed) return;
        this.lost = new EdgeflowError(
          `the WebGPU device was lost (${info.reason}): ${info.message}; ` +
            "create a new session to get a fresh device",
        );
        this.readback.failAll(this.lost);
      },
      error: (e) => {
        const what = e instanceof GPUOutOfMemoryError
          ? "the GPU ran out of memory"
          : "the GPU reported an error";
        this.reported ??= new EdgeflowError(`${what}: ${e.message.trim()}`);
      },
    };
    shared.listeners.add(this.listener);
  }

  /** Whether the device was lost (after which every call fails). */
  get isLost(): boolean {
    return this.lost !== undefined;
  }

  // ---- memory -----------------------------------------------------------------------------

  allocate(spec: BufferSpec): GpuBuffer {
    return this.alloc(spec, false);
  }

  free(buffer: GpuBuffer): void {
    const s = buffer.storage;
    if (--s.refs > 0) return;
    this.inUse -= s.size;
    // After disposal (a session releasing late), the buffer goes with the device.
    if (this.disposed) {
      if (!this.lost) s.buffer.destroy();
      return;
    }
    this.pool.release(s, s.batch === this.recorder.batch);
  }

  /** The same values under another shape (Reshape, Squeeze): no copy, the storage is shared. */
  view(buffer: GpuBuffer, shape: Shape): GpuBuffer {
    return new GpuBuffer(this, buffer.dtype, shape, buffer.type, buffer.storage);
  }

  /**
   * The same values under another shape for use inside one kernel (a bias viewed as [C, 1, 1]):
   * it holds no reference, so it must not outlive the buffer nor become an output.
   */
  alias(buffer: GpuBuffer, shape: Shape): GpuBuffer {
    return new GpuBuffer(this, buffer.dtype, shape, buffer.type, buffer.storage, false);
  }

  upload(t: Tensor): GpuBuffer {
    const b = this.alloc(t, true);
    if (t.size > 0) {
      const data = encode(t, b.type);
      // writeBuffer needs a multiple of 4 bytes; an odd count of f16 values is padded.
      const padded = data.byteLength % 4 === 0 ? data : padTo4(data as Uint16Array);
      this.gpu.queue.writeBuffer(b.gpu, 0, padded as BufferSource);
    }
    return b;
  }

  /** A Const's value on the device, uploaded once per tensor and shared by every run. */
  constant(t: Tensor): GpuBuffer {
    return this.constants.get(t);
  }

  download(buffer: GpuBuffer): Promise<Tensor> {
    return this.readback.read(buffer);
  }

  memory(): MemoryStats {
    const capacity = Number.isFinite(this.memoryLimit) ? this.memoryLimit : undefined;
    return { inUse: this.inUse, peak: this.peak, capacity };
  }

  /** Work counters (tests check batching and caching with them). */
  stats(): { submits: number; dispatches: number; waits: number; pipelines: number } {
    const { submits, dispatches } = this.recorder.stats;
    return { submits, dispatches, waits: this.readback.waits, pipelines: this.pipelines.compiled };
  }

  /** The storage type of a dtype on this device; an EdgeflowError for strings and handles. */
  storageOf(dtype: BufferSpec["dtype"]): StorageType {
    const type = storageType(dtype, this.nativeF16);
    if (!type) throw new EdgeflowError(`a ${dtype} tensor cannot live on the WebGPU device`);
    return type;
  }

  // ---- running ----------------------------------------------------------------------------

  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void> {
    this.checkAlive();
    return kernel.run(ctx);
  }

  /** Compiles the pipelines of a plan's kernels, so the first run compiles nothing. */
  async prepare(kernels: readonly PreparedKernel[]): Promise<void> {
    this.checkAlive();
    const jobs: Promise<unknown>[] = [];
    const all: Program[] = [];
    for (const { instance, node } of kernels) {
      const programs = isGpuInstance(instance) ? instance.programs : [];
      const context = { node: node.name, op: node.op.name };
      for (const p of programs) jobs.push(this.pipelines.compile(p, context));
      all.push(...programs);
    }
    await Promise.all(jobs);
    await this.warmup.warm(all);
  }

  /**
   * Records dispatches in order. Synchronous when their pipelines are compiled (the usual case
   * after `prepare`); otherwise compiles them first and returns a promise. Until then the
   * dispatches' buffers are held here: a caller letting go of one meanwhile must not send its
   * storage back to the pool, where another kernel or an upload could overwrite it before the
   * dispatch that reads it is recorded.
   */
  encode(node: Node, dispatches: readonly Dispatch[]): void | Promise<void> {
    this.checkAlive();
    const work = dispatches.filter((d) => d.workgroups.every((w) => w !== 0));
    const missing = work.filter((d) => !this.pipelines.get(d.program));
    const context = { node: node.name, op: node.op.name };
    if (missing.length === 0) {
      for (const d of work) this.record(d, context);
      return;
    }
    const held = work.flatMap((d) => [...d.inputs, ...d.outputs]);
    for (const b of held) b.storage.refs++;
    return Promise.all(missing.map((d) => this.pipelines.compile(d.program, context))).then(() => {
      this.checkAlive();
      for (const d of work) this.record(d, context);
    }).finally(() => {
      for (const b of held) this.free(b);
    });
  }

  /**
   * Submits the run's work. Deferred to a microtask: downloads the session requests right after
   * a flush then join the same command buffer, and the readback submits it.
   */
  flush(): void {
    queueMicrotask(() => {
      if (!this.lost && !this.disposed && !this.readback.pending) this.recorder.submit();
    });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.disposed) return;
    if (!this.lost) {
      this.recorder.submit();
      await this.gpu.queue.onSubmittedWorkDone();
    }
    this.disposed = true;
    this.shared.listeners.delete(this.listener);
    this.constants.clear();
    // A lost device's objects are gone with it; destroying them again is not safe in every
    // implementation.
    if (this.lost) return;
    this.pool.trim();
    this.staging.trim();
    this.recorder.destroy();
    // The GPUDevice, its pipelines and warm-up buffers stay for the process's next session
    // (shared.ts).
  }

  // ---- internals --------------------------------------------------------------------------

  private record(d: Dispatch, context: ErrorContext): void {
    for (const w of d.workgroups) {
      if (w !== undefined && w > this.maxWorkgroups) {
        throw new EdgeflowError(
          `${d.program.name} needs ${w} workgroups along one dimension (at most ${this.maxWorkgroups})`,
          context,
        );
      }
    }
    const layout = this.pipelines.bindGroupLayout(d.program.inputs, d.program.outputs);
    this.recorder.dispatch(d, this.pipelines.get(d.program)!, layout, context);
  }

  private alloc(spec: BufferSpec, forUpload: boolean): GpuBuffer {
    this.checkAlive();
    const type = this.storageOf(spec.dtype);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = Math.max(4, Math.ceil((count * storageBytes(type)) / 4) * 4);
    const what = `a ${spec.dtype}${formatShape(spec.shape)} tensor (${bytes} bytes)`;
    if (bytes > this.maxBinding) {
      throw new EdgeflowError(
        `out of memory: ${what} exceeds the largest buffer a WebGPU kernel can bind here ` +
          `(${this.maxBinding} bytes)`,
      );
    }
    if (this.inUse + bytes > this.memoryLimit) {
      throw new EdgeflowError(
        `out of memory: ${what} does not fit; ${this.inUse} of the device's ${this.memoryLimit} ` +
          "bytes are in use",
      );
    }
    const storage = this.pool.acquire(bytes, forUpload);
    this.inUse += storage.size;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return new GpuBuffer(this, spec.dtype, spec.shape, type, storage);
  }

  private checkAlive(): void {
    if (this.lost) throw this.lost;
    if (this.disposed) throw new EdgeflowError("the WebGPU device was disposed");
  }

  /**
   * A loss, or an error the GPU reported since the last readback (reported once): a refused
   * batch (recorder.ts names its dispatch's node), or one reported outside any batch.
   */
  private failure(): EdgeflowError | undefined {
    if (this.lost) return this.lost;
    const e = this.recorder.taken() ?? this.reported;
    this.reported = undefined;
    return e;
  }
}

function padTo4(data: Uint16Array): Uint16Array {
  const out = new Uint16Array(data.length + 1);
  out.set(data);
  return out;
}
