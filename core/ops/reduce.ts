/**
 * Reductions: Sum, Mean, Max, Min, Prod over a set of axes, and ArgMax, ArgMin along one.
 * Floats accumulate in float64 and round once; integers wrap in their own width as TensorFlow's
 * kernels do (int64 through BigInt, so no bits are lost); integer Mean sums wide and truncates.
 */
import { type DType, isInteger, NUMERIC_DTYPES, REAL_DTYPES, roundTo } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type GradientFn, type OpDef } from "../op.ts";
import { meanGrad, minOrMaxGrad, prodGrad, sumGrad } from "../grads/reduce.ts";
import { formatShape, normalizeAxis, type Shape } from "../shape.ts";
import { intList, numbers, Tensor } from "../tensor.ts";
import { arbShape, arbTensor, type ValueRange } from "../testing/arbitrary.ts";
import {
  type AxisSplit,
  checkRank,
  checkScalarLike,
  int32Scalar,
  int32Vector,
  intScalar,
  knownInts,
  knownLength,
  splitAtAxis,
  staticShape,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { unknownShape } from "./infer_util.ts";
import { reductionIndex, reductionShape, resolveReduction } from "./reduce_plan.ts";
import { shuffledRange } from "./transpose.ts";

type ReduceAttrs = { keep_dims: boolean; T: DType; Tidx: DType };
export type ReduceOpDef = OpDef<ReduceAttrs>;

/** How one reduction folds a group of values: as numbers (all but int64) and as int64. */
interface Reducer {
  number(xs: readonly number[], dtype: DType): number;
  bigint(xs: readonly bigint[]): bigint;
}

const INT_LIMITS: Partial<Record<DType, [number, number]>> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
};
const INT64_LIMITS: [bigint, bigint] = [-(2n ** 63n), 2n ** 63n - 1n];
const wrap64 = (x: bigint) => BigInt.asIntN(64, x);
const sumOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
/** The exact sum of 32-bit integers (a double is exact below 2^22 terms of up to 2^31). */
function exactIntSum(xs: readonly number[]): bigint {
  if (xs.length < 2 ** 21) return BigInt(sumOf(xs));
  return xs.reduce((a, b) => a + BigInt(b), 0n);
}

/** Max (sign 1) or Min (sign -1): NaN wins, as in TensorFlow 2; empty gives the identity. */
function extreme(sign: 1 | -1): Reducer {
  return {
    number: (xs, dtype) => {
      const limits = INT_LIMITS[dtype];
      let best = limits ? limits[sign > 0 ? 0 : 1] : -sign * Infinity;
      for (const x of xs) {
        if (Number.isNaN(x)) return NaN;
        if (sign * x > sign * best) best = x;
      }
      return best;
    },
    bigint: (xs) =>
      xs.reduce((b, x) => (sign > 0 ? x > b : x < b) ? x : b, INT64_LIMITS[sign > 0 ? 0 : 1]),
  };
}

const REDUCERS: Record<"Sum" | "Mean" | "Max" | "Min" | "Prod", Reducer> = {
  // Integer sums are exact in float64 here and wrap when stored, as a wrapping accumulator would.
  Sum: { number: sumOf, bigint: (xs) => wrap64(xs.reduce((a, b) => a + b, 0n)) },
  Mean: {
    // TensorFlow sums int8/int32 in int64 (uint8 in uint64) and divides with truncation, so
    // the mean never wraps; int64 sums wrap in int64 before dividing.
    number: (xs, dtype) => {
      if (!isInteger(dtype)) return sumOf(xs) / xs.length;
      return xs.length === 0 ? 0 : Number(exactIntSum(xs) / BigInt(xs.length));
    },
    bigint: (xs) =>
      xs.length === 0 ? 0n : wrap64(xs.reduce((a, b) => a + b, 0n)) / BigInt(xs.length),
  },
  Max: extreme(1),
  Min: extreme(-1),
  // Integer products wrap at every step (a double would lose the low bits first).
  Prod: {
    number: (xs, dtype) => {
      if (dtype === "int32") return xs.reduce((a, b) => Math.imul(a, b), 1);
      if (isInteger(dtype)) return xs.reduce((a, b) => roundTo(dtype as "int8", a * b), 1);
      return xs.reduce((a, b) => a * b, 1);
    },
    bigint: (xs) => xs.reduce((a, b) => wrap64(a * b), 1n),
  },
};

