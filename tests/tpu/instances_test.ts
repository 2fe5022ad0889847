// The TPU's kernel instances (one per node) memoize their plans by shapes and host arguments:
// runs whose batch size or fed axis differs from the plan's static shapes, and from the run
// before, must give the reference's results (movement bit for bit).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

/** Movement, join, gather, select, reduction and loss nodes over x: [null, 3] and a fed axis. */
function movementGraph() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
  const axis = ef.placeholder(g, "int32", [], { name: "axis" });
  return g.asDefault(() => {
    const exact = [
      ef.transpose(x, [1, 0]),
      ef.slice(x, [0, 1], [-1, 2]),
      ef.stridedSlice(x, [0, 2], [3, 0], [1, -1]),
      ef.concat([x, x], axis),
      ef.stack([x, x], { axis: 1 }),
      ...ef.unstack(x, { axis: 1 }),
      ef.gather(x, [2, 0], 1),
      ef.pad(x, [[1, 0], [0, 2]]),
      ef.tile(x, [2, 1]),
      ef.where(ef.less(x, 0.25), x, ef.mul(x, 2)),
      ef.max(x, axis),
      ef.argMax(x, axis),
    ];
    const [loss, backprop] = ef.softmaxCrossEntropyWithLogits(x, ef.mul(x, 0.5));
    return { g, exact, close: [ef.sum(x, axis), loss, backprop] };
  });
}

function batch(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [i * 0.25 - 1, 0.5 - i * 0.125, i % 3]);
}

Deno.test("TPU: movement, join and reduction instances follow run-time shapes and fed axes", async () => {
  const { g, exact, close } = movementGraph();
  await using ref = new ef.Session(g, { device: "REF" });
  await using tpu = new ef.Session(g, { device: "TPU" });
  for (const [n, axis] of [[2, 0], [5, 0], [5, 1], [1, 1], [2, 0]]) {
    const feeds = { x: batch(n), axis: ef.tensor([axis], [], "int32") };
    const want = (await ref.run([...exact, ...close], feeds)) as ef.Tensor[];
    const got = (await tpu.run([...exact, ...close], feeds)) as ef.Tensor[];
    want.forEach((w, i) => {
      const what = `fetch ${i} at batch ${n}, axis ${axis}`;
      assert.deepEqual(got[i].shape, w.shape, what);
      const a = ef.numbers(got[i]), b = ef.numbers(w);
      if (i < exact.length) return assert.deepEqual(a, b, what);
      for (let j = 0; j < b.length; j++) {
        assert.ok(Math.abs(a[j] - b[j]) <= 1e-5 * Math.max(1, Math.abs(b[j])), `${what} [${j}]`);
      }
    });
  }
});
