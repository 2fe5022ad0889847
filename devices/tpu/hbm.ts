/**
 * The TPU's HBM: a fixed capacity that every buffer (kernel outputs, uploads, variables) is
 * charged against, and the buffers themselves. A buffer's bytes live in a host typed array of
 * its dtype's storage; what is emulated is the capacity and the traffic, not an address space.
 */
import { allocStorage, byteSize, type DType, isNumeric, type Storage } from "../../core/dtype.ts";
import type { Device, DeviceBuffer } from "../../core/device.ts";
import { EdgeflowError, type ErrorContext } from "../../core/errors.ts";
import { defaultMemoryLimit, formatBytes } from "../../core/memory_limit.ts";
import { formatShape, type Shape, sizeOf } from "../../core/shape.ts";

export class TpuBuffer implements DeviceBuffer {
  refs = 0;
  /** Simulated cycle at which the value is complete in HBM. */
  readyAt = 0;
  constructor(
    readonly dtype: DType,
    readonly shape: Shape,
    /** The values, in the dtype's storage (bfloat16 as 16-bit patterns). */
    readonly data: Storage,
    /** Bytes of the value (charged against HBM unless the buffer is a view). */
    readonly bytes: number,
    readonly device: Device,
    /**
     * For a view (a reshape): the buffer whose bytes it shares. The view holds a reference to
     * it, so nothing updates the base in place while the view lives.
     */
    readonly base?: TpuBuffer,
  ) {}
}

export { formatBytes };

export class Hbm {
  inUse = 0;
  peak = 0;
  /**
   * Bytes that may be allocated: the emulated HBM, or less where the host's memory is smaller
   * (the `memoryLimit` option, by default a share of the host's RAM): the bytes live in host
   * typed arrays, and a 32 GiB HBM on a 23 GiB host would end in the process being killed.
   */
  readonly capacity: number;

  constructor(readonly hbmBytes: number, memoryLimit = defaultMemoryLimit()) {
    this.capacity = Math.min(hbmBytes, memoryLimit);
  }

  get free(): number {
    return this.capacity - this.inUse;
  }

  /**
   * Allocates a zeroed buffer, or throws an out-of-memory EdgeflowError that says what asked
   * (`purpose`, e.g. "output 0 of the kernel"), the bytes asked and the bytes free.
   */
  allocate(
    dtype: DType,
    shape: Shape,
    device: Device,
    purpose: string,
    context: ErrorContext = {},
  ): TpuBuffer {
    if (!isNumeric(dtype)) {
      throw new EdgeflowError(`the TPU holds numeric tensors only, not ${dtype} (${purpose})`);
    }
    const size = sizeOf(shape);
    const bytes = size * byteSize(dtype);
    if (bytes > this.free) {
      const what = this.capacity < this.hbmBytes
        ? `the memoryLimit of ${formatBytes(this.capacity)} (deviceOptions.TPU.memoryLimit; ` +
          `the emulated HBM holds ${formatBytes(this.hbmBytes)})`
        : formatBytes(this.capacity);
      throw new EdgeflowError(
        `out of TPU ${this.capacity < this.hbmBytes ? "memory" : "HBM"}: ${purpose} (${dtype}${
          formatShape(shape)
        }) asks ${formatBytes(bytes)}, but only ${formatBytes(this.free)} of ${what} are free`,
        context,
      );
    }
    const buffer = new TpuBuffer(dtype, shape, allocStorage(dtype, size), bytes, device);
    this.inUse += bytes;
    if (this.inUse > this.peak) this.peak = this.inUse;
    return buffer;
  }

  release(buffer: TpuBuffer): void {
    this.inUse -= buffer.bytes;
  }
}
