// cond and whileLoop through a session: TensorFlow's results, deadness, frames, nesting,
// parallel_iterations, shape invariants and the errors of bad loops.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

Deno.test("cond runs the taken branch only", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const [y] = ef.cond(p, () => ef.mul(x, 2), () => ef.sub(x, 1));
  await using s = new ef.Session(g);
  assert.deepEqual((await s.run(y, { p: true, x: [1, 2] })).toArray(), [2, 4]);
  assert.deepEqual((await s.run(y, { p: false, x: [1, 2] })).toArray(), [0, 1]);
});

Deno.test("cond branches may give constants and outside tensors", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const [a, b] = ef.cond(p, () => [x, 5], () => [ef.neg(x), 7]);
  await using s = new ef.Session(g);
  const [ta, tb] = await s.run([a, b], { p: false, x: 3 });
  assert.equal(ta.toArray(), -3);
  assert.equal(tb.toArray(), 7);
  const [ua, ub] = await s.run([a, b], { p: true, x: 3 });
  assert.equal(ua.toArray(), 3);
  assert.equal(ub.toArray(), 5);
});

Deno.test("a variable update in one branch runs only when that branch is taken", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const v = new ef.Variable(0, { graph: g, name: "v", dtype: "float32" });
  const [y] = ef.cond(p, () => {
    v.assignAdd(10);
    return 1;
  }, () => 0);
  await using s = new ef.Session(g);
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  await s.run(y, { p: false });
  assert.equal((await s.run(v.read())).toArray(), 0);
  await s.run(y, { p: true });
  await s.run(y, { p: true });
  await s.run(y, { p: false });
  assert.equal((await s.run(v.read())).toArray(), 20);
});

Deno.test("whileLoop: sum of 0..n-1 and a counter", async () => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const [i, sum] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, acc) => [ef.add(i, 1), ef.add(acc, i)],
    g.asDefault(() => [ef.constant(0, { dtype: "int32" }), ef.constant(0, { dtype: "int32" })]),
  );
  await using s = new ef.Session(g);
  for (const k of [0, 1, 5, 37]) {
    const [ti, ts] = await s.run([i, sum], { n: k });
    assert.equal(ti.toArray(), k);
    assert.equal(ts.toArray(), k * (k - 1) / 2 + 0); // + 0: no -0 for k = 0
  }
});

Deno.test("whileLoop reads outside tensors as loop invariants and makes constants in its frame", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const step = ef.placeholder(g, "float32", [], { name: "step" });
  const [, y] = ef.whileLoop(
    (i) => ef.less(i, 4),
    (i, acc) => [ef.add(i, ef.constant(1, { dtype: "int32" })), ef.add(ef.mul(acc, step), x)],
    g.asDefault(
      () => [ef.constant(0, { dtype: "int32" }), ef.constant([0, 0, 0], { dtype: "float32" })],
    ),
  );
  await using s = new ef.Session(g);
  // acc = ((x*s + x)*s + x)*s + x
  const out = await s.run(y, { x: [1, 2, 3], step: 2 });
  assert.deepEqual(out.toArray(), [15, 30, 45]);
});

Deno.test("nested while loops: a triangular count", async () => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const zero = () => ef.constant(0, { dtype: "int32" });
  const [, total] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, t) => {
      const [, inner] = ef.whileLoop(
        (j) => ef.less(j, i),
        (j, u) => [ef.add(j, 1), ef.add(u, 1)],
        [zero(), t],
      );
      return [ef.add(i, 1), inner];
    },
    g.asDefault(() => [zero(), zero()]),
  );
  await using s = new ef.Session(g);
  for (const k of [0, 1, 4, 9]) {
    assert.equal((await s.run(total, { n: k })).toArray(), k * (k - 1) / 2 + 0);
  }
});

