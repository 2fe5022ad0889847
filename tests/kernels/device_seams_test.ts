// What every device does the same way because core does it: the op's run-time checks (on values
// a device computed, so they must be read from device memory) and Consts kept in device memory
// across runs of a plan.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import type { Device } from "../../core/device.ts";
import { deviceFor } from "./devices.ts";

const TYPES = ["REF", "WASM", "TPU", "WEBGPU"] as const;

/**
 * Counts the bytes of buffers shaped like `shape` that `device` uploads or allocates while `f`
 * runs: a Const copied in on every run shows in one or the other.
 */
async function constantBytes(
  device: Device,
  shape: number[],
  f: () => Promise<unknown>,
): Promise<number> {
  const { upload, allocate } = device;
  let bytes = 0;
  const count = (spec: ef.BufferSpec) => {
    if (spec.shape.join() === shape.join()) {
      bytes += ef.byteSize(spec.dtype) * ef.sizeOf(spec.shape);
    }
  };
  device.upload = (t) => (count(t), upload.call(device, t));
  device.allocate = (spec) => (count(spec), allocate.call(device, spec));
  try {
    await f();
  } finally {
    device.upload = upload;
    device.allocate = allocate;
  }
  return bytes;
}

async function refusal(p: Promise<unknown>): Promise<ef.EdgeflowError> {
  const e = await p.then(() => undefined, (e) => e);
  assert.ok(e instanceof ef.EdgeflowError, `an EdgeflowError, got ${e}`);
  return e;
}

for (const type of TYPES) {
  Deno.test(`${type}: checks read values computed on the device`, async (t) => {
    const device = await deviceFor(type, t);
    if (!device) return;
    const g = new ef.Graph();
    const params = ef.placeholder(g, "float32", [3, 2], { name: "params" });
    const i = ef.placeholder(g, "int32", [2], { name: "i" });
    // Identity runs on the device, so the checked input lives in device memory there.
    const lookup = ef.gather(params, ef.identity(i), 0, { name: "lookup" });
    const x = ef.placeholder(g, "int32", [3], { name: "x" });
    const y = ef.placeholder(g, "int32", [3], { name: "y" });
    const q = ef.floorDiv(x, ef.identity(y), { name: "q" });
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    const p = ef.tensor([[1, 2], [3, 4], [5, 6]]);
    assert.deepEqual(
      (await s.run(lookup, { params: p, i: ef.tensor([2, 0], undefined, "int32") })).toArray(),
      [[5, 6], [1, 2]],
    );
    const bad = await refusal(
      s.run(lookup, { params: p, i: ef.tensor([1, 3], undefined, "int32") }),
    );
    assert.equal(bad.node, "lookup");
    assert.equal(bad.reason, "indices[1] = 3 is not in [0, 3)");
    const xs = ef.tensor([7, -7, 1], undefined, "int32");
    assert.deepEqual(
      (await s.run(q, { x: xs, y: ef.tensor([2, 2, 1], undefined, "int32") })).toArray(),
      [3, -4, 1],
    );
    const zero = await refusal(s.run(q, { x: xs, y: ef.tensor([2, 0, 1], undefined, "int32") }));
    assert.equal(zero.node, "q");
    assert.equal(zero.reason, "integer division by zero");
  });

  // REF's buffers are the host tensors themselves: its Const moves nothing by construction.
  if (type === "REF") continue;
  Deno.test(`${type}: steady-state runs move no constant bytes`, async (t) => {
    const device = await deviceFor(type, t);
    if (!device) return;
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [256, 1024], { name: "x" });
    const w = ef.constant(ef.Tensor.zeros("float32", [1, 1024]), { graph: g, name: "w" });
    const y = ef.sum(ef.add(x, w), [0, 1]);
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    const feed = { x: ef.Tensor.zeros("float32", [256, 1024]) };
    // A stateless plan's Consts stay on the device from its first run on.
    await s.run(y, feed);
    const bytes = await constantBytes(device, [1, 1024], async () => {
      for (let k = 0; k < 3; k++) await s.run(y, feed);
    });
    assert.equal(bytes, 0);
  });

  Deno.test(`${type}: an in-place update never writes a kept Const's storage`, async (t) => {
    const device = await deviceFor(type, t);
    if (!device) return;
    const g = new ef.Graph();
    const init = ef.reshape(ef.constant(ef.tensor([1, 2, 3, 4]), { graph: g }), [2, 2]);
    const v = new ef.Variable(init, { graph: g, name: "v" });
    const step = v.assignAdd(ef.constant(ef.tensor([[1, 1], [1, 1]]), { graph: g }));
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    // The initializer's plan (stateful) keeps its Const from its second run on; the variable's
    // value is then a view of it, which AssignAdd must copy, not update.
    for (let i = 0; i < 3; i++) {
      await s.run([], {}, [v.initializer]);
      await s.run([], {}, [step]);
    }
    assert.deepEqual((await s.run(init)).toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual((await s.run(v.read())).toArray(), [[2, 3], [4, 5]]);
  });
}
