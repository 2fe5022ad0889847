// Kernels on shapes the equivalence suite's small cases never reach: GEMMs crossing tile edges
// under both strategies (the "tiled" one is what GPUs run; lavapipe defaults to "panel"), long
// reductions that take two passes, column reductions and reductions over non-adjacent axes.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { maxDiff, values, withDevice } from "./util.ts";

async function compare(
  device: ef.Device,
  build: (g: ef.Graph) => ef.Output,
  tol: number,
): Promise<void> {
  const g = new ef.Graph();
  const y = build(g);
  const passes = { constantFolding: false };
  await using gpu = new ef.Session(g, { devices: [device], passes });
  await using ref = new ef.Session(g, { device: "REF", passes });
  const [a, b] = [await gpu.run(y), await ref.run(y)];
  assert.deepEqual(a.shape, b.shape);
  const scale = Math.max(1, ...Array.from(b.data as Float32Array, Math.abs));
  const diff = maxDiff(a.data as Float32Array, b.data as Float32Array);
  assert.ok(diff <= tol * scale, `max difference ${diff} (scale ${scale})`);
}

const c = (g: ef.Graph, shape: number[], seed: number) =>
  ef.constant(ef.tensor(values(shape.reduce((a, b) => a * b, 1), seed), shape), { graph: g });

for (const gemm of ["tiled", "panel"] as const) {
  Deno.test(`${gemm} GEMM: MatMul, BatchMatMul and Conv2D across tile edges`, async (t) => {
    await withDevice(t, { gemm }, async (device) => {
      await compare(device, (g) => ef.matMul(c(g, [67, 129], 1), c(g, [129, 33], 2)), 1e-5);
      await compare(
        device,
        (g) =>
          ef.matMul(c(g, [70, 40], 3), c(g, [36, 70], 4), { transpose_a: true, transpose_b: true }),
        1e-5,
      );
      await compare(device, (g) => ef.matMul(c(g, [50, 64], 5), c(g, [64, 520], 6)), 1e-5);
      await compare(
        device,
        (g) => ef.batchMatMul(c(g, [3, 1, 17, 9], 7), c(g, [2, 9, 20], 8)),
        1e-5,
      );
      await compare(
        device,
        (g) =>
          ef.conv2d(c(g, [2, 11, 13, 5], 9), c(g, [3, 3, 5, 12], 10), {
            strides: [1, 2, 2, 1],
            padding: "SAME",
          }),
        1e-5,
      );
    });
  });
}

Deno.test("reductions: two-pass rows, columns, non-adjacent axes", async (t) => {
  await withDevice(t, {}, async (device) => {
    await compare(device, (g) => ef.sum(c(g, [300_000], 11)), 1e-4);
    await compare(device, (g) => ef.mean(c(g, [3, 20_000], 12), [1]), 1e-5);
    await compare(device, (g) => ef.max(c(g, [5, 9_000], 13), [1]), 0);
    await compare(device, (g) => ef.sum(c(g, [300, 7, 5], 14), [0]), 1e-5);
    await compare(device, (g) => ef.min(c(g, [6, 5, 7, 4], 15), [0, 2], { keep_dims: true }), 0);
    await compare(device, (g) => ef.softmax(c(g, [7, 1000], 16)), 1e-6);
  });
});
