// Whole backward graphs built by gradients() run on WASM (every gradient op on its WASM kernel,
// nothing on REF) and give REF's gradients: the digits CNN (stride-1 SAME convolutions, whose
// input gradient is a convolution with the flipped filter), and a net through the other paths
// (a strided convolution's dcol and col2im, a depthwise convolution, a training batch norm,
// average pooling, the elementwise gradients), and one through the movement ops with a batch of unknown size.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";

const conv1 = { strides: [1, 1, 1, 1], padding: "SAME" as const };
const int32 = (g: ef.Graph, values: number[]) =>
  ef.constant(new ef.Tensor("int32", [values.length], Int32Array.from(values)), { graph: g });

interface Net {
  loss: ef.Output;
  params: ef.Output[];
}

function variable(g: ef.Graph, shape: number[], seed: number, scale: number): ef.Output {
  const t = randomTensor("float32", shape, seed, { min: -scale, max: scale });
  return new ef.Variable(t, { graph: g, name: `v${seed}` }).read();
}

function meanLoss(g: ef.Graph, logits: ef.Output, labels: ef.Output): ef.Output {
  const [losses] = ef.sparseSoftmaxCrossEntropyWithLogits(logits, labels);
  return ef.mean(losses, int32(g, [0]));
}

/** The digits CNN of issue 11, batch 16. */
function digitsCnn(g: ef.Graph, x: ef.Output, y: ef.Output): Net {
  const params = [
    variable(g, [3, 3, 1, 16], 1, 0.5),
    variable(g, [16], 2, 0.1),
    variable(g, [3, 3, 16, 32], 3, 0.2),
    variable(g, [32], 4, 0.1),
    variable(g, [512, 64], 5, 0.1),
    variable(g, [64], 6, 0.1),
    variable(g, [64, 10], 7, 0.3),
    variable(g, [10], 8, 0.1),
  ];
  const [k1, b1, k2, b2, w3, b3, w4, b4] = params;
  let h = ef.relu(ef.biasAdd(ef.conv2d(x, k1, conv1), b1));
  h = ef.relu(ef.biasAdd(ef.conv2d(h, k2, conv1), b2));
  h = ef.maxPool(h, { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" });
  h = ef.reshape(h, int32(g, [-1, 512]));
  h = ef.relu(ef.biasAdd(ef.matMul(h, w3), b3));
  return { loss: meanLoss(g, ef.biasAdd(ef.matMul(h, w4), b4), y), params };
}

/** Strided and depthwise convolutions, batch norm in training, average pooling, smooth activations. */
function otherPaths(g: ef.Graph, x: ef.Output, y: ef.Output): Net {
  const params = [
    variable(g, [3, 3, 1, 6], 11, 0.5),
    variable(g, [3, 3, 6, 8], 12, 0.3),
    variable(g, [3, 3, 8, 2], 13, 0.5),
    variable(g, [64, 10], 14, 0.3),
    variable(g, [16], 15, 1),
    variable(g, [16], 16, 0.5),
  ];
  const [k1, k2, dw, w, gamma, beta] = params;
  let h = ef.tanh(ef.conv2d(x, k1, conv1)); // [16, 8, 8, 6]
  h = ef.elu(ef.conv2d(h, k2, { strides: [1, 2, 2, 1], padding: "SAME" })); // [16, 4, 4, 8]
  h = ef.depthwiseConv2d(h, dw, conv1); // [16, 4, 4, 16]
  const empty = ef.constant(new ef.Tensor("float32", [0], new Float32Array(0)), { graph: g });
  h = ef.sigmoid(ef.fusedBatchNorm(h, gamma, beta, empty, empty, { epsilon: 0.001 })[0]);
  h = ef.avgPool(h, { ksize: [1, 3, 3, 1], strides: [1, 2, 2, 1], padding: "SAME" }); // 2x2
  h = ef.softplus(ef.reshape(h, int32(g, [-1, 64])));
  return { loss: meanLoss(g, ef.matMul(h, w), y), params };
}

/**
 * The movement ops' gradients with a batch of unknown size (so the graph computes shapes and
 * BroadcastGradientArgs at run time) and a permutation that is not a Const (InvertPermutation):
 * StridedSlice, Pad, Tile, ConcatV2, Transpose, GatherV2 (UnsortedSegmentSum) and Max.
 */
function movement(g: ef.Graph, x: ef.Output, y: ef.Output): Net {
  const params = [
    variable(g, [64, 8], 21, 0.3),
    variable(g, [8], 22, 0.3),
    variable(g, [10, 18], 23, 0.5),
    variable(g, [18, 10], 24, 0.5),
  ];
  const [w, bias, emb, w2] = params;
  const rows = ef.reshape(x, int32(g, [-1, 64]));
  const h = ef.add(ef.matMul(rows, w), bias);
  const s = ef.stridedSlice(h, int32(g, [0, 1]), int32(g, [0, 7]), int32(g, [1, 2]), {
    begin_mask: 1,
    end_mask: 1,
  });
  const paddings = new ef.Tensor("int32", [2, 2], Int32Array.from([0, 0, 1, 1]));
  const p = ef.pad(s, ef.constant(paddings, { graph: g }));
  const axis = ef.constant(new ef.Tensor("int32", [], Int32Array.from([1])), { graph: g });
  const c = ef.concat([ef.tile(p, int32(g, [1, 2])), h], axis);
  const perm = ef.placeholder(g, "int32", [2], { name: "perm" });
  const back = ef.transpose(ef.transpose(c, perm), int32(g, [1, 0]));
  const m = ef.max(ef.mul(back, ef.gather(emb, y)), axis, { keep_dims: true });
  return { loss: meanLoss(g, ef.matMul(ef.mul(back, m), w2), y), params };
}

const NETS = [
  {
    name: "the digits CNN",
    build: digitsCnn,
    batch: 16,
    expects: ["Conv2DBackpropFilter", "Conv2DBackpropInput", "MaxPoolGrad", "ReluGrad"],
  },
  {
    name: "strided, depthwise, batch norm, avg",
    build: otherPaths,
    batch: 16,
    expects: [
      "DepthwiseConv2dNativeBackpropInput",
      "DepthwiseConv2dNativeBackpropFilter",
      "AvgPoolGrad",
      "FusedBatchNormV3",
      "FusedBatchNormGradV3",
      "TanhGrad",
      "EluGrad",
      "SigmoidGrad",
      "SoftplusGrad",
    ],
  },
  {
    name: "the movement ops, unknown batch",
    build: movement,
    batch: null,
    expects: [
      "StridedSliceGrad",
      "UnsortedSegmentSum",
      "BroadcastGradientArgs",
      "InvertPermutation",
      "AddN",
    ],
  },
];

for (const { name, build, batch, expects } of NETS) {
  Deno.test(`WASM gradients of ${name} equal REF's, every node on WASM`, async () => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [batch, 8, 8, 1], { name: "x" });
    const y = ef.placeholder(g, "int32", [batch], { name: "y" });
    const net = build(g, x, y);
    const grads = ef.gradients(net.loss, net.params).map((d) => d!);
    const feeds = {
      x: randomTensor("float32", [16, 8, 8, 1], 21, { min: 0, max: 1 }),
      y: new ef.Tensor("int32", [16], Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 10)),
      ...(build === movement ? { perm: new ef.Tensor("int32", [2], Int32Array.from([1, 0])) } : {}),
    };
    const results: ef.Tensor[][] = [];
    for (const device of ["REF", "WASM"]) {
      await using s = new ef.Session(g, { device });
      await s.run([], {}, [ef.globalVariablesInitializer(g)]);
      const metadata = { steps: [] as ef.StepStats[] };
      results.push(await s.run([net.loss, ...grads], feeds, [], { metadata }));
      assert.ok(metadata.steps.length > 30, "steps recorded");
      const ran = new Set(metadata.steps.map((st) => st.op));
      for (const op of expects) assert.ok(ran.has(op), `${op} ran`);
      const elsewhere = metadata.steps.filter((st) => !st.device.includes(device));
      assert.deepEqual(elsewhere.map((st) => `${st.op} on ${st.device}`), [], "all on one device");
    }
    const [ref, wasm] = results;
    ref.forEach((r, i) => {
      const a = r.toNumbers(), b = wasm[i].toNumbers();
      const scale = Math.max(1e-3, ...a.map(Math.abs));
      a.forEach((v, j) => {
        // float32 sums of a few thousand products against float64 ones: relative 1e-4 of the
        // tensor's largest gradient is far above their rounding and far below any wrong term.
        assert.ok(Math.abs(v - b[j]) <= 1e-4 * scale, `output ${i}[${j}]: ${b[j]} vs ${v}`);
      });
    });
  });
}
