// Gradients through while loops (a backward loop reading each iteration's forward values from
// stacks): against the analytic gradient, finite differences and the same loop unrolled, with a
// captured loop invariant, maximum_iterations, parallel iterations, variables trained by SGD, on
// WASM (the default device) and REF; the stack ops' own semantics and errors.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import type { RefDevice } from "../../devices/ref/device.ts";
import { StackCloseV2, StackPopV2, StackPushV2, StackV2 } from "../../core/ops/stack.ts";
import { deviceFor } from "../kernels/devices.ts";
import {
  TensorArray,
  tensorListFromTensor,
  tensorListGetItem,
  tensorListReserve,
  tensorListSetItem,
  tensorListStack,
} from "../../core/tensor_list/builders.ts";

const near = (a: number, b: number, tol = 1e-4) =>
  assert.ok(Math.abs(a - b) <= tol * (1 + Math.abs(b)), `${a} vs ${b}`);
const nearAll = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-4) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) near(a[i], b[i], tol);
};
const num = (t: ef.Tensor) => Number(t.toArray());

/** y = x · wⁿ by n multiplications with a captured w (a loop invariant). */
function power(parallelIterations: number) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const w = ef.placeholder(g, "float32", [], { name: "w" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const [, y] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, v) => [ef.add(i, 1), ef.mul(v, w)],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), x],
    { parallelIterations },
  );
  const [dx, dw] = ef.gradients(y, [x, w]);
  return { g, y, dx: dx!, dw: dw! };
}

for (const device of ["WASM", "REF"]) {
  for (const parallel of [1, 10]) {
    Deno.test(`x·wⁿ by a loop: dy/dx = wⁿ, dy/dw = n·x·wⁿ⁻¹ on ${device}, parallel_iterations ${parallel}`, async () => {
      const { g, y, dx, dw } = power(parallel);
      await using s = new ef.Session(g, { device });
      // Both loops and their stacks stay on the session's device (no REF fallback).
      const placed = await s.explainPlacement([dx, dw], ["x", "w", "n"], [], false);
      assert.deepEqual(placed.fallback, []);
      assert.ok(placed.nodes.every((n) => n.device.includes(device)), placed.text);
      for (const k of [0, 1, 4]) {
        const [ty, tdx, tdw] = await s.run([y, dx, dw], { x: 2, w: 1.5, n: k });
        near(num(ty), 2 * 1.5 ** k);
        near(num(tdx), 1.5 ** k);
        near(num(tdw), k === 0 ? 0 : k * 2 * 1.5 ** (k - 1));
      }
    });
  }
}

/** A loop of vector variables with a tanh, a product of two variables and a captured vector. */
function mixed(g: ef.Graph, x: ef.Output, a: ef.Output, b: ef.Output, loop: boolean, n: number) {
  const step = (u: ef.Output, v: ef.Output): [ef.Output, ef.Output] => [
    ef.tanh(ef.add(ef.mul(u, v), x)),
    ef.sub(ef.mul(v, 0.9), ef.mul(u, x)),
  ];
  if (!loop) {
    let [u, v] = [a, b];
    for (let k = 0; k < n; k++) [u, v] = step(u, v);
    return [u, v];
  }
  const [, u, v] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, u, v) => [ef.add(i, 1), ...step(u, v)],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), a, b],
    { parallelIterations: 4 },
  );
  return [u, v];
}

function mixedGraph(loop: boolean, n: number) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const a = ef.placeholder(g, "float32", [3], { name: "a" });
  const b = ef.placeholder(g, "float32", [3], { name: "b" });
  const [u, v] = mixed(g, x, a, b, loop, n);
  const loss = ef.add(ef.sum(ef.mul(u, ef.constant([1, -2, 0.5], { graph: g })), 0), ef.sum(v, 0));
  return {
    g,
    loss,
    grads: ef.gradients(loss, [x, a, b], undefined, { unconnected: "zero" }).map((d) => d!),
  };
}

const mixedFeeds = { x: [0.3, -0.2, 0.5], a: [0.1, 0.4, -0.3], b: [-0.5, 0.2, 0.7] };

