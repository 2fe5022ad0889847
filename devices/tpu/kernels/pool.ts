/**
 * MaxPool and AvgPool on the vector unit, windows placed by core's convGeometry; padded taps
 * are skipped, and AvgPool divides by the count of real taps, as the reference does.
 *
 * AvgPool tolerance: the float32 window sum of n ≤ kh·kw terms is within γ_n·n·max|x| of the
 * exact sum, so the mean is within γ_n·max|x|, plus the division's rounding and the
 * reference's (2u relative); bfloat16 outputs add 2 bfloat16 ulps (tolerance.ts `withBf16`).
 */
import { isFloat } from "../../../core/dtype.ts";
import { admittingOverflow } from "../../../core/kernel.ts";
import { convGeometry, type WindowGeometry } from "../../../core/ops/conv_geometry.ts";
import type { TensorSpec } from "../../../core/op.ts";
import { AvgPool, type AvgPoolAttrs, MaxPool } from "../../../core/ops/pool.ts";
import { ShapeMemo } from "../../../core/shape_memo.ts";
import { maxAbs, withBf16 } from "../tolerance.ts";
import { finish, operand, target } from "./engine.ts";
import { input, output, TPU_FLOATS, TPU_REALS, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

type Numbers = { [i: number]: number };

/** Folds every window's real taps: `step` per tap, `end` with the tap count. */
function pool(
  g: WindowGeometry,
  xs: Numbers,
  ys: Numbers,
  init: number,
  step: (acc: number, x: number) => number,
  end: (acc: number, count: number) => number,
): void {
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        for (let c = 0; c < g.inChannels; c++) {
          let acc = init, count = 0;
          for (let fh = 0; fh < g.filterHeight; fh++) {
            const ih = oh * g.strideHeight - g.padTop + fh;
            if (ih < 0 || ih >= g.inHeight) continue;
            for (let fw = 0; fw < g.filterWidth; fw++) {
              const iw = ow * g.strideWidth - g.padLeft + fw;
              if (iw < 0 || iw >= g.inWidth) continue;
              acc = step(acc, xs[((b * g.inHeight + ih) * g.inWidth + iw) * g.inChannels + c]);
              count++;
            }
          }
          ys[o++] = end(acc, count);
        }
      }
    }
  }
}

/** A pooling node's window geometry by input shape, seeded from the static one. */
function poolGeometries(x: TensorSpec, attrs: AvgPoolAttrs): ShapeMemo<WindowGeometry> {
  return new ShapeMemo((xs) => convGeometry("pool", xs, null, attrs)).seed([x.shape]);
}

const maxPool = tpuKernel(MaxPool, {
  dtypes: TPU_REALS,
  create({ inputs: [xSpec], attrs }) {
    const geometries = poolGeometries(xSpec, attrs);
    const init = isFloat(attrs.T) ? -Infinity : -(2 ** 31);
    return {
      run(ctx) {
        const x = input(ctx, 0), out = output(ctx, 0); // inference checks MaxPool's padding rule
        const g = geometries.get(x.shape);
        const ys = target(out);
        pool(g, operand(x), ys, init, (acc, v) => Math.max(acc, v), (acc) => acc);
        finish(out, ys);
        const taps = g.filterHeight * g.filterWidth;
        ctx.device.charge(ctx, { vpuOps: out.data.length * taps, hbmBytes: x.bytes + out.bytes });
      },
    };
  },
});

const avgPool = tpuKernel(AvgPool, {
  dtypes: TPU_FLOATS,
  create({ inputs: [xSpec], attrs }) {
    const geometries = poolGeometries(xSpec, attrs);
    return {
      run(ctx) {
        const x = input(ctx, 0), out = output(ctx, 0);
        const g = geometries.get(x.shape);
        const ys = target(out);
        pool(g, operand(x), ys, 0, (acc, v) => f(acc + v), (acc, n) => f(acc / n));
        finish(out, ys);
        const taps = g.filterHeight * g.filterWidth;
        ctx.device.charge(ctx, {
          vpuOps: out.data.length * taps,
          eupOps: out.data.length,
          hbmBytes: x.bytes + out.bytes,
          flops: out.data.length * (taps + 1),
        });
      },
    };
  },
  tolerance: ({ inputs: [x], attrs }) => {
    const n = attrs.ksize[1] * attrs.ksize[2];
    const max = maxAbs(x);
    const atol = ((n * U) / (1 - n * U)) * max;
    const reason = "float32 window sums (pool.ts derives it)";
    // A float32 window sum past float32's range overflows, as TensorFlow's float32 AvgPool does.
    return admittingOverflow(withBf16(attrs.T, { atol, rtol: 2 * U, reason }), n * max);
  },
});

export const POOL_KERNELS: readonly TpuKernel[] = [maxPool, avgPool];
