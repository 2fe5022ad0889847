/**
 * Reductions on the vector unit: Sum, Mean, Max, Min, Prod over axes, and ArgMax, ArgMin. The
 * axes are resolved by core's reduction plan, whose index lists every output's elements in
 * reduction order; floats accumulate in float32 in that order, integers wrap in 32 bits.
 *
 * Tolerance (float32, u = 2^-24): a float32 sum of n terms is within γ_n·Σ|x| of the exact sum
 * (γ_n = n·u / (1 - n·u)) and Σ|x| ≤ n·max|x|; Mean divides that by n with one more rounding;
 * a product of n factors is within γ_n relative. The reference rounds its float64 result once
 * (u|r| more). A bfloat16 output adds its own rounding on both sides: 2 bfloat16 ulps
 * (tolerance.ts `withBf16` derives it).
 */
import { type DType, isFloat } from "../../../core/dtype.ts";
import { admittingOverflow, type KernelCase, type Tolerance } from "../../../core/kernel.ts";
import {
  ArgMax,
  ArgMin,
  Max,
  Mean,
  Min,
  Prod,
  type ReduceOpDef,
  resolveArgAxis,
  Sum,
} from "../../../core/ops/reduce.ts";
import {
  reductionIndex,
  type ReductionPlan,
  resolveReduction,
} from "../../../core/ops/reduce_plan.ts";
import type { Attrs } from "../../../core/op.ts";
import { constIntList, ShapeMemo } from "../../../core/shape_memo.ts";
import { intList, numbers, type Tensor } from "../../../core/tensor.ts";
import { maxAbs, withBf16 } from "../tolerance.ts";
import { finish, operand, target } from "./engine.ts";
import { input, output, TPU_REALS, type TpuContext, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;
const INT_MIN = -(2 ** 31), INT_MAX = 2 ** 31 - 1;

/** How a reduction folds one output's elements, for floats (float32) and int32. */
interface Fold {
  init(float: boolean): number;
  step(acc: number, x: number, float: boolean): number;
  end?(acc: number, n: number, float: boolean): number;
  /** VPU ops per element, for timing. */
  ops: number;
  /** |result - reference| bound for float32 given n and max|x|: [atol, rtol]. */
  error(n: number, max: number): [number, number];
  /** A bound on every float32 partial result's magnitude, where one can overflow. */
  partial?(n: number, max: number): number;
  /** An absolute term for subnormal partial results, from the case's values in fold order. */
  subnormalLoss?(x: Tensor, plan: ReductionPlan): number;
}

/**
 * Prod's partial products in the fold's own order (reductionIndex): a subnormal one keeps only its
 * spacing, so its rounding may lose 2^-150, which every later factor multiplies ([1e-40, 8.35,
 * 65504] loses 2^-150 at 8.35e-40, then ×65504: fuzzer seed 1974058977). The largest such loss
 * over the outputs; 0 where no partial is subnormal.
 */
function prodSubnormalLoss(x: Tensor, plan: ReductionPlan): number {
  const index = reductionIndex(x.shape, plan), xs = numbers(x), n = plan.reduceSize;
  let worst = 0;
  for (let o = 0; o < plan.outSize; o++) {
    let p = 1, loss = 0;
    for (let j = o * n; j < (o + 1) * n; j++) {
      const v = Math.abs(xs[index[j]]);
      p *= v;
      loss *= v;
      if (p !== 0 && p < 2 ** -126) loss += 2 ** -150;
    }
    // A NaN or infinite factor is NaN or infinite on both sides: it bounds nothing.
    if (Number.isFinite(loss)) worst = Math.max(worst, loss);
  }
  return worst;
}

const gamma = (n: number) => (n * U) / (1 - n * U);
const exact = (): [number, number] => [0, 0];
/** Max (sign 1) or Min (-1): NaN wins, as the reference (TensorFlow 2). */
const extreme = (sign: 1 | -1): Fold => ({
  init: (float) => (float ? -sign * Infinity : sign > 0 ? INT_MIN : INT_MAX),
  step: (acc, x) => (acc !== acc || x !== x ? NaN : sign * x > sign * acc ? x : acc),
  ops: 1,
  error: exact,
});

const FOLDS = new Map<ReduceOpDef, Fold>([
  [Sum, {
    init: () => 0,
    step: (acc, x, float) => (float ? f(acc + x) : (acc + x) | 0),
    ops: 1,
    error: (n, max) => [gamma(n) * n * max, 2 * U],
    partial: (n, max) => n * max,
  }],
  // Integers sum wide (exact in a double below 2^22 terms), then divide with truncation, as
  // TensorFlow's Mean (int32 summed in int64) does.
  [Mean, {
    init: () => 0,
    step: (acc, x, float) => (float ? f(acc + x) : acc + x),
    end: (acc, n, float) => (float ? f(acc / n) : n === 0 ? 0 : Number(BigInt(acc) / BigInt(n))),
    ops: 1,
    error: (n, max) => [gamma(n) * max, 2 * U],
    partial: (n, max) => n * max,
  }],
  [Max, extreme(1)],
  [Min, extreme(-1)],
  [Prod, {
    init: () => 1,
    step: (acc, x, float) => (float ? f(acc * x) : Math.imul(acc, x)),
    ops: 1,
    // Products in the subnormal range round with an absolute error up to 2^-150 each; what the
    // later factors make of it is `prodSubnormalLoss`, from the case's own partials.
    error: (n) => [(n + 1) * 2 ** -150, gamma(n + 1) + U],
    subnormalLoss: prodSubnormalLoss,
    partial: (n, max) => Math.max(1, max) ** n,
  }],
]);

function reduceTolerance(fold: Fold, c: KernelCase<{ T: DType; keep_dims: boolean }>): Tolerance {
  const [x, axes] = c.inputs;
  const plan = resolveReduction(x.shape, intList(axes), c.attrs.keep_dims);
  const n = plan.reduceSize;
  const max = maxAbs(x);
  const [base, rtol] = fold.error(n, max);
  const bound = base + (fold.subnormalLoss?.(x, plan) ?? 0);
  // A float32 partial result past float32's range overflows to ±Inf (then NaN, as Inf·0), as in
  // TensorFlow's float32 reductions, where the float64 reference stays finite: a bound of float32's
  // range admits that (tests/kernels/compare.ts).
  const reason = "float32 accumulation in reduction order (reduce.ts derives it)";
  return admittingOverflow(
    withBf16(c.attrs.T, { atol: bound, rtol, reason }),
    fold.partial?.(n, max) ?? 0,
  );
}

function reduceKernel(op: ReduceOpDef): TpuKernel {
  const fold = FOLDS.get(op)!;
  return tpuKernel(op, {
    dtypes: TPU_REALS,
    create(c) {
      // The reduction plan and its index by input shape and axes, seeded where both are static
      // (the axes a Const); a fed axis derives them again only when it changes.
      const keepDims = c.attrs.keep_dims, float = isFloat(c.attrs.T);
      const plans = new ShapeMemo((shape, axes) => {
        const plan = resolveReduction(shape, axes, keepDims);
        return { plan, index: reductionIndex(shape, plan) };
      }).seed([c.inputs[0].shape, constIntList(c.node, 1)]);
      return {
        run(ctx) {
          const x = input(ctx, 0);
          const { plan, index } = plans.get(x.shape, intList(ctx.hostInput(1)));
          const n = plan.reduceSize;
          const out = output(ctx, 0, plan.outShape);
          const xs = operand(x), ys = target(out);
          for (let o = 0; o < plan.outSize; o++) {
            let acc = fold.init(float);
            for (let j = o * n, end = j + n; j < end; j++) {
              acc = fold.step(acc, xs[index[j]], float);
            }
            ys[o] = fold.end ? fold.end(acc, n, float) : acc;
          }
          finish(out, ys);
          const widen = x.dtype === "bfloat16" ? x.data.length : 0;
          ctx.device.charge(ctx, {
            vpuOps: x.data.length * fold.ops + widen,
            hbmBytes: x.bytes + out.bytes,
            flops: x.data.length,
          });
        },
      };
    },
    tolerance: (c) => reduceTolerance(fold, c),
  });
}

/** ArgMax (sign 1) or ArgMin (-1): the first extreme index; NaN counts as extreme. */
function argKernel(op: typeof ArgMax, sign: 1 | -1): TpuKernel {
  return tpuKernel(op, {
    dtypes: TPU_REALS,
    create(c) {
      const axes = new ShapeMemo((shape, axis) => resolveArgAxis(shape, axis[0]))
        .seed([c.inputs[0].shape, constIntList(c.node, 1)]);
      return { run: (ctx) => argRun(ctx, axes, sign) };
    },
  });
}

/** One ArgMax/ArgMin run: the axis split from the memo (seeded where the axis is a Const). */
function argRun<A extends Attrs>(
  ctx: TpuContext<A>,
  axes: ShapeMemo<{ outer: number; dim: number; inner: number }>,
  sign: 1 | -1,
): void {
  const x = input(ctx, 0);
  const { outer, dim, inner } = axes.get(x.shape, intList(ctx.hostInput(1)));
  const out = output(ctx, 0);
  const xs = operand(x);
  const wide = out.dtype === "int64";
  const o64 = out.data as BigInt64Array, o32 = out.data as Int32Array;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0, bestV = xs[o * dim * inner + i];
      for (let k = 1; k < dim && bestV === bestV; k++) {
        const v = xs[(o * dim + k) * inner + i];
        if (v !== v || (sign > 0 ? v > bestV : v < bestV)) (best = k), (bestV = v);
      }
      if (wide) o64[o * inner + i] = BigInt(best);
      else o32[o * inner + i] = best;
    }
  }
  ctx.device.charge(ctx, {
    vpuOps: 2 * x.data.length,
    hbmBytes: x.bytes + out.bytes,
  });
}

export const REDUCE_KERNELS: readonly TpuKernel[] = [
  ...[Sum, Mean, Max, Min, Prod].map(reduceKernel),
  argKernel(ArgMax, 1),
  argKernel(ArgMin, -1),
];
