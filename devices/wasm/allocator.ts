/**
 * The WASM device's allocator: blocks of the shared WebAssembly.Memory, handed out in size
 * classes and reused when freed. It runs on the main thread only (the kernels never allocate),
 * which is why it can be plain TypeScript: emscripten's malloc is not thread-safe in a module
 * built without pthreads.
 *
 * Classes are multiples of 64 bytes up to 1 KiB, then eight per power of two (at most 12.5% waste;
 * with four, a training step's peak carried 25% more for its 784x256 weights and their gradient,
 * whose 802,816 bytes took 917,504, against 851,968 now), so the buffers of a training step, which has the same sizes every step, come back from the free
 * lists after the first one. The heap grows at its top with memory.grow; when it cannot grow, freed
 * blocks are merged with their neighbours and the top is lowered before the allocation fails.
 */
import { EdgeflowError } from "../../core/errors.ts";

/** Every block starts on a 64-byte boundary: a cache line, and aligned for any v128 access. */
export const ALIGN = 64;
const PAGE = 65536;
/** Grow by at least this much, so a run of allocations does not grow (and remap views) each time. */
const MIN_GROWTH = 16 << 20;

/** A block of the memory: its address and its size class. */
export class Block {
  constructor(readonly ptr: number, readonly size: number) {}
}

/** Size classes per power of two above 1 KiB. */
const CLASSES_PER_OCTAVE = 8;

/** Bytes actually reserved for a request: its size class. */
export function sizeClass(bytes: number): number {
  if (bytes <= 1024) return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  const step = 2 ** Math.floor(Math.log2(bytes)) / CLASSES_PER_OCTAVE;
  return Math.ceil(bytes / step) * step;
}

export interface AllocatorStats {
  /** Bytes in live blocks (size classes) allocated with `alloc`. */
  inUse: number;
  /** The most `inUse` has been. */
  peak: number;
  /** Bytes held by the device itself (workspaces, stacks): `alloc(bytes, true)`. */
  internal: number;
  /** Freed bytes kept in the free lists for reuse. */
  cached: number;
  /** The heap's extent: from its base to the top of the highest block ever handed out. */
  heap: number;
}

export class Allocator {
  private top: number;
  private readonly free = new Map<number, number[]>();
  private inUse = 0;
  private peak = 0;
  private internal = 0;
  private cached = 0;

  /**
   * @param base first byte the allocator owns (the module's heap base)
   * @param memory the memory to grow
   * @param onGrow called after every growth (views over the memory must be re-created)
   */
  constructor(
    private readonly base: number,
    private readonly memory: WebAssembly.Memory,
    private readonly maxBytes: number,
    private readonly onGrow: () => void,
  ) {
    this.top = Math.ceil(base / ALIGN) * ALIGN;
  }

  /**
   * The address of a block of at least `bytes`, `sizeClass(bytes)` in fact (release it with that
   * size); `internal` blocks are not counted in `inUse`.
   */
  alloc(bytes: number, internal = false): number {
    const size = sizeClass(bytes);
    const ptr = this.takeFree(size) ?? this.bump(size) ?? this.reclaim(size);
    if (ptr === undefined) {
      throw new EdgeflowError(
        `WASM device out of memory: ${bytes} bytes requested, ${this.inUse} in use, ` +
          `${this.cached} cached, limit ${this.maxBytes}`,
      );
    }
    if (internal) this.internal += size;
    else {
      this.inUse += size;
      if (this.inUse > this.peak) this.peak = this.inUse;
    }
    return ptr;
  }

  /** Returns a block: `size` is its size class. */
  release(ptr: number, size: number, internal = false): void {
    const list = this.free.get(size);
    if (list) list.push(ptr);
    else this.free.set(size, [ptr]);
    this.cached += size;
    if (internal) this.internal -= size;
    else this.inUse -= size;
  }

  stats(): AllocatorStats {
    return {
      inUse: this.inUse,
      peak: this.peak,
      internal: this.internal,
      cached: this.cached,
      heap: this.top - this.base,
    };
  }

  /** Starts peak tracking afresh. */
  resetPeak(): void {
    this.peak = this.inUse;
  }

  private takeFree(size: number): number | undefined {
    // Emptied lists stay in the map: a chain of small ops takes and returns the same class
    // every op, and deleting and re-creating its entry cost a tenth of the op (profiled).
    const ptr = this.free.get(size)?.pop();
    if (ptr !== undefined) this.cached -= size;
    return ptr;
  }

  private bump(size: number): number | undefined {
    const end = this.top + size;
    if (end > this.maxBytes) return undefined;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const want = Math.min(this.maxBytes, Math.max(end, have + MIN_GROWTH, have * 1.25));
      try {
        this.memory.grow(Math.ceil((want - have) / PAGE));
      } catch {
        try {
          this.memory.grow(Math.ceil((end - have) / PAGE));
        } catch {
          return undefined;
        }
      }
      this.onGrow();
    }
    const ptr = this.top;
    this.top = end;
    return ptr;
  }

  /** Merges free blocks, lowers the top over free space at the end, then retries. */
  private reclaim(size: number): number | undefined {
    const blocks: [number, number][] = [];
    for (const [s, ptrs] of this.free) for (const p of ptrs) blocks.push([p, s]);
    blocks.sort((a, b) => a[0] - b[0]);
    this.free.clear();
    this.cached = 0;
    let kept: [number, number][] = [];
    for (const [p, s] of blocks) {
      const last = kept[kept.length - 1];
      if (last && last[0] + last[1] === p) last[1] += s;
      else kept.push([p, s]);
    }
    const highest = kept[kept.length - 1];
    if (highest && highest[0] + highest[1] === this.top) {
      this.top = highest[0];
      kept = kept.slice(0, -1);
    }
    // A merged run at least as large serves the request; the rest of it stays free.
    let found: number | undefined;
    for (const run of kept) {
      if (found === undefined && run[1] >= size) {
        found = run[0];
        run[0] += size;
        run[1] -= size;
      }
      this.keepFree(run[0], run[1]);
    }
    return found ?? this.bump(size);
  }

  /** Files a free run under the largest size classes that tile it. */
  private keepFree(ptr: number, bytes: number): void {
    while (bytes >= ALIGN) {
      let s = sizeClass(bytes);
      if (s > bytes) s = largestClassBelow(bytes);
      const list = this.free.get(s) ?? [];
      list.push(ptr);
      this.free.set(s, list);
      this.cached += s;
      ptr += s;
      bytes -= s;
    }
  }
}

/** The largest size class that is at most `bytes` (bytes >= ALIGN). */
function largestClassBelow(bytes: number): number {
  if (bytes <= 1024) return Math.floor(bytes / ALIGN) * ALIGN;
  const step = 2 ** Math.floor(Math.log2(bytes)) / CLASSES_PER_OCTAVE;
  return Math.floor(bytes / step) * step;
}
