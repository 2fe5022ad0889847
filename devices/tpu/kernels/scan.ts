/**
 * Cumsum and Cumprod on the vector unit: each line along the axis accumulates in float32 (int32
 * wraps, as TensorFlow's integer scans) in order, reversed with `reverse`, storing the running
 * value before (`exclusive`) or after each element.
 *
 * Tolerance: a float32 running sum of ≤ n terms is within γ_n·n·max|x| of the exact one, a
 * running product of ≤ n factors within γ_n relative; the reference rounds once (2u relative);
 * bfloat16 outputs add their rounding (`withBf16`).
 */
import { admittingOverflow, type Tolerance } from "../../../core/kernel.ts";
import { intScalar } from "../../../core/ops/array_util.ts";
import { Cumprod, Cumsum, type ScanAttrs, scanLayout } from "../../../core/ops/scan.ts";
import type { OpDef } from "../../../core/op.ts";
import { maxAbs, withBf16 } from "../tolerance.ts";
import { finish, operand, target } from "./engine.ts";
import { input, output, TPU_REALS, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

function scanKernel(op: OpDef<ScanAttrs>, product: boolean): TpuKernel<ScanAttrs> {
  return tpuKernel(op, {
    dtypes: TPU_REALS,
    run(ctx) {
      const x = input(ctx, 0);
      const { outer, n, inner } = scanLayout(x.shape, intScalar(ctx.hostInput(1), "axis"));
      const out = output(ctx, 0, x.shape);
      const xs = operand(x), ys = target(out);
      const int = x.dtype === "int32";
      const step = product
        ? (int ? Math.imul : (a: number, v: number) => f(a * v))
        : (int ? (a: number, v: number) => (a + v) | 0 : (a: number, v: number) => f(a + v));
      const { exclusive, reverse } = ctx.attrs;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let acc = product ? 1 : 0;
          for (let j = 0; j < n; j++) {
            const at = (o * n + (reverse ? n - 1 - j : j)) * inner + i;
            if (exclusive) ys[at] = acc;
            acc = step(acc, xs[at]);
            if (!exclusive) ys[at] = acc;
          }
        }
      }
      finish(out, ys);
      const size = out.data.length;
      ctx.device.charge(ctx, {
        vpuOps: size * (x.dtype === "bfloat16" ? 3 : 1),
        hbmBytes: x.bytes + out.bytes,
        flops: size,
      });
    },
    tolerance: ({ inputs: [x], attrs }): Tolerance => {
      if (attrs.T === "int32") return { reason: "exact: int32 scans wrap as the reference's" };
      const n = Math.max(1, ...x.shape), max = maxAbs(x);
      const gamma = ((n + 1) * U) / (1 - (n + 1) * U);
      const tol: Tolerance = product
        ? { rtol: gamma + 2 * U, atol: n * 2 ** -149, reason: "float32 running products" }
        : { atol: gamma * n * max, rtol: 2 * U, reason: "float32 running sums" };
      return admittingOverflow(withBf16(attrs.T, tol), product ? max ** n : n * max);
    },
  });
}

export const SCAN_KERNELS: readonly TpuKernel[] = [
  scanKernel(Cumsum, false),
  scanKernel(Cumprod, true),
];