Deno.test("a loop's gradients equal central finite differences", async () => {
  const { g, loss, grads } = mixedGraph(true, 5);
  await using s = new ef.Session(g);
  const analytic = (await s.run(grads, mixedFeeds)).map((t) => Array.from(t.toNumbers()));
  const h = 1e-2;
  for (const [k, name] of (["x", "a", "b"] as const).entries()) {
    for (let i = 0; i < 3; i++) {
      const up = { ...mixedFeeds, [name]: [...mixedFeeds[name]] };
      const down = { ...mixedFeeds, [name]: [...mixedFeeds[name]] };
      up[name][i] += h;
      down[name][i] -= h;
      const numeric = (num(await s.run(loss, up)) - num(await s.run(loss, down))) / (2 * h);
      assert.ok(
        Math.abs(numeric - analytic[k][i]) < 3e-3,
        `d/d${name}[${i}]: ${numeric} vs ${analytic[k][i]}`,
      );
    }
  }
});

Deno.test("a loop's gradients equal the gradients of the same loop unrolled", async () => {
  for (const n of [0, 1, 6]) {
    const looped = mixedGraph(true, n), unrolled = mixedGraph(false, n);
    await using s1 = new ef.Session(looped.g);
    await using s2 = new ef.Session(unrolled.g);
    const l = await s1.run(looped.grads, mixedFeeds);
    const u = await s2.run(unrolled.grads, mixedFeeds);
    l.forEach((t, i) => nearAll(t.toNumbers(), u[i].toNumbers(), 1e-5));
  }
});

Deno.test("maximum_iterations bounds the backward loop too; a loop variable not depending on xs", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  // t counts in float and never depends on x; v = v·x + t.
  const [t, v] = ef.whileLoop(
    (t) => ef.less(t, 100),
    (t, v) => [ef.add(t, 1), ef.add(ef.mul(v, x), t)],
    [g.asDefault(() => ef.constant(0)), g.asDefault(() => ef.constant(1))],
    { maximumIterations: 3 },
  );
  const [dx] = ef.gradients(ef.add(v, t), [x]);
  await using s = new ef.Session(g);
  const [tv, tdx] = await s.run([v, dx!], { x: 2 });
  // v = ((1·x + 0)·x + 1)·x + 2 = x³ + x + 2; dv/dx = 3x² + 1.
  near(num(tv), 12);
  near(num(tdx), 13);
});

Deno.test("an RNN-like loop (matmul body, Variables) trains with SGD: the loss goes down", async () => {
  const g = new ef.Graph();
  const w = new ef.Variable([[0.5, -0.3], [0.2, 0.4]], { graph: g, name: "w", dtype: "float32" });
  const bias = new ef.Variable([[0.1, -0.1]], { graph: g, name: "b", dtype: "float32" });
  const h0 = ef.constant([[0.3, -0.6]], { graph: g });
  const target = ef.constant([[0.5, 0.25]], { graph: g });
  const [, h] = ef.whileLoop(
    (i) => ef.less(i, 4),
    (i, h) => [ef.add(i, 1), ef.tanh(ef.add(ef.matMul(h, w.read()), bias.read()))],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), h0],
  );
  const loss = ef.sum(ef.square(ef.sub(h, target)), [0, 1]);
  const train = new ef.train.GradientDescentOptimizer(0.5).minimize(loss);
  for (const device of ["WASM", "REF"]) {
    await using s = new ef.Session(g, { device });
    await s.run([], {}, [ef.globalVariablesInitializer(g)]);
    const losses: number[] = [];
    for (let k = 0; k < 6; k++) {
      const [l] = await s.run([loss], {}, [train]);
      losses.push(num(l));
    }
    for (let k = 1; k < losses.length; k++) {
      assert.ok(losses[k] < losses[k - 1], `${device}: losses ${losses}`);
    }
  }
});

Deno.test("a gradient step frees what it pushed: no bytes in use after the run", async () => {
  const { g, grads } = mixedGraph(true, 5);
  await using s = new ef.Session(g, { device: "REF" });
  const ref = await s.device("REF") as RefDevice;
  await s.run(grads, mixedFeeds);
  assert.equal(ref.memory().inUse, 0);
  // WASM keeps a plan's constants from its second run on; nothing else stays from step to step.
  await using w = new ef.Session(g);
  const wasm = await w.device("WASM");
  const held: number[] = [];
  for (let k = 0; k < 4; k++) {
    await w.run(grads, mixedFeeds);
    held.push(wasm.memory().inUse);
  }
  assert.equal(held[3], held[1], `bytes in use after each step: ${held}`);
});

