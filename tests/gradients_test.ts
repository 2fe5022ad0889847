// gradients(): the backward graph's structure and values on small graphs run on REF.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const REF = { device: "REF" } as const;

async function run(g: ef.Graph, fetches: ef.Output[], feeds: ef.Feeds = []) {
  await using s = new ef.Session(g, REF);
  return (await s.run(fetches, feeds)).map((t) => t.toArray());
}

Deno.test("a tensor used several times gets the AddN of its partial gradients", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const y = ef.sum(ef.add(ef.mul(x, x), x)); // d/dx = 2x + 1
  const [gx] = ef.gradients(y, [x]);
  assert.ok(gx!.name.startsWith("gradients/"), gx!.name);
  assert.equal(gx!.node.op.name, "AddN");
  assert.equal(gx!.node.inputs.length, 3);
  assert.deepEqual(await run(g, [gx!], { x: [1, -2, 0.5] }), [[3, -3, 2]]);
});

Deno.test("backward nodes are named gradients/<node>_grad/..., a second call gradients_1", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2, 2], { name: "x" });
  const y = ef.matMul(x, x, { name: "mm" });
  ef.gradients(y, [x]);
  ef.gradients(y, [x]);
  const names = g.nodes.map((n) => n.name);
  assert.ok(names.includes("gradients/grad_ys_0"), names.join(" "));
  assert.ok(names.some((n) => n.startsWith("gradients/mm_grad/")), names.join(" "));
  assert.ok(names.some((n) => n.startsWith("gradients_1/mm_grad/")), names.join(" "));
});

Deno.test("unconnected xs get null, or zeros with unconnected: zero", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const other = ef.placeholder(g, "float32", [2], { name: "other" });
  const y = ef.sum(ef.square(x));
  assert.deepEqual(ef.gradients(y, [other]), [null]);
  // An integer path carries no gradient either: Cast to int32 and back cuts it.
  const viaInt = ef.sum(ef.cast(ef.cast(x, "int32"), "float32"));
  assert.deepEqual(ef.gradients(viaInt, [x]), [null]);
  const [zero] = ef.gradients(y, [other], undefined, { unconnected: "zero" });
  assert.deepEqual(await run(g, [zero!], { other: [1, 2] }), [[0, 0]]);
});

Deno.test("StopGradient blocks the gradient through its input", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const y = ef.sum(ef.mul(x, ef.stopGradient(x))); // d/dx = stop(x), not 2x
  const [gx] = ef.gradients(y, [x]);
  assert.deepEqual(await run(g, [gx!, y], { x: [3, -1] }), [[3, -1], 10]);
  assert.deepEqual(ef.gradients(ef.sum(ef.stopGradient(x)), [x]), [null]);
});

Deno.test("broadcasting is undone: static shapes sum with Const axes", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2, 3], { name: "x" });
  const b = ef.placeholder(g, "float32", [3], { name: "b" });
  const c = ef.placeholder(g, "float32", [2, 1], { name: "c" });
  const y = ef.sum(ef.mul(ef.add(x, b), c));
  const [gx, gb, gc] = ef.gradients(y, [x, b, c]);
  assert.deepEqual(gb!.shape, [3]);
  assert.deepEqual(gc!.shape, [2, 1]);
  assert.ok(!g.nodes.some((n) => n.op.name === "BroadcastGradientArgs"));
  const feeds = { x: [[1, 2, 3], [4, 5, 6]], b: [1, 1, 1], c: [[2], [3]] };
  assert.deepEqual(await run(g, [gx!, gb!, gc!], feeds), [
    [[2, 2, 2], [3, 3, 3]],
    [5, 5, 5],
    [[9], [18]],
  ]);
});

Deno.test("broadcasting is undone: unknown dims use BroadcastGradientArgs, Sum and Reshape", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
  const b = ef.placeholder(g, "float32", [1, 3], { name: "b" });
  const [gx, gb] = ef.gradients(ef.sum(ef.mul(x, b)), [x, b]);
  assert.ok(g.nodes.some((n) => n.op.name === "BroadcastGradientArgs"));
  assert.equal(gb!.node.op.name, "Reshape");
  const feeds = { x: [[1, 2, 3], [4, 5, 6]], b: [[1, 2, 3]] };
  assert.deepEqual(await run(g, [gx!, gb!], feeds), [[[1, 2, 3], [1, 2, 3]], [[5, 7, 9]]]);
});

