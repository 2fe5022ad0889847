/**
 * The WASM device's allocator: blocks of the shared WebAssembly.Memory, handed out in size
 * classes and reused when freed. It runs on the main thread only (the kernels never allocate),
 * which is why it can be plain TypeScript: emscripten's malloc is not thread-safe in a module
 * built without pthreads.
 *
 * Requests are rounded up to size classes: multiples of 64 bytes up to 1 KiB, then eight per
 * power of two (at most 12.5% waste; with four, a training step's 784x256 weights and their
 * gradient, 802,816 bytes each, took 917,504 against 851,968 now). Freed blocks are merged with free neighbours at once and kept in
 * address order; a request takes the smallest free block that holds it (best fit), splitting off
 * the rest, and only grows the heap when none does. Blocks of one class only reusing that class
 * kept 3x mobilenet_v2_mid's activation peak in the heap (45 against 27 MiB): memory the process
 * holds forever, whose fresh pages each cost a page fault on first touch (26 MiB took 20-90 ms
 * here). A run that frees what it allocated leaves the same free list behind, so every later run
 * of the same plan takes the same addresses. The heap grows at its top with memory.grow; a free
 * block at the top lowers the top instead of staying in the list.
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
  /** Free blocks in address order, none adjacent to another (they are merged) or to the top. */
  private readonly freePtrs: number[] = [];
  private readonly freeSizes: number[] = [];
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
    const ptr = this.takeFree(size) ?? this.bump(size);
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
    if (internal) this.internal -= size;
    else this.inUse -= size;
    const ps = this.freePtrs, ss = this.freeSizes;
    // The first free block after ptr (binary search).
    let lo = 0, hi = ps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ps[mid] < ptr) lo = mid + 1;
      else hi = mid;
    }
    let start = ptr, bytes = size, at = lo;
    if (at > 0 && ps[at - 1] + ss[at - 1] === ptr) {
      at--;
      start = ps[at];
      bytes += ss[at];
      this.cached -= ss[at];
      ps.splice(at, 1);
      ss.splice(at, 1);
    }
    if (at < ps.length && ps[at] === ptr + size) {
      bytes += ss[at];
      this.cached -= ss[at];
      ps.splice(at, 1);
      ss.splice(at, 1);
    }
    if (start + bytes === this.top) {
      this.top = start;
      return;
    }
    ps.splice(at, 0, start);
    ss.splice(at, 0, bytes);
    this.cached += bytes;
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

  /** The front of the smallest free block that holds `size`; the rest of it stays free. */
  private takeFree(size: number): number | undefined {
    const ps = this.freePtrs, ss = this.freeSizes;
    let best = -1;
    for (let i = 0; i < ss.length; i++) {
      if (ss[i] >= size && (best < 0 || ss[i] < ss[best])) {
        best = i;
        if (ss[i] === size) break;
      }
    }
    if (best < 0) return undefined;
    const ptr = ps[best];
    this.cached -= size;
    if (ss[best] === size) {
      ps.splice(best, 1);
      ss.splice(best, 1);
    } else {
      ps[best] += size;
      ss[best] -= size;
    }
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
}