Deno.test("values left on a stack are released when the step ends, failed or not", async () => {
  const g = new ef.Graph();
  const a = ef.placeholder(g, "float32", [64], { name: "a" });
  const size = ef.constant(-1, { graph: g, dtype: "int32" });
  const h = g.addNode(StackV2, [size], { elem_type: "float32" }, { name: "stack" }).outputs[0];
  // exp(a) is pushed and never popped: only the step's end frees it.
  const push = g.addNode(StackPushV2, [h, ef.exp(a)], {}, { name: "push" });
  const after = ef.identity(a, { controlInputs: [push] });
  const bad = ef.reshape(after, ef.placeholder(g, "int32", [1], { name: "dims" }));
  await using s = new ef.Session(g, { device: "REF" });
  const ref = await s.device("REF") as RefDevice;
  await s.run(after, { a: new Array(64).fill(1) });
  assert.equal(ref.memory().inUse, 0);
  await assert.rejects(s.run(bad, { a: new Array(64).fill(1), dims: [5] }), ef.EdgeflowError);
  assert.equal(ref.memory().inUse, 0);
});

/** Two pushes and three pops on one stack, in order by control edges. */
function stackProgram() {
  const g = new ef.Graph();
  const a = ef.placeholder(g, "float32", [2], { name: "a" });
  const b = ef.placeholder(g, "float32", [2], { name: "b" });
  const size = ef.constant(-1, { graph: g, dtype: "int32" });
  const h = g.addNode(StackV2, [size], { elem_type: "float32" }, { name: "stack" }).outputs[0];
  const p1 = g.addNode(StackPushV2, [h, a], {}, { name: "push1" });
  const p2 = g.addNode(StackPushV2, [h, b], {}, { name: "push2", controlInputs: [p1] });
  const pop = (name: string, after: ef.Node) =>
    g.addNode(StackPopV2, [h], { elem_type: "float32" }, { name, controlInputs: [after] });
  const pop1 = pop("pop1", p2), pop2 = pop("pop2", pop1), pop3 = pop("pop3", pop2);
  const close = g.addNode(StackCloseV2, [h], {}, { name: "close", controlInputs: [pop2] });
  return { g, pops: [pop1, pop2, pop3].map((p) => p.outputs[0]), close };
}

for (const type of ef.defaultRegistry.deviceTypesFor("StackPopV2")) {
  Deno.test(`${type} stack kernels: last in, first out; popping an empty stack names node and op`, async (t) => {
    const device = await deviceFor(type, t);
    if (!device) return;
    const { g, pops, close } = stackProgram();
    await using s = new ef.Session(g, {
      registry: ef.defaultRegistry,
      devices: [device],
      allowSoftPlacement: false,
      passes: { constantFolding: false, cse: false },
    });
    const feeds = { a: [1, -2], b: [3, 4] };
    const [x1, x2] = await s.run(pops.slice(0, 2), feeds, [close]);
    assert.deepEqual(Array.from(x1.toNumbers()), [3, 4]); // pushed last, popped first
    assert.deepEqual(Array.from(x2.toNumbers()), [1, -2]);
    await assert.rejects(
      s.run(pops[2], feeds),
      (e: Error) =>
        e instanceof ef.EdgeflowError && /empty stack/.test(e.message) &&
        /pop3/.test(e.message) && /StackPopV2/.test(e.message),
    );
  });
}

Deno.test("stack ops' shape inference refuses bad handles and sizes", () => {
  const g = new ef.Graph();
  const notHandle = ef.constant(1, { graph: g });
  assert.throws(
    () => g.addNode(StackPopV2, [notHandle], { elem_type: "float32" }),
    (e: Error) => e instanceof ef.EdgeflowError && /resource/.test(e.message),
  );
  assert.throws(
    () =>
      g.addNode(StackV2, [ef.constant([1, 2], { graph: g, dtype: "int32" })], {
        elem_type: "float32",
      }),
    (e: Error) => e instanceof ef.EdgeflowError && /max_size must be a scalar/.test(e.message),
  );
  const h = g.addNode(StackV2, [ef.constant(3, { graph: g, dtype: "int32" })], {
    elem_type: "int32",
  }).outputs[0];
  assert.deepEqual(h.shape, []);
  assert.equal(g.addNode(StackPopV2, [h], { elem_type: "int32" }).outputs[0].shape, null);
  const pushed = g.addNode(StackPushV2, [h, ef.constant([[1, 2]], { graph: g, dtype: "int32" })]);
  assert.deepEqual(pushed.outputs[0].shape, [1, 2]);
});

