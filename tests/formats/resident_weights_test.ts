// loadGraphModel's `device`: the weights are copied into the WASM device's memory (or the TPU's
// HBM) once and the graph's Consts view them there; runs use them in place (no upload, no second
// copy).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { tinyModel, tinyReference } from "./tfjs_fixture.ts";

const X = [[1, 2, 3], [-1, 0.5, 2]];

Deno.test("weights loaded onto a WASM device exist once, there", async () => {
  const m = tinyModel();
  await using device = (await ef.wasmPlugin.create({ threads: 1 }))!;
  const model = await ef.loadGraphModel(m.files, { device });
  const consts = model.graph.nodes.filter((n) => n.op.name === "Const");
  const weights = consts.filter((n) => ["w", "b", "s", "mask", "flat"].includes(n.name));
  for (const n of weights) {
    const data = (n.attrs.value as ef.Tensor).data as ArrayBufferView;
    assert.ok(data.buffer instanceof SharedArrayBuffer, `${n.name} is not a view of WASM memory`);
  }
  const held = device.memory().inUse;
  assert.ok(held > 0);
  await using s = new ef.Session(model.graph, { devices: [device] });
  for (let run = 0; run < 3; run++) {
    const before = device.transfers.uploadBytes;
    const y = await s.run(model.outputs[0].name, { [model.inputs[0].name]: X });
    // Only the fed input is uploaded: every weight is already in place.
    assert.equal(device.transfers.uploadBytes - before, 2 * 3 * 4, `run ${run}`);
    y.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - tinyReference(m, X)[i]) <= 1e-5));
  }
  model.dispose();
  model.dispose(); // idempotent
});

Deno.test("weights loaded onto the TPU are its HBM buffers, uploaded once", async () => {
  const m = tinyModel();
  const device = (await ef.tpuPlugin.create({}))!;
  try {
    const model = await ef.loadGraphModel(m.files, { device });
    const w = model.graph.node("w").attrs.value as ef.Tensor;
    await using s = new ef.Session(model.graph, { devices: [device] });
    const held = device.memory().inUse;
    for (let run = 0; run < 2; run++) {
      const y = await s.run(model.outputs[0].name, { [model.inputs[0].name]: X });
      y.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - tinyReference(m, X)[i]) <= 1e-2));
      // No weight is uploaded again: HBM holds what it held after loading.
      assert.equal(device.memory().inUse, held, `run ${run}`);
    }
    assert.equal(device.peek(device.upload(w)).data, w.data, "upload of the view is its buffer");
    model.dispose();
  } finally {
    await device[Symbol.asyncDispose]();
  }
});

Deno.test("a device whose memory the host cannot address refuses to hold the weights", async () => {
  const device = { type: "GPU0", adopt: undefined } as unknown as ef.Device;
  await assert.rejects(
    ef.loadGraphModel(tinyModel().files, { device }),
    /option 'device' takes a device with host-addressable memory/,
  );
});

Deno.test("the device may be a promise: the files are parsed while it starts", async () => {
  const m = tinyModel();
  let resolve!: (d: ef.Device) => void;
  const starting = new Promise<ef.Device>((r) => resolve = r);
  let settled = false;
  const loading = ef.loadGraphModel(m.files, { device: starting }).finally(() => settled = true);
  // The loader waits for the device, not the other way round.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(settled, false);
  await using device = (await ef.wasmPlugin.create({ threads: 1 }))!;
  resolve(device);
  const model = await loading;
  const w = model.graph.node("w").attrs.value as ef.Tensor;
  assert.ok((w.data as ArrayBufferView).buffer instanceof SharedArrayBuffer, "w is on the device");
  await using s = new ef.Session(model.graph, { devices: [device] });
  const y = await s.run(model.outputs[0].name, { [model.inputs[0].name]: X });
  y.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - tinyReference(m, X)[i]) <= 1e-5));
  model.dispose();
  // A device that fails to start fails the load with its own error.
  await assert.rejects(
    ef.loadGraphModel(m.files, { device: Promise.reject(new Error("no device")) }),
    /no device/,
  );
});
