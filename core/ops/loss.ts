/**
 * SoftmaxCrossEntropyWithLogits and SparseSoftmaxCrossEntropyWithLogits: the loss per row and its
 * gradient with respect to the logits (softmax - labels), computed together as TensorFlow does.
 * Per row, with shifted_j = features_j - max(features) and logSum = log(sum_j exp(shifted_j)):
 *   loss = sum_j labels_j * (logSum - shifted_j),  backprop_j = exp(shifted_j) / sum - labels_j,
 * TensorFlow's order of operations, so huge logits keep their precision and a row with +Inf is
 * NaN throughout.
 */
import { type DType, FLOAT_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type InferInput, type InputCheck, type OpDef } from "../op.ts";
import { broadcastShapes, formatShape, type Shape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import { withElement } from "../testing/invalid.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { broadcastIndex } from "./elementwise.ts";
import { mergeDim, requireRank, spec } from "./infer_util.ts";
import { shiftedLogSum } from "./nn.ts";
import { softmaxCrossEntropyGrad, sparseSoftmaxCrossEntropyGrad } from "../grads/nn.ts";

export type SoftmaxCrossEntropyWithLogitsAttrs = { T: DType };
export type SparseSoftmaxCrossEntropyWithLogitsAttrs = { T: DType; Tlabels: DType };

/** features and labels broadcast to [batch, classes]; either may be rank 1 or have 1-dims. */
export const SoftmaxCrossEntropyWithLogits: OpDef<SoftmaxCrossEntropyWithLogitsAttrs> = defineOp<
  SoftmaxCrossEntropyWithLogitsAttrs
>({
  gradient: softmaxCrossEntropyGrad,
  name: "SoftmaxCrossEntropyWithLogits",
  inputs: [{ name: "features", type: "T" }, { name: "labels", type: "T" }],
  outputs: [{ name: "loss", type: "T" }, { name: "backprop", type: "T" }],
  attrs: { T: { kind: "type", allowed: FLOAT_DTYPES } },
  infer: ([features, labels]) => {
    const shape = broadcastMatrix(features, labels);
    return [spec(features.dtype, [shape[0]]), spec(features.dtype, shape)];
  },
  reference: ([features, labels]) => {
    const shape = broadcastShapes(features.shape, labels.shape) as Shape;
    const [batch, classes] = shape;
    const fi = broadcastIndex(features.shape, shape), li = broadcastIndex(labels.shape, shape);
    const fs = numbers(features), ls = numbers(labels);
    const row = new Float64Array(classes);
    const loss = new Float64Array(batch), backprop = new Float64Array(batch * classes);
    for (let b = 0; b < batch; b++) {
      for (let j = 0; j < classes; j++) row[j] = fs[fi[b * classes + j]];
      const { max, sum, logSum } = shiftedLogSum(row, 0, classes);
      for (let j = 0; j < classes; j++) {
        const label = ls[li[b * classes + j]];
        const shifted = row[j] - max;
        loss[b] += label * (logSum - shifted);
        backprop[b * classes + j] = Math.exp(shifted) / sum - label;
      }
    }
    return outputs(features.dtype, batch, classes, loss, backprop);
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 6 }),
      fc.constantFrom("same", "row", "column", "vector"),
      fc.boolean(),
      fc.nat(),
      fc.nat(),
    ).map(([batch, classes, broadcast, swap, sf, sl]) => {
      // One side has the full [batch, classes]; the other is the same or broadcasts onto it.
      const full = [batch, classes];
      const other = { same: full, row: [1, classes], column: [batch, 1], vector: [classes] };
      const [fShape, lShape] = swap ? [other[broadcast], full] : [full, other[broadcast]];
      return {
        inputs: [
          randomTensor(dtype, fShape, sf),
          randomTensor(dtype, lShape, sl, { min: 0, max: 1 }),
        ],
        attrs: {},
      };
    }),
});

/** TensorFlow's CPU kernel refuses a label outside [0, classes) before reading a row. */
const labelsInRange: InputCheck<SparseSoftmaxCrossEntropyWithLogitsAttrs> = {
  reads: [1],
  run(values, specs) {
    checkLabels(numbers(values[1]!), (specs[0].shape as number[])[1]);
  },
};

