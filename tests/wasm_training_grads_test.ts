// Whole backward graphs built by gradients() run on WASM (every gradient op on its WASM kernel,
// nothing on REF) and give REF's gradients: the digits CNN (stride-1 SAME convolutions, whose
// input gradient is a convolution with the flipped filter), and a net through the other paths
// (a strided convolution's dcol and col2im, a depthwise convolution, average pooling, the
// elementwise gradients).
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

/** Strided and depthwise convolutions, average pooling, smooth activations. */
function otherPaths(g: ef.Graph, x: ef.Output, y: ef.Output): Net {
  const params = [
    variable(g, [3, 3, 1, 6], 11, 0.5),
    variable(g, [3, 3, 6, 2], 12, 0.5),
    variable(g, [2, 2, 12, 8], 13, 0.3),
    variable(g, [72, 10], 14, 0.3),
  ];
  const [k1, dw, k2, w] = params;
  let h = ef.tanh(ef.conv2d(x, k1, { strides: [1, 2, 2, 1], padding: "SAME" }));
  h = ef.elu(ef.depthwiseConv2d(h, dw, conv1));
  h = ef.sigmoid(ef.conv2d(h, k2, { strides: [1, 1, 1, 1], padding: "VALID" }));
  h = ef.avgPool(h, { ksize: [1, 2, 2, 1], strides: [1, 1, 1, 1], padding: "SAME" });
  h = ef.softplus(ef.reshape(h, int32(g, [-1, 72])));
  return { loss: meanLoss(g, ef.matMul(h, w), y), params };
}

for (
  const [name, build] of [["the digits CNN", digitsCnn], [
    "strided, depthwise, avg",
    otherPaths,
  ]] as const
) {
  Deno.test(`WASM gradients of ${name} equal REF's, every node on WASM`, async () => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [16, 8, 8, 1], { name: "x" });
    const y = ef.placeholder(g, "int32", [16], { name: "y" });
    const net = build(g, x, y);
    const grads = ef.gradients(net.loss, net.params).map((d) => d!);
    const feeds = {
      x: randomTensor("float32", [16, 8, 8, 1], 21, { min: 0, max: 1 }),
      y: new ef.Tensor("int32", [16], Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 10)),
    };
    const results: ef.Tensor[][] = [];
    for (const device of ["REF", "WASM"]) {
      await using s = new ef.Session(g, { device });
      await s.run([], {}, [ef.globalVariablesInitializer(g)]);
      const metadata = { steps: [] as ef.StepStats[] };
      results.push(await s.run([net.loss, ...grads], feeds, [], { metadata }));
      assert.ok(metadata.steps.some((st) => st.op === "Conv2DBackpropFilter"), "steps recorded");
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
