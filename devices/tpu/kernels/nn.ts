/**
 * BiasAdd, FusedBatchNormV3 (inference and training) and Softmax/LogSoftmax on the vector unit,
 * in float32.
 * Each tolerance is derived next to its program (u = 2^-24, u_b = 2^-8); a bfloat16 output
 * adds its rounding on both sides, 2 bfloat16 ulps (`withBf16`, tolerance.ts derives it).
 */
import {
  BiasAdd,
  FusedBatchNormV3,
  type FusedBatchNormV3Attrs,
  LogSoftmax,
  Softmax,
} from "../../../core/ops/nn.ts";
import {
  batchNormInferencePartial,
  batchNormTrainingBound,
  zeroVariance,
} from "../../../core/batch_norm_bounds.ts";
import { admittingOverflow } from "../../../core/kernel.ts";
import { numbers, type Tensor } from "../../../core/tensor.ts";
import { withBf16 } from "../tolerance.ts";
import { finish, operand, target } from "./engine.ts";
import { loadF32, resultF32, storeF32 } from "../numerics.ts";
import {
  input,
  output,
  TPU_FLOATS,
  TPU_REALS,
  type TpuContext,
  type TpuKernel,
  tpuKernel,
} from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

/** The channel axis: last for NHWC, 1 for NCHW (as the reference reads data_format). */
function channelAxis(rank: number, format: string): number {
  return format === "NCHW" ? 1 : rank - 1;
}

const biasAdd = tpuKernel(BiasAdd, {
  dtypes: TPU_REALS,
  run(ctx) {
    const x = input(ctx, 0), bias = input(ctx, 1), out = output(ctx, 0);
    const axis = channelAxis(x.shape.length, ctx.attrs.data_format);
    const C = bias.shape[0], inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const xs = operand(x), bs = operand(bias), ys = target(out);
    const float = ctx.attrs.T !== "int32";
    for (let i = 0; i < ys.length; i++) {
      const v = xs[i] + bs[Math.floor(i / inner) % C];
      ys[i] = float ? f(v) : v;
    }
    finish(out, ys);
    const n = out.data.length;
    ctx.device.charge(ctx, {
      vpuOps: n * (ctx.attrs.T === "bfloat16" ? 3 : 1),
      hbmBytes: x.bytes + bias.bytes + out.bytes,
      flops: n,
    });
  },
  tolerance: (c) =>
    withBf16(c.attrs.T, { reason: "exact: one correctly rounded float32 addition" }),
});

/**
 * y = (x - mean) · a + offset with a = scale · rsqrt(variance + epsilon), per channel. Error:
 * rsqrt(v + ε) ≤ 2u relative (the sum's rounding halves through the root), a ≤ 3u, x - mean
 * ≤ u, the product ≤ 5u of t = (x - mean)·a, the sum ≤ u|y|; with epsilon's float32 rounding
 * and the reference's, |ŷ - y| ≤ 6u·max|t| + 2u|y|.
 */
/**
 * Training: per channel, the float32 mean and biased variance of the batch (sums in element
 * order), y normalized by them, the running statistics (Bessel's correction, the average with
 * the given ones unless exponential_avg_factor is 1) and the batch's statistics as reserve
 * spaces 1 and 2. Error bounds: core/batch_norm_bounds.ts.
 */
