// Known values for the reference implementations of the nn ops (matmul, conv, pool, nn, loss).
// Expected values were computed with Debian's PyTorch 1.13 / NumPy 1.24 in float64
// (`/usr/bin/python3`, script in the comment above each group) and pasted as literals.
// TensorFlow's SAME padding was reproduced with F.pad: pad_total = max((out-1)*s + k - in, 0),
// pad_before = floor(pad_total / 2), the odd row/column after.
import assert from "node:assert/strict";
import { resolveAttrs } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import type { DType } from "../core/dtype.ts";
import type { OpDef } from "../core/op.ts";
import { isCompatible, type Shape } from "../core/shape.ts";
import { numbers, Tensor } from "../core/tensor.ts";
import { BatchMatMulV2, MatMul } from "../core/ops/matmul.ts";
import { Conv2D, DepthwiseConv2dNative } from "../core/ops/conv.ts";
import { AvgPool, MaxPool } from "../core/ops/pool.ts";
import { BiasAdd, FusedBatchNormV3, LogSoftmax, Softmax } from "../core/ops/nn.ts";
import {
  SoftmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
} from "../core/ops/loss.ts";

/** Runs an op's reference with its attrs resolved (defaults filled), checking inference agrees. */
export function run(op: OpDef, inputs: Tensor[], attrs: Record<string, unknown> = {}): Tensor[] {
  const resolved = resolveAttrs(op, attrs as never, inputs);
  const inferred = op.infer(inputs.map((t) => ({ dtype: t.dtype, shape: t.shape })), resolved);
  const outs = op.reference(inputs, resolved, new MapHostContext());
  outs.forEach((t, i) => assert.ok(isCompatible(t.shape, inferred[i].shape), `output ${i} shape`));
  return outs;
}

/** A tensor whose i-th element is f(i). */
function seq(dtype: DType, shape: Shape, f: (i: number) => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromNumbers(dtype, shape, Array.from({ length: n }, (_, i) => f(i)));
}
const f32 = (shape: Shape, values: number[]) => Tensor.fromNumbers("float32", shape, values);

function assertClose(t: Tensor, shape: Shape, expected: number[], rtol = 1e-6): void {
  assert.deepEqual(t.shape, shape);
  const got = Array.from(numbers(t));
  got.forEach((v, i) => {
    const e = expected[i];
    assert.ok(Math.abs(v - e) <= 1e-7 + rtol * Math.abs(e), `element ${i}: ${v} vs ${e}`);
  });
}

// np.array([[1,2,3],[4,5,6]]) @ np.array([[7,8],[9,10],[11,12]])
Deno.test("MatMul: values, transposes, int32", () => {
  const product = [58, 64, 139, 154];
  const a = [1, 2, 3, 4, 5, 6], b = [7, 8, 9, 10, 11, 12];
  assertClose(run(MatMul, [f32([2, 3], a), f32([3, 2], b)])[0], [2, 2], product);
  // The same product from a stored transposed ([3,2] = a.T) and b stored transposed.
  const aT = [1, 4, 2, 5, 3, 6], bT = [7, 9, 11, 8, 10, 12];
  const t = run(MatMul, [f32([3, 2], aT), f32([2, 3], bT)], {
    transpose_a: true,
    transpose_b: true,
  });
  assertClose(t[0], [2, 2], product);
  const ints = run(MatMul, [
    Tensor.fromNumbers("int32", [2, 3], a),
    Tensor.fromNumbers("int32", [3, 2], b),
  ])[0];
  assert.equal(ints.dtype, "int32");
  assert.deepEqual(ints.toNumbers(), product);
});

Deno.test("MatMul: bfloat16 accumulates in float64 and rounds once", () => {
  // 1 + 1/256 + 1/256 = 1.0078125 is a bfloat16; summing in bfloat16 would give 1 twice over.
  const a = Tensor.fromNumbers("bfloat16", [1, 3], [1, 1 / 256, 1 / 256]);
  const b = Tensor.fromNumbers("bfloat16", [3, 1], [1, 1, 1]);
  assert.deepEqual(run(MatMul, [a, b])[0].toNumbers(), [1.0078125]);
});