Deno.test("a while loop inside a cond runs only when its branch is taken", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const [r] = ef.cond(
    p,
    () =>
      ef.whileLoop((i) => ef.less(i, n), (i) => [ef.add(i, 2)], [
        ef.constant(0, { dtype: "int32" }),
      ])[0],
    () => ef.constant(-1, { dtype: "int32" }),
  );
  await using s = new ef.Session(g);
  assert.equal((await s.run(r, { p: true, n: 7 })).toArray(), 8);
  assert.equal((await s.run(r, { p: false, n: 7 })).toArray(), -1);
});

Deno.test("a cond inside a while body: Collatz steps", async () => {
  const g = new ef.Graph();
  const start = ef.placeholder(g, "int32", [], { name: "start" });
  const [, steps] = ef.whileLoop(
    (x) => ef.greater(x, 1),
    (x, k) => {
      const even = ef.equal(ef.floorMod(x, 2), 0);
      const [next] = ef.cond(even, () => ef.floorDiv(x, 2), () => ef.add(ef.mul(x, 3), 1));
      return [next, ef.add(k, 1)];
    },
    [start, g.asDefault(() => ef.constant(0, { dtype: "int32" }))],
  );
  await using s = new ef.Session(g);
  assert.equal((await s.run(steps, { start: 27 })).toArray(), 111);
  assert.equal((await s.run(steps, { start: 1 })).toArray(), 0);
});

Deno.test("parallelIterations 1 and 32 give the same results", async () => {
  for (const parallelIterations of [1, 2, 32]) {
    const g = new ef.Graph();
    const [, y] = g.asDefault(() =>
      ef.whileLoop(
        (i) => ef.less(i, 50),
        (i, a) => [ef.add(i, 1), ef.add(ef.mul(a, 1.01), ef.cast(i, "float32"))],
        [ef.constant(0, { dtype: "int32" }), ef.constant(0, { dtype: "float32" })],
        { parallelIterations },
      )
    );
    await using s = new ef.Session(g);
    let a = Math.fround(0);
    for (let i = 0; i < 50; i++) a = Math.fround(Math.fround(a * Math.fround(1.01)) + i);
    assert.equal((await s.run(y)).toArray(), a);
  }
});

Deno.test("maximumIterations stops a loop early; the loop stops on its own too", async () => {
  const g = new ef.Graph();
  const m = ef.placeholder(g, "int32", [], { name: "m" });
  const [x] = g.asDefault(() =>
    ef.whileLoop((x) => ef.less(x, 100), (x) => [ef.add(x, 10)], [
      ef.constant(0, { dtype: "int32" }),
    ], { maximumIterations: m })
  );
  await using s = new ef.Session(g);
  assert.equal((await s.run(x, { m: 3 })).toArray(), 30);
  assert.equal((await s.run(x, { m: 50 })).toArray(), 100);
  assert.equal((await s.run(x, { m: 0 })).toArray(), 0);
});

Deno.test("shape invariants: a growing loop variable needs one", async () => {
  const g = new ef.Graph();
  const grow = (shapeInvariants?: (number[] | null)[]) =>
    g.asDefault(() =>
      ef.whileLoop(
        (i) => ef.less(i, 3),
        (i, v) => [ef.add(i, 1), ef.concat([v, ef.reshape(ef.cast(i, "float32"), [1])], 0)],
        [ef.constant(0, { dtype: "int32" }), ef.constant([0], { dtype: "float32" })],
        shapeInvariants ? { shapeInvariants } : {},
      )
    );
  assert.throws(() => grow(), /shape invariant/);
  const [, v] = grow([[], [-1]]);
  assert.deepEqual(v.shape, [-1]);
  await using s = new ef.Session(g);
  assert.deepEqual((await s.run(v)).toArray(), [0, 0, 1, 2]);
});

