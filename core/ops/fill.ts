/** Ops that make tensors from a shape or a sequence: Fill, ZerosLike, OnesLike and Range. */
import { ALL_DTYPES, type DType, isInteger, NUMERIC_DTYPES, roundTo } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { numberAt, Tensor } from "../tensor.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import {
  checkRank,
  int32Vector,
  intVector,
  knownInts,
  knownLength,
  repeatElement,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { unknownShape } from "./infer_util.ts";
import { fillGrad } from "../grads/array.ts";
import { notDifferentiable } from "../grads/math.ts";

const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

// ---- Fill --------------------------------------------------------------------------------

function checkDims(dims: readonly number[]): number[] {
  const bad = dims.find((d) => d < 0);
  if (bad !== undefined) throw new EdgeflowError(`dims [${dims}] must be non-negative`);
  return dims.slice();
}

type FillAttrs = { T: DType; index_type: DType };
export const Fill = defineOp<FillAttrs>({
  gradient: fillGrad,
  name: "Fill",
  inputs: [{ name: "dims", type: "index_type" }, { name: "value", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [0] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    index_type: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
  },
  infer: ([dims, value]) => {
    checkRank(dims.shape, 1, "dims");
    checkRank(value.shape, 0, "value");
    const known = knownInts(dims);
    const shape = known ? checkDims(known) : unknownShape(knownLength(dims.shape) ?? null);
    return [{ dtype: value.dtype, shape }];
  },
  reference: ([dims, value]) => {
    checkRank(value.shape, 0, "value");
    return [repeatElement(value, checkDims(intVector(dims, "dims")))];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc), arbTensor(fc, dtype, [])).map(([shape, value]) => ({
      inputs: [int32Vector(shape), value],
      attrs: {},
    })),
  testDTypes: TESTED,
});

// ---- ZerosLike, OnesLike -----------------------------------------------------------------

type LikeAttrs = { T: DType };
/** Zeros of every dtype: 0, false, and "" for strings (allocStorage's zero fill). */
export const ZerosLike = defineOp<LikeAttrs>({
  gradient: notDifferentiable,
  name: "ZerosLike",
  inputs: [{ name: "x", type: "T" }],
  outputs: [{ name: "y", type: "T" }],
  attrs: { T: { kind: "type", allowed: ALL_DTYPES } },
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  reference: ([x]) => [Tensor.zeros(x.dtype, x.shape)],
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).map((x) => ({ inputs: [x], attrs: {} })),
  testDTypes: TESTED,
});

export const OnesLike = defineOp<LikeAttrs>({
  gradient: notDifferentiable,
  name: "OnesLike",
  inputs: [{ name: "x", type: "T" }],
  outputs: [{ name: "y", type: "T" }],
  attrs: { T: { kind: "type", allowed: NUMERIC_DTYPES } },
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  reference: ([x]) => [Tensor.fromNumbers(x.dtype, x.shape, new Float64Array(x.size).fill(1))],
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).map((x) => ({ inputs: [x], attrs: {} })),
});

// ---- Range -------------------------------------------------------------------------------

/** TensorFlow's Range dtypes that Edgeflow has. */
const RANGE_DTYPES: readonly DType[] = ["bfloat16", "float16", "float32", "int8", "int32", "int64"];

/**
 * The length of Range(start, limit, delta) in dtype T, computed as TensorFlow does: integer
 * ceil-division for ints, ceil(|(limit - start) / delta|) in T's own arithmetic for floats.
 */
export function rangeSize(start: number, limit: number, delta: number, dtype: DType): number {
  checkRangeArgs(start, limit, delta);
  if (isInteger(dtype)) {
    return Math.floor((Math.abs(limit - start) + Math.abs(delta) - 1) / Math.abs(delta));
  }
  const r = (x: number) => roundTo(dtype as "float32", x);
  return Math.ceil(Math.abs(r(r(limit - start) / delta)));
}

/**
 * Element i of a Range: start + i * delta in T's arithmetic. TensorFlow's GPU kernel computes it
 * this way; its CPU kernel adds delta repeatedly, which drifts for floats. Every Edgeflow device
 * uses the closed form, which parallelises.
 */
export function rangeElement(start: number, delta: number, i: number, dtype: DType): number {
  if (isInteger(dtype)) return start + i * delta;
  const r = (x: number) => roundTo(dtype as "float32", x);
  return r(start + r(r(i) * delta));
}

/** Range's checks on its arguments, shared by the number and the int64 forms. */
function checkRangeArgs<T extends number | bigint>(start: T, limit: T, delta: T): void {
  if (Number(delta) === 0) throw new EdgeflowError("Range requires delta != 0");
  if (delta > 0 && start > limit) {
    throw new EdgeflowError(`Range requires start <= limit when delta > 0: ${start}/${limit}`);
  }
  if (delta < 0 && start < limit) {
    throw new EdgeflowError(`Range requires start >= limit when delta < 0: ${start}/${limit}`);
  }
}

/**
 * The length of an int64 Range, exactly: ceil(|limit - start| / |delta|) in BigInt, so arguments
 * past 2^53 neither lose bits nor (as TensorFlow's int64 subtraction could) overflow.
 */