// x = (np.arange(12).reshape(2,1,2,3) - 5) / 4; y = (np.arange(18).reshape(3,2,3) % 5 - 2) / 2
// np.matmul(x, np.swapaxes(y, -1, -2))
Deno.test("BatchMatMulV2: broadcast batch dims with adj_y", () => {
  const x = seq("float32", [2, 1, 2, 3], (i) => (i - 5) / 4);
  const y = seq("float32", [3, 2, 3], (i) => ((i % 5) - 2) / 2);
  const [out] = run(BatchMatMulV2, [x, y], { adj_y: true });
  // deno-fmt-ignore
  assertClose(out, [2, 3, 2, 2], [1.75, -0.875, 0.625, -0.5, 0.25, 0.125, 0.25, -0.25, -1.25, 1.75,
    -0.125, 0.625, -0.5, -0.125, -1.625, 0.25, 0.25, -0.625, 0.25, -1.0, 1.0, -0.5, 2.125, -1.625]);
});

// Shared conv inputs: xi = (np.arange(32).reshape(1,4,4,2) - 16) / 8,
// fi = ((np.arange(54) % 7) - 3).reshape(3,3,2,3) / 4; torch runs NCHW/OIHW, so inputs are
// permuted (0,3,1,2) and filters (3,2,0,1), and results permuted back to NHWC.
const xi = () => seq("float32", [1, 4, 4, 2], (i) => (i - 16) / 8);
const fi = () => seq("float32", [3, 3, 2, 3], (i) => ((i % 7) - 3) / 4);

Deno.test("Conv2D SAME, stride 2: asymmetric padding (bottom/right)", () => {
  // F.conv2d(F.pad(x, (0,1,0,1)), w, stride=2)
  const [out] = run(Conv2D, [xi(), fi()], { strides: [1, 2, 2, 1], padding: "SAME" });
  // deno-fmt-ignore
  assertClose(out, [1, 2, 2, 3], [0.46875, 0.65625, 0.84375, -0.125, 1.34375, 0.40625, 0.90625,
    0.5, -0.78125, 0.53125, -1.6875, 0.6875]);
});

Deno.test("Conv2D VALID with dilation 2", () => {
  // xv = (np.arange(50).reshape(1,5,5,2) % 9 - 4) / 2; F.conv2d(x, w, dilation=2)
  const x = seq("float32", [1, 5, 5, 2], (i) => ((i % 9) - 4) / 2);
  const f = f32([2, 2, 2, 1], [1, -1, 2, 0.5, -2, 1, 0.25, 3]);
  const [out] = run(Conv2D, [x, f], {
    strides: [1, 1, 1, 1],
    dilations: [1, 2, 2, 1],
    padding: "VALID",
  });
  assertClose(out, [1, 3, 3, 1], [6.0, -2.75, -1.375, 8.375, -1.5, -8.0, -2.75, -1.375, -10.125]);
});

Deno.test("Conv2D EXPLICIT padding with unequal strides", () => {
  // F.conv2d(F.pad(x, (0,1,1,2)), w, stride=(1,2)): top 1, bottom 2, left 0, right 1
  const [out] = run(Conv2D, [xi(), fi()], {
    strides: [1, 1, 2, 1],
    padding: "EXPLICIT",
    explicit_paddings: [0, 0, 1, 2, 0, 1, 0, 0],
  });
  // deno-fmt-ignore
  assertClose(out, [1, 5, 2, 3], [-0.0625, 0.09375, -1.0625, 0.15625, 0.5, -1.125, 0.46875,
    0.65625, 0.84375, -0.125, 1.34375, 0.40625, 0.21875, -0.34375, 0.84375, -1.125, -0.15625,
    1.90625, 0.90625, 0.5, -0.78125, 0.53125, -1.6875, 0.6875, -0.21875, -0.4375, -1.09375,
    -0.28125, -1.65625, 0.03125]);
});

