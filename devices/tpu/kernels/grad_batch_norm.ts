/**
 * FusedBatchNormGradV3 on the vector unit, in float32: per channel r = rsqrt(v + ε) and
 * x̂ = (x - m)·r, the sums Σdy (offset_backprop) and Σdy·x̂ (scale_backprop) in element order,
 * then dx = scale·r·(dy - Σdy/n - x̂·Σdy·x̂/n) in training, dy·scale·r in inference.
 * Error bounds: core/batch_norm_bounds.ts.
 */
import { batchNormGradBound } from "../../../core/batch_norm_bounds.ts";
import { admittingOverflow } from "../../../core/kernel.ts";
import { FusedBatchNormGradV3 } from "../../../core/ops/grad_batch_norm.ts";
import { loadF32, resultF32, storeF32 } from "../numerics.ts";
import { withBf16 } from "../tolerance.ts";
import { input, output, TPU_FLOATS, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

const fusedBatchNormGrad = tpuKernel(FusedBatchNormGradV3, {
  dtypes: TPU_FLOATS,
  run(ctx) {
    const dy = input(ctx, 0), x = input(ctx, 1);
    const [scale, mean, variance] = [2, 3, 4].map((i) => input(ctx, i).data as Float32Array);
    const axis = ctx.attrs.data_format === "NCHW" ? 1 : 3;
    const C = x.shape[axis], inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const n = C > 0 ? x.data.length / C : 0;
    const ds = loadF32(dy), xs = loadF32(x);
    const eps = f(ctx.attrs.epsilon);
    const r = Float32Array.from({ length: C }, (_, c) => f(1 / Math.sqrt(f(variance[c] + eps))));
    const sumDy = new Float32Array(C), sumDyXhat = new Float32Array(C);
    for (let i = 0; i < xs.length; i++) {
      const c = Math.floor(i / inner) % C;
      sumDy[c] = f(sumDy[c] + ds[i]);
      sumDyXhat[c] = f(sumDyXhat[c] + f(ds[i] * f(f(xs[i] - mean[c]) * r[c])));
    }
    const out = output(ctx, 0), dx = resultF32(out);
    const training = ctx.attrs.is_training;
    const coef = Float32Array.from({ length: C }, (_, c) => f(scale[c] * r[c]));
    const meanDy = sumDy.map((s) => f(s / n)), meanDyXhat = sumDyXhat.map((s) => f(s / n));
    for (let i = 0; i < xs.length; i++) {
      const c = Math.floor(i / inner) % C;
      if (!training) {
        dx[i] = f(ds[i] * coef[c]);
        continue;
      }
      const xhat = f(f(xs[i] - mean[c]) * r[c]);
      dx[i] = f(coef[c] * f(f(ds[i] - meanDy[c]) - f(xhat * meanDyXhat[c])));
    }
    storeF32(out, dx);
    (output(ctx, 1).data as Float32Array).set(sumDyXhat);
    (output(ctx, 2).data as Float32Array).set(sumDy);
    output(ctx, 3, [0]);
    output(ctx, 4, [0]);
    ctx.device.charge(ctx, {
      vpuOps: (training ? 10 : 5) * xs.length + 6 * C,
      eupOps: C,
      hbmBytes: (training ? 2 : 1) * (dy.bytes + x.bytes) + out.bytes + 4 * 5 * C,
      flops: (training ? 10 : 5) * xs.length,
    });
  },
  tolerance: ({ inputs, attrs }) => {
    const { atol, partial } = batchNormGradBound(inputs, attrs, 1);
    return admittingOverflow(
      withBf16(attrs.T, {
        atol,
        rtol: 2 * U,
        reason: "float32 sums and the gradient program (core/batch_norm_bounds.ts)",
      }),
      partial,
    );
  },
});

export const GRAD_BATCH_NORM_KERNELS: readonly TpuKernel[] = [fusedBatchNormGrad];
