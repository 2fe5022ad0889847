import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import type { RefDevice } from "../devices/ref/device.ts";

function model() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 2], { name: "x" });
  const w = new ef.Variable([1, 2], { graph: g, name: "w", dtype: "float32" });
  const h = ef.mul(x, w.read());
  const y = ef.add(h, 1, { name: "y" });
  return { g, x, w, h, y, init: ef.globalVariablesInitializer(g) };
}

Deno.test("run with feeds by name, Output or Map; single and list fetches", async () => {
  const { g, x, y, init } = model();
  await using s = new ef.Session(g);
  await s.run([], {}, [init]);
  const a = await s.run(y, { x: [[1, 1], [2, 2]] });
  assert.deepEqual(a.toArray(), [[2, 3], [3, 5]]);
  const [b, c] = await s.run(["y:0", y], new Map([[x, ef.tensor([[0, 1]])]]));
  assert.deepEqual(b.toArray(), [[1, 3]]);
  assert.deepEqual(c.toArray(), [[1, 3]]);
});

Deno.test("a fed tensor cuts off its producers", async () => {
  const { g, h, y } = model();
  await using s = new ef.Session(g);
  // Neither x nor the uninitialised variable is needed once h is fed.
  const out = await s.run(y, [[h, [[5, 6]]]]);
  assert.deepEqual(out.toArray(), [[6, 7]]);
  // Fetching a fed tensor returns the fed value.
  assert.deepEqual((await s.run(h, [[h, [[7, 8]]]])).toArray(), [[7, 8]]);
});

Deno.test("partial execution runs only what the fetches and targets need", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const unrelated = ef.placeholder(g, "float32", [], { name: "unfed" });
  const y = ef.add(x, 1);
  ef.neg(unrelated);
  await using s = new ef.Session(g);
  assert.equal((await s.run(y, { x: 1 })).toNumbers()[0], 2);
});

Deno.test("the run cache: a second run with the same signature builds no plan", async () => {
  const { g, y, init } = model();
  await using s = new ef.Session(g);
  await s.run([], {}, [init]);
  assert.equal(s.stats.plansBuilt, 1);
  await s.run(y, { x: [[1, 2]] });
  await s.run(y, { x: [[3, 4], [5, 6]] });
  await s.run("y", { "x:0": [[3, 4]] });
  assert.equal(s.stats.plansBuilt, 2);
  await s.run(y, { x: [[1, 2]] }, [init]);
  assert.equal(s.stats.plansBuilt, 3);
  // Changing an existing node invalidates cached plans.
  g.addControlInput(y.node, init);
  await s.run(y, { x: [[1, 2]] });
  assert.equal(s.stats.plansBuilt, 4);
});

Deno.test("concurrent first runs of one signature share one plan build", async () => {
  const { g, y, init } = model();
  await using s = new ef.Session(g);
  await s.run([], {}, [init]);
  // An edge function's first requests arrive together: they must not build the plan each.
  const results = await Promise.all([1, 2, 3].map((v) => s.run(y, { x: [[v, v]] })));
  assert.equal(results.length, 3);
  assert.equal(s.stats.plansBuilt, 2);
});

Deno.test("a plan whose build failed is built again on the next call", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const y = ef.neg(x);
  await using s = new ef.Session(g);
  await assert.rejects(s.run(y), /must be fed/);
  await assert.rejects(s.run(y), /must be fed/);
  assert.equal(s.stats.plansBuilt, 0);
  assert.equal((await s.run(y, { x: 2 })).toNumbers()[0], -2);
});

Deno.test("variables persist across runs and updates apply in order", async () => {
  const g = new ef.Graph();
  const v = new ef.Variable(ef.tensor([1, 2, 3]), { graph: g, name: "v" });
  const inc = v.assignAdd([1, 1, 1]);
  const dec = v.assignSub([0.5, 0.5, 0.5]);
  const read = v.read();
  await using s = new ef.Session(g);
  await s.run([], {}, [v.initializer]);
  await s.run([], {}, [inc]);
  await s.run([], {}, [inc]);
  await s.run([], {}, [dec]);
  assert.deepEqual((await s.run(read)).toNumbers(), [2.5, 3.5, 4.5]);
  await s.run([], {}, [v.assign([0, 0, 0])]);
  assert.deepEqual((await s.run(read)).toNumbers(), [0, 0, 0]);
});

Deno.test("reading an uninitialised variable names the node", async () => {
  const g = new ef.Graph();
  const v = new ef.Variable([1], { graph: g, name: "v", dtype: "float32" });
  await using s = new ef.Session(g);
  await assert.rejects(
    s.run(v.read({ name: "r" })),
    /node 'r' \(ReadVariableOp\): variable 'v' is not initialized/,
  );
});

Deno.test("close frees everything the session allocated", async () => {
  const { g, y, init } = model();
  const s = new ef.Session(g, { device: "REF" });
  await s.run([], {}, [init]);
  await s.run(y, { x: [[1, 2]] });
  const ref = await s.device("REF") as RefDevice;
  assert.ok(ref.memory().inUse > 0, "the variable occupies memory");
  await s.close();
  assert.equal(ref.memory().inUse, 0);
  await assert.rejects(s.run(y, { x: [[1, 2]] }), /session is closed/);
});

Deno.test("fetch results leave no buffers behind", async () => {
  const { g, y, init } = model();
  await using s = new ef.Session(g, { device: "REF" });
  await s.run([], {}, [init]);
  const ref = await s.device("REF") as RefDevice;
  const before = ref.memory().inUse;
  for (let i = 0; i < 3; i++) await s.run([y, y, "y"], { x: [[1, 2], [3, 4]] });
  assert.equal(ref.memory().inUse, before);
});

Deno.test("nodes carry requested and assigned devices", async () => {
  const g = new ef.Graph();
  const x = g.withDevice("/device:REF:0", () => ef.placeholder(g, "float32", [], { name: "x" }));
  const y = ef.neg(x);
  await using s = new ef.Session(g, { device: "REF" });
  await s.run(y, { x: 1 });
  assert.equal(x.node.requestedDevice, "/device:REF:0");
  assert.equal(y.node.assignedDevice, undefined, "the user's graph is not modified");
  await assert.rejects(
    Promise.resolve().then(() => new ef.Session(g, { device: "NULL" })),
    /no NULL device plugin is installed/,
  );
});

Deno.test("PlaceholderWithDefault has its declared shape: a feed of another batch size fits", async () => {
  // TensorFlow's shape function gives the `shape` attr, not the default value's shape.
  const g = new ef.Graph();
  const batchOf2 = ef.tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
  const p = ef.placeholderWithDefault(batchOf2, [null, 2], { graph: g, name: "p" });
  assert.deepEqual(p.shape, [-1, 2]);
  const y = ef.sum(p, [0], { name: "y" });
  await using s = new ef.Session(g);
  assert.deepEqual((await s.run(y)).toArray(), [4, 6]);
  assert.deepEqual((await s.run(y, { p: [[1, 1], [2, 2], [3, 3]] })).toArray(), [6, 6]);
  assert.throws(
    () => ef.placeholderWithDefault(batchOf2, [null, 3], { graph: g }),
    ef.EdgeflowError,
  );
});
