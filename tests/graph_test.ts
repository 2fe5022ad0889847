import assert from "node:assert/strict";
import * as ef from "../mod.ts";

Deno.test("name scopes make unique, nested names", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const a = g.withNameScope("dense", () => ef.add(x, x));
  const b = g.withNameScope("dense", () => g.withNameScope("inner", () => ef.mul(x, x)));
  const c = ef.add(x, x);
  const d = ef.add(x, x);
  assert.equal(a.node.name, "dense/AddV2");
  assert.equal(b.node.name, "dense_1/inner/Mul");
  assert.equal(c.node.name, "AddV2");
  assert.equal(d.node.name, "AddV2_1");
  assert.equal(g.tensor("dense/AddV2:0"), a);
  assert.equal(g.node("dense_1/inner/Mul"), b.node);
});

Deno.test("device scopes merge inner over outer, CPU/GPU mean WASM/WEBGPU", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const [y, z] = g.withDevice(
    "/job:worker/task:1",
    () => g.withDevice("/device:GPU:0", () => [ef.neg(x), ef.neg(x, { device: "/cpu:1" })]),
  );
  assert.equal(y.node.requestedDevice, "/job:worker/task:1/device:WEBGPU:0");
  assert.equal(z.node.requestedDevice, "/job:worker/task:1/device:WASM:1");
  assert.equal(x.node.requestedDevice, "");
  assert.equal(ef.fullDeviceName("WASM"), "/job:localhost/replica:0/task:0/device:WASM:0");
  // Device types are open (a plugin may add one), but must look like one.
  assert.equal(ef.parseDeviceSpec("/device:FPGA:0").type, "FPGA");
  assert.throws(() => ef.parseDeviceSpec("/device:F-PGA:0"), ef.EdgeflowError);
});

Deno.test("control dependencies and colocation scopes", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const first = ef.neg(x);
  const second = g.withControlDependencies([first], () => ef.abs(x));
  assert.deepEqual(second.node.controlInputs, [first.node]);
  const v = new ef.Variable([1, 2], { graph: g, name: "w", dtype: "float32" });
  const read = v.read();
  assert.deepEqual(read.node.colocation, [v.handle.node.name]);
  assert.deepEqual(v.initializer.colocation, [v.handle.node.name]);
});

Deno.test("builders find the graph from inputs and convert literals with the sibling dtype", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "int32", [3], { name: "x" });
  const y = ef.add(x, 1);
  assert.equal(y.dtype, "int32");
  assert.equal(y.node.inputs[1].node.op.name, "Const");
  assert.deepEqual(y.shape, [3]);
  const f = g.asDefault(() => ef.add(1.5, 2));
  assert.equal(f.dtype, "float32");
  assert.throws(() => ef.add(1, 2), /no graph to build in/);
});

Deno.test("type attrs are inferred and checked", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const i = ef.placeholder(g, "int32", [2], { name: "i" });
  const err = assert.throws(() => ef.add(x, i, { name: "bad" }), (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.equal(e.node, "bad");
    assert.equal(e.op, "AddV2");
    assert.match(e.message, /input 'y' \(i:0\) has dtype int32, expected float32/);
    return true;
  });
  void err;
  assert.equal(ef.add(x, x).node.attrs.T, "float32");
});

Deno.test("shape inference broadcasts partial shapes and rejects incompatible ones", () => {
  const g = new ef.Graph();
  const a = ef.placeholder(g, "float32", [null, 3], { name: "a" });
  const b = ef.placeholder(g, "float32", [4, 1], { name: "b" });
  assert.deepEqual(ef.add(a, b).shape, [4, 3]);
  const c = ef.placeholder(g, "float32", [2, 5], { name: "c" });
  assert.throws(
    () => ef.add(a, c, { name: "sum" }),
    /node 'sum' \(AddV2\): shapes \[\?,3\] and \[2,5\] cannot be broadcast/,
  );
  const u = ef.placeholder(g, "float32", null, { name: "u" });
  assert.equal(ef.add(u, a).shape, null);
});

Deno.test("attribute validation names the attribute", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  assert.throws(
    () => ef.leakyRelu(x, { alpha: "big" as unknown as number }),
    /attribute 'alpha' = "big" must be a number/,
  );
  assert.throws(() => ef.leakyRelu(x, { beta: 1 } as never), /has no attribute 'beta'/);
});