Deno.test("reductions with unknown dims: Sum, Mean and Max gradients", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 2], { name: "x" });
  const [gs] = ef.gradients(ef.sum(ef.sum(x, [0])), [x]);
  const [gm] = ef.gradients(ef.sum(ef.mean(x, [-1])), [x]);
  const [gmax] = ef.gradients(ef.sum(ef.max(x, [0])), [x]);
  const feeds = { x: [[1, 5], [3, 5], [2, 0]] };
  assert.deepEqual(await run(g, [gs!, gm!, gmax!], feeds), [
    [[1, 1], [1, 1], [1, 1]],
    [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]],
    // Ties split the gradient, as TensorFlow's _MinOrMaxGrad.
    [[0, 0.5], [1, 0.5], [0, 0]],
  ]);
});

Deno.test("a path through an op without a gradient is an EdgeflowError naming node and op", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  // Second derivatives through the gradient ops are not defined yet.
  const p = ef.sigmoidGrad(x, x, { name: "second" });
  assert.throws(
    () => ef.gradients(ef.mul(p, 2), [x]),
    (e: unknown) =>
      e instanceof ef.EdgeflowError && /node 'second' \(SigmoidGrad\)/.test(e.message) &&
      /no gradient is defined for op SigmoidGrad/.test(e.message),
  );
  // Cut by StopGradient, the same graph differentiates (to null).
  assert.deepEqual(ef.gradients(ef.mul(ef.stopGradient(p), 2), [x]), [null]);
});

Deno.test("gradYs weight the ys and must match their dtype and shape", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const y = ef.mul(x, 3);
  const [gx] = ef.gradients([y], [x], [ef.constant([1, -2], { graph: g })]);
  assert.deepEqual(await run(g, [gx!], { x: [5, 5] }), [[3, -6]]);
  assert.throws(
    () => ef.gradients([y], [x], [ef.constant([1, 2, 3], { graph: g })]),
    /gradYs\[0\] .* does not match y/,
  );
});

Deno.test("a Variable's gradient sums its reads", async () => {
  const g = new ef.Graph();
  const w = new ef.Variable([1, 2], { graph: g, name: "w", dtype: "float32" });
  const y = ef.sum(ef.mul(w.read(), w.read())); // d/dw = 2w
  const [gw] = ef.gradients(y, [w]);
  await using s = new ef.Session(g, REF);
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  assert.deepEqual((await s.run(gw!)).toArray(), [2, 4]);
});

Deno.test("a small network's gradients agree with the hand-written ones", async () => {
  // softmax cross entropy over dense(relu(dense(x))): the demo's gradient, built by gradients().
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
  const labels = ef.placeholder(g, "int32", [null], { name: "labels" });
  const w1 = ef.constant([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], { graph: g });
  const w2 = ef.constant([[1, -1], [0.5, 0.25]], { graph: g });
  const h = ef.relu(ef.matMul(x, w1));
  const logits = ef.matMul(h, w2);
  const [loss] = ef.sparseSoftmaxCrossEntropyWithLogits(logits, labels);
  const [gLogits, gw2] = ef.gradients(ef.mean(loss), [logits, w2]);
  const [probs] = await run(g, [ef.softmax(logits)], {
    x: [[1, 2, 3], [-1, 0, 1]],
    labels: [0, 1],
  });
  const [gl, gw, hv] = await run(g, [gLogits!, gw2!, h], {
    x: [[1, 2, 3], [-1, 0, 1]],
    labels: [0, 1],
  });
  const p = probs as number[][], H = hv as number[][];
  const want = p.map((row, b) => row.map((v, j) => (v - (j === [0, 1][b] ? 1 : 0)) / 2));
  (gl as number[][]).forEach((row, b) =>
    row.forEach((v, j) => assert.ok(Math.abs(v - want[b][j]) < 1e-6))
  );
  // dW2 = hᵀ · dlogits.
  (gw as number[][]).forEach((row, i) =>
    row.forEach((v, j) =>
      assert.ok(Math.abs(v - (H[0][i] * want[0][j] + H[1][i] * want[1][j])) < 1e-6)
    )
  );
});

Deno.test("Prod's gradient is the product of the others, exact at zeros, with an unknown batch", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
  const [gx] = ef.gradients(ef.prod(x, [1]), [x]);
  const [gAll] = ef.gradients(ef.prod(x, [0, -1]), [x]);
  const feeds = { x: ef.tensor([[2, 0, 3], [1, 4, 5]]) };
  assert.deepEqual(await run(g, [gx!, gAll!], feeds), [[[0, 6, 0], [20, 5, 4]], [
    [0, 120, 0],
    [0, 0, 0],
  ]]);
});
