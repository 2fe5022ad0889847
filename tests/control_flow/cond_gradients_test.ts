// Gradients through cond: the taken branch's gradient, zeros for what only the other branch
// reads, checked against each branch's own gradient and against finite differences.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

function build() {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const w = ef.placeholder(g, "float32", [3], { name: "w" });
  const [y] = ef.cond(p, () => ef.mul(ef.mul(x, x), w), () => ef.sin(x));
  const loss = ef.sum(ef.mul(y, ef.add(x, 1)), 0);
  const [dx, dw] = ef.gradients(loss, [x, w]);
  return { g, loss, dx: dx!, dw: dw! };
}

Deno.test("cond gradients are the taken branch's; the other branch's inputs get zeros", async () => {
  const { g, dx, dw } = build();
  await using s = new ef.Session(g);
  const xs = [0.5, -1, 2], ws = [1, 2, -0.5];
  const [tx, tw] = await s.run([dx, dw], { p: true, x: xs, w: ws });
  // loss = Σ x²w(x+1): d/dx = 2xw(x+1) + x²w, d/dw = x²(x+1)
  const near = (a: number[], b: number[]) =>
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `${a} vs ${b}`));
  near(tx.toArray() as number[], xs.map((x, i) => 2 * x * ws[i] * (x + 1) + x * x * ws[i]));
  near(tw.toArray() as number[], xs.map((x) => x * x * (x + 1)));
  const [fx, fw] = await s.run([dx, dw], { p: false, x: xs, w: ws });
  // loss = Σ sin(x)(x+1): d/dx = cos(x)(x+1) + sin(x); w unused: zeros.
  near(fx.toArray() as number[], xs.map((x) => Math.cos(x) * (x + 1) + Math.sin(x)));
  assert.deepEqual(fw.toArray(), [0, 0, 0]);
});

Deno.test("cond gradients equal finite differences", async () => {
  const { g, loss, dx } = build();
  await using s = new ef.Session(g);
  const ws = [1, 2, -0.5];
  for (const p of [true, false]) {
    const xs = [0.3, -0.7, 1.1];
    const analytic = (await s.run(dx, { p, x: xs, w: ws })).toArray() as number[];
    const h = 1e-2;
    for (let i = 0; i < 3; i++) {
      const up = [...xs], down = [...xs];
      up[i] += h;
      down[i] -= h;
      const lu = (await s.run(loss, { p, x: up, w: ws })).toArray() as number;
      const ld = (await s.run(loss, { p, x: down, w: ws })).toArray() as number;
      const numeric = (lu - ld) / (2 * h);
      assert.ok(
        Math.abs(numeric - analytic[i]) < 2e-3,
        `p=${p} i=${i}: ${numeric} vs ${analytic[i]}`,
      );
    }
  }
});
// Gradients through while loops: tests/control_flow/while_grad_test.ts.
