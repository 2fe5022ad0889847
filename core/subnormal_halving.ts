/**
 * The error a float32 gradient program makes by halving a subnormal dy: 0.5·dy of |dy| < 2^-125
 * loses up to half its spacing, 2^-150, and the rest of the program carries that loss as a
 * factor `through(y)` of y (1/|y| after SqrtGrad's division, |y|³ after RsqrtGrad's product).
 * Large where y is tiny: SqrtGrad of y = dy = 6e-40 is 0.5000012 in float32, not 0.5 (fuzzer
 * seed 480138941). The tolerances of the TPU's and WebGPU's SqrtGrad and RsqrtGrad add it.
 */
import { numbers, type Tensor } from "./tensor.ts";

/**
 * The largest such loss over the elements, plus `ulps` roundings (2^-24 each, relative) of the
 * gradient `result(y, dy)`, where a relative bound alone cannot hold; 0 where no dy is subnormal.
 */
export function subnormalHalvingLoss(
  y: Tensor,
  dy: Tensor,
  through: (y: number) => number,
  result: (y: number, dy: number) => number,
  ulps: number,
): number {
  const ys = numbers(y), ds = numbers(dy);
  let worst = 0;
  for (let i = 0; i < ys.length; i++) {
    if (!(Math.abs(ds[i]) < 2 ** -125)) continue;
    const loss = 2 ** -150 * through(ys[i]) + ulps * 2 ** -24 * Math.abs(result(ys[i], ds[i]));
    // A zero or infinite y is infinite or NaN on both sides: it bounds nothing.
    if (Number.isFinite(loss)) worst = Math.max(worst, loss);
  }
  return worst;
}

/** SqrtGrad's loss: the halving divided by y; `ulps` roundings of 0.5·dy/y. */
export const sqrtGradHalvingLoss = (y: Tensor, dy: Tensor, ulps: number) =>
  Math.max(
    2 ** -126,
    subnormalHalvingLoss(y, dy, (v) => 1 / Math.abs(v), (v, d) => (0.5 * d) / v, ulps),
  );

/** RsqrtGrad's loss: the halving times y³; `ulps` roundings of -0.5·dy·y³. */
export const rsqrtGradHalvingLoss = (y: Tensor, dy: Tensor, ulps: number) =>
  Math.max(
    2 ** -126,
    subnormalHalvingLoss(y, dy, (v) => Math.abs(v) ** 3, (v, d) => -0.5 * d * v ** 3, ulps),
  );
