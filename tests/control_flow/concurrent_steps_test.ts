// Concurrent steps (section 7 of the 2015 paper): several session.run calls in flight on one
// session, loops and conds included, each with its own frames and values: correct results, no
// deadlock, and one failing step does not disturb the others.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

function loop() {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const [, y] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, v) => {
      const [w] = ef.cond(ef.equal(ef.floorMod(i, 3), 0), () => ef.mul(v, 2), () => ef.add(v, 1));
      return [ef.add(i, 1), w];
    },
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), x],
    { parallelIterations: 4 },
  );
  return { g, y };
}

function expected(n: number, x: number[]): number[] {
  let v = [...x];
  for (let i = 0; i < n; i++) v = v.map((e) => (i % 3 === 0 ? e * 2 : e + 1));
  return v;
}

Deno.test("many runs in flight on one session give each its own result", async () => {
  const { g, y } = loop();
  await using s = new ef.Session(g);
  const cases = Array.from({ length: 24 }, (_, k) => ({ n: (k * 7) % 20, x: [k, -k] }));
  const results = await Promise.all(cases.map((c) => s.run(y, { n: c.n, x: c.x })));
  results.forEach((r, k) => assert.deepEqual(r.toArray(), expected(cases[k].n, cases[k].x)));
});

Deno.test("a failing step among concurrent ones fails alone", async () => {
  const { g, y } = loop();
  const r = ef.placeholder(g, "int32", [1], { name: "r" });
  const bad = ef.reshape(y, r); // fed [3]: 2 elements into [3], refused at run time
  await using s = new ef.Session(g);
  const runs = [
    s.run(y, { n: 5, x: [1, 1] }),
    s.run(bad, { n: 5, x: [1, 1], r: [3] }),
    s.run(y, { n: 9, x: [0, 2] }),
  ];
  const settled = await Promise.allSettled(runs);
  assert.equal(settled[0].status, "fulfilled");
  assert.deepEqual(
    (settled[0] as PromiseFulfilledResult<ef.Tensor>).value.toArray(),
    expected(5, [1, 1]),
  );
  assert.equal(settled[1].status, "rejected");
  assert.ok((settled[1] as PromiseRejectedResult).reason instanceof ef.EdgeflowError);
  assert.deepEqual(
    (settled[2] as PromiseFulfilledResult<ef.Tensor>).value.toArray(),
    expected(9, [0, 2]),
  );
});
