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

/**
 * The largest |intermediate| a float32 program meets over two same-shaped inputs, from
 * `partials` on each pair (NaN pairs skipped): past float32's range the program may overflow
 * where the float64 reference does not, as TensorFlow's float32 kernels do (admittingOverflow).
 */
export function pairBound(
  a: Tensor,
  b: Tensor,
  partials: (x: number, y: number) => number,
): number {
  const as = numbers(a), bs = numbers(b);
  let m = 0;
  for (let i = 0; i < as.length; i++) {
    const p = partials(as[i], bs[i]);
    if (p > m) m = p;
  }
  return m;
}
