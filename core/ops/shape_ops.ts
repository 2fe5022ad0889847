/** Ops that change only the shape: Reshape, ExpandDims, Squeeze, and Shape which reads it. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import {
  formatShape,
  normalizeAxis,
  type PartialShape,
  type Shape as Dims,
  sizeOf,
} from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import { arbShape, arbTensor, randomTensor } from "../testing/arbitrary.ts";
import {
  checkRank,
  checkScalarLike,
  int32Scalar,
  int32Vector,
  intScalar,
  knownInts,
  knownLength,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { unknownShape } from "./infer_util.ts";
import { reshapeGrad } from "../grads/array.ts";

const INDEX_DTYPES: readonly DType[] = ["int32", "int64"];
/** Movement ops accept every dtype, as TensorFlow's `T: type`; tests draw all but resource. */
const ANY: readonly DType[] = ALL_DTYPES;
const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

// ---- Reshape -----------------------------------------------------------------------------

/** Checks a Reshape target (dims ≥ -1, at most one -1) and returns the index of its -1, or -1. */
function checkReshapeTarget(shape: readonly number[]): number {
  const holes = shape.flatMap((d, i) => (d === -1 ? [i] : []));
  if (holes.length > 1 || shape.some((d) => d < -1)) {
    throw new EdgeflowError(
      `the target shape [${shape}] may hold one -1 and otherwise non-negative dims`,
    );
  }
  return holes.length === 1 ? holes[0] : -1;
}

/**
 * Resolves a Reshape target for an input of `inputSize` elements: fills the one -1 and checks the
 * sizes agree. Kernels need nothing else: a reshape never moves data.
 */
export function resolveReshape(inputSize: number, shape: readonly number[]): number[] {
  const hole = checkReshapeTarget(shape);
  const known = sizeOf(shape.filter((d) => d !== -1));
  const out = shape.slice();
  if (hole >= 0) {
    if (known === 0 || inputSize % known !== 0) {
      throw new EdgeflowError(
        `cannot reshape a tensor of ${inputSize} elements to [${shape}]: ` +
          (known === 0
            ? "the -1 is ambiguous next to a 0 dim"
            : `${inputSize} is not a multiple of ${known}`),
      );
    }
    out[hole] = inputSize / known;
  } else if (known !== inputSize) {
    throw new EdgeflowError(
      `cannot reshape a tensor of ${inputSize} elements to [${shape}] (${known} elements)`,
    );
  }
  return out;
}

/** Reshape's output from a partial input and a known target. */
function reshapeKnownTarget(input: PartialShape, target: readonly number[]): number[] {
  if (input !== null && input.every((d) => d >= 0)) return resolveReshape(sizeOf(input), target);
  const hole = checkReshapeTarget(target);
  // With unknown input dims only a fully given target can be checked, and only for divisibility.
  const knownIn = input === null ? 0 : sizeOf(input.filter((d) => d >= 0));
  if (hole < 0 && knownIn > 0 && sizeOf(target) % knownIn !== 0) {
    throw new EdgeflowError(
      `cannot reshape a tensor of shape ${formatShape(input)} to [${target}]: ` +
        `${sizeOf(target)} is not a multiple of ${knownIn}`,
    );
  }
  return target.slice();
}

