/**
 * The reference device: buffers are host Tensors and kernels run each op's reference
 * implementation. It is the oracle the other devices are tested against, and the host fallback
 * for ops another device has no kernel for (the random ops).
 */
import { bytesOf, HostBuffer } from "../../core/buffer.ts";
import type {
  BufferSpec,
  Device,
  DeviceBuffer,
  DevicePerformance,
  MemoryStats,
} from "../../core/device.ts";
import { fullDeviceName } from "../../core/device_spec.ts";
import type { KernelContext, KernelInstance } from "../../core/kernel.ts";
import { Tensor } from "../../core/tensor.ts";

export class RefDevice implements Device {
  readonly type = "REF" as const;
  readonly name: string;
  // Plain TypeScript loops: slow arithmetic, free transfers (the data is already on the host).
  readonly performance: DevicePerformance = {
    flops: 2e8,
    bandwidth: 2e9,
    transfer: 1e11,
    launch: 1e-6,
  };
  private inUse = 0;
  private peak = 0;

  constructor(index = 0) {
    this.name = fullDeviceName("REF", index);
  }

  allocate(spec: BufferSpec): HostBuffer {
    return this.wrap(Tensor.zeros(spec.dtype, spec.shape));
  }

  /** Makes a host tensor a buffer of this device (no copy: tensors are immutable). */
  wrap(t: Tensor): HostBuffer {
    this.inUse += bytesOf(t);
    if (this.inUse > this.peak) this.peak = this.inUse;
    return new HostBuffer(t, this);
  }

  free(buffer: DeviceBuffer): void {
    this.inUse -= bytesOf(buffer);
  }
  upload(t: Tensor): HostBuffer {
    return this.wrap(t);
  }
  download(buffer: DeviceBuffer): Promise<Tensor> {
    return Promise.resolve((buffer as HostBuffer).tensor);
  }
  run(kernel: KernelInstance, ctx: KernelContext): void | Promise<void> {
    return kernel.run(ctx);
  }
  memory(): MemoryStats {
    return { inUse: this.inUse, peak: this.peak };
  }
  /** Starts peak tracking afresh (tests of the executor's memory use). */
  resetPeak(): void {
    this.peak = this.inUse;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}
