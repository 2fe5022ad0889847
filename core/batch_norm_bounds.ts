/**
 * Error bounds of float32 batch-norm programs against the float64 reference, for the tolerances
 * of device kernels (the TPU's and WebGPU's FusedBatchNormV3 in training, FusedBatchNormGradV3).
 * `k` bounds, in float32 ULPs, each square root or division step of the device's program (1 for
 * correctly rounded steps). u = 2^-24; γ_n = n·u / (1 - n·u) bounds a float32 sum of n terms.
 *
 * Training, per channel of n elements (m, v the exact mean and biased variance, δ = m - m̂):
 * - m̂ = fl(Σx)/n: |δ| ≤ em = γ_{n+1}·max|x|.
 * - v̂ = fl(Σ fl(x - m̂)²)/n: Σ(x - m̂)² = n(v + δ²) exactly (Σ(x - m) = 0), so
 *   |v̂ - v| ≤ ev = em² + γ_{n+4}·(v + em²).
 * - a = scale·rsqrt(v̂ + ε): relative error ra ≤ ev / (2(v + ε)) + (k + 1)u.
 * - y = (x - m̂)·a + offset, |x - m| ≤ D, A = |scale|·rsqrt(v + ε):
 *   |ŷ - y| ≤ A·(em + u(D + em)) + A·D·(ra + u) + u(A·D + |offset|).
 * - the running statistics: em or ev through the factor, Bessel's correction and 4 roundings.
 * The gradient: see `batchNormGradBound`.
 */
import type { Difference } from "./kernel.ts";
import type { Tensor } from "./tensor.ts";
import { numbers } from "./tensor.ts";

const U = 2 ** -24;
const gamma = (n: number) => (n * U) / (1 - n * U);

interface Layout {
  C: number;
  n: number;
  /** Flat indexes of channel c's elements. */
  each(c: number, visit: (i: number) => void): void;
}

function layout(x: Tensor, dataFormat: string): Layout {
  const axis = dataFormat === "NCHW" ? 1 : 3;
  const C = x.shape[axis], inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = C > 0 ? x.size / C : 0;
  return {
    C,
    n,
    each(c, visit) {
      for (let j = 0; j < n; j++) {
        visit(Math.floor(j / inner) * C * inner + c * inner + (j % inner));
      }
    },
  };
}

/**
 * An absolute bound on the outputs, and the largest partial value the float32 program meets:
 * past float32's range it may overflow where the float64 reference does not, as TensorFlow's
 * float32 kernels do (admittingOverflow).
 */
export interface BatchNormBound {
  atol: number;
  partial: number;
}

/** The largest finite of the bounds (non-finite channels compare exactly: NaN with NaN). */
function largest(bounds: number[]): number {
  return bounds.reduce((m, b) => (Number.isFinite(b) ? Math.max(m, b) : m), 0);
}

/**
 * The largest partial value of a float32 inference program, y = (x - mean)·scale/√(variance + ε)
 * + offset, in either order the programs take: scale·rsqrt(variance + ε) first (TensorFlow's CPU
 * kernel, the TPU's) or (x - mean)/√(variance + ε) first (WebGPU's). Past float32's range a
 * partial overflows where the float64 reference may stay finite: TensorFlow's own kernel gives
 * NaN for x = mean with scale·rsqrt(variance + ε) past float32's range, where the reference's
 * 0/√(variance + ε)·scale is 0 (admittingOverflow).
 */
export function batchNormInferencePartial(
  [x, scale, offset, mean, variance]: readonly Tensor[],
  attrs: { epsilon: number; data_format: string },
): number {
  const { C, each } = layout(x, attrs.data_format);
  const [xs, ss, os, ms, vs] = [x, scale, offset, mean, variance].map(numbers);
  const partials: number[] = [];
  for (let c = 0; c < C; c++) {
    const shifted = vs[c] + attrs.epsilon, root = Math.sqrt(shifted);
    const a = Math.abs(ss[c]) / root;
    partials.push(Math.abs(shifted), a);
    let d = 0;
    each(c, (i) => {
      const di = Math.abs(xs[i] - ms[c]);
      // A NaN or infinite input is NaN or infinite on both sides: it bounds nothing.
      if (Number.isFinite(di)) d = Math.max(d, di);
    });
    partials.push(d, d / root, d * a, d * a + Math.abs(os[c]));
  }
  return largest(partials);
}

