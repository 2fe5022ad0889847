// The digits CNN's backward graph (conv 3x3 SAME + ReLU ×2, the first batch-normalized, max pool 2, dense + ReLU, dense,
// softmax cross entropy), built by gradients(), runs every node on WEBGPU and on the TPU (no
// REF fallback) and gives REF's gradients within the devices'
// precision: float32 sums on WEBGPU, bfloat16 MXU operands on the TPU.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { randomTensor } from "../../core/testing/arbitrary.ts";
import { numbers, type Tensor } from "../../core/tensor.ts";
import { deviceFor } from "./devices.ts";

/** Ops whose values the session supplies rather than a kernel computes. */
const HOST_OPS = new Set(["Const", "Placeholder"]);

function cnn(batchNorm: boolean) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4, 8, 8, 1], { name: "x" });
  const labels = ef.placeholder(g, "float32", [4, 10], { name: "labels" });
  const w1 = ef.placeholder(g, "float32", [3, 3, 1, 4], { name: "w1" });
  const w2 = ef.placeholder(g, "float32", [3, 3, 4, 8], { name: "w2" });
  const w3 = ef.placeholder(g, "float32", [128, 16], { name: "w3" });
  const b3 = ef.placeholder(g, "float32", [16], { name: "b3" });
  const w4 = ef.placeholder(g, "float32", [16, 10], { name: "w4" });
  const gamma = ef.placeholder(g, "float32", [4], { name: "gamma" });
  const beta = ef.placeholder(g, "float32", [4], { name: "beta" });
  const empty = ef.constant(ef.Tensor.zeros("float32", [0]), { graph: g });
  const same = { strides: [1, 1, 1, 1], padding: "SAME" } as const;
  // With batchNorm, the first conv is batch-normalized in training mode (batch statistics).
  const conv1 = ef.conv2d(x, w1, same);
  const first = batchNorm ? ef.fusedBatchNorm(conv1, gamma, beta, empty, empty)[0] : conv1;
  const conv = (a: ef.Output, w: ef.Output) => ef.relu(ef.conv2d(a, w, same));
  const h = ef.maxPool(conv(ef.relu(first), w2), {
    ksize: [1, 2, 2, 1],
    strides: [1, 2, 2, 1],
    padding: "VALID",
  });
  const flat = ef.reshape(h, [4, 128]);
  const dense = ef.relu(ef.biasAdd(ef.matMul(flat, w3), b3));
  const logits = ef.matMul(dense, w4);
  const [loss] = ef.softmaxCrossEntropyWithLogits(logits, labels);
  const total = ef.mean(loss, [0]);
  const params = batchNorm ? [w1, gamma, beta, w2, w3, b3, w4] : [w1, w2, w3, b3, w4];
  const grads = ef.gradients(total, params) as ef.Output[];
  const feeds: Record<string, Tensor> = {
    ...(batchNorm
      ? {
        gamma: randomTensor("float32", [4], 7, { min: 0.5, max: 1.5 }),
        beta: randomTensor("float32", [4], 8, { min: -0.2, max: 0.2 }),
      }
      : {}),
    x: randomTensor("float32", [4, 8, 8, 1], 1, { min: 0, max: 1 }),
    labels: ef.tensor(
      Array.from({ length: 40 }, (_, i) => (i % 10 === (i / 10 | 0) * 3 % 10 ? 1 : 0)),
      [4, 10],
      "float32",
    ),
    w1: randomTensor("float32", [3, 3, 1, 4], 2, { min: -0.5, max: 0.5 }),
    w2: randomTensor("float32", [3, 3, 4, 8], 3, { min: -0.3, max: 0.3 }),
    w3: randomTensor("float32", [128, 16], 4, { min: -0.2, max: 0.2 }),
    b3: randomTensor("float32", [16], 5, { min: -0.1, max: 0.1 }),
    w4: randomTensor("float32", [16, 10], 6, { min: -0.3, max: 0.3 }),
  };
  return { g, grads, feeds };
}

