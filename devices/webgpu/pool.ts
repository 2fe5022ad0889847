/**
 * The buffer pool. Creating a GPUBuffer is costly and runs interleave allocations of the same
 * sizes, so freed buffers are kept in free lists by size class and handed out again.
 *
 * Size classes: 256 bytes, then four classes per power of two (2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k),
 * so a buffer wastes under 25% and a 1 MiB tensor fits any freed buffer of its class.
 *
 * Reuse and ordering: commands recorded but not yet submitted run after every `writeBuffer` the
 * queue sees before the submit. So a buffer released while the open batch still references it is
 * "dirty": later kernels of the batch may write it (the GPU runs the batch in order), but an
 * upload must not, or the upload would land before the batch's earlier reads. Dirty buffers turn
 * clean when the batch is submitted (`endBatch`).
 */

/** A GPU buffer and its bookkeeping; shared by every GpuBuffer view of it. */
export class GpuStorage {
  /** Views holding the storage; it goes back to the pool when this reaches zero. */
  refs = 0;
  /** The id of the last batch that recorded a command using it. */
  batch = 0;
  constructor(readonly buffer: GPUBuffer, readonly size: number) {}
}

export interface PoolStats {
  /** Bytes of all buffers the pool created and still holds (in use and free). */
  reserved: number;
  /** Bytes of free buffers kept for reuse. */
  free: number;
  /** Buffers created so far (a steady workload stops creating). */
  created: number;
}

export class BufferPool {
  private readonly clean = new Map<number, GpuStorage[]>();
  private dirty = new Map<number, GpuStorage[]>();
  private freeBytes = 0;
  private reservedBytes = 0;
  private createdCount = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    /** Free bytes kept at most; clean buffers released beyond this are destroyed. */
    private readonly maxFree: number,
  ) {}

  /** The size class of a request: what a buffer of that request really holds. */
  static sizeClass(bytes: number): number {
    if (bytes <= 256) return 256;
    const base = 2 ** Math.floor(Math.log2(bytes - 1));
    for (const f of [1.25, 1.5, 1.75]) if (base * f >= bytes) return base * f;
    return base * 2;
  }

  /**
   * A buffer of at least `bytes`. `forUpload` takes only clean buffers (see the file comment);
   * kernels' outputs may take dirty ones too.
   */
  acquire(bytes: number, forUpload: boolean): GpuStorage {
    const size = BufferPool.sizeClass(bytes);
    const s = this.clean.get(size)?.pop() ?? (forUpload ? undefined : this.dirty.get(size)?.pop());
    if (s) {
      this.freeBytes -= size;
      return s;
    }
    const buffer = this.device.createBuffer({ size, usage: this.usage });
    this.reservedBytes += size;
    this.createdCount++;
    return new GpuStorage(buffer, size);
  }

  /** Takes a buffer back; `dirty` when the open batch has used it. */
  release(s: GpuStorage, dirty: boolean): void {
    // A dirty buffer cannot be destroyed yet: the recorded batch still binds it.
    if (!dirty && this.freeBytes + s.size > this.maxFree) {
      this.destroy(s);
      return;
    }
    this.freeBytes += s.size;
    listOf(dirty ? this.dirty : this.clean, s.size).push(s);
  }

  /** The open batch was submitted: its dirty buffers may now take uploads. */
  endBatch(): void {
    const dirty = this.dirty;
    this.dirty = new Map();
    for (const list of dirty.values()) {
      for (const s of list) {
        this.freeBytes -= s.size;
        this.release(s, false);
      }
    }
  }

  /** Destroys every free buffer (the device going away, or memory pressure between batches). */
  trim(): void {
    this.endBatch();
    for (const list of this.clean.values()) for (const s of list) this.destroy(s);
    this.clean.clear();
    this.freeBytes = 0;
  }

  stats(): PoolStats {
    return { reserved: this.reservedBytes, free: this.freeBytes, created: this.createdCount };
  }

  private destroy(s: GpuStorage): void {
    this.reservedBytes -= s.size;
    s.buffer.destroy();
  }
}

function listOf(map: Map<number, GpuStorage[]>, size: number): GpuStorage[] {
  let list = map.get(size);
  if (!list) map.set(size, list = []);
  return list;
}
