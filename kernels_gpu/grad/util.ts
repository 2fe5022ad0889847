/** What the gradient kernels' tolerances share. */
import { numbers, type Tensor } from "../../core/tensor.ts";

/** The largest finite |value| of a tensor (0 when empty; non-finite values match exactly). */
export function maxAbsOf(t: Tensor): number {
  const xs = numbers(t);
  let m = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i])) m = Math.max(m, Math.abs(xs[i]));
  }
  return m;
}