/** Reads the axes argument: a scalar or a vector. */
function axesOf(t: Tensor): number[] {
  if (t.rank > 1) checkRank(t.shape, 1, "reduction_indices");
  return intList(t);
}

function reduceTensor(x: Tensor, axes: readonly number[], keepDims: boolean, r: Reducer): Tensor {
  const plan = resolveReduction(x.shape, axes, keepDims);
  const index = reductionIndex(x.shape, plan);
  const n = plan.reduceSize;
  const group = <V>(values: ArrayLike<V>, o: number) =>
    Array.from({ length: n }, (_, k) => values[index[o * n + k]]);
  if (x.dtype === "int64") {
    const values = x.data as BigInt64Array;
    const out = BigInt64Array.from({ length: plan.outSize }, (_, o) => r.bigint(group(values, o)));
    return new Tensor("int64", plan.outShape, out);
  }
  const values = numbers(x);
  const out = Float64Array.from(
    { length: plan.outSize },
    (_, o) => r.number(group(values, o), x.dtype),
  );
  return Tensor.fromNumbers(x.dtype, plan.outShape, out);
}

/** Value ranges that keep products finite over up to a few hundred elements. */
function rangeFor(name: string, dtype: DType): ValueRange {
  if (name !== "Prod") return {};
  return isInteger(dtype) ? { min: dtype === "uint8" ? 0 : -2, max: 2 } : { min: 0.5, max: 1.5 };
}

function defineReduction(
  name: keyof typeof REDUCERS,
  gradient?: GradientFn<ReduceAttrs>,
): ReduceOpDef {
  return defineOp<ReduceAttrs>({
    name,
    gradient,
    inputs: [{ name: "input", type: "T" }, { name: "reduction_indices", type: "Tidx" }],
    outputs: [{ name: "output", type: "T" }],
    hostMemory: { inputs: [1] },
    attrs: {
      keep_dims: { kind: "bool", default: false },
      T: { kind: "type", allowed: REAL_DTYPES },
      Tidx: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
    },
    infer: ([input, axes], { keep_dims }) => {
      if (axes.shape !== null && axes.shape.length > 1) {
        checkRank(axes.shape, 1, "reduction_indices");
      }
      const shape = reductionShape(
        input.shape,
        knownInts(axes),
        knownLength(axes.shape),
        keep_dims,
      );
      return [{ dtype: input.dtype, shape }];
    },
    reference: ([input, axes], { keep_dims }) => [
      reduceTensor(input, axesOf(axes), keep_dims, REDUCERS[name]),
    ],
    arbitrary: (fc, dtype) =>
      fc.tuple(
        arbTensor(fc, dtype, arbShape(fc, { maxDim: 4 }), rangeFor(name, dtype)),
        fc.nat(),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.boolean(),
      ).map(([x, seed, pick, keep_dims]) => {
        // A shuffled subset of the axes, some negative; one axis is sometimes a scalar.
        const axes = shuffledRange(x.rank, seed).filter((a) => pick[a])
          .map((a) => ((seed >> a) & 1 ? a - x.rank : a));
        const arg = axes.length === 1 && seed % 3 === 0 ? int32Scalar(axes[0]) : int32Vector(axes);
        return { inputs: [x, arg], attrs: { keep_dims } };
      }),
  });
}

export const Sum = defineReduction("Sum", sumGrad);
export const Mean = defineReduction("Mean", meanGrad);
export const Max = defineReduction("Max", minOrMaxGrad);
export const Min = defineReduction("Min", minOrMaxGrad);
export const Prod = defineReduction("Prod", prodGrad);

// ---- ArgMax, ArgMin ----------------------------------------------------------------------

/**
 * ArgMax/ArgMin's `dimension` resolved against the input's shape: the axis in [0, rank) and the
 * split around it. Every device's kernel starts here, so they refuse an empty axis alike.
 */
export function resolveArgAxis(shape: Shape, dimension: number): AxisSplit & { axis: number } {
  const axis = normalizeAxis(dimension, shape.length, "dimension");
  const split = splitAtAxis(shape, axis);
  if (split.dim === 0) {
    throw new EdgeflowError(`reduction axis ${axis} is empty in shape ${formatShape(shape)}`);
  }
  return { axis, ...split };
}