function batchNormTraining(ctx: TpuContext<FusedBatchNormV3Attrs>): void {
  const x = input(ctx, 0);
  const [scale, offset] = [1, 2].map((i) => input(ctx, i).data as Float32Array);
  const factor = ctx.attrs.exponential_avg_factor;
  const axis = channelAxis(4, ctx.attrs.data_format);
  const C = x.shape[axis], inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const n = C > 0 ? x.data.length / C : 0;
  const xs = loadF32(x);
  const m = new Float32Array(C), v = new Float32Array(C);
  for (let i = 0; i < xs.length; i++) {
    const c = Math.floor(i / inner) % C;
    m[c] = f(m[c] + xs[i]);
  }
  for (let c = 0; c < C; c++) m[c] = f(m[c] / n);
  for (let i = 0; i < xs.length; i++) {
    const c = Math.floor(i / inner) % C, d = f(xs[i] - m[c]);
    v[c] = f(v[c] + f(d * d));
  }
  for (let c = 0; c < C; c++) v[c] = f(v[c] / n);
  const eps = f(ctx.attrs.epsilon);
  const a = Float32Array.from(
    { length: C },
    (_, c) => f(scale[c] * f(1 / Math.sqrt(f(v[c] + eps)))),
  );
  const y = output(ctx, 0), ys = resultF32(y);
  for (let i = 0; i < xs.length; i++) {
    const c = Math.floor(i / inner) % C;
    ys[i] = f(f(f(xs[i] - m[c]) * a[c]) + offset[c]);
  }
  storeF32(y, ys);
  const bessel = f(n > 1 ? n / (n - 1) : 1), keep = f(1 - factor), fr = f(factor);
  const old = factor === 1 ? undefined : [3, 4].map((i) => input(ctx, i).data as Float32Array);
  const runMean = output(ctx, 1), runVar = output(ctx, 2);
  const rm = runMean.data as Float32Array, rv = runVar.data as Float32Array;
  for (let c = 0; c < C; c++) {
    const unbiased = f(v[c] * bessel);
    rm[c] = old ? f(f(keep * old[0][c]) + f(fr * m[c])) : m[c];
    rv[c] = old ? f(f(keep * old[1][c]) + f(fr * unbiased)) : unbiased;
  }
  (output(ctx, 3).data as Float32Array).set(m);
  (output(ctx, 4).data as Float32Array).set(v);
  const zero = output(ctx, 5);
  ctx.device.charge(ctx, {
    vpuOps: 7 * xs.length + 12 * C,
    eupOps: 3 * C,
    hbmBytes: 2 * x.bytes + y.bytes + zero.bytes + 4 * 8 * C,
    flops: 8 * xs.length,
  });
}

const batchNorm = tpuKernel(FusedBatchNormV3, {
  dtypes: TPU_FLOATS,
  modes: ["training"],
  differs: [zeroVariance()],
  run(ctx) {
    if (ctx.attrs.is_training) return batchNormTraining(ctx);
    const x = input(ctx, 0);
    const [scale, offset, mean, variance] = [1, 2, 3, 4].map((i) =>
      input(ctx, i).data as Float32Array
    );
    const y = output(ctx, 0);
    const axis = channelAxis(4, ctx.attrs.data_format);
    const C = x.shape[axis], inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const eps = f(ctx.attrs.epsilon);
    const a = Float32Array.from(
      { length: C },
      (_, c) => f(scale[c] * f(1 / Math.sqrt(f(variance[c] + eps)))),
    );
    const xs = loadF32(x), ys = resultF32(y);
    for (let i = 0; i < xs.length; i++) {
      const c = Math.floor(i / inner) % C;
      ys[i] = f(f(f(xs[i] - mean[c]) * a[c]) + offset[c]);
    }
    storeF32(y, ys);
    // batch_mean, batch_variance and reserve spaces 1, 2 pass mean and variance through.
    for (const [i, from] of [[1, 3], [2, 4], [3, 3], [4, 4]]) ctx.setOutput(i, input(ctx, from));
    const zero = output(ctx, 5);
    ctx.device.charge(ctx, {
      vpuOps: 3 * xs.length + 3 * C,
      eupOps: C,
      hbmBytes: x.bytes + y.bytes + zero.bytes + 4 * 4 * C,
      flops: 3 * xs.length,
    });
  },
  tolerance: ({ inputs, attrs }) => {
    if (attrs.is_training) {
      const { atol, partial } = batchNormTrainingBound(inputs, attrs, 1);
      return admittingOverflow(
        withBf16(attrs.T, {
          atol,
          rtol: 2 * U,
          reason: "float32 batch statistics and normalization (core/batch_norm_bounds.ts)",
        }),
        partial,
      );
    }
    const [x, scale, , mean, variance] = inputs;
    const axis = channelAxis(4, attrs.data_format);
    const C = x.shape[axis], inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const [xs, ss, ms, vs] = [x, scale, mean, variance].map(numbers);
    // Subnormal partials keep only their spacing, 2^-149: the products and the sum each lose up to
    // 2^-150, and a subnormal a = scale·rsqrt(v + ε) loses 2^-150 that |x - mean| multiplies
    // (fuzzer seed 88872692: a = 1.4e-40).
    let maxT = 0, subnormalLoss = 2 ** -149;
    for (let i = 0; i < xs.length; i++) {
      const c = Math.floor(i / inner) % C;
      const a = Math.abs(ss[c]) / Math.sqrt(vs[c] + attrs.epsilon), d = Math.abs(xs[i] - ms[c]);
      const t = d * a;
      // A NaN or infinite term makes its output NaN or infinite on both sides: no bound to add.
      if (Number.isFinite(t)) maxT = Math.max(maxT, t);
      if (a < 2 ** -126 && Number.isFinite(d)) {
        subnormalLoss = Math.max(subnormalLoss, 2 ** -149 + 2 ** -150 * d);
      }
    }
    return admittingOverflow(
      withBf16(attrs.T, {
        atol: 6 * U * maxT + subnormalLoss,
        rtol: 2 * U,
        reason: "float32 batch-norm program (nn.ts derives it)",
      }),
      batchNormInferencePartial(inputs, attrs),
    );
  },
});

