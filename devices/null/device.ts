/**
 * The NULL device runs nothing: its kernels allocate outputs of the statically inferred shape
 * and compute no values. It counts bytes like a real device, so placement, partitioning and the
 * executor's memory behaviour can be tested without arithmetic.
 */
import { bytesOf } from "../../core/buffer.ts";
import type {
  BufferSpec,
  Device,
  DeviceBuffer,
  DevicePerformance,
  MemoryStats,
} from "../../core/device.ts";
import { fullDeviceName } from "../../core/device_spec.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { KernelContext, KernelInstance } from "../../core/kernel.ts";
import type { Shape } from "../../core/shape.ts";
import type { Tensor } from "../../core/tensor.ts";

class NullBuffer implements DeviceBuffer {
  refs = 0;
  constructor(
    readonly dtype: BufferSpec["dtype"],
    readonly shape: Shape,
    readonly device: NullDevice,
  ) {}
}

export class NullDevice implements Device {
  readonly type = "NULL" as const;
  readonly name: string;
  readonly performance: DevicePerformance;
  private inUse = 0;
  private peak = 0;
  /** Kernels "run" so far, for tests. */
  launches = 0;

  constructor(index = 0, performance?: Partial<DevicePerformance>) {
    this.name = fullDeviceName("NULL", index);
    this.performance = {
      flops: 1e12,
      bandwidth: 1e11,
      transfer: 1e10,
      launch: 1e-6,
      ...performance,
    };
  }
  allocate(spec: BufferSpec): DeviceBuffer {
    this.inUse += bytesOf(spec);
    if (this.inUse > this.peak) this.peak = this.inUse;
    return new NullBuffer(spec.dtype, spec.shape, this);
  }
  free(buffer: DeviceBuffer): void {
    this.inUse -= bytesOf(buffer);
  }
  upload(t: Tensor): DeviceBuffer {
    return this.allocate(t);
  }
  /** To another NULL device: a buffer of the same spec there (nothing to copy). */
  transferTo(buffer: DeviceBuffer, to: Device): DeviceBuffer | undefined {
    return to instanceof NullDevice ? to.allocate(buffer) : undefined;
  }
  download(_buffer: DeviceBuffer): Promise<Tensor> {
    return Promise.reject(
      new EdgeflowError("the NULL device computes no values; fetch from another device"),
    );
  }
  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void> {
    this.launches++;
    return kernel.run(ctx);
  }
  memory(): MemoryStats {
    return { inUse: this.inUse, peak: this.peak };
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
