// Binding sizes: programs view buffers as array<vec4<T>> where sizes allow, and WebGPU refuses a
// binding smaller than the shader's element. These graphs failed with "bound with size 4 where
// the shader expects 16": a reduction to a scalar after a vec4 unary op (Deno's wgpu checked the
// scalar against the previous pipeline's vec4 sizes, as both share a layout), a GEMM with K = 0
// (an empty B read as vec4 rows) and a training step that fetches its loss and applies four
// AssignSub updates. Each must run and agree with REF.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { withDevice } from "./util.ts";

async function sameAsRef(
  device: ef.Device,
  g: ef.Graph,
  fetches: ef.Output[],
  feeds: ef.Feeds = {},
  targets: ef.Node[] = [],
  runs = 1,
  withVariables = false,
): Promise<void> {
  const passes = { constantFolding: false };
  await using gpu = new ef.Session(g, { devices: [device], passes });
  await using ref = new ef.Session(g, { device: "REF", passes });
  if (withVariables) {
    const init = ef.globalVariablesInitializer(g);
    await gpu.run([], {}, [init]);
    await ref.run([], {}, [init]);
  }
  for (let r = 0; r < runs; r++) {
    const a = await gpu.run(fetches, feeds, targets);
    const b = await ref.run(fetches, feeds, targets);
    a.forEach((t, i) => {
      assert.deepEqual(t.shape, b[i].shape);
      const [x, y] = [t.toNumbers(), b[i].toNumbers()];
      x.forEach((v, j) => assert.ok(Math.abs(v - y[j]) <= 1e-5 * Math.max(1, Math.abs(y[j]))));
    });
  }
}

Deno.test("a reduction to fewer than 4 elements after a vec4 unary op", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [4], { name: "x" });
    const m = ef.mean(ef.square(x), [0], { name: "m" });
    const y = ef.placeholder(g, "float32", [2, 4], { name: "y" });
    const s = ef.sum(ef.exp(y), [1], { name: "s" });
    await sameAsRef(device, g, [m, s], { x: [1, 2, 3, 4], y: [[1, 2, 3, 4], [5, 6, 7, 8]] });
  });
});

Deno.test("MatMul and BatchMatMul with K = 0 give zeros", async (t) => {
  await withDevice(t, {}, async (device) => {
    for (const [m, n] of [[3, 4], [1, 8], [2, 5], [1, 1]]) {
      const g = new ef.Graph();
      const a = ef.placeholder(g, "float32", [2, m, 0], { name: "a" });
      const b = ef.placeholder(g, "float32", [2, 0, n], { name: "b" });
      const c = ef.placeholder(g, "float32", [m, 0], { name: "c" });
      const d = ef.placeholder(g, "float32", [0, n], { name: "d" });
      const y = ef.batchMatMul(a, b, { name: "bmm" });
      const z = ef.matMul(c, d, { name: "mm" });
      const empty = (shape: number[]) => ef.tensor(new Float32Array(0), shape);
      const feeds = {
        a: empty([2, m, 0]),
        b: empty([2, 0, n]),
        c: empty([m, 0]),
        d: empty([0, n]),
      };
      await sameAsRef(device, g, [y, z], feeds);
    }
  });
});

Deno.test("a training step fetching its loss with four AssignSub updates", async (t) => {
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
    const y = ef.placeholder(g, "float32", [null], { name: "y" });
    const w1 = new ef.Variable([[0.1], [0.2], [0.3]], { graph: g, name: "w1", dtype: "float32" });
    const b1 = new ef.Variable([0], { graph: g, name: "b1", dtype: "float32" });
    const w2 = new ef.Variable(0.5, { graph: g, name: "w2", dtype: "float32" });
    const b2 = new ef.Variable(0, { graph: g, name: "b2", dtype: "float32" });
    const h = ef.add(ef.reshape(ef.matMul(x, w1.read()), [-1]), b1.read());
    const prediction = ef.add(ef.mul(h, w2.read()), b2.read());
    const error = ef.sub(prediction, y);
    const loss = ef.mean(ef.square(error), [0], { name: "loss" });
    const lr = 0.01;
    const e2 = ef.mul(error, 2);
    const gradH = ef.mul(e2, w2.read());
    const gradW1 = ef.reshape(
      ef.div(ef.matMul(x, ef.reshape(gradH, [-1, 1]), { transpose_a: true }), 4),
      [3, 1],
    );
    const train = ef.group([
      w1.assignSub(ef.mul(gradW1, lr)),
      b1.assignSub(ef.reshape(ef.mul(ef.mean(gradH, [0]), lr), [1])),
      w2.assignSub(ef.mul(ef.mean(ef.mul(e2, h), [0]), lr)),
      b2.assignSub(ef.mul(ef.mean(e2, [0]), lr)),
    ]);
    const feeds = {
      x: [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 0, 1]],
      y: [1, 2, 3, 4],
    };
    await sameAsRef(device, g, [loss], feeds, [train], 3, true);
  });
});