/** v ← (m times: u ← u·w + sin(v)) applied n times, as nested loops or unrolled. */
function nested(loop: boolean, n: number, m: number) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const w = ef.placeholder(g, "float32", [2], { name: "w" });
  const zero = () => g.asDefault(() => ef.constant(0, { dtype: "int32" }));
  const inner = (v: ef.Output, u: ef.Output) => ef.add(ef.mul(u, w), ef.sin(v));
  let y = x;
  if (loop) {
    y = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, v) => {
        const [, u] = ef.whileLoop(
          (j) => ef.less(j, m),
          (j, u) => [ef.add(j, 1), inner(v, u)],
          [zero(), v],
          { parallelIterations: 3 },
        );
        return [ef.add(i, 1), u];
      },
      [zero(), x],
      { parallelIterations: 4 },
    )[1];
  } else {
    for (let i = 0; i < n; i++) {
      let u = y;
      for (let j = 0; j < m; j++) u = inner(y, u);
      y = u;
    }
  }
  const loss = ef.sum(ef.mul(y, ef.constant([1, -2], { graph: g })), 0);
  return { g, grads: ef.gradients(loss, [x, w], undefined, { unconnected: "zero" }) };
}

for (const device of ["WASM", "REF"]) {
  Deno.test(`a loop nested in a loop's body: gradients equal the unrolled ones on ${device}`, async () => {
    const feeds = { x: [0.7, -0.4], w: [0.9, -0.6] };
    for (const [n, m] of [[3, 2], [0, 2], [2, 0], [4, 3]]) {
      const looped = nested(true, n, m), unrolled = nested(false, n, m);
      await using s1 = new ef.Session(looped.g, { device });
      await using s2 = new ef.Session(unrolled.g, { device });
      const l = await s1.run(looped.grads.map((d) => d!), feeds);
      const u = await s2.run(unrolled.grads.map((d) => d!), feeds);
      l.forEach((t, i) => nearAll(t.toNumbers(), u[i].toNumbers(), 1e-5));
    }
  });
}

/** v ← cond(Σv > 0, (m times: u ← u·w + x), v·w − 1) for n steps, as loops or unrolled. */
function loopInCond(loop: boolean, n: number, m: number) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const w = ef.placeholder(g, "float32", [2], { name: "w" });
  const zero = () => g.asDefault(() => ef.constant(0, { dtype: "int32" }));
  const taken = (v: ef.Output) => {
    if (!loop) {
      let u = v;
      for (let j = 0; j < m; j++) u = ef.add(ef.mul(u, w), x);
      return u;
    }
    return ef.whileLoop(
      (j) => ef.less(j, m),
      (j, u) => [ef.add(j, 1), ef.add(ef.mul(u, w), x)],
      [zero(), v],
    )[1];
  };
  const step = (v: ef.Output) =>
    ef.cond(ef.greater(ef.sum(v, 0), 0), () => taken(v), () => ef.sub(ef.mul(v, w), 1))[0];
  let y = x;
  if (loop) {
    y = ef.whileLoop((i) => ef.less(i, n), (i, v) => [ef.add(i, 1), step(v)], [zero(), x], {
      parallelIterations: 3,
    })[1];
  } else for (let i = 0; i < n; i++) y = step(y);
  const loss = ef.sum(ef.mul(y, ef.constant([1, -0.5], { graph: g })), 0);
  return { g, grads: ef.gradients(loss, [x, w], undefined, { unconnected: "zero" }) };
}

Deno.test("a loop inside a cond branch of a loop's body: gradients equal the unrolled ones", async () => {
  // Branches taken, per outer iteration: FTTT, FTT, FTFT for the first feeds (the inner loop
  // runs in some iterations only), always T and always F for the others.
  const cases = [
    { x: [0.3, -1.7], w: [0.1, -1.2] },
    { x: [0.4, 0.3], w: [-0.9, 0.8] },
    { x: [-0.2, 0.1], w: [1.2, 0.7] },
  ];
  for (const feeds of cases) {
    for (const [n, m] of [[4, 2], [3, 0], [4, 1]]) {
      const looped = loopInCond(true, n, m), unrolled = loopInCond(false, n, m);
      await using s1 = new ef.Session(looped.g);
      await using s2 = new ef.Session(unrolled.g);
      const l = await s1.run(looped.grads.map((d) => d!), feeds);
      const u = await s2.run(unrolled.grads.map((d) => d!), feeds);
      l.forEach((t, i) => nearAll(t.toNumbers(), u[i].toNumbers(), 1e-5));
    }
  }
});

