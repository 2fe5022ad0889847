/**
 * The largest partial value of a float32 softmax cross-entropy program (TensorFlow's: per row
 * d = f - max, s = Σ exp(d), loss = Σ l·(log s - d)): the row's range D bounds |d|, and
 * Σ|l|·(D + log n) bounds each loss term and their sum. Past float32's range a term overflows,
 * and Inf - Inf is NaN, as in TensorFlow's float32 kernels, where the float64 reference's sum may
 * stay finite (fuzzer seed 1297234329: terms -3.4e39 and 2.9e39 give NaN against -Inf).
 * Devices computing in float32 pass it to `admittingOverflow`.
 */
import { broadcastIndex } from "./ops/elementwise.ts";
import { broadcastShapes, type Shape } from "./shape.ts";
import { numbers, type Tensor } from "./tensor.ts";

/** Over the rows without NaN or ±Inf: the largest range D, label sum Σ|l| and Σ|l|·(D + log n). */
export interface CrossEntropyRows {
  range: number;
  labelSum: number;
  partial: number;
}

/** `labels` dense (broadcast with `features`), or undefined for the sparse op (one label each). */
export function crossEntropyRows(features: Tensor, labels?: Tensor): CrossEntropyRows {
  const shape = (labels ? broadcastShapes(features.shape, labels.shape) : features.shape) as Shape;
  const [rows, n] = shape;
  const fi = broadcastIndex(features.shape, shape);
  const li = labels ? broadcastIndex(labels.shape, shape) : undefined;
  const fs = numbers(features), ls = labels ? numbers(labels) : undefined;
  const out = { range: 0, labelSum: 0, partial: 0 };
  for (let r = 0; r < rows; r++) {
    let lo = Infinity, hi = -Infinity, sum = ls ? 0 : 1;
    for (let j = r * n; j < (r + 1) * n; j++) {
      lo = Math.min(lo, fs[fi[j]]), hi = Math.max(hi, fs[fi[j]]);
      if (ls && li) sum += Math.abs(ls[li[j]]);
    }
    const D = hi - lo;
    // A row with NaN or ±Inf (features or labels) is NaN or infinite on both sides.
    if (!Number.isFinite(D) || !Number.isFinite(sum)) continue;
    out.range = Math.max(out.range, D);
    out.labelSum = Math.max(out.labelSum, sum);
    out.partial = Math.max(out.partial, D, sum * (D + Math.log(n)));
  }
  return out;
}

/** The largest partial value (above): what `admittingOverflow` takes. */
export const crossEntropyPartial = (features: Tensor, labels?: Tensor): number =>
  crossEntropyRows(features, labels).partial;
