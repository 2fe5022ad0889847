/**
 * Where the GPU's float32 accumulation may pass float32's range although the reference's does
 * not: the GPU sums (and multiplies) in float32 as TensorFlow's kernels do, the reference in
 * float64, rounding once. Past float32's maximum the GPU's result depends on the order of the
 * terms (Inf, -Inf, or NaN where they meet), so such cases are declared differences, not
 * compared. The conditions are bounds: below them no partial result can overflow.
 */
import { isFloat } from "../core/dtype.ts";
import type { Difference, KernelCase } from "../core/kernel.ts";
import type { Attrs } from "../core/op.ts";
import { numbers, type Tensor } from "../core/tensor.ts";

const F32_MAX = 3.4028234663852886e38;
/** The smallest normal float32: partial products below it lose bits (or flush to 0). */
const F32_MIN_NORMAL = 2 ** -126;

const REASON = "float32 partial results may pass float32's range where the float64 reference's " +
  "do not; the result then depends on the order of the terms (Inf, -Inf or NaN), in " +
  "TensorFlow's float32 kernels too";

function maxFinite(t: Tensor): number {
  const v = numbers(t);
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > m && a !== Infinity) m = a;
  }
  return m;
}

/**
 * Dot products of `k(c)` terms of inputs 0 and 1 (MatMul, convolutions; AvgPool with `k` taps of
 * input 0 alone): no product or partial sum passes k · max|a| · max|b|.
 */
export function dotOverflow<A extends Attrs>(
  k: NoInfer<(c: KernelCase<A>) => number>,
  single = false,
): Difference<A> {
  return {
    reason: REASON,
    when: (c) => {
      const [a, b] = c.inputs;
      if (!isFloat(a.dtype)) return false;
      return k(c) * maxFinite(a) * (single ? 1 : maxFinite(b)) > F32_MAX;
    },
  };
}

/** A difference of float cases whose first input's values `overflows` judges. */
function firstInputOverflow<A extends Attrs>(
  overflows: (v: ArrayLike<number>) => boolean,
): Difference<A> {
  return {
    reason: REASON,
    when: (c) => {
      const x = c.inputs[0];
      return isFloat(x.dtype) && overflows(numbers(x));
    },
  };
}

/** Sum and Mean: no partial sum passes the sum of the finite |x|. */
export function sumOverflow<A extends Attrs>(): Difference<A> {
  return firstInputOverflow((v) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) if (Math.abs(v[i]) !== Infinity) s += Math.abs(v[i]);
    return s > F32_MAX;
  });
}

/**
 * Prod: partial products stay between the product of the factors below 1 and the product of
 * those above 1 (in magnitude, zeros aside); outside float32's normal range they round
 * differently from the float64 product.
 */
export function prodOverflow<A extends Attrs>(): Difference<A> {
  return firstInputOverflow((v) => {
    let big = 1, small = 1;
    for (let i = 0; i < v.length; i++) {
      const a = Math.abs(v[i]);
      if (a === 0 || a === Infinity || Number.isNaN(a)) continue;
      if (a > 1) big *= a;
      else small *= a;
    }
    return big > F32_MAX || small < F32_MIN_NORMAL;
  });
}