Deno.test("DepthwiseConv2dNative SAME, multiplier 2: output channel c * 2 + m", () => {
  // fd = (np.arange(16) % 5 - 2).reshape(2,2,2,2) / 2 as [fh, fw, in, mult];
  // w = fd.permute(2,3,0,1).reshape(4,1,2,2); F.conv2d(F.pad(x, (0,1,0,1)), w, groups=2)
  const f = seq("float32", [2, 2, 2, 2], (i) => ((i % 5) - 2) / 2);
  const [out] = run(DepthwiseConv2dNative, [xi(), f], { strides: [1, 1, 1, 1], padding: "SAME" });
  // deno-fmt-ignore
  assertClose(out, [1, 4, 4, 4], [-0.25, 1.375, 1.0625, 0.125, -0.125, 1.375, 0.9375, -0.125, 0.0,
    1.375, 0.8125, -0.375, 1.125, 0.375, 0.125, -0.5, 0.25, 1.375, 0.5625, -0.875, 0.375, 1.375,
    0.4375, -1.125, 0.5, 1.375, 0.3125, -1.375, 0.625, 0.875, -0.875, -0.5, 0.75, 1.375, 0.0625,
    -1.875, 0.875, 1.375, -0.0625, -2.125, 1.0, 1.375, -0.1875, -2.375, 0.125, 1.375, -1.875,
    -0.5, 0.25, -1.75, -0.6875, 0.5625, 0.25, -2.125, -0.8125, 0.6875, 0.25, -2.5, -0.9375,
    0.8125, -1.75, -0.875, 0.0, 0.9375]);
});

// xm = ((np.arange(32) * 7) % 11 - 5).reshape(1,4,4,2) / 2
const xm = () => seq("float32", [1, 4, 4, 2], (i) => (((i * 7) % 11) - 5) / 2);
const pool3x3s2 = { ksize: [1, 3, 3, 1], strides: [1, 2, 2, 1], padding: "SAME" };

Deno.test("MaxPool SAME 3x3 stride 2 ignores the padding", () => {
  // F.max_pool2d(F.pad(x, (0,1,0,1), value=-inf), 3, 2)
  const [out] = run(MaxPool, [xm()], pool3x3s2);
  assertClose(out, [1, 2, 2, 2], [1.5, 2.5, 2.5, 1.0, 2.0, 2.5, 2.0, 1.5]);
});

Deno.test("AvgPool SAME divides by the count of real elements", () => {
  // s = F.avg_pool2d(F.pad(x, (0,1,0,1)), 3, 2); c = the same over ones; s / c
  const [out] = run(AvgPool, [xm()], pool3x3s2);
  // deno-fmt-ignore
  assertClose(out, [1, 2, 2, 2], [-0.5, -0.0555555556, 0.833333333, -0.25, 0.25, 0.0833333333,
    -0.25, 0.5]);
});

Deno.test("AvgPool VALID 2x2 stride 1", () => {
  // F.avg_pool2d(x, 2, 1)
  const [out] = run(AvgPool, [xm()], {
    ksize: [1, 2, 2, 1],
    strides: [1, 1, 1, 1],
    padding: "VALID",
  });
  // deno-fmt-ignore
  assertClose(out, [1, 3, 3, 2], [-1.5, 0.625, 0.0, -0.625, 1.5, -0.5, -1.0, -0.25, 0.5, -1.5,
    0.625, 0.0, -0.5, 0.25, 1.0, -1.0, -0.25, 0.5]);
});

Deno.test("BiasAdd: NHWC adds along the last dim, NCHW along dim 1", () => {
  // np.arange(12).reshape(2,3,2) / 4 + np.array([1, -2, 0.5])[None, :, None]
  const v = seq("float32", [2, 3, 2], (i) => i / 4);
  const [nchw] = run(BiasAdd, [v, f32([3], [1, -2, 0.5])], { data_format: "NCHW" });
  // deno-fmt-ignore
  assertClose(nchw, [2, 3, 2], [1.0, 1.25, -1.5, -1.25, 1.5, 1.75, 2.5, 2.75, 0.0, 0.25, 3.0,
    3.25]);
  const [nhwc] = run(BiasAdd, [v, f32([2], [10, 20])]);
  assert.deepEqual(nhwc.toNumbers(), [
    10,
    20.25,
    10.5,
    20.75,
    11,
    21.25,
    11.5,
    21.75,
    12,
    22.25,
    12.5,
    22.75,
  ]);
});

