/**
 * SoftmaxCrossEntropyWithLogits and SparseSoftmaxCrossEntropyWithLogits on the vector unit, in
 * float32. Per row of n classes, as TensorFlow: d_j = f_j - m (m = max f), s = Σ exp(d_j),
 * loss = Σ l_j (log s - d_j) and backprop_j = exp(d_j) / s - l_j; huge logits keep their
 * precision, and a row with +Inf has a NaN sum, so it is NaN throughout.
 *
 * Tolerance (u = 2^-24), with D the row range of f, F = max|f|, W = D + log n ≥ |lse - f_j|:
 * s is within (D + 1 + n)u relative (as Softmax), so lse is within Δ = (D + n + 2 + 2 log n +
 * F)u (log's and the sum's roundings). Each loss term moves ≤ |l_j|(Δ + 2uW), the float32 sum
 * γ_n·Σ|l|·W more; backprop ≤ Δ + u(W + 2 + max|l|) (exp of a rounded exponent, one rounding
 * each side). The tolerance doubles the larger bound for the dropped second-order terms.
 */
import type { DType } from "../../../core/dtype.ts";
import { admittingOverflow, type KernelCase, type Tolerance } from "../../../core/kernel.ts";
import type { FlatIndex } from "../../../core/ops/array_util.ts";
import { broadcastIndex } from "../../../core/ops/elementwise.ts";
import {
  SoftmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
} from "../../../core/ops/loss.ts";
import { broadcastShapes, type Shape } from "../../../core/shape.ts";
import { crossEntropyPartial } from "../../../core/cross_entropy_bounds.ts";
import { ShapeMemo } from "../../../core/shape_memo.ts";
import { numbers } from "../../../core/tensor.ts";
import { loadF32, resultF32, storeF32 } from "../numerics.ts";
import type { TpuBuffer } from "../hbm.ts";
import { withBf16 } from "../tolerance.ts";
import type { Attrs } from "../../../core/op.ts";
import { input, output, TPU_FLOATS, type TpuContext, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

/** Row [at, at + n) of `xs`: its max and the float32 sum of exp(x - max). */
function shiftedSum(xs: ArrayLike<number>, at: number, n: number): { m: number; s: number } {
  let m = -Infinity, s = 0;
  for (let j = at; j < at + n; j++) m = Math.max(m, xs[j]);
  for (let j = at; j < at + n; j++) s = f(s + f(Math.exp(f(xs[j] - m))));
  return { m, s };
}

/**
 * Writes loss and backprop for rows of `features` [batch, n] against `labels`. `dense`: every
 * class's term enters the loss, as TensorFlow's dense kernel sums labels·(log s - d), so a zero
 * label meeting a -Inf logit gives 0·Inf = NaN; otherwise (the sparse op) only the label's class
 * does, as TensorFlow's sparse kernel adds nothing for the others.
 */
function crossEntropy(
  features: Float32Array,
  labels: (b: number, j: number) => number,
  batch: number,
  n: number,
  loss: Float32Array,
  backprop: Float32Array,
  dense: boolean,
): void {
  for (let b = 0; b < batch; b++) {
    const { m, s } = shiftedSum(features, b * n, n);
    const logS = f(Math.log(s));
    let sum = 0;
    for (let j = 0; j < n; j++) {
      const at = b * n + j, label = labels(b, j), d = f(features[at] - m);
      // The sparse op: a zero label still carries a NaN row's NaN (0 · NaN), as TensorFlow's does.
      if (dense || label !== 0 || logS !== logS) sum = f(sum + f(label * f(logS - d)));
      backprop[at] = f(f(f(Math.exp(d)) / s) - label);
    }
    loss[b] = sum;
  }
}

function chargeLoss<A extends Attrs>(ctx: TpuContext<A>, ins: TpuBuffer[], outs: TpuBuffer[]) {
  const size = outs[1].data.length;
  ctx.device.charge(ctx, {
    vpuOps: 8 * size,
    eupOps: 2 * size + 2 * outs[0].data.length,
    hbmBytes: [...ins, ...outs].reduce((x, b) => x + b.bytes, 0),
    flops: 10 * size,
  });
}

/** The tolerance above, for rows of n features `xs` and labels of the given row sum and max. */
function lossTolerance(xs: ArrayLike<number>, n: number, labelSum: number, labelMax: number) {
  let D = 0, F = 0;
  for (let r = 0; r < xs.length; r += n) {
    let lo = Infinity, hi = -Infinity;
    for (let j = r; j < r + n; j++) (lo = Math.min(lo, xs[j])), (hi = Math.max(hi, xs[j]));
    // A row with NaN or ±Inf gives NaN on both sides; it bounds nothing.
    if (!Number.isFinite(hi - lo)) continue;
    D = Math.max(D, hi - lo);
    F = Math.max(F, Math.abs(lo), Math.abs(hi));
  }
  const W = D + Math.log(n), delta = (D + n + 2 + 2 * Math.log(n) + F) * U;
  const lossErr = labelSum * (delta + 2 * U * W + ((n * U) / (1 - n * U)) * W);
  const backpropErr = delta + U * (W + 2 + labelMax);
  return {
    atol: 2 * Math.max(lossErr, backpropErr),
    rtol: 2 * U,
    reason: "float32 log-sum-exp program (loss.ts derives it)",
  };
}

const dense = tpuKernel(SoftmaxCrossEntropyWithLogits, {
  dtypes: TPU_FLOATS,
  create(c) {
    // The broadcast of features and labels by their shapes, seeded from the static ones.
    const plans = new ShapeMemo((fs, ls) => {
      const shape = broadcastShapes(fs, ls) as Shape;
      return { shape, fi: broadcastIndex(fs, shape), li: broadcastIndex(ls, shape) };
    }).seed([c.inputs[0].shape, c.inputs[1].shape]);
    return { run: (ctx) => denseRun(ctx, plans) };
  },
  tolerance: denseTolerance,
});

/** One SoftmaxCrossEntropyWithLogits run over the broadcast features and labels. */
function denseRun<A extends Attrs>(
  ctx: TpuContext<A>,
  plans: ShapeMemo<{ shape: Shape; fi: FlatIndex; li: FlatIndex }>,
): void {
  const fb = input(ctx, 0), lb = input(ctx, 1);
  const { shape, fi, li } = plans.get(fb.shape, lb.shape);
  const [batch, n] = shape;
  const fsIn = loadF32(fb), ls = loadF32(lb);
  const features = Float32Array.from(fi, (i) => fsIn[i]);
  const loss = output(ctx, 0), backprop = output(ctx, 1);
  const lossV = resultF32(loss), bpV = resultF32(backprop);
  crossEntropy(features, (b, j) => ls[li[b * n + j]], batch, n, lossV, bpV, true);
  storeF32(loss, lossV);
  storeF32(backprop, bpV);
  chargeLoss(ctx, [fb, lb], [loss, backprop]);
}

/** The dense loss's tolerance: lossTolerance over the broadcast rows and labels. */
function denseTolerance(
  { inputs: [features, labels], attrs }: KernelCase<{ T: DType }>,
): Tolerance {
  const shape = broadcastShapes(features.shape, labels.shape) as Shape;
  const [batch, n] = shape;
  const fi = broadcastIndex(features.shape, shape), li = broadcastIndex(labels.shape, shape);
  const fs = numbers(features), ls = numbers(labels);
  let sum = 0, max = 0;
  for (let b = 0; b < batch; b++) {
    let row = 0;
    for (let j = 0; j < n; j++) {
      const l = Math.abs(ls[li[b * n + j]]);
      // A NaN or infinite label makes its row NaN or infinite on both sides: no bound to add.
      if (Number.isFinite(l)) (row += l), (max = Math.max(max, l));
    }
    sum = Math.max(sum, row);
  }
  const dense = Float64Array.from(fi, (i) => fs[i]);
  return admittingOverflow(
    withBf16(attrs.T, lossTolerance(dense, n, sum, max)),
    crossEntropyPartial(features, labels),
  );
}

const sparse = tpuKernel(SparseSoftmaxCrossEntropyWithLogits, {
  dtypes: TPU_FLOATS,
  run(ctx) {
    const fb = input(ctx, 0), lb = input(ctx, 1);
    const [batch, n] = fb.shape;
    const labels = lb.dtype === "int64"
      ? Float64Array.from(lb.data as BigInt64Array, Number)
      : lb.data as Int32Array;
    // Labels outside [0, classes) were refused by the op's check before the kernel ran.
    const loss = output(ctx, 0), backprop = output(ctx, 1);
    const lossV = resultF32(loss), bpV = resultF32(backprop);
    crossEntropy(loadF32(fb), (b, j) => +(labels[b] === j), batch, n, lossV, bpV, false);
    storeF32(loss, lossV);
    storeF32(backprop, bpV);
    chargeLoss(ctx, [fb, lb], [loss, backprop]);
  },
  tolerance: ({ inputs: [features], attrs }) =>
    admittingOverflow(
      withBf16(attrs.T, lossTolerance(numbers(features), features.shape[1], 1, 1)),
      crossEntropyPartial(features),
    ),
});

export const LOSS_KERNELS: readonly TpuKernel[] = [dense, sparse];
