// One kernel instance per node: what instances derive from shapes (ShapeMemo) is made once while
// shapes stay, again when they change; and on every device, a plan whose shapes are only partly
// known runs each kernel's fallback (shapes differing from the static ones, and between runs)
// to the reference's results.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import { deviceFor } from "./devices.ts";

Deno.test("ShapeMemo: seeded from static shapes, derived again only when the key changes", () => {
  let derived = 0;
  const memo = new ShapeMemo((a, b) => (derived++, [...a, ...b]));
  memo.seed([[2, 3], [4]]);
  assert.equal(derived, 1);
  assert.deepEqual(memo.get([2, 3], [4]), [2, 3, 4]);
  assert.deepEqual(memo.get([2, 3], [4]), [2, 3, 4]);
  assert.equal(derived, 1, "the seeded key derives nothing at run time");
  assert.deepEqual(memo.get([5, 3], [4]), [5, 3, 4]);
  assert.deepEqual(memo.get([5, 3], [4]), [5, 3, 4]);
  assert.equal(derived, 2);
  assert.deepEqual(memo.get([2, 3], [4]), [2, 3, 4], "a changed key derives anew");
  assert.equal(derived, 3);
});

Deno.test("ShapeMemo: partial shapes and missing constants do not seed; a throwing seed waits", () => {
  let derived = 0;
  const memo = new ShapeMemo((a) => {
    derived++;
    if (a[0] === 0) throw new ef.EdgeflowError("zero");
    return a[0];
  });
  memo.seed([[-1, 3]]);
  memo.seed([undefined]);
  memo.seed([null]);
  assert.equal(derived, 0);
  memo.seed([[0]]);
  assert.equal(derived, 1);
  assert.throws(() => memo.get([0]), /zero/, "the run raises what the seed swallowed");
  assert.equal(memo.get([7]), 7);
});

/** A graph over x: [null, 3] exercising broadcast, product, reduction and unary instances. */
function partialGraph() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
  return g.asDefault(() => {
    const w = ef.constant([[1, 2], [3, 4], [5, 6]], { dtype: "float32" });
    const shifted = ef.add(x, ef.constant([0.5, -1, 2], { dtype: "float32" }));
    const product = ef.matMul(shifted, w);
    const total = ef.sum(ef.square(product), [0]);
    const rows = ef.sum(ef.exp(ef.mul(x, 0.1)), [1]);
    return { g, fetches: [shifted, product, total, rows] };
  });
}

function batch(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [i * 0.25 - 1, 0.5 - i * 0.125, i % 3]);
}

for (const type of ["WASM", "WEBGPU", "TPU"] as const) {
  Deno.test(`${type}: kernel instances follow run-time shapes that differ from the static ones`, async (t) => {
    if (!(await deviceFor(type, t))) return;
    const { g, fetches } = partialGraph();
    await using ref = new ef.Session(g, { device: "REF" });
    await using s = new ef.Session(g, { device: type });
    for (const n of [2, 5, 5, 1, 2]) {
      const feeds = { x: batch(n) };
      const want = (await ref.run(fetches, feeds)) as ef.Tensor[];
      const got = (await s.run(fetches, feeds)) as ef.Tensor[];
      want.forEach((w, i) => {
        assert.deepEqual(got[i].shape, w.shape, `fetch ${i} at batch ${n}`);
        const a = ef.numbers(got[i]), b = ef.numbers(w);
        for (let j = 0; j < b.length; j++) {
          const tol = 1e-4 * Math.max(1, Math.abs(b[j]));
          assert.ok(
            Math.abs(a[j] - b[j]) <= tol,
            `fetch ${i} [${j}] at batch ${n}: ${a[j]} vs ${b[j]}`,
          );
        }
      });
    }
  });
}
