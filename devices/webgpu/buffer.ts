/**
 * GpuBuffer: a tensor's value in GPU memory. Several GpuBuffers may view one GpuStorage (a
 * Reshape forwards its input under a new shape without a copy); the storage returns to the pool
 * when its last view is freed.
 */
import type { DeviceBuffer } from "../../core/device.ts";
import type { DType } from "../../core/dtype.ts";
import type { Shape } from "../../core/shape.ts";
import type { WebGpuDevice } from "./device.ts";
import type { GpuStorage } from "./pool.ts";
import type { StorageType } from "./storage.ts";

export class GpuBuffer implements DeviceBuffer {
  refs = 0;
  /** Number of elements. */
  readonly size: number;

  constructor(
    readonly device: WebGpuDevice,
    readonly dtype: DType,
    readonly shape: Shape,
    /** The element type in the shader. */
    readonly type: StorageType,
    readonly storage: GpuStorage,
    /** Whether the view holds the storage (false for transient aliases inside one kernel). */
    counted = true,
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (counted) storage.refs++;
  }

  get gpu(): GPUBuffer {
    return this.storage.buffer;
  }

  /** Bytes the values take (a multiple of 4: bindings and copies need it). */
  get bytes(): number {
    const raw = this.size * (this.type === "f16" ? 2 : 4);
    return Math.max(4, Math.ceil(raw / 4) * 4);
  }
}
