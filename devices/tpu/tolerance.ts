/**
 * How far a matrix-unit result may be from the float64 reference, derived from the case: the
 * inputs' magnitudes and the reduction length. Kernels give these functions as their
 * `tolerance` data; the equivalence suite applies them.
 *
 * Let u_b = 2^-8 (bfloat16 unit roundoff, 8 significant bits, round to nearest even) and
 * u = 2^-24 (float32). For one output c = Σ_k a_k·b_k over K terms:
 *
 * 1. Inputs: float32 inputs are rounded to bfloat16, â = a(1 + α), b̂ = b(1 + β), |α|, |β| ≤ u_b,
 *    so each product moves by at most (2u_b + u_b²)|a_k b_k|. bfloat16 inputs are not rounded.
 * 2. Products of bfloat16 values are exact in float32 (8 + 8 significant bits ≤ 24).
 * 3. Sums: a product passes through at most min(K, R) additions inside its K-tile (from zero)
 *    and ceil(K/R) accumulator additions, ≤ n = K + 1 for any array height R; each rounds by
 *    ≤ u relative, so the sum moves by at most γ_n·Σ|â_k b̂_k|, γ_n = n·u / (1 - n·u).
 * 4. With S = Σ|a_k b_k| ≤ K · max|a| · max|b|, the float32 accumulator ĉ satisfies
 *    |ĉ - c| ≤ E = ((2u_b + u_b²)(1 + γ_n) + γ_n) · S   (first term only for float32 inputs).
 * 5. Output: a float32 output is ĉ itself; the reference r = fl32(c) is within u|r| of c, so
 *    |ĉ - r| ≤ E + 2u|r|. A bfloat16 output is bf16(ĉ) against r = bf16(c): `withBf16` below
 *    gives |bf16(ĉ) - r| ≤ E(1 + u_b) + 2 ulp16(r).
 *
 * The bound is worst-case: typical errors are far smaller, but no case can exceed it.
 */
import type { DType } from "../../core/dtype.ts";
import { admittingOverflow, type Difference, type Tolerance } from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { numbers, type Tensor } from "../../core/tensor.ts";

const UB = 2 ** -8;
const U = 2 ** -24;

/**
 * The largest finite |value| of a tensor (0 when empty). Non-finite inputs make their outputs
 * non-finite, which the comparison matches exactly; letting a NaN in would make the bound NaN
 * and fail every other output of the case.
 */
export function maxAbs(t: Tensor): number {
  const xs = numbers(t);
  let m = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i])) m = Math.max(m, Math.abs(xs[i]));
  }
  return m;
}

/**
 * The tolerance of a matrix-unit sum of `terms` products per output, |a| ≤ `maxA` and |b| ≤ `maxB`,
 * through at most `additions` float32 additions, in `dtype`.
 */
export function mxuTolerance(
  dtype: DType,
  terms: number,
  additions: number,
  maxA: number,
  maxB: number,
): Tolerance {
  const gamma = (additions * U) / (1 - additions * U);
  const S = terms * maxA * maxB;
  const inputRounding = dtype === "float32" ? (2 * UB + UB * UB) * (1 + gamma) : 0;
  // Below float32's normal range the relative bounds fail: rounding a subnormal float32 operand
  // to bfloat16 moves it by up to 2^-134 (half of bfloat16's subnormal step), so a product by up
  // to 2^-134 times the other operand (maxOperandSum bounds |a| + |b|); each float32 addition of
  // subnormal results rounds by up to 2^-150.
  const subnormal = (dtype === "float32" ? terms * 2 ** -134 * (maxA + maxB) : 0) +
    additions * 2 ** -150;
  const E = (inputRounding + gamma) * S + subnormal;
  const reason = dtype === "float32"
    ? "MXU: float32 inputs rounded to bfloat16, float32 accumulation (tolerance.ts derives it)"
    : "MXU: float32 accumulation of bfloat16 products, bfloat16 output (tolerance.ts derives it)";
  return admittingOverflow(
    dtype === "bfloat16" ? withBf16(dtype, { atol: E, reason }) : { atol: E, rtol: 2 * U, reason },
    S,
  );
}

/**
 * A float32 program's tolerance for a bfloat16 output, in ulps of bfloat16 at the reference r
 * (ulp16, tests/kernels/compare.ts). The program gives ĉ with |ĉ - c| ≤ E = atol + rtol·|c|
 * against the exact c; the kernel stores bf16(ĉ), the reference is r = bf16(c):
 *   |bf16(ĉ) - r| ≤ |bf16(ĉ) - ĉ| + |ĉ - c| + |c - r|.
 * - The reference's rounding: |c - r| ≤ ½ ulp16(c) ≤ ½ ulp16(r) (rounding never lowers the binade).
 * - The output's rounding: |bf16(ĉ) - ĉ| ≤ ½ ulp16(ĉ). Where ĉ lies in r's binade or below that is
 *   ≤ ½ ulp16(r); where E carries ĉ past r's binade, ½ ulp16(ĉ) ≤ u_b|ĉ| ≤ u_b(|r| + ½ ulp16(r) + E)
 *   ≤ (1 + u_b/2) ulp16(r) + u_b·E, since u_b|r| < ulp16(r).
 * Together ≤ E(1 + u_b) + (3/2 + u_b/2) ulp16(r): the float32 terms scaled by 1 + u_b (rtol with
 * |c| ≤ |r| + ½ ulp16(r) folded in the same way) and `ulps16: 2`. (A program exact to a few float32
 * ULPs lands on a neighbour of r at worst: `vpuTolerance` states that as `ulps16: 1`.)
 */
export function withBf16(dtype: DType, t: Tolerance): Tolerance {
  if (dtype !== "bfloat16") return t;
  const atol = (t.atol ?? 0) * (1 + UB), rtol = (t.rtol ?? 0) * (1 + UB);
  return {
    ...(atol > 0 ? { atol } : {}),
    ...(rtol > 0 ? { rtol } : {}),
    ulps16: 2,
    reason: `${t.reason}; bfloat16 output`,
  };
}

/** A matmul's tolerance: K terms per output, K + 1 additions, inputs' largest magnitudes. */
export function matmulTolerance(dtype: DType, k: number, a: Tensor, b: Tensor): Tolerance {
  return mxuTolerance(dtype, k, k + 1, maxAbs(a), maxAbs(b));
}

/** Halfway between bfloat16's largest finite value, (2 - 2^-7)·2^127, and 2^128: rounds to ±Inf. */
const BF16_OVERFLOW = (2 - 2 ** -8) * 2 ** 127;

/**
 * The MXU's operands are bfloat16: a float32 input at or past BF16_OVERFLOW becomes ±Inf, as on
 * the hardware, so a product with it is ±Inf or NaN (Inf·0) where the float32 reference is
 * finite. Cases with such an input are reported, not compared.
 */
export function mxuBf16Overflow<A extends Attrs>(): Difference<A> {
  return {
    reason: "the MXU rounds float32 operands to bfloat16, which turns |x| ≥ 3.396e38 into ±Inf",
    when: ({ inputs }) =>
      inputs.slice(0, 2).some((t) => {
        if (t.dtype !== "float32") return false;
        const xs = t.data as Float32Array;
        for (let i = 0; i < xs.length; i++) {
          if (Math.abs(xs[i]) >= BF16_OVERFLOW && Number.isFinite(xs[i])) return true;
        }
        return false;
      }),
  };
}