export function rangeSize64(start: bigint, limit: bigint, delta: bigint): number {
  checkRangeArgs(start, limit, delta);
  const span = limit > start ? limit - start : start - limit;
  const step = delta < 0n ? -delta : delta;
  return Number((span + step - 1n) / step);
}

/** A scalar argument of Range, checked to be a scalar. */
function rangeArgs(inputs: readonly Tensor[]): Tensor[] {
  inputs.forEach((t, i) => checkRank(t.shape, 0, ["start", "limit", "delta"][i]));
  return inputs.slice(0, 3);
}

/**
 * Range's output from its three host scalars: the reference's meaning, used by every device that
 * computes Range on the host. int64 elements are start + i·delta in BigInt; they all lie between
 * start and limit, so none wraps.
 */
export function rangeTensor(inputs: readonly Tensor[], dtype: DType): Tensor {
  const [s, l, d] = rangeArgs(inputs);
  if (dtype === "int64") {
    const [start, limit, delta] = [s, l, d].map((t) => (t.data as BigInt64Array)[0]);
    const n = rangeSize64(start, limit, delta);
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = start + BigInt(i) * delta;
    return new Tensor("int64", [n], out);
  }
  const [start, limit, delta] = [s, l, d].map((t) => numberAt(t, 0));
  const n = rangeSize(start, limit, delta, dtype);
  const values = Float64Array.from({ length: n }, (_, i) => rangeElement(start, delta, i, dtype));
  return Tensor.fromNumbers(dtype, [n], values);
}

/** Range's length from known argument values (inference). */
function rangeLength(values: readonly Tensor[], dtype: DType): number {
  if (dtype === "int64") {
    const [start, limit, delta] = values.map((t) => (t.data as BigInt64Array)[0]);
    return rangeSize64(start, limit, delta);
  }
  const [start, limit, delta] = values.map((t) => numberAt(t, 0));
  return rangeSize(start, limit, delta, dtype);
}

type RangeAttrs = { Tidx: DType };
export const Range = defineOp<RangeAttrs>({
  gradient: notDifferentiable,
  name: "Range",
  inputs: [
    { name: "start", type: "Tidx" },
    { name: "limit", type: "Tidx" },
    { name: "delta", type: "Tidx" },
  ],
  outputs: [{ name: "output", type: "Tidx" }],
  hostMemory: { inputs: [0, 1, 2] },
  attrs: { Tidx: { kind: "type", allowed: RANGE_DTYPES, default: "int32" } },
  infer: (inputs, { Tidx }) => {
    const names = ["start", "limit", "delta"];
    inputs.forEach((x, i) => checkRank(x.shape, 0, names[i]));
    if (inputs.some((x) => !x.value)) return [{ dtype: Tidx, shape: [-1] }];
    return [{ dtype: Tidx, shape: [rangeLength(inputs.map((x) => x.value!), Tidx)] }];
  },
  reference: (inputs, { Tidx }) => [rangeTensor(inputs, Tidx)],
  arbitrary: (fc, dtype) =>
    fc.tuple(
      fc.integer({ min: -20, max: 20 }),
      fc.integer({ min: 0, max: 30 }),
      fc.constantFrom(1, 2, 3, -1, -2, 0.5, -0.25, 0.75),
    ).map(([start, span, step]) => {
      // Integer dtypes get integer steps; floats use steps exact in every float dtype.
      const delta = isInteger(dtype)
        ? Math.sign(step) * Math.max(1, Math.round(Math.abs(step)))
        : step;
      const limit = start + Math.sign(delta) * span * (isInteger(dtype) ? 1 : 0.5);
      const scalar = (v: number) => Tensor.fromNumbers(dtype, [], [v]);
      return { inputs: [scalar(start), scalar(limit), scalar(delta)], attrs: {} };
    }),
});

export const FILL_OPS: readonly OpDef[] = [Fill, ZerosLike, OnesLike, Range];

// ---- builders ----------------------------------------------------------------------------

export function fill(
  dims: TensorLike,
  value: TensorLike,
  options: OpOptions<FillAttrs> = {},
): Output {
  return apply(Fill, [dims, value], options).outputs[0];
}
export function zerosLike(x: TensorLike, options: OpOptions<LikeAttrs> = {}): Output {
  return apply(ZerosLike, [x], options).outputs[0];
}
export function onesLike(x: TensorLike, options: OpOptions<LikeAttrs> = {}): Output {
  return apply(OnesLike, [x], options).outputs[0];
}

/**
 * tf.range(start, limit, delta): literal arguments are int32 when all are integers, else
 * float32, unless `Tidx` says otherwise or an Output argument fixes the dtype.
 */
export function range(
  start: TensorLike,
  limit: TensorLike,
  delta: TensorLike = 1,
  options: OpOptions<RangeAttrs> = {},
): Output {
  const args = [start, limit, delta];
  const typed = args.find((a) => typeof a === "object" && a !== null && "dtype" in a) as
    | { dtype: DType }
    | undefined;
  const allInts = args.every((a) => typeof a !== "number" || Number.isInteger(a));
  const Tidx = options.Tidx ?? typed?.dtype ?? (allInts ? "int32" : "float32");
  return apply(Range, args, { ...options, Tidx }).outputs[0];
}
