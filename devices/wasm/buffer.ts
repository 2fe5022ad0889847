/**
 * WASM device buffers. A buffer is a dtype and shape over a Storage (a block of the shared
 * memory); several buffers may view one storage (Reshape, Squeeze, ExpandDims forward their input
 * without copying). Core counts owners per buffer; the storage counts buffers, and its block goes
 * back to the allocator when the last buffer over it is freed.
 */
import type { DeviceBuffer } from "../../core/device.ts";
import type { DType } from "../../core/dtype.ts";
import type { Shape } from "../../core/shape.ts";
import { Block } from "./allocator.ts";
import type { WasmDevice } from "./device.ts";

/** A block holding a tensor's bytes, shared by the buffers that view it. */
export class Storage extends Block {
  /** Buffers over this storage that core has not freed yet. */
  buffers = 0;
  /**
   * Launching from a worker: the command count of the device's queue (queue.ts) after which the
   * kernels that wrote this storage are done; 0 when no queued kernel wrote it.
   */
  readyAt = 0;
}

export class WasmBuffer implements DeviceBuffer {
  refs = 0;
  constructor(
    readonly device: WasmDevice,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly storage: Storage,
  ) {
    storage.buffers++;
  }

  /** Byte address in the device's memory. */
  get ptr(): number {
    return this.storage.ptr;
  }

  /** Whether writing in place is invisible to everyone else: one owner, no other view. */
  get exclusive(): boolean {
    return this.refs <= 1 && this.storage.buffers === 1;
  }
}