Deno.test("a gradient graph with stacks survives GraphDef export and import", async () => {
  const { g, dx, dw } = power(10);
  const imported = ef.fromGraphDef(JSON.parse(JSON.stringify(ef.toGraphDef(g))));
  await using s = new ef.Session(imported);
  const [tdx, tdw] = await s.run([dx.name, dw.name], { x: 2, w: 1.5, n: 3 });
  near(num(tdx), 1.5 ** 3);
  near(num(tdw), 3 * 2 * 1.5 ** 2);
});

/** v ← cond(v > 0, v·w·x, sin(v)·w − x) for n steps, as a loop or unrolled (conds in both). */
function condBody(loop: boolean, n: number) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const w = ef.placeholder(g, "float32", [], { name: "w" });
  const step = (v: ef.Output): ef.Output =>
    ef.cond(
      ef.greater(ef.sum(v, 0), 0),
      () => ef.mul(ef.mul(v, w), x),
      () => ef.sub(ef.mul(ef.sin(v), w), x),
    )[0];
  let v = x;
  if (loop) {
    v = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, v) => [ef.add(i, 1), step(v)],
      [g.asDefault(() => ef.constant(0, { dtype: "int32" })), x],
      { parallelIterations: 3 },
    )[1];
  } else for (let k = 0; k < n; k++) v = step(v);
  const loss = ef.sum(ef.mul(v, ef.constant([1, -0.5], { graph: g })), 0);
  return { g, loss, grads: ef.gradients(loss, [x, w]).map((d) => d!) };
}

Deno.test("a cond inside the loop's body: gradients equal the unrolled ones and finite differences", async () => {
  for (const n of [1, 4]) {
    for (const feeds of [{ x: [0.6, -0.2], w: 1.3 }, { x: [-0.7, 0.4], w: -0.8 }]) {
      const looped = condBody(true, n), unrolled = condBody(false, n);
      await using s1 = new ef.Session(looped.g);
      await using s2 = new ef.Session(unrolled.g);
      const l = await s1.run(looped.grads, feeds);
      const u = await s2.run(unrolled.grads, feeds);
      l.forEach((t, i) => nearAll(t.toNumbers(), u[i].toNumbers(), 1e-5));
      const h = 1e-3;
      const up = num(await s1.run(looped.loss, { ...feeds, w: feeds.w + h }));
      const down = num(await s1.run(looped.loss, { ...feeds, w: feeds.w - h }));
      near((up - down) / (2 * h), num(l[1]), 1e-2);
    }
  }
});

Deno.test("two gradients of one loop, fetched in one run, each get their own counter and stacks", async () => {
  const { g, y, dx } = power(4);
  const [dx2] = ef.gradients(ef.mul(y, y), [g.nodes.find((n) => n.name === "x")!.outputs[0]]);
  await using s = new ef.Session(g);
  const [a, b] = await s.run([dx, dx2!], { x: 2, w: 1.5, n: 3 });
  near(num(a), 1.5 ** 3);
  near(num(b), 2 * (2 * 1.5 ** 3) * 1.5 ** 3); // d(y²)/dx = 2y·w³
});

/** acc ← sin(acc)·w + x five times, the body's arithmetic on `body`, the loop on `loop`. */
function split(body: string, loop: string) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4], { name: "x" });
  const w = ef.placeholder(g, "float32", [4], { name: "w" });
  const [, acc] = g.withDevice(loop, () =>
    ef.whileLoop(
      (i) => ef.less(i, 5),
      (i, a) => [
        ef.add(i, 1),
        g.withDevice(body, () => ef.add(ef.mul(ef.sin(a), w, { name: "times_w" }), x)),
      ],
      [g.asDefault(() => ef.constant(0, { dtype: "int32" })), x],
      { parallelIterations: 4 },
    ));
  return { g, grads: ef.gradients(ef.sum(acc, [0]), [x, w]).map((d) => d!) };
}

