/**
 * Ownership of device buffers. Executor slots and variables own buffers; a buffer is freed on its
 * device when its last owner lets go. HostBuffer is a buffer in host memory (a Tensor), used for
 * feeds, host-memory outputs (shapes, resource handles) and by the reference device.
 */
import { byteSize } from "./dtype.ts";
import type { BufferSpec, Device, DeviceBuffer } from "./device.ts";
import type { Tensor } from "./tensor.ts";

export class HostBuffer implements DeviceBuffer {
  refs = 0;
  constructor(readonly tensor: Tensor, readonly device: Device | null = null) {}
  get dtype() {
    return this.tensor.dtype;
  }
  get shape() {
    return this.tensor.shape;
  }
}

export function retain<B extends DeviceBuffer>(buffer: B): B {
  buffer.refs++;
  return buffer;
}

export function release(buffer: DeviceBuffer): void {
  if (--buffer.refs === 0) buffer.device?.free(buffer);
}

export function bytesOf(spec: BufferSpec): number {
  let n = byteSize(spec.dtype);
  for (const d of spec.shape) n *= d;
  return n;
}