Deno.test("bad loops are EdgeflowErrors naming what is wrong", () => {
  const g = new ef.Graph();
  g.asDefault(() => {
    const z = ef.constant(0, { dtype: "int32" });
    assert.throws(() => ef.whileLoop(() => ef.constant(1), (i) => [i], [z]), /bool scalar/);
    assert.throws(
      () => ef.whileLoop((i) => ef.less(i, 3), (i) => [ef.cast(i, "float32")], [z]),
      /dtype float32; it entered as int32/,
    );
    assert.throws(() => ef.whileLoop((i) => ef.less(i, 3), (i) => [i, i], [z]), /2 tensors/);
    assert.throws(
      () => ef.cond(ef.constant(true), () => [z], () => [z, z]),
      /as many/,
    );
    assert.throws(
      () => ef.whileLoop((i) => ef.less(i, 3), (i) => [i], [z], { parallelIterations: 0 }),
      /parallelIterations/,
    );
  });
});

Deno.test("fetching a dead tensor (the branch not taken) is an EdgeflowError", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const sw = g.addNode(ef.Switch, [x, p]);
  await using s = new ef.Session(g);
  assert.equal((await s.run(sw.outputs[1], { p: true, x: 2 })).toArray(), 2);
  await assert.rejects(
    () => s.run(sw.outputs[0], { p: true, x: 2 }),
    (e: Error) => e instanceof ef.EdgeflowError && /dead/.test(e.message),
  );
});

Deno.test("a body returning an outside tensor or ops on invariants only still stops", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const [, a, b] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i) => [ef.add(i, 1), x, ef.mul(x, 2)],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), ef.neg(x), ef.neg(x)],
  );
  await using s = new ef.Session(g);
  const [ta, tb] = await s.run([a, b], { x: 3, n: 4 });
  assert.equal(ta.toArray(), 3);
  assert.equal(tb.toArray(), 6);
  const [ua, ub] = await s.run([a, b], { x: 3, n: 0 });
  assert.equal(ua.toArray(), -3);
  assert.equal(ub.toArray(), -3);
});

Deno.test("a cond whose branches run on two devices: dead values cross as dead tokens", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const [y] = ef.cond(
    p,
    () => g.withDevice("/device:REF:0", () => ef.mul(x, 3)),
    () => g.withDevice("/device:WASM:0", () => ef.add(x, 1)),
  );
  const z = g.withDevice("/device:REF:0", () => ef.neg(y));
  await using s = new ef.Session(g);
  for (let k = 0; k < 3; k++) {
    assert.deepEqual((await s.run(z, { p: true, x: [1, 2] })).toArray(), [-3, -6]);
    assert.deepEqual((await s.run(z, { p: false, x: [1, 2] })).toArray(), [-2, -3]);
  }
});

Deno.test("a loop that never ends is stopped by closing the session", async () => {
  const g = new ef.Graph();
  const [x] = g.asDefault(() =>
    ef.whileLoop((x) => ef.greater(x, -1), (x) => [ef.add(x, 1)], [ef.constant(0)])
  );
  const s = new ef.Session(g);
  const running = s.run(x);
  await new Promise((r) => setTimeout(r, 50));
  await s.close();
  await assert.rejects(() => running, /session (is|was) closed/);
});

Deno.test("a loop whose body needs an op the default device lacks runs that op on REF alone", async () => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  // RandomUniform has no WASM kernel: it goes to REF, the rest of the loop stays on WASM and the
  // random value crosses devices in every iteration (core/control_flow/control_loops.ts).
  const [i, acc] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, a) => [ef.add(i, 1), ef.add(a, ef.mul(ef.randomUniform([], { seed: 1 }), 0))],
    g.asDefault(() => [ef.constant(0, { dtype: "int32" }), ef.constant(1, { dtype: "float32" })]),
  );
  await using s = new ef.Session(g);
  const [ti, ta] = await s.run([i, acc], { n: 4 });
  assert.equal(ti.toArray(), 4);
  assert.equal(ta.toArray(), 1);
  const ex = await s.explainPlacement([i, acc], ["n"], [], false);
  assert.match(ex.text, /while\/RandomUniform\s+RandomUniform\s+\/device:REF:0/);
  assert.match(ex.text, /while\/loop_cond\s+LoopCond\s+\/device:WASM:0/);
});