/** An absolute bound on every output of FusedBatchNormV3 in training mode. */
export function batchNormTrainingBound(
  [x, scale, offset, mean, variance]: readonly Tensor[],
  attrs: { epsilon: number; data_format: string; exponential_avg_factor: number },
  k: number,
): BatchNormBound {
  const { C, n, each } = layout(x, attrs.data_format);
  const xs = numbers(x), ss = numbers(scale), os = numbers(offset);
  const f = attrs.exponential_avg_factor;
  const ms = f === 1 ? undefined : numbers(mean), vs = f === 1 ? undefined : numbers(variance);
  const bessel = n > 1 ? n / (n - 1) : 1;
  const bounds: number[] = [];
  let partial = 0;
  for (let c = 0; c < C; c++) {
    let sum = 0, X = 0;
    each(c, (i) => {
      sum += xs[i];
      X = Math.max(X, Math.abs(xs[i]));
    });
    const m = sum / n;
    let ss2 = 0, D = 0;
    each(c, (i) => {
      ss2 += (xs[i] - m) ** 2;
      D = Math.max(D, Math.abs(xs[i] - m));
    });
    const v = ss2 / n;
    // The float32 sums' partial values: Σ|x| and Σ(x - m̂)² ≤ n(2X)².
    partial = Math.max(partial, n * X, n * 4 * X * X);
    const em = gamma(n + 1) * X;
    const ev = em * em + gamma(n + 4) * (v + em * em);
    const ra = ev / (2 * (v + attrs.epsilon)) + (k + 1) * U;
    const A = Math.abs(ss[c]) / Math.sqrt(v + attrs.epsilon);
    bounds.push(
      A * (em + U * (D + em)) + A * D * (ra + U) + U * (A * D + Math.abs(os[c])),
      em + 2 * U * Math.abs(m),
      ev + 2 * U * v,
    );
    const runMean = ms ? (1 - f) * Math.abs(ms[c]) + f * Math.abs(m) : Math.abs(m);
    const runVar = vs ? (1 - f) * Math.abs(vs[c]) + f * v * bessel : v * bessel;
    bounds.push(f * em + 4 * U * runMean, f * bessel * ev + 5 * U * runVar);
  }
  return { atol: largest(bounds) * (1 + 8 * U), partial };
}

/**
 * An absolute bound on every output of FusedBatchNormGradV3. Per channel, with r = rsqrt(v + ε),
 * x̂ = (x - m)·r (computed within (k + 2)u relative), S1 = Σ|dy|, S2 = Σ|dy·x̂|, B = |scale|·r:
 * offset_backprop = Σdy within E1 = γ_n·S1; scale_backprop = Σdy·x̂ within
 * E2 = γ_{n+1}·S2 + (k + 2)u·S2; in training dx = B·(dy - Σdy/n - x̂·Σdy·x̂/n) within
 * B·[E1/n + u·S1/n + max|x̂|·(E2/n + (k + 4)u·S2/n) + 2u·T] + (k + 3)u·B·T with
 * T = max|dy| + S1/n + max|x̂|·S2/n; in inference dx = dy·B within (k + 3)u·B·max|dy|.
 */
export function batchNormGradBound(
  [dy, x, scale, mean, variance]: readonly Tensor[],
  attrs: { epsilon: number; data_format: string; is_training: boolean },
  k: number,
): BatchNormBound {
  const { C, n, each } = layout(x, attrs.data_format);
  const [ds, xs, ss, ms, vs] = [dy, x, scale, mean, variance].map(numbers);
  const bounds: number[] = [];
  let partial = 0;
  for (let c = 0; c < C; c++) {
    const r = 1 / Math.sqrt(vs[c] + attrs.epsilon);
    let S1 = 0, S2 = 0, DY = 0, XH = 0;
    each(c, (i) => {
      const xhat = (xs[i] - ms[c]) * r;
      S1 += Math.abs(ds[i]);
      S2 += Math.abs(ds[i] * xhat);
      DY = Math.max(DY, Math.abs(ds[i]));
      XH = Math.max(XH, Math.abs(xhat));
    });
    const B = Math.abs(ss[c]) * r;
    // The float32 sums' and products' partial values.
    partial = Math.max(partial, S1, S2, XH, B * (DY + S1 + XH * S2));
    const E1 = gamma(n) * S1, E2 = gamma(n + 1) * S2 + (k + 2) * U * S2;
    const T = DY + S1 / n + (XH * S2) / n;
    const dx = attrs.is_training
      ? B * (E1 / n + (U * S1) / n + XH * (E2 / n + ((k + 4) * U * S2) / n) + 2 * U * T) +
        (k + 3) * U * B * T
      : (k + 3) * U * B * DY;
    bounds.push(dx, E1, E2);
  }
  return { atol: largest(bounds) * (1 + 8 * U), partial };
}

/**
 * Training with epsilon 0 over a channel whose values are all equal: the reference's
 * (x - m) / sqrt(v + ε) is 0/0, NaN, while a float32 mean's rounding leaves a residue that a
 * float32 program (TensorFlow's CPU kernel too) normalizes to a finite value. Kernels declare
 * these cases a difference.
 */
export function zeroVariance<
  A extends { epsilon: number; data_format: string; is_training: boolean },
>(): Difference<A> {
  return {
    reason: "a constant channel with epsilon 0 or an infinite scale: the reference's x - mean is " +
      "exactly 0 (0/0 or 0·Inf is NaN), a float32 mean's rounding leaves a residue the device " +
      "normalizes (±Inf for an infinite scale; fuzzer seed 1126716484)",
    when: ({ inputs: [x, scale], attrs }) => {
      if (!attrs.is_training) return false;
      const { C, n, each } = layout(x, attrs.data_format);
      const xs = numbers(x), ss = numbers(scale);
      for (let c = 0; c < C; c++) {
        if (attrs.epsilon !== 0 && Number.isFinite(ss[c])) continue;
        let first: number | undefined, constant = n > 0;
        each(c, (i) => {
          first ??= xs[i];
          if (xs[i] !== first) constant = false;
        });
        if (constant) return true;
      }
      return false;
    },
  };
}