/** Row length, largest row range and row count of a softmax case. */
function rowStats(logits: Tensor): { n: number; range: number } {
  const n = logits.shape[logits.rank - 1], xs = numbers(logits);
  let range = 0;
  for (let r = 0; r < xs.length; r += n) {
    let lo = Infinity, hi = -Infinity;
    for (let j = r; j < r + n; j++) (lo = Math.min(lo, xs[j])), (hi = Math.max(hi, xs[j]));
    // A row with NaN or ±Inf is NaN (or exact) on both sides; it bounds nothing.
    if (Number.isFinite(hi - lo)) range = Math.max(range, hi - lo);
  }
  return { n, range };
}

/**
 * Per row of n: m = max x (exact), d = x - m (≤ u|d|), e = exp(d) (≤ (D + 1)u relative with D
 * the row's range), s = Σ e in float32 (≤ (D + 1 + n)u relative: all terms positive).
 * Softmax: e · (1/s), two more roundings: ≤ (2D + n + 5)u relative with the reference's, and
 * 2^-148 absolute where e or the output is subnormal (fuzzer seed 802285869).
 * LogSoftmax: d - log(s): log(s) within (D + 1 + n)u + u·log(n) absolute, the difference
 * rounds ≤ u|y|: ≤ (2D + n + 2 + log n)u absolute + 2u relative.
 */
function softmaxKernel(op: typeof Softmax, log: boolean): TpuKernel {
  return tpuKernel(op, {
    dtypes: TPU_FLOATS,
    run(ctx) {
      const x = input(ctx, 0), out = output(ctx, 0);
      const n = x.shape[x.shape.length - 1];
      const xs = loadF32(x), ys = resultF32(out);
      for (let r = 0; r < xs.length; r += n) {
        let m = -Infinity, s = 0;
        for (let j = r; j < r + n; j++) m = Math.max(m, xs[j]);
        for (let j = r; j < r + n; j++) s = f(s + f(Math.exp(f(xs[j] - m))));
        if (log) {
          const ls = f(Math.log(s));
          for (let j = r; j < r + n; j++) ys[j] = f(f(xs[j] - m) - ls);
        } else {
          const inv = f(1 / s);
          for (let j = r; j < r + n; j++) ys[j] = f(f(Math.exp(f(xs[j] - m))) * inv);
        }
      }
      storeF32(out, ys);
      const size = xs.length;
      ctx.device.charge(ctx, {
        vpuOps: 5 * size,
        eupOps: (log ? 1 : 2) * size,
        hbmBytes: x.bytes + out.bytes,
        flops: 6 * size,
      });
    },
    tolerance: ({ inputs: [x], attrs }) => {
      const { n, range: D } = rowStats(x);
      const reason = `float32 ${op.name} program (nn.ts derives it)`;
      return withBf16(
        attrs.T,
        log
          ? { atol: (2 * D + n + 2 + Math.log(n)) * U, rtol: 2 * U, reason }
          // A subnormal e or output keeps only its spacing, 2^-149: two such roundings absolute.
          : { rtol: (2 * D + n + 5) * U, atol: 2 ** -148, reason },
      );
    },
  });
}

export const NN_KERNELS: readonly TpuKernel[] = [
  biasAdd,
  batchNorm,
  softmaxKernel(Softmax, false),
  softmaxKernel(LogSoftmax, true),
];