export const SparseSoftmaxCrossEntropyWithLogits: OpDef<SparseSoftmaxCrossEntropyWithLogitsAttrs> =
  defineOp<SparseSoftmaxCrossEntropyWithLogitsAttrs>({
    gradient: sparseSoftmaxCrossEntropyGrad,
    name: "SparseSoftmaxCrossEntropyWithLogits",
    inputs: [{ name: "features", type: "T" }, { name: "labels", type: "Tlabels" }],
    outputs: [{ name: "loss", type: "T" }, { name: "backprop", type: "T" }],
    attrs: {
      T: { kind: "type", allowed: FLOAT_DTYPES },
      Tlabels: { kind: "type", default: "int64", allowed: ["int32", "int64"] },
    },
    infer: ([features, labels]) => {
      requireRank(features, 2, 2, "features");
      requireRank(labels, 1, 1, "labels");
      const [batch, classes] = features.shape ?? [-1, -1];
      const n = labels.shape?.[0] ?? -1;
      if (batch >= 0 && n >= 0 && batch !== n) {
        throw new EdgeflowError(
          `features and labels must have the same first dimension, got features shape ${
            formatShape(features.shape)
          } and labels shape ${formatShape(labels.shape)}`,
        );
      }
      const rows = mergeDim(batch, n, "batch");
      return [spec(features.dtype, [rows]), spec(features.dtype, [rows, classes])];
    },
    checks: [labelsInRange],
    reference: ([features, labels]) => {
      const [batch, classes] = features.shape;
      const fs = numbers(features), ls = numbers(labels); // labels in range: checked first
      const loss = new Float64Array(batch), backprop = new Float64Array(batch * classes);
      for (let b = 0; b < batch; b++) {
        const { max, sum, logSum } = shiftedLogSum(fs, b * classes, classes);
        loss[b] = logSum - (fs[b * classes + ls[b]] - max);
        for (let j = 0; j < classes; j++) {
          const at = b * classes + j;
          backprop[at] = Math.exp(fs[at] - max) / sum - (j === ls[b] ? 1 : 0);
        }
      }
      return outputs(features.dtype, batch, classes, loss, backprop);
    },
    arbitrary: (fc, dtype) =>
      fc.tuple(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom("int32", "int64"),
        fc.nat(),
        fc.nat(),
      ).map(([batch, classes, labelType, sf, sl]) => ({
        inputs: [
          randomTensor(dtype, [batch, classes], sf),
          randomTensor(labelType, [batch], sl, { min: 0, max: classes - 1 }),
        ],
        attrs: {},
      })),
    invalidArbitrary: (fc, dtype) =>
      fc.tuple(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom("int32", "int64"),
        fc.nat(),
        fc.boolean(),
      ).map(([batch, classes, labelType, seed, below]) => ({
        inputs: [
          randomTensor(dtype, [batch, classes], seed),
          withElement(
            randomTensor(labelType, [batch], seed + 1, { min: 0, max: classes - 1 }),
            seed,
            below ? -1 : classes + (seed % 3),
          ),
        ],
        attrs: {},
      })),
  });

export const LOSS_OPS: readonly OpDef[] = [
  SoftmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
] as unknown as OpDef[];

/** The [batch, classes] shape features and labels broadcast to; both must fit in rank 2. */
function broadcastMatrix(features: InferInput, labels: InferInput): number[] {
  requireRank(features, 1, 2, "features");
  requireRank(labels, 1, 2, "labels");
  const shape = broadcastShapes(features.shape, labels.shape);
  if (shape === null) return [-1, -1];
  if (shape.length !== 2) {
    throw new EdgeflowError(
      `features ${formatShape(features.shape)} and labels ${
        formatShape(labels.shape)
      } must be 2-D [batch, classes] or broadcast to 2-D`,
    );
  }
  return shape.slice();
}

/** TensorFlow's CPU kernel refuses labels outside [0, classes) rather than reading past a row. */
export function checkLabels(labels: ArrayLike<number>, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!(l >= 0 && l < classes)) {
      throw new EdgeflowError(
        `received a label value of ${l} which is outside the valid range of [0, ${classes}); ` +
          `label values: ${Array.from(labels).join(" ")}`,
      );
    }
  }
}

function outputs(
  dtype: DType,
  batch: number,
  classes: number,
  loss: Float64Array,
  backprop: Float64Array,
): Tensor[] {
  return [
    Tensor.fromNumbers(dtype, [batch], loss),
    Tensor.fromNumbers(dtype, [batch, classes], backprop),
  ];
}

// ---- builders ---------------------------------------------------------------------------

/** Returns [loss [batch], backprop [batch, classes]]. */
export function softmaxCrossEntropyWithLogits(
  features: TensorLike,
  labels: TensorLike,
  options: OpOptions<SoftmaxCrossEntropyWithLogitsAttrs> = {},
): readonly Output[] {
  return apply(SoftmaxCrossEntropyWithLogits, [features, labels], options).outputs;
}

/** `labels` [batch] are class indices (int32 or int64); returns [loss, backprop]. */
export function sparseSoftmaxCrossEntropyWithLogits(
  features: TensorLike,
  labels: TensorLike,
  options: OpOptions<SparseSoftmaxCrossEntropyWithLogitsAttrs> = {},
): readonly Output[] {
  return apply(SparseSoftmaxCrossEntropyWithLogits, [features, labels], options).outputs;
}
