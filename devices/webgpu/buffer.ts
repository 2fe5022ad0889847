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

  /** Bytes the values take (a multiple of 4: copies need it). */
  get bytes(): number {
    const raw = this.size * (this.type === "f16" ? 2 : 4);
    return Math.max(4, Math.ceil(raw / 4) * 4);
  }

  /**
   * Bytes a dispatch binds: the values rounded up to whole vec4s of 32-bit words (at least one),
   * the largest element any program declares. Programs view buffers as array<vec4<T>>, and WebGPU
   * refuses a binding smaller than one element: an empty tensor (K = 0 of a GEMM) is bound as 16
   * bytes. Deno 2.9's wgpu also keeps checking bindings against the previous pipeline's sizes when
   * two pipelines share a layout (every program of the same input/output counts does), so a
   * scalar after a vec4 program would be refused ("bound with size 4 where the shader expects
   * 16") unless every binding satisfies every program. Pool buffers hold at least 256 bytes in
   * multiples of 64, so the rounding stays inside the storage.
   */
  get bindingBytes(): number {
    return Math.min(this.storage.size, Math.max(16, Math.ceil(this.bytes / 16) * 16));
  }
}