// The TPU runs the CNN without the batch norm: normalizing by a channel's small spread amplifies
// the bfloat16 rounding of the MXU's operands. Measured here: the TPU's gradients move by up to
// 22% of their largest magnitude, and REF's own by 9% when only x and w1 are rounded to bfloat16
// first. The TPU's batch-norm kernels are compared op by op in the equivalence suite.
const RUNS = [["WEBGPU", 1e-4, true], ["TPU", 3e-2, false]] as const;
for (const [type, rel, batchNorm] of RUNS) {
  const what = batchNorm
    ? "the digits CNN's gradients, with a batch norm,"
    : "the digits CNN's gradients";
  Deno.test(`${type} runs ${what} on device and matches REF`, async (t) => {
    if (!(await deviceFor(type, t))) return;
    const { g, grads, feeds } = cnn(batchNorm);
    await using ref = new ef.Session(g, { device: "REF" });
    const expected = await ref.run(grads, feeds);
    await using s = new ef.Session(g, { device: type });
    const metadata = { steps: [] } as unknown as ef.RunMetadata;
    const actual = await s.run(grads, feeds, [], { metadata });
    const elsewhere = metadata.steps.filter((st) =>
      !st.device.includes(`${type}:`) && !HOST_OPS.has(st.op)
    ).map((st) => `${st.node} (${st.op}) on ${st.device}`);
    assert.deepEqual(elsewhere, [], "every gradient kernel runs on the device");
    const ops = new Set(metadata.steps.map((st) => st.op));
    const expectedOps = [
      "Conv2DBackpropInput",
      "Conv2DBackpropFilter",
      "MaxPoolGrad",
      "ReluGrad",
      ...(batchNorm ? ["FusedBatchNormGradV3"] : []),
    ];
    for (const op of expectedOps) {
      assert.ok(ops.has(op), `${op} ran (${[...ops].join(", ")})`);
    }
    expected.forEach((e, i) => {
      const es = numbers(e), as = numbers(actual[i]);
      const scale = Array.from(es).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(scale > 0, `gradient ${i} is not all zero`);
      for (let j = 0; j < es.length; j++) {
        assert.ok(
          Math.abs(as[j] - es[j]) <= rel * scale,
          `gradient ${i}[${j}]: ${as[j]} vs REF ${es[j]} (scale ${scale})`,
        );
      }
    });
  });
}

// The gradients of the data-movement ops and reductions (Transpose, Pad, ConcatV2, Tile,
// StridedSlice, Prod, Max, Mean, Cumsum) with static shapes: every backward node runs
// on the device (ConcatOffset, InvertPermutation, BroadcastGradientArgs in its host memory).
function movement() {
  const g = new ef.Graph();
  const a = ef.placeholder(g, "float32", [2, 3], { name: "a" });
  const b = ef.placeholder(g, "float32", [3, 1], { name: "b" });
  const c = ef.placeholder(g, "float32", [3, 2], { name: "c" });
  const d = ef.placeholder(g, "float32", [6, 4], { name: "d" });
  const cat = ef.concat([ef.transpose(a, [1, 0]), ef.pad(b, [[0, 0], [1, 0]])], 0);
  const sliced = ef.stridedSlice(d, [0, 1], [6, 4], [1, 2]);
  const z = ef.mul(ef.mul(cat, ef.tile(c, [2, 1])), sliced);
  const loss = ef.add(
    ef.add(ef.sum(ef.prod(z, [1])), ef.sum(ef.max(cat, [0]))),
    ef.mean(ef.cumsum(z, 1, { reverse: true })),
  );
  const grads = ef.gradients(loss, [a, b, c, d]) as ef.Output[];
  const feeds: Record<string, Tensor> = {
    a: randomTensor("float32", [2, 3], 11, { min: 0.5, max: 1.5 }),
    b: randomTensor("float32", [3, 1], 12, { min: 0.5, max: 1.5 }),
    c: randomTensor("float32", [3, 2], 13, { min: 0.5, max: 1.5 }),
    d: randomTensor("float32", [6, 4], 14, { min: 0.5, max: 1.5 }),
  };
  return { g, grads, feeds };
}

for (const type of ["WEBGPU", "TPU"] as const) {
  Deno.test(`${type} runs the movement ops' and reductions' gradients on device`, async (t) => {
    if (!(await deviceFor(type, t))) return;
    const { g, grads, feeds } = movement();
    await using ref = new ef.Session(g, { device: "REF" });
    const expected = await ref.run(grads, feeds);
    await using s = new ef.Session(g, { device: type });
    const metadata = { steps: [] } as unknown as ef.RunMetadata;
    const actual = await s.run(grads, feeds, [], { metadata });
    const elsewhere = metadata.steps.filter((st) =>
      !st.device.includes(`${type}:`) && !HOST_OPS.has(st.op)
    ).map((st) => `${st.node} (${st.op}) on ${st.device}`);
    assert.deepEqual(elsewhere, [], "every gradient kernel runs on the device");
    expected.forEach((e, i) => {
      const es = numbers(e), as = numbers(actual[i]);
      for (let j = 0; j < es.length; j++) {
        assert.ok(
          Math.abs(as[j] - es[j]) <= 1e-5 * (1 + Math.abs(es[j])),
          `gradient ${i}[${j}]: ${as[j]} vs REF ${es[j]}`,
        );
      }
    });
  });
}
