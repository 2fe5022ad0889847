// The nn ops on graphs: bad shapes and attrs give an EdgeflowError naming the node and what was
// expected; partial shapes (-1 dims, unknown rank) infer as much as is known; convGeometry's
// interface for kernels.
import assert from "node:assert/strict";
import { EdgeflowError } from "../core/errors.ts";
import { Graph, type Output } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import { resolveAttrs } from "../core/graph.ts";
import { constant, placeholder } from "../core/ops/basic.ts";
import { batchMatMul, matMul } from "../core/ops/matmul.ts";
import { conv2d, depthwiseConv2d } from "../core/ops/conv.ts";
import { convGeometry } from "../core/ops/conv_geometry.ts";
import { avgPool, maxPool } from "../core/ops/pool.ts";
import { biasAdd, fusedBatchNorm, softmax } from "../core/ops/nn.ts";
import {
  softmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
  sparseSoftmaxCrossEntropyWithLogits,
} from "../core/ops/loss.ts";
import { Tensor } from "../core/tensor.ts";

type Dims = readonly (number | null)[] | null;
const p = (g: Graph, shape: Dims, dtype: "float32" | "int32" | "int64" = "float32") =>
  placeholder(g, dtype, shape);

/** Asserts `fn` throws an EdgeflowError whose message matches every pattern. */
function assertEdgeflowError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof EdgeflowError, `expected an EdgeflowError, got ${e}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

const same = { strides: [1, 1, 1, 1], padding: "SAME" } as const;

Deno.test("Conv2D: channel mismatch names the node and the expected channels", () => {
  const g = new Graph();
  assertEdgeflowError(
    () => conv2d(p(g, [1, 5, 5, 3]), p(g, [3, 3, 4, 2]), { ...same, name: "conv" }),
    /node 'conv' \(Conv2D\)/,
    /input has 3 channels but the filter .* expects 4/,
  );
  assertEdgeflowError(
    () => depthwiseConv2d(p(g, [1, 5, 5, 3]), p(g, [3, 3, 2, 2]), same),
    /DepthwiseConv2dNative/,
    /3 channels .* expects 2/,
  );
});

Deno.test("Conv2D: bad padding, NCHW and malformed strides/dilations are refused", () => {
  const g = new Graph();
  const x = p(g, [1, 5, 5, 3]), f = p(g, [3, 3, 3, 2]);
  const conv = (attrs: Record<string, unknown>) => () =>
    conv2d(x, f, { ...same, ...attrs } as never);
  assertEdgeflowError(conv({ padding: "FULL" }), /attribute 'padding' = "FULL" must be one of/);
  assertEdgeflowError(
    conv({ data_format: "NCHW" }),
    /attribute 'data_format' = "NCHW" must be one of "NHWC"/,
  );
  assertEdgeflowError(conv({ strides: [1, 2, 2] }), /'strides' must have 4 entries/);
  assertEdgeflowError(conv({ strides: [2, 1, 1, 1] }), /batch and channel dims must be 1/);
  assertEdgeflowError(conv({ dilations: [1, 0, 1, 1] }), /at least 1/);
  assertEdgeflowError(conv({ dilations: [1, 1, 1, 2] }), /batch and channel dims must be 1/);
  assertEdgeflowError(conv({ padding: "EXPLICIT" }), /8 entries/);
  assertEdgeflowError(conv({ explicit_paddings: [0, 0, 1, 1, 1, 1, 0, 0] }), /must be empty/);
  assertEdgeflowError(
    conv({ padding: "EXPLICIT", explicit_paddings: [1, 0, 1, 1, 1, 1, 0, 0] }),
    /batch and channel dims cannot be padded/,
  );
  // As in TensorFlow (C++ integer division), a VALID window one wider than the input gives an
  // empty output at stride 1, two wider an error; at stride 2, three wider is still empty.
  const valid = { strides: [1, 1, 1, 1], padding: "VALID" } as const;
  assert.deepEqual(conv2d(p(g, [1, 2, 2, 3]), f, valid).shape, [1, 0, 0, 2]);
  assertEdgeflowError(
    () => conv2d(p(g, [1, 1, 3, 3]), f, valid),
    /computed output height would be negative/,
  );
  const wide = conv2d(p(g, [1, 3, 3, 3]), p(g, [6, 6, 3, 2]), { ...valid, strides: [1, 2, 2, 1] });
  assert.ok(Object.is(wide.shape![1], 0), "0, not -0");
});

Deno.test("Conv2D and DepthwiseConv2dNative infer partial shapes", () => {
  const g = new Graph();
  const f = p(g, [3, 3, 3, 4]);
  const s2 = { strides: [1, 2, 2, 1], padding: "SAME" } as const;
  assert.deepEqual(conv2d(p(g, [null, 5, null, 3]), f, s2).shape, [-1, 3, -1, 4]);
  assert.deepEqual(conv2d(p(g, null), f, s2).shape, [-1, -1, -1, 4]);
  assert.deepEqual(conv2d(p(g, [2, 7, 7, 3]), p(g, null), s2).shape, [2, 4, 4, -1]);
  const valid = { strides: [1, 1, 1, 1], padding: "VALID" } as const;
  assert.deepEqual(conv2d(p(g, [2, 7, 7, null]), p(g, [null, 3, 3, 4]), valid).shape, [
    2,
    -1,
    5,
    4,
  ]);
  assert.deepEqual(depthwiseConv2d(p(g, [1, 4, 4, null]), p(g, [2, 2, 3, 2]), same).shape, [
    1,
    4,
    4,
    6,
  ]);
  assertEdgeflowError(() => conv2d(p(g, [4, 4, 3]), f, same), /input must be 4-D/);
});

Deno.test("convGeometry: TensorFlow's SAME padding, tolerant of unknown dims", () => {
  const g = convGeometry("conv2d", [1, 4, 4, 2], [3, 3, 2, 5], {
    strides: [1, 2, 2, 1],
    padding: "SAME",
  });
  assert.deepEqual(
    [g.outHeight, g.outWidth, g.outChannels, g.padTop, g.padBottom, g.padLeft, g.padRight],
    [2, 2, 5, 0, 1, 0, 1],
  );
  const d = convGeometry("depthwise", [1, 5, 6, 3], [3, 2, 3, 2], {
    strides: [1, 1, 1, 1],
    padding: "VALID",
    dilations: [1, 2, 1, 1],
  });
  assert.deepEqual(
    [d.effectiveFilterHeight, d.outHeight, d.outWidth, d.outChannels, d.channelMultiplier],
    [5, 1, 5, 6, 2],
  );
  const pool = convGeometry("pool", [-1, -1, 6, -1], null, {
    ksize: [1, 3, 3, 1],
    strides: [1, 2, 2, 1],
    padding: "SAME",
  });
  assert.deepEqual(pool.outShape, [-1, -1, 3, -1]);
  assert.deepEqual([pool.padTop, pool.padLeft, pool.padRight], [-1, 0, 1]);
});

Deno.test("pools: attrs and explicit padding limits", () => {
  const g = new Graph();
  const x = p(g, [1, 5, 5, 2]);
  const w = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1] };
  assert.deepEqual(maxPool(x, { ...w, padding: "SAME" }).shape, [1, 3, 3, 2]);
  assert.deepEqual(avgPool(p(g, null), { ...w, padding: "VALID" }).shape, [-1, -1, -1, -1]);
  assertEdgeflowError(
    () => avgPool(x, { ...w, padding: "EXPLICIT" } as never),
    /attribute 'padding' = "EXPLICIT" must be one of "SAME", "VALID"/,
  );
  assertEdgeflowError(
    () => maxPool(x, { ...w, padding: "SAME", data_format: "NCHW" }),
    /data_format/,
  );
  assertEdgeflowError(
    () => maxPool(x, { ...w, padding: "EXPLICIT", explicit_paddings: [0, 0, 2, 0, 0, 0, 0, 0] }),
    /explicit padding 2 must be smaller than the window height 2/,
  );
  assertEdgeflowError(() => maxPool(x, { ...w, ksize: [2, 2, 2, 1], padding: "SAME" }), /ksize/);
});

Deno.test("MatMul and BatchMatMulV2: inner and batch dims", () => {
  const g = new Graph();
  assertEdgeflowError(
    () => matMul(p(g, [2, 3]), p(g, [4, 5])),
    /node 'MatMul' \(MatMul\)/,
    /inner dimensions differ.*\(3 vs 4\)/,
  );
  assert.deepEqual(matMul(p(g, [3, null]), p(g, [5, 4]), { transpose_b: true }).shape, [3, 5]);
  assert.deepEqual(matMul(p(g, null), p(g, [4, 5])).shape, [-1, 5]);
  assert.deepEqual(batchMatMul(p(g, [2, 1, 3, 4]), p(g, [5, 4, 6])).shape, [2, 5, 3, 6]);
  assert.equal(batchMatMul(p(g, null), p(g, [4, 6])).shape, null);
  assertEdgeflowError(() => batchMatMul(p(g, [2, 3, 4]), p(g, [3, 4, 6])), /broadcast/);
  assertEdgeflowError(() => batchMatMul(p(g, [4]), p(g, [4, 6])), /rank 2 to/);
});

Deno.test("BiasAdd: bias length must match the channel dim of the data format", () => {
  const g = new Graph();
  assert.deepEqual(biasAdd(p(g, [2, 3, null]), p(g, [3]), { data_format: "NCHW" }).shape, [
    2,
    3,
    -1,
  ]);
  assert.deepEqual(biasAdd(p(g, [2, 3, null]), p(g, [4])).shape, [2, 3, 4]);
  assertEdgeflowError(() => biasAdd(p(g, [2, 3, 5]), p(g, [3])), /expected 5 elements/);
  assertEdgeflowError(() => biasAdd(p(g, [3]), p(g, [3])), /value must have rank 2/);
});

Deno.test("FusedBatchNormV3: training mode's empty statistics, channels checked", () => {
  const g = new Graph();
  const x = p(g, [2, 4, 4, 3]), v = p(g, [3]), empty = p(g, [0]);
  // Training with exponential_avg_factor 1 reads no mean and variance: they may be empty.
  assert.deepEqual(fusedBatchNorm(x, v, v, empty, empty)[1].shape, [3]);
  assertEdgeflowError(
    () => fusedBatchNorm(x, v, v, empty, empty, { exponential_avg_factor: 0.5 }),
    /expected 3 elements \(the channel dim 3 of \[2,4,4,3\], NHWC\), got a vector of shape \[0\]/,
  );
  const outs = fusedBatchNorm(p(g, null), v, v, v, v, { is_training: false });
  assert.deepEqual(outs.map((o: Output) => o.shape), [[-1, -1, -1, 3], [3], [3], [3], [3], []]);
  const nchw = { is_training: false, data_format: "NCHW" };
  const w = p(g, [4]);
  assert.deepEqual(fusedBatchNorm(x, w, w, w, p(g, [null]), nchw)[0].shape, [2, 4, 4, 3]);
  assertEdgeflowError(
    () => fusedBatchNorm(x, w, w, v, w, nchw),
    /expected 4 elements \(the channel dim 1 of \[2,4,4,3\], NCHW\), got a vector of shape \[3\]/,
  );
});

Deno.test("Softmax and the cross entropies: ranks, shapes, labels", () => {
  const g = new Graph();
  assert.equal(softmax(p(g, null)).shape, null);
  assertEdgeflowError(() => softmax(constant(1.5, { graph: g })), /logits must have rank 1/);
  const [loss, backprop] = softmaxCrossEntropyWithLogits(p(g, [null, 5]), p(g, [5]));
  assert.deepEqual([loss.shape, backprop.shape], [[-1], [-1, 5]]);
  assertEdgeflowError(
    () => softmaxCrossEntropyWithLogits(p(g, [5]), p(g, [5])),
    /must be 2-D \[batch, classes\] or broadcast to 2-D/,
  );
  const sparse = sparseSoftmaxCrossEntropyWithLogits(p(g, [null, 4]), p(g, [7], "int32"));
  assert.deepEqual(sparse.map((o: Output) => o.shape), [[7], [7, 4]]);
  assertEdgeflowError(
    () => sparseSoftmaxCrossEntropyWithLogits(p(g, [3, 4]), p(g, [2], "int64")),
    /same first dimension/,
  );
  assertEdgeflowError(
    () => sparseSoftmaxCrossEntropyWithLogits(p(g, [3, 4]), p(g, [3], "float32")),
    /Tlabels/,
  );
});

Deno.test("SparseSoftmaxCrossEntropyWithLogits: an out-of-range label is named", () => {
  const op = SparseSoftmaxCrossEntropyWithLogits;
  const features = Tensor.fromNumbers("float32", [3, 4], new Array(12).fill(0));
  for (const bad of [4, -1]) {
    const labels = Tensor.fromNumbers("int64", [3], [0, bad, 2]);
    const attrs = resolveAttrs(op, {}, [features, labels]);
    assertEdgeflowError(
      () => op.reference([features, labels], attrs, new MapHostContext()),
      new RegExp(`label value of ${bad} which is outside the valid range of \\[0, 4\\)`),
    );
  }
});