/** The index of the first maximum (sign 1) or minimum (-1) along `axis`; NaN counts as extreme. */
function argReduce(x: Tensor, axis: number, sign: 1 | -1, outType: DType): Tensor {
  const { axis: a, outer, dim, inner } = resolveArgAxis(x.shape, axis);
  const values: ArrayLike<number | bigint> = x.dtype === "int64"
    ? x.data as BigInt64Array
    : numbers(x);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = 0, bestV = values[o * dim * inner + i];
      for (let k = 1; k < dim && bestV === bestV; k++) {
        const v = values[(o * dim + k) * inner + i];
        if (v !== v || (sign > 0 ? v > bestV : v < bestV)) (best = k), (bestV = v);
      }
      out[o * inner + i] = best;
    }
  }
  return Tensor.fromNumbers(outType, [...x.shape.slice(0, a), ...x.shape.slice(a + 1)], out);
}

type ArgAttrs = { T: DType; Tidx: DType; output_type: DType };
export type ArgOpDef = OpDef<ArgAttrs>;

function argShape(input: Shape | null, dimension: number | undefined): Shape | null {
  if (input === null) return null;
  if (dimension === undefined) return unknownShape(Math.max(0, input.length - 1));
  const a = normalizeAxis(dimension, input.length, "dimension");
  return input.filter((_, i) => i !== a);
}

function defineArg(name: string, sign: 1 | -1): ArgOpDef {
  return defineOp<ArgAttrs>({
    name,
    inputs: [{ name: "input", type: "T" }, { name: "dimension", type: "Tidx" }],
    outputs: [{ name: "output", type: "output_type" }],
    hostMemory: { inputs: [1] },
    attrs: {
      T: { kind: "type", allowed: NUMERIC_DTYPES },
      Tidx: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
      output_type: { kind: "type", allowed: ["int32", "int64"], default: "int64" },
    },
    infer: ([input, dimension], { output_type }) => {
      checkScalarLike(dimension.shape, "dimension");
      if (input.shape?.length === 0) throw new EdgeflowError(`${name} needs an input of rank ≥ 1`);
      return [{ dtype: output_type, shape: argShape(input.shape, knownInts(dimension)?.[0]) }];
    },
    reference: ([input, dimension], { output_type }) => [
      argReduce(input, intScalar(dimension, "dimension"), sign, output_type),
    ],
    arbitrary: (fc, dtype) =>
      fc.tuple(
        arbTensor(fc, dtype, arbShape(fc, { minRank: 1 }), { min: -3, max: 3 }),
        fc.nat(),
        fc.constantFrom("int32", "int64"),
      ).map(([x, seed, output_type]) => ({
        // Few distinct values, so ties (first index wins) come up often.
        inputs: [x, int32Scalar((seed % (2 * x.rank)) - x.rank)],
        attrs: { output_type },
      })),
  });
}

export const ArgMax = defineArg("ArgMax", 1);
export const ArgMin = defineArg("ArgMin", -1);

export const REDUCE_OPS: readonly OpDef[] = [Sum, Mean, Max, Min, Prod, ArgMax, ArgMin];

// ---- builders ----------------------------------------------------------------------------

type Reduce = (
  x: TensorLike,
  axis?: number | readonly number[] | TensorLike,
  options?: OpOptions<ReduceAttrs>,
) => Output;
/** Builders reduce over all axes when `axis` is omitted (as tf.reduce_sum), which needs the rank. */
function reduceBuilder(op: ReduceOpDef): Reduce {
  return (x, axis, options = {}) => {
    if (axis === undefined) {
      const shape = staticShape(x);
      if (shape === null) {
        throw new EdgeflowError("reducing over all axes needs an input of known rank", {
          op: op.name,
        });
      }
      axis = shape.map((_, i) => i);
    }
    return apply(op, [x, axis as TensorLike], options).outputs[0];
  };
}
export const sum = reduceBuilder(Sum);
export const mean = reduceBuilder(Mean);
export const max = reduceBuilder(Max);
export const min = reduceBuilder(Min);
export const prod = reduceBuilder(Prod);

type Arg = (x: TensorLike, axis?: TensorLike, options?: OpOptions<ArgAttrs>) => Output;
function argBuilder(op: ArgOpDef): Arg {
  return (x, axis = 0, options = {}) => apply(op, [x, axis], options).outputs[0];
}
/** tf.argmax(x, axis = 0): int64 indices unless output_type says int32. */
export const argMax = argBuilder(ArgMax);
export const argMin = argBuilder(ArgMin);
