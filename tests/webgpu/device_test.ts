// The WebGPU device's contracts: one submit and one wait per run, pipelines compiled when the
// session builds its plan, buffers and constants reused across runs, variables in GPU memory.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { release, retain } from "../../core/buffer.ts";
import { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import { mapDispatch } from "../../kernels_gpu/elementwise/map.ts";
import { maxDiff, values, withDevice } from "./util.ts";

function mlp(g: ef.Graph) {
  const x = ef.placeholder(g, "float32", [null, 8], { name: "x" });
  const w = ef.constant(ef.tensor(values(8 * 4), [8, 4]), { graph: g });
  const b = ef.constant(ef.tensor(values(4, 7), [4]), { graph: g });
  const h = ef.relu(ef.biasAdd(ef.matMul(x, w), b));
  const y = ef.softmax(h, { name: "y" });
  // Shape arguments as int32 Consts stay in host memory: no readback for the Reshape.
  const flat = ef.reshape(h, [-1], { name: "flat" });
  return { x, y, flat };
}

Deno.test("a run records every GPU node into one submit and waits once for all fetches", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const { y, flat } = mlp(g);
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    const feed = { x: ef.tensor(values(3 * 8, 3), [3, 8]) };
    await s.run([y, flat], feed);
    const { submits, dispatches } = device.recorder.stats;
    const waits = readbackWaits(device);
    const [yv, fv] = await s.run([y, flat], feed);
    assert.equal(device.recorder.stats.submits - submits, 1, "one command buffer per run");
    assert.ok(device.recorder.stats.dispatches - dispatches >= 4, "the GPU ran the nodes");
    assert.equal(readbackWaits(device) - waits, 1, "one mapAsync wait for both fetches");
    assert.deepEqual(yv.shape, [3, 4]);
    assert.deepEqual(fv.shape, [12]);
  });
});

Deno.test("pipelines compile when the plan is built; a first run and a second session compile none", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const { x, y } = mlp(g);
    const passes = { constantFolding: false };
    await using s = new ef.Session(g, { devices: [device], passes });
    await s.prepare([y], [x]);
    const compiled = device.pipelines.compiled;
    assert.ok(compiled >= 4, `compiled ${compiled} pipelines at build`);
    await s.run(y, { x: ef.tensor(values(16), [2, 8]) });
    assert.equal(device.pipelines.compiled, compiled, "the first run compiled nothing");
    await using s2 = new ef.Session(g, { devices: [device], passes });
    await s2.run(y, { x: ef.tensor(values(40), [5, 8]) });
    assert.equal(device.pipelines.compiled, compiled, "another session reuses the cache");
  });
});

Deno.test("steady runs create no buffers; Consts are uploaded once", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const { y } = mlp(g);
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    const feed = { x: ef.tensor(values(4 * 8), [4, 8]) };
    await s.run(y, feed);
    await s.run(y, feed);
    const created = device.pool.stats().created;
    for (let i = 0; i < 3; i++) await s.run(y, feed);
    assert.equal(device.pool.stats().created, created);
  });
});

Deno.test("variables live in GPU buffers across runs; updates run in place or copy when read", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const v = new ef.Variable(ef.tensor([1, 2, 3, 4]), { graph: g, name: "v" });
    const delta = ef.constant(ef.tensor([1, 1, 1, 1]), { graph: g });
    const add = v.assignAdd(delta);
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    await s.run([], {}, [v.initializer]);
    await s.run([], {}, [add]);
    await s.run([], {}, [add]);
    assert.deepEqual((await s.run(v.read())).toArray(), [3, 4, 5, 6]);
    // Reading and updating in one run: the read keeps the value from before the update.
    const read = v.read();
    const after = v.assignAdd(delta, { controlInputs: [read] });
    const [before] = await s.run([ef.identity(read)], {}, [after]);
    assert.deepEqual(before.toArray(), [3, 4, 5, 6]);
    assert.deepEqual((await s.run(v.read())).toArray(), [4, 5, 6, 7]);
  });
});

// An update whose copy pipeline is not compiled yet (prepare compiles only the in-place program)
// records its dispatch after the compile, while the executor runs other nodes. The variable
// table used to take the new buffer (and release the old one) at once: a read of the variable
// in that gap got a buffer nothing had written yet, and a training step whose reads let go of
// the old value meanwhile saw its storage taken and overwritten by later kernels.
Deno.test("a variable update waiting for its pipeline keeps the old value until it is recorded", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    // int32 updates compile a pipeline no other test of this file compiles.
    const v = new ef.Variable(ef.tensor(new Int32Array([10, 20, 30, 40, 50])), { graph: g });
    const ones = () => ef.constant(ef.tensor(new Int32Array([1, 1, 1, 1, 1])), { graph: g });
    // `first` holds the value, so the update copies; `second` runs while the update waits.
    const first = v.read();
    const second = ef.mul(v.read({ controlInputs: [first.node] }), ones());
    const update = v.assignSub(ones(), { controlInputs: [first.node] });
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    await s.run([], {}, [v.initializer]);
    await s.prepare([first, second], [], [update]);
    const compiled = device.pipelines.compiled;
    const [a, b] = await s.run([first, second], {}, [update]);
    assert.ok(
      device.pipelines.compiled > compiled,
      "the update's copy pipeline compiled during the run (else this test checks nothing)",
    );
    assert.deepEqual(a.toArray(), [10, 20, 30, 40, 50]);
    // No order between the update and `second`: either value is right, an unwritten one is not.
    const got = [...b.toNumbers()];
    assert.ok(
      [[10, 20, 30, 40, 50], [9, 19, 29, 39, 49]].some((e) => e.every((x, i) => x === got[i])),
      `read ${got}`,
    );
    assert.deepEqual((await s.run(v.read())).toArray(), [9, 19, 29, 39, 49]);
  });
});

Deno.test("a dispatch waiting for its pipeline holds its buffers until it is recorded", async (t) => {
  await withDevice(t, {}, async (device) => {
    const node = ef.placeholder(new ef.Graph(), "float32", [4], { name: "p" }).node;
    const x = retain(device.upload(ef.tensor([1, 2, 3, 4])));
    const out = retain(device.allocate({ dtype: "float32", shape: [4] }));
    const copy = { name: "test.heldCopy", wgsl: "fn f(a: f32) -> f32 { return a; }" };
    const done = device.encode(node, [mapDispatch(device, copy, [x], out)]);
    assert.ok(done instanceof Promise, "the pipeline compiles first");
    // The caller lets go of the input at once; an upload of the same size then takes a free
    // buffer from the pool, and must not get the input's before the copy reads it.
    release(x);
    const other = retain(device.upload(ef.tensor([9, 9, 9, 9])));
    await done;
    assert.deepEqual((await device.download(out)).toArray(), [1, 2, 3, 4]);
    release(other);
    release(out);
  });
});

Deno.test("integer Consts used as shapes are host values; float Consts are GPU buffers", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const w = ef.constant(ef.tensor(values(6), [2, 3]), { graph: g });
    const y = ef.transpose(ef.reshape(w, [3, 2]), [1, 0]);
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    const waits = readbackWaits(device);
    const out = await s.run(y);
    assert.equal(readbackWaits(device) - waits, 1, "only the fetch waits");
    assert.ok(maxDiff(out.data as Float32Array, transposed(values(6), 3, 2)) === 0);
    const buffer = device.constant(w.node.attrs.value as ef.Tensor);
    assert.ok(buffer instanceof GpuBuffer);
  });
});

function transposed(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

function readbackWaits(device: WebGpuDevice): number {
  return device.stats().waits;
}
