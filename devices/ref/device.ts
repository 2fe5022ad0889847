/**
 * The reference device: buffers are host Tensors and kernels run each op's reference
 * implementation. It is the oracle the other devices are tested against, and the host fallback
 * for ops another device has no kernel for (the random ops).
 */
import { bytesOf, HostBuffer } from "../../core/buffer.ts";
import type { BufferSpec, Device, DevicePerformance, MemoryStats } from "../../core/device.ts";
import { fullDeviceName } from "../../core/device_spec.ts";
import { EdgeflowError, type ErrorContext } from "../../core/errors.ts";
import { defaultMemoryLimit, formatBytes } from "../../core/memory_limit.ts";
import { formatShape, isFullyDefined } from "../../core/shape.ts";
import type { KernelContext, KernelInstance } from "../../core/kernel.ts";
import { Tensor } from "../../core/tensor.ts";

export class RefDevice implements Device<HostBuffer> {
  readonly type = "REF" as const;
  readonly name: string;
  // Plain TypeScript loops: slow arithmetic, free transfers (the data is already on the host).
  readonly performance: DevicePerformance = {
    flops: 2e8,
    bandwidth: 2e9,
    transfer: 1e11,
    launch: 1e-6,
  };
  /** Kernels run synchronously on the JavaScript thread (and its helpers), in turn with other such devices. */
  readonly runsOn = "js-thread";
  private inUse = 0;
  private peak = 0;
  /** Live buffers per storage: views and forwarded tensors share their bytes, charged once. */
  private readonly owners = new Map<object, number>();

  /**
   * `memoryLimit`: the bytes this device's live buffers may hold (core/memory_limit.ts; by
   * default a share of the host's memory). Past it, a kernel is refused before it computes.
   */
  constructor(index = 0, readonly memoryLimit: number = defaultMemoryLimit()) {
    this.name = fullDeviceName("REF", index);
  }

  allocate(spec: BufferSpec): HostBuffer {
    this.checkFits(bytesOf(spec), `a ${spec.dtype}${formatShape(spec.shape)} buffer`);
    return this.wrap(Tensor.zeros(spec.dtype, spec.shape));
  }

  /** Makes a host tensor a buffer of this device (no copy: tensors are immutable). */
  wrap(t: Tensor): HostBuffer {
    const owners = this.owners.get(t.data) ?? 0;
    if (owners === 0) {
      const bytes = bytesOf(t);
      // The message is formatted only when it is needed: this runs for every REF output.
      if (this.inUse + bytes > this.memoryLimit) {
        this.checkFits(bytes, `a ${t.dtype}${formatShape(t.shape)} buffer`);
      }
      this.inUse += bytes;
      if (this.inUse > this.peak) this.peak = this.inUse;
    }
    this.owners.set(t.data, owners + 1);
    return new HostBuffer(t, this);
  }

  free(buffer: HostBuffer): void {
    const t = buffer.tensor;
    const owners = (this.owners.get(t.data) ?? 1) - 1;
    if (owners > 0) this.owners.set(t.data, owners);
    else {
      this.owners.delete(t.data);
      this.inUse -= bytesOf(t);
    }
  }
  upload(t: Tensor): HostBuffer {
    return this.wrap(t);
  }
  download(buffer: HostBuffer): Promise<Tensor> {
    return Promise.resolve(buffer.tensor);
  }
  /**
   * Runs a kernel after checking that its outputs fit: their shapes come from the op's inference
   * on this run's inputs (values included), so a Fill of [2^31] floats is refused before the
   * reference allocates 8 GiB. Outputs inference cannot size are checked when wrapped.
   */
  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void> {
    const specs = ctx.outputSpecs();
    let bytes = 0;
    for (const s of specs) {
      if (isFullyDefined(s.shape)) bytes += bytesOf({ dtype: s.dtype, shape: s.shape });
    }
    if (this.inUse + bytes > this.memoryLimit) {
      const asked = specs.flatMap((s, i) =>
        isFullyDefined(s.shape) ? [`output ${i} (${s.dtype}${formatShape(s.shape)})`] : []
      );
      this.checkFits(bytes, asked.join(" and "), { node: ctx.node.name, op: ctx.node.op.name });
    }
    return kernel.run(ctx);
  }

  private checkFits(bytes: number, what: string, context: ErrorContext = {}): void {
    if (this.inUse + bytes <= this.memoryLimit) return;
    throw new EdgeflowError(
      `out of REF memory: ${what} asks ${formatBytes(bytes)}, but only ${
        formatBytes(Math.max(0, this.memoryLimit - this.inUse))
      } of the memoryLimit of ${
        formatBytes(this.memoryLimit)
      } are free (deviceOptions.REF.memoryLimit)`,
      context,
    );
  }
  memory(): MemoryStats {
    return { inUse: this.inUse, peak: this.peak, capacity: this.memoryLimit };
  }
  /** Starts peak tracking afresh (tests of the executor's memory use). */
  resetPeak(): void {
    this.peak = this.inUse;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
