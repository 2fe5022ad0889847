// The WASM device's allocator on its own: size classes, reuse (best fit, freed neighbours merged),
// growth, and running out with an EdgeflowError.
import assert from "node:assert/strict";
import { EdgeflowError } from "../core/errors.ts";
import { ALIGN, Allocator, sizeClass } from "../devices/wasm/allocator.ts";

const PAGE = 65536;

function allocator(maxPages: number) {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: maxPages, shared: true });
  let grown = 0;
  const a = new Allocator(1000, memory, maxPages * PAGE, () => grown++);
  return { a, memory, grown: () => grown };
}

Deno.test("size classes: aligned, at most 12.5% over the request, monotonic", () => {
  let last = 0;
  for (let bytes = 0; bytes < 1 << 20; bytes += 1 + (bytes >> 4)) {
    const c = sizeClass(bytes);
    assert.equal(c % ALIGN, 0);
    assert.ok(c >= bytes && c >= ALIGN);
    if (bytes > 1024) assert.ok(c <= bytes * 1.125 + ALIGN, `${bytes} → ${c}`);
    assert.ok(c >= last);
    last = c;
  }
});

Deno.test("blocks are aligned, disjoint, reused by size class; stats follow", () => {
  const { a } = allocator(16);
  const p = a.alloc(100), q = a.alloc(5000), r = a.alloc(100);
  for (const x of [p, q, r]) assert.equal(x % ALIGN, 0);
  assert.ok(p + sizeClass(100) <= q && q + sizeClass(5000) <= r);
  assert.equal(a.stats().inUse, 2 * sizeClass(100) + sizeClass(5000));
  a.release(q, sizeClass(5000));
  assert.equal(a.alloc(4900), q, "a freed block of the class comes back");
  a.release(p, sizeClass(100));
  const heap = a.stats().heap;
  a.release(r, sizeClass(100));
  // p stays free in the list; r was the top block: the top comes down instead.
  assert.equal(a.stats().cached, sizeClass(100));
  assert.equal(a.stats().heap, heap - sizeClass(100));
  assert.equal(a.stats().peak, 2 * sizeClass(100) + sizeClass(5000));
  const internal = a.alloc(4096, true);
  assert.equal(a.stats().internal, 4096);
  a.release(internal, 4096, true);
  assert.equal(a.stats().internal, 0);
});

Deno.test("the memory grows on demand and the views are told", () => {
  const { a, memory, grown } = allocator(1024);
  const p = a.alloc(3 << 20);
  assert.ok(memory.buffer.byteLength >= p + (3 << 20));
  assert.equal(grown(), 1);
});

Deno.test("when the memory cannot grow, freed neighbours merge before it gives up", () => {
  const { a } = allocator(16); // 1 MiB at most
  const blocks = Array.from({ length: 12 }, () => a.alloc(60000));
  for (const b of blocks.slice(0, 8)) a.release(b, sizeClass(60000));
  // No class of 60000 fits 300000, but eight adjacent freed blocks do once merged.
  const big = a.alloc(300000);
  assert.equal(big, blocks[0]);
  assert.throws(
    () => a.alloc(900000),
    (e) => e instanceof EdgeflowError && /out of memory/.test(e.message),
  );
});

Deno.test("freed blocks of other classes are merged and split before the heap grows", () => {
  const { a, grown } = allocator(1024);
  const blocks = Array.from({ length: 4 }, () => a.alloc(1 << 20));
  const grownBefore = grown(), heap = a.stats().heap;
  for (const b of blocks.slice(0, 3)) a.release(b, sizeClass(1 << 20));
  // 3 MiB freed in one class; a 2.5 MiB request (another class) is carved from them, no growth.
  const p = a.alloc(2.5 * (1 << 20));
  assert.equal(p, blocks[0]);
  assert.equal(a.stats().heap, heap);
  assert.equal(grown(), grownBefore);
  // What was left of the merged run serves a later small request.
  const q = a.alloc(100000);
  assert.ok(q >= p + sizeClass(2.5 * (1 << 20)) && q < blocks[3], "from the merged run's rest");
  // Not enough freed: the heap grows as before.
  a.alloc(8 << 20);
  assert.ok(a.stats().heap > heap);
});

Deno.test("a repeated pattern of allocations takes the same addresses every time", () => {
  const { a } = allocator(1024);
  a.alloc(3000, true); // something held for good below
  const sizes = [602112, 2408448, 7225344, 1806336, 602112, 100, 2408448, 401408, 64, 7225344];
  const pattern = () => {
    const live: [number, number][] = [];
    const ptrs: number[] = [];
    sizes.forEach((bytes, i) => {
      const p = a.alloc(bytes);
      ptrs.push(p);
      live.push([p, sizeClass(bytes)]);
      // Each value dies two allocations later, as activations after their last reader.
      if (i >= 2) {
        const [q, s] = live.splice(0, 1)[0];
        a.release(q, s);
      }
    });
    for (const [q, s] of live) a.release(q, s);
    return ptrs;
  };
  const first = pattern(), heap = a.stats().heap;
  for (let i = 0; i < 3; i++) assert.deepEqual(pattern(), first);
  assert.equal(a.stats().heap, heap);
  assert.equal(a.stats().inUse, 0);
});