Deno.test("FusedBatchNormV3 inference: y and the pass-through outputs", () => {
  // xb = (np.arange(24).reshape(2,2,2,3) % 7 - 3) / 2; F.batch_norm(x_nchw, mean, var, scale,
  // offset, training=False, eps=0.001)
  const x = seq("float32", [2, 2, 2, 3], (i) => ((i % 7) - 3) / 2);
  const mean = f32([3], [0.25, -0.5, 1.0]), variance = f32([3], [0.5, 2.0, 0.1]);
  const outs = run(
    FusedBatchNormV3,
    [x, f32([3], [1.5, -0.5, 2.0]), f32([3], [0.1, 0.2, -0.3]), mean, variance],
    { epsilon: 0.001, is_training: false },
  );
  // deno-fmt-ignore
  assertClose(outs[0], [2, 2, 2, 3], [-3.60860385, 0.376732518, -9.73975163, -0.42980055,
    -0.153465035, -0.3, 2.74900275, 0.553465035, -12.8863355, -1.48940165, 0.0232674823,
    -3.44658388, 1.68940165, -0.506930071, -16.0329194, -2.54900275, 0.2, -6.59316776,
    0.62980055, -0.330197553, 2.84658388, -3.60860385, 0.376732518, -9.73975163]);
  for (const i of [1, 3]) assert.deepEqual(outs[i].toNumbers(), mean.toNumbers());
  for (const i of [2, 4]) assert.deepEqual(outs[i].toNumbers(), variance.toNumbers());
  assert.deepEqual(outs[5].shape, []); // TensorFlow's CPU kernel: a scalar 0
  assert.deepEqual(outs[5].toNumbers(), [0]);
});

// lg = [[1,2,3],[1000,1001,1002],[-1,0,-50]]; torch.softmax / torch.log_softmax over the last dim
Deno.test("Softmax and LogSoftmax are stable for large logits", () => {
  const lg = f32([3, 3], [1, 2, 3, 1000, 1001, 1002, -1, 0, -50]);
  // deno-fmt-ignore
  assertClose(run(Softmax, [lg])[0], [3, 3], [0.0900305732, 0.244728471, 0.665240956,
    0.0900305732, 0.244728471, 0.665240956, 0.268941421, 0.731058579, 1.41002912e-22]);
  // deno-fmt-ignore
  assertClose(run(LogSoftmax, [lg])[0], [3, 3], [-2.40760596, -1.40760596, -0.407605964,
    -2.40760596, -1.40760596, -0.407605964, -1.31326169, -0.313261688, -50.3132617]);
});

Deno.test("SoftmaxCrossEntropyWithLogits broadcasts labels [1, classes]", () => {
  // loss = -(labels * log_softmax(features)).sum(-1); backprop = softmax(features) - labels
  const features = f32([2, 3], [2, -1, 0.5, 0, 3, 1]);
  const [loss, backprop] = run(SoftmaxCrossEntropyWithLogits, [
    features,
    f32([1, 3], [0.2, 0.3, 0.5]),
  ]);
  assertClose(loss, [2], [1.8913113, 1.76984602]);
  // deno-fmt-ignore
  assertClose(backprop, [2, 3], [0.585597035, -0.260887427, -0.324709608, -0.157989934,
    0.543794734, -0.385804801]);
});

Deno.test("SparseSoftmaxCrossEntropyWithLogits with int32 and int64 labels", () => {
  // F.cross_entropy(features, labels, reduction="none"); softmax(features) - one_hot(labels, 4)
  const features = f32([3, 4], [1, 2, 3, 4, -1, 0.5, 0, 2, 0, 0, 0, 0]);
  for (const labelType of ["int32", "int64"] as const) {
    const labels = Tensor.fromNumbers(labelType, [3], [3, 0, 1]);
    const [loss, backprop] = run(SparseSoftmaxCrossEntropyWithLogits, [features, labels]);
    assertClose(loss, [3], [0.440189699, 3.34234958, 1.38629436]);
    // deno-fmt-ignore
    assertClose(backprop, [3, 4], [0.0320586033, 0.0871443187, 0.236882818, -0.35608574,
      -0.964646207, 0.15844471, 0.0961015742, 0.710099923, 0.25, -0.75, 0.25, 0.25]);
  }
});
