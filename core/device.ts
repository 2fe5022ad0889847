/**
 * The Device interface every device implements, and the buffers it hands out. A device owns
 * memory and runs kernels; the executor decides when.
 */
import type { DType } from "./dtype.ts";
import type { DeviceType } from "./device_spec.ts";
import type { Node } from "./graph.ts";
import type { Kernel, KernelContext, KernelInstance } from "./kernel.ts";
import type { Shape } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** A concrete dtype and shape: what a buffer holds. */
export interface BufferSpec {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A tensor's storage on some device (or in host memory). */
export interface DeviceBuffer extends BufferSpec {
  /** The device that holds the bytes; null for host memory that any device can upload. */
  readonly device: Device | null;
  /**
   * How many owners (executor slots, variables) hold the buffer. Managed by core/buffer.ts only:
   * a device frees a buffer when core calls `free`, which happens when this drops to zero.
   */
  refs: number;
}

export interface MemoryStats {
  /** Bytes allocated now. */
  inUse: number;
  /** The most bytes allocated at once since the device was created (or `resetPeak`). */
  peak: number;
  /** Bytes the device can hold, where it is bounded (TPU HBM). */
  capacity?: number;
}

/** Rough speeds for the cost model: what placement compares devices with. */
export interface DevicePerformance {
  /** Arithmetic throughput, FLOP/s. */
  flops: number;
  /** Memory bandwidth of kernels, bytes/s. */
  bandwidth: number;
  /** Host↔device transfer bandwidth, bytes/s. */
  transfer: number;
  /** Fixed cost of launching one kernel, seconds. */
  launch: number;
}

/**
 * A device, generic in the buffer type it allocates (WASM's WasmBuffer, WebGPU's GpuBuffer), so
 * the methods that take buffers back and the kernels it runs see that type without casts.
 *
 * The narrowing from DeviceBuffer is made once, by core: `free`, `view`, `download` and `peek`
 * are only ever called with a buffer the same device allocated (core/buffer.ts frees through
 * `buffer.device`; the executor reads a buffer back on the device that holds it), and a kernel's
 * inputs are copied to its node's device before it runs (see KernelContext). `Device<B>` is
 * therefore used where a `Device` is expected (its methods' parameters compare bivariantly).
 */
export interface Device<B extends DeviceBuffer = DeviceBuffer> {
  /** The full name: "/job:localhost/replica:0/task:0/device:WASM:0". */
  readonly name: string;
  readonly type: DeviceType;
  readonly performance: DevicePerformance;
  /**
   * What runs the device's kernels, where several devices share it: devices naming the same
   * thing take turns, so the placer does not count on them running at once ("js-thread" for
   * devices whose kernels run synchronously on the JavaScript thread: WASM, REF). Absent: the
   * device runs on its own (a GPU's queue, a TPU chip).
   */
  readonly runsOn?: string;
  /**
   * What issues the device's kernels, where that is shared but the kernels then run on their
   * own (`runsOn` absent or distinct): "js-thread" for a WASM device launching from a worker,
   * whose kernels' TypeScript runs on the JavaScript thread. The placer charges the launch cost
   * there, in turn with every device issued from it.
   */
  readonly launchesOn?: string;
  /** Allocates an uninitialised buffer. Throws EdgeflowError when memory runs out. */
  allocate(spec: BufferSpec): B;
  /** Returns a buffer's memory; only core/buffer.ts calls this (when refs reach zero). */
  free(buffer: B): void;
  /**
   * The same bytes under another shape of as many elements (no copy), for Reshape-like ops;
   * absent on devices whose buffers are host tensors (REF) or hold nothing (NULL).
   */
  view?(buffer: B, shape: Shape): B;
  /** Copies a host tensor to the device. */
  upload(t: Tensor): B | Promise<B>;
  /**
   * Where device memory is host-addressable (WASM, the emulated TPU's HBM): copies `t` into
   * device memory once and
   * returns that buffer (retained for the caller, who releases it) and a host tensor viewing the
   * same bytes, for the caller to keep instead of `t`. `upload` of the view returns the buffer
   * itself: a model's weights then exist once, on the device (loadGraphModel's `device`). The
   * view is valid until the buffer is released.
   */
  adopt?(t: Tensor): { buffer: B; view: Tensor };
  /**
   * A copy of a buffer on another device where this pair has a path that skips the host (two
   * GPUs of one adapter); undefined to let core go through host memory (core/transfer.ts).
   */
  transferTo?(buffer: B, to: Device): DeviceBuffer | Promise<DeviceBuffer> | undefined;
  /** Copies a buffer back to the host; the only place a GPU run waits for its queue. */
  download(buffer: B): Promise<Tensor>;
  /**
   * The values of a buffer as a host tensor without a copy or a wait, where the device's memory
   * is host-addressable (WASM, the emulated TPU); absent elsewhere (a GPU reads back instead).
   * The view is valid only until the device allocates again: run-time checks read inputs
   * through it.
   */
  peek?(buffer: B): Tensor;
  /** Runs a node's kernel: usually `kernel.run(ctx)`; a device may wrap it (timing, recording). */
  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void>;
  memory(): MemoryStats;
  /** Called once when a plan is built, with the kernels it will run here (compile pipelines). */
  prepare?(kernels: readonly PreparedKernel[]): void | Promise<void>;
  /** Called after each executor run: submit queued work so downloads see it. */
  flush?(): void;
  /**
   * Waits until every kernel queued on the device so far has run, and throws (an EdgeflowError
   * naming the node and op) if one failed: for a device whose `run` returns once a kernel is
   * queued and reports failures later (a WASM device launching from a worker). An executor's
   * run awaits it before it ends, so a step ends with its kernels.
   */
  sync?(): void | Promise<void>;
  /** What the device knows about a kernel that just ran, for run metadata (simulated cycles). */
  kernelStats?(ctx: KernelContext): Record<string, number> | undefined;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The buffer type a device allocates: `BufferOf<WebGpuDevice>` is GpuBuffer. */
export type BufferOf<D> = D extends { allocate(spec: BufferSpec): infer B extends DeviceBuffer } ? B
  : DeviceBuffer;

/** A kernel as a plan will run it on a device, for `Device.prepare`. */
export interface PreparedKernel {
  readonly kernel: Kernel;
  /** The node's instance, made when the plan was built. */
  readonly instance: KernelInstance;
  readonly node: Node;
}

/** Options a plugin's `create` takes; each device documents its own keys. */
export interface DeviceOptions {
  /** The device index in its type: "/device:WASM:<index>". */
  index?: number;
  /** How many devices of this type the session creates (its deviceCount), where it says. */
  count?: number;
  [key: string]: unknown;
}