Deno.test("a loop whose body is on WASM:1 and control on WASM:0: gradients equal one device's", async () => {
  const one = split("", ""), two = split("/device:WASM:1", "/device:WASM:0");
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  const feeds = { x: [0.1, 0.5, -0.3, 0.8], w: [1.1, -0.7, 0.4, 0.9] };
  const a = await s1.run(one.grads, feeds);
  const b = await s2.run(two.grads, feeds);
  a.forEach((t, i) => assert.deepEqual(b[i].toArray(), t.toArray()));
  const placed = await s2.explainPlacement(two.grads, ["x", "w"], [], false);
  assert.ok(placed.nodes.some((n) => n.node === "while/times_w" && n.device.endsWith("WASM:1")));
  assert.ok(Object.keys(placed.sends).length === 2, "values cross both ways");
});

/** v ← v·w four times, each v written at index i of a TensorList or a TensorArray; loss Σ stack. */
function accumulating(kind: "list" | "array") {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const w = ef.placeholder(g, "float32", [], { name: "w" });
  const zero = g.asDefault(() => ef.constant(0, { dtype: "int32" }));
  let stacked: ef.Output;
  if (kind === "list") {
    const list0 = g.asDefault(() => tensorListReserve([3], 4, "float32"));
    const [, , list] = ef.whileLoop((i) => ef.less(i, 4), (i, v, l) => {
      const next = ef.mul(v, w);
      return [ef.add(i, 1), next, tensorListSetItem(l, i, next)];
    }, [zero, x, list0]);
    stacked = tensorListStack(list, "float32", { elementShape: [3] });
  } else {
    const ta = g.asDefault(() => TensorArray.create("float32", 4));
    const [, , flow] = ef.whileLoop((i) => ef.less(i, 4), (i, v, f) => {
      const next = ef.mul(v, w);
      return [ef.add(i, 1), next, ta.withFlow(f).write(i, next).flow];
    }, [zero, x, ta.flow]);
    stacked = ta.withFlow(flow).stack();
  }
  const [dx, dw] = ef.gradients(ef.sum(stacked, [0, 1]), [x, w]);
  return { g, dx: dx!, dw: dw! };
}

for (const kind of ["list", "array"] as const) {
  Deno.test(`a loop writing each iteration's value into a ${kind === "list" ? "TensorList" : "TensorArray"}: gradients`, async () => {
    const { g, dx, dw } = accumulating(kind);
    for (const device of ["WASM", "REF"]) {
      await using s = new ef.Session(g, { device });
      const [tdx, tdw] = await s.run([dx, dw], { x: [1, 2, 3], w: 0.5 });
      // loss = Σ_k Σ x·wᵏ (k = 1..4): d/dx = Σ wᵏ, d/dw = Σx · Σ k·wᵏ⁻¹.
      nearAll(tdx.toNumbers(), [0.9375, 0.9375, 0.9375]);
      near(num(tdw), 6 * (1 + 2 * 0.5 + 3 * 0.25 + 4 * 0.125));
    }
  });
}

Deno.test("a loop reading a captured TensorList: its gradient list accumulates over iterations", async () => {
  const g = new ef.Graph();
  const xs = ef.placeholder(g, "float32", [4, 3], { name: "xs" });
  const v0 = ef.placeholder(g, "float32", [3], { name: "v0" });
  const list = tensorListFromTensor(xs, [3]);
  const item = (i: ef.Output) => tensorListGetItem(list, i, "float32", { elementShape: [3] });
  const [, v] = ef.whileLoop(
    (i) => ef.less(i, 4),
    (i, v) => [ef.add(i, 1), ef.add(ef.mul(v, 0.5), ef.mul(item(i), v))],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), v0],
  );
  const looped = ef.gradients(ef.sum(v, [0]), [xs, v0]).map((d) => d!);
  let u = v0;
  for (let i = 0; i < 4; i++) u = ef.add(ef.mul(u, 0.5), ef.mul(ef.gather(xs, i), u));
  const unrolled = ef.gradients(ef.sum(u, [0]), [xs, v0]).map((d) => d!);
  const feeds = {
    xs: [[0.1, 0.2, 0.3], [0.4, -0.5, 0.6], [0.7, 0.8, -0.9], [1, 1.1, 1.2]],
    v0: [1, -1, 0.5],
  };
  for (const device of ["WASM", "REF"]) {
    await using s = new ef.Session(g, { device });
    const got = await s.run([...looped, ...unrolled], feeds);
    for (let k = 0; k < 2; k++) nearAll(got[k].toNumbers(), got[k + 2].toNumbers(), 1e-5);
  }
});