type ReshapeAttrs = { T: DType; Tshape: DType };
export const Reshape = defineOp<ReshapeAttrs>({
  gradient: reshapeGrad,
  name: "Reshape",
  inputs: [{ name: "tensor", type: "T" }, { name: "shape", type: "Tshape" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: {
    T: { kind: "type", allowed: ANY },
    Tshape: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([tensor, shape]) => {
    if (shape.shape !== null && shape.shape.length > 1) checkRank(shape.shape, 1, "shape");
    const target = knownInts(shape);
    if (target) return [{ dtype: tensor.dtype, shape: reshapeKnownTarget(tensor.shape, target) }];
    const rank = knownLength(shape.shape);
    return [{ dtype: tensor.dtype, shape: unknownShape(rank ?? null) }];
  },
  reference: ([tensor, shape]) => {
    if (shape.rank > 1) checkRank(shape.shape, 1, "shape");
    return [tensor.reshape(resolveReshape(tensor.size, intList(shape)))];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbTensor(fc, dtype, arbShape(fc)),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.boolean(),
      fc.integer({ min: -1, max: 4 }),
    ).map(([x, merges, reverse, hole]) => {
      // Merge some adjacent dims, maybe reverse them, maybe leave one to be inferred (-1).
      const dims: number[] = [];
      x.shape.forEach((d, i) => {
        if (i > 0 && merges[i]) dims[dims.length - 1] *= d;
        else dims.push(d);
      });
      if (reverse) dims.reverse();
      if (hole >= 0 && hole < dims.length) dims[hole] = -1;
      return { inputs: [x, int32Vector(dims)], attrs: {} };
    }),
  testDTypes: TESTED,
});

// ---- ExpandDims --------------------------------------------------------------------------

/** The shape with a 1 inserted at `axis` ∈ [-rank-1, rank]. */
export function expandDimsShape(shape: Dims, axis: number): number[] {
  const a = normalizeAxis(axis, shape.length + 1, "dim");
  return [...shape.slice(0, a), 1, ...shape.slice(a)];
}

type ExpandDimsAttrs = { T: DType; Tdim: DType };
export const ExpandDims = defineOp<ExpandDimsAttrs>({
  gradient: reshapeGrad,
  name: "ExpandDims",
  inputs: [{ name: "input", type: "T" }, { name: "dim", type: "Tdim" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: {
    T: { kind: "type", allowed: ANY },
    Tdim: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([input, dim]) => {
    checkScalarLike(dim.shape, "dim");
    const axis = knownInts(dim);
    if (input.shape === null) return [{ dtype: input.dtype, shape: null }];
    if (axis === undefined) {
      return [{ dtype: input.dtype, shape: unknownShape(input.shape.length + 1) }];
    }
    if (axis.length !== 1) throw new EdgeflowError(`dim must hold one value, got [${axis}]`);
    return [{ dtype: input.dtype, shape: expandDimsShape(input.shape, axis[0]) }];
  },
  reference: ([input, dim]) => [input.reshape(expandDimsShape(input.shape, intScalar(dim, "dim")))],
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc, { maxRank: 3 })).chain((x) =>
      fc.integer({ min: -x.rank - 1, max: x.rank }).map((axis) => ({
        inputs: [x, int32Scalar(axis)],
        attrs: {},
      }))
    ),
  testDTypes: TESTED,
});

// ---- Squeeze -----------------------------------------------------------------------------

/**
 * Squeeze's output: drops the listed dims (which must be 1, or unknown in inference), or every
 * dim of size 1 when none are listed. Returns null when an unlisted unknown dim makes the rank
 * unknowable.
 */
export function squeezeShape(
  shape: readonly number[],
  squeezeDims: readonly number[],
): number[] | null {
  const rank = shape.length;
  const drop = new Set(squeezeDims.map((a) => normalizeAxis(a, rank, "squeeze dim")));
  if (drop.size === 0) {
    if (shape.some((d) => d < 0)) return null;
    return shape.filter((d) => d !== 1);
  }
  for (const a of drop) {
    if (shape[a] >= 0 && shape[a] !== 1) {
      throw new EdgeflowError(
        `cannot squeeze dim ${a}: expected a dimension of 1, got ${shape[a]}`,
      );
    }
  }
  return shape.filter((_, i) => !drop.has(i));
}

type SqueezeAttrs = { T: DType; squeeze_dims: readonly number[] };
export const Squeeze = defineOp<SqueezeAttrs>({
  gradient: reshapeGrad,
  name: "Squeeze",
  inputs: [{ name: "input", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: {
    T: { kind: "type", allowed: ANY },
    squeeze_dims: { kind: "list(int)", default: [] },
  },
  infer: ([input], { squeeze_dims }) => [{
    dtype: input.dtype,
    shape: input.shape === null ? null : squeezeShape(input.shape, squeeze_dims),
  }],
  reference: (
    [input],
    { squeeze_dims },
  ) => [input.reshape(squeezeShape(input.shape, squeeze_dims)!)],
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { maxDim: 3 }),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.nat(),
    ).map(([dims, ones, pick, seed]) => {
      // Force some dims to 1, then squeeze a subset of the 1s (negative half the time).
      const shape = dims.map((d, i) => (ones[i] ? 1 : d));
      const squeeze = shape.flatMap((d, i) =>
        d === 1 && pick[i] ? [seed % 2 ? i - shape.length : i] : []
      );
      return { inputs: [randomTensor(dtype, shape, seed)], attrs: { squeeze_dims: squeeze } };
    }),
  testDTypes: TESTED,
});

// ---- Shape -------------------------------------------------------------------------------

type ShapeAttrs = { T: DType; out_type: DType };
export const Shape = defineOp<ShapeAttrs>({
  name: "Shape",
  inputs: [{ name: "input", type: "T" }],
  outputs: [{ name: "output", type: "out_type" }],
  hostMemory: { outputs: [0] },
  attrs: {
    T: { kind: "type", allowed: ANY },
    out_type: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([input], { out_type }) => [{
    dtype: out_type,
    shape: [input.shape === null ? -1 : input.shape.length],
  }],
  reference: ([input], { out_type }) => [
    Tensor.fromNumbers(out_type, [input.rank], input.shape),
  ],
  arbitrary: (fc, dtype) =>
    fc.tuple(arbTensor(fc, dtype, arbShape(fc)), fc.constantFrom(...INDEX_DTYPES))
      .map(([x, out_type]) => ({ inputs: [x], attrs: { out_type } })),
  testDTypes: TESTED,
});

export const SHAPE_OPS: readonly OpDef[] = [Reshape, ExpandDims, Squeeze, Shape];

// ---- builders ----------------------------------------------------------------------------

export function reshape(
  tensor: TensorLike,
  shape: TensorLike,
  options: OpOptions<ReshapeAttrs> = {},
): Output {
  return apply(Reshape, [tensor, shape], options).outputs[0];
}
export function expandDims(
  input: TensorLike,
  axis: TensorLike,
  options: OpOptions<ExpandDimsAttrs> = {},
): Output {
  return apply(ExpandDims, [input, axis], options).outputs[0];
}
/** Removes the listed size-1 dims, or all of them when `axis` is omitted (tf.squeeze). */
export function squeeze(
  input: TensorLike,
  axis?: readonly number[],
  options: OpOptions<SqueezeAttrs> = {},
): Output {
  const attrs = axis === undefined ? options : { ...options, squeeze_dims: axis };
  return apply(Squeeze, [input], attrs).outputs[0];
}
export function shape(input: TensorLike, options: OpOptions<ShapeAttrs> = {}): Output {
  return apply(Shape, [input], options).outputs[0];
}
