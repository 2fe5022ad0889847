/**
 * What float32 SqrtGrad and RsqrtGrad programs lose to subnormal intermediates, which keep only
 * their spacing, 2^-149 (a rounding loses up to 2^-150 absolute), beyond a relative bound:
 * - halving a subnormal dy (|dy| < 2^-125): 2^-150, divided by y in SqrtGrad (SqrtGrad of
 *   y = dy = 6e-40 is 0.5000012 in float32, not 0.5; fuzzer seed 480138941), times |y|³ in
 *   RsqrtGrad;
 * - RsqrtGrad's y² and y³ when subnormal (y = 1e-15: y³ = 1e-45 rounds to 1.4e-45, a 40% error
 *   of the gradient; seed 895263625): 2^-150 each, carried as (1 + |y|)·|dy|/2.
 * The tolerances of the TPU's and WebGPU's SqrtGrad and RsqrtGrad add the largest such loss over
 * the elements, with `ulps` roundings (2^-24 each) of the gradient on top; every other
 * elementwise gradient program adds `subnormalSteps`.
 */
import { numbers, type Tensor } from "./tensor.ts";

const SPACING = 2 ** -150;
const subnormal = (v: number) => Math.abs(v) < 2 ** -125;

/** The largest finite `loss(y, dy)` over the elements, at least FLT_MIN (2^-126). */
function largestLoss(y: Tensor, dy: Tensor, loss: (y: number, dy: number) => number): number {
  const ys = numbers(y), ds = numbers(dy);
  let worst = 2 ** -126;
  for (let i = 0; i < ys.length; i++) {
    const l = loss(ys[i], ds[i]);
    // A zero or infinite y is infinite or NaN on both sides: it bounds nothing.
    if (Number.isFinite(l)) worst = Math.max(worst, l);
  }
  return worst;
}

/** SqrtGrad, 0.5·dy/y. */
export const sqrtGradSubnormalLoss = (y: Tensor, dy: Tensor, ulps: number) =>
  largestLoss(y, dy, (v, d) => {
    if (!subnormal(d)) return 0;
    return SPACING / Math.abs(v) + ulps * 2 ** -24 * Math.abs((0.5 * d) / v);
  });

/** RsqrtGrad, -0.5·dy·y³. */
export const rsqrtGradSubnormalLoss = (y: Tensor, dy: Tensor, ulps: number) =>
  largestLoss(y, dy, (v, d) => {
    const cube = Math.abs(v) ** 3;
    const halving = subnormal(d) ? SPACING * cube : 0;
    const powers = subnormal(cube) ? SPACING * (1 + Math.abs(v)) * 0.5 * Math.abs(d) : 0;
    if (halving === 0 && powers === 0) return 0;
    return halving + powers + ulps * 2 ** -24 * 0.5 * Math.abs(d) * cube;
  });

/**
 * Any elementwise gradient program of two inputs: a subnormal intermediate keeps only its
 * spacing, so each of its `steps` roundings may lose 2^-150 absolutely, which later factors (each
 * at most 1 + |input|, two at most) multiply: SigmoidGrad of y = -9.49, dy = 1e-40 rounds dy·y
 * (subnormal), then multiplies by 1 - y (fuzzer seed 974387393). Negligible beside a ULP unless
 * the result is near float32's smallest normals.
 */
export function subnormalSteps([a, b]: readonly Tensor[], steps: number): number {
  const as = numbers(a), bs = numbers(b);
  let worst = 0;
  for (let i = 0; i < as.length; i++) {
    const m = (1 + Math.max(Math.abs(as[i]), Math.abs(bs[i]))) ** 2;
    if (Number.isFinite(m)) worst = Math.max(worst, m);
  }
  return steps * SPACING * worst;
}
