// The WASM device's allocator on its own: size classes, reuse, growth, reclaiming freed space
// when the memory cannot grow, and running out with an EdgeflowError.
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
  a.release(r, sizeClass(100));
  assert.equal(a.stats().cached, 2 * sizeClass(100));
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
