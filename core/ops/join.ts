/** Joining and splitting along an axis: ConcatV2, Pack (stack) and Unpack (unstack). */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import {
  formatShape,
  mergeShapes,
  normalizeAxis,
  type PartialShape,
  type Shape,
  shapesEqual,
  sizeOf,
} from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import {
  checkRank,
  elementsOf,
  fromElements,
  int32Scalar,
  intScalar,
  knownInts,
  newElements,
  staticShape,
} from "./array_util.ts";
import { identity } from "./basic.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { mergeDim, unknownShape } from "./infer_util.ts";
import { concatGrad, packGrad, unpackGrad } from "../grads/array.ts";

const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");
const atLeast = (n: number) => (v: number) => (v >= n ? undefined : `must be ≥ ${n}`);

// ---- ConcatV2 ----------------------------------------------------------------------------

/**
 * ConcatV2's output shape from partial input shapes and an axis (undefined when unknown). The
 * inputs must share a rank ≥ 1 and agree on every dim but the axis.
 */
export function concatShape(
  shapes: readonly PartialShape[],
  axis: number | undefined,
): PartialShape {
  const known = shapes.filter((s): s is Shape => s !== null);
  if (known.length === 0) return null;
  const rank = known[0].length;
  if (known.some((s) => s.length !== rank)) {
    throw new EdgeflowError(
      `values must all have one rank, got ${shapes.map(formatShape).join(", ")}`,
    );
  }
  if (rank === 0) throw new EdgeflowError("cannot concatenate scalars (use Pack / stack)");
  if (axis === undefined) return unknownShape(rank);
  const a = normalizeAxis(axis, rank);
  return Array.from({ length: rank }, (_, d) => {
    if (d !== a) {
      return known.reduce((m, s) => mergeDim(m, s[d], `values disagree on dim ${d}`), -1);
    }
    // The concatenated dim is known only when every input's is.
    if (known.length < shapes.length || known.some((s) => s[a] < 0)) return -1;
    return known.reduce((n, s) => n + s[a], 0);
  });
}

/**
 * How kernels concatenate: the output is `outer` rows, each the inputs' rows side by side;
 * input i contributes `widths[i]` contiguous elements per row.
 */
export interface ConcatPlan {
  /** The axis, normalised. */
  axis: number;
  outShape: number[];
  /** Product of the dims before the axis. */
  outer: number;
  /** Per input: its elements per row, dim[axis] × (product of the dims after the axis). */
  widths: number[];
}
export function resolveConcat(shapes: readonly Shape[], axis: number): ConcatPlan {
  const outShape = concatShape(shapes, axis) as number[];
  const a = normalizeAxis(axis, outShape.length);
  return {
    axis: a,
    outShape,
    outer: sizeOf(outShape.slice(0, a)),
    widths: shapes.map((s) => sizeOf(s.slice(a))),
  };
}

/** Interleaves rows: output row o is row o of each source in turn. Storage copied verbatim. */
function joinRows(
  dtype: DType,
  shape: Shape,
  sources: readonly Tensor[],
  outer: number,
  widths: readonly number[],
): Tensor {
  const out = newElements(dtype, sizeOf(shape));
  let k = 0;
  for (let o = 0; o < outer; o++) {
    sources.forEach((t, i) => {
      const src = elementsOf(t);
      for (let j = o * widths[i], end = j + widths[i]; j < end; j++) out[k++] = src[j];
    });
  }
  return fromElements(dtype, shape, out);
}

type ConcatAttrs = { N: number; T: DType; Tidx: DType };
export const ConcatV2 = defineOp<ConcatAttrs>({
  gradient: concatGrad,
  name: "ConcatV2",
  inputs: [{ name: "values", type: "T", numberAttr: "N" }, { name: "axis", type: "Tidx" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [-1] },
  attrs: {
    N: { kind: "int", validate: atLeast(2) },
    T: { kind: "type", allowed: ALL_DTYPES },
    Tidx: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
  },
  infer: (inputs) => {
    const axis = inputs[inputs.length - 1];
    checkRank(axis.shape, 0, "axis");
    const values = inputs.slice(0, -1);
    return [{
      dtype: values[0].dtype,
      shape: concatShape(values.map((v) => v.shape), knownInts(axis)?.[0]),
    }];
  },
  reference: (inputs) => {
    const values = inputs.slice(0, -1);
    const plan = resolveConcat(
      values.map((v) => v.shape),
      intScalar(inputs[inputs.length - 1], "axis"),
    );
    return [joinRows(values[0].dtype, plan.outShape, values, plan.outer, plan.widths)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 2, maxLength: 4 }),
      fc.nat(),
      fc.boolean(),
    ).map(([base, sizes, seed, negative]) => {
      const a = seed % base.length;
      const values = sizes.map((n, i) =>
        randomTensor(dtype, base.map((d, j) => (j === a ? n : d)), seed + i)
      );
      return { inputs: [...values, int32Scalar(negative ? a - base.length : a)], attrs: {} };
    }),
  testDTypes: TESTED,
});

// ---- Pack --------------------------------------------------------------------------------

/**
 * How kernels stack and unstack: each of the N pieces is viewed as [outer, inner] and the packed
 * tensor as [outer, N, inner]; piece i is row block i of every outer row.
 */
export interface PackPlan {
  /** The packed tensor's new (Pack) or removed (Unpack) axis, normalised. */
  axis: number;
  /** The shape of the packed tensor. */
  packedShape: number[];
  /** The shape of each piece. */
  pieceShape: number[];
  /** Product of the piece's dims before the axis. */
  outer: number;
  /** Product of the piece's dims from the axis on. */
  inner: number;
}

/** Pack/Unpack's axis check, with TensorFlow's range in the message. */
function packAxis(axis: number, rank: number): number {
  if (axis < -rank || axis >= rank) {
    throw new EdgeflowError(`invalid axis ${axis}: must be in [${-rank}, ${rank})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Stacking n pieces of `pieceShape` along `axis` ∈ [-rank-1, rank]. */
export function resolvePack(pieceShape: readonly number[], n: number, axis: number): PackPlan {
  const a = packAxis(axis, pieceShape.length + 1);
  return {
    axis: a,
    packedShape: [...pieceShape.slice(0, a), n, ...pieceShape.slice(a)],
    pieceShape: pieceShape.slice(),
    outer: sizeOf(pieceShape.slice(0, a)),
    inner: sizeOf(pieceShape.slice(a)),
  };
}

/** Stacking pieces of these shapes, which must be equal: Pack's run-time check on every device. */
export function resolvePackOf(shapes: readonly (readonly number[])[], axis: number): PackPlan {
  const shape = shapes[0];
  shapes.forEach((s, i) => {
    if (!shapesEqual(s, shape)) {
      throw new EdgeflowError(
        `values[0] has shape ${formatShape(shape)} but values[${i}] has ${formatShape(s)}`,
      );
    }
  });
  return resolvePack(shape, shapes.length, axis);
}

/** Unstacking `shape` into `num` pieces along `axis` ∈ [-rank, rank); num must match the dim. */
export function resolveUnpack(shape: readonly number[], num: number, axis: number): PackPlan {
  if (shape.length === 0) throw new EdgeflowError("cannot unpack a scalar");
  const a = packAxis(axis, shape.length);
  if (shape[a] >= 0 && shape[a] !== num) {
    throw new EdgeflowError(`num = ${num} does not match dim ${a} of shape ${formatShape(shape)}`);
  }
  return resolvePack(shape.filter((_, i) => i !== a), num, a);
}

type PackAttrs = { N: number; T: DType; axis: number };
export const Pack = defineOp<PackAttrs>({
  gradient: packGrad,
  name: "Pack",
  inputs: [{ name: "values", type: "T", numberAttr: "N" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: {
    N: { kind: "int", validate: atLeast(1) },
    T: { kind: "type", allowed: ALL_DTYPES },
    axis: { kind: "int", default: 0 },
  },
  infer: (values, { axis }) => {
    const merged = values.reduce<PartialShape>(
      (m, v, i) => mergeShapes(m, v.shape, `shapes of values[0] and values[${i}]`),
      null,
    );
    const shape = merged && resolvePack(merged, values.length, axis).packedShape;
    return [{ dtype: values[0].dtype, shape }];
  },
  reference: (values, { axis }) => {
    // Stacking is joining rows: each outer row of the output is row o of every piece in turn.
    const { packedShape, outer, inner } = resolvePackOf(values.map((v) => v.shape), axis);
    return [joinRows(values[0].dtype, packedShape, values, outer, values.map(() => inner))];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { maxRank: 3 }), fc.integer({ min: 1, max: 4 }), fc.nat())
      .map(([shape, n, seed]) => ({
        inputs: Array.from({ length: n }, (_, i) => randomTensor(dtype, shape, seed + i)),
        attrs: { axis: (seed % (2 * shape.length + 2)) - shape.length - 1 },
      })),
  testDTypes: TESTED,
});

// ---- Unpack ------------------------------------------------------------------------------

type UnpackAttrs = { num: number; T: DType; axis: number };
export const Unpack = defineOp<UnpackAttrs>({
  gradient: unpackGrad,
  name: "Unpack",
  inputs: [{ name: "value", type: "T" }],
  outputs: [{ name: "output", type: "T", numberAttr: "num" }],
  attrs: {
    num: { kind: "int", validate: atLeast(0) },
    T: { kind: "type", allowed: ALL_DTYPES },
    axis: { kind: "int", default: 0 },
  },
  infer: ([value], { num, axis }) => {
    const shape = value.shape && resolveUnpack(value.shape, num, axis).pieceShape;
    return Array.from({ length: num }, () => ({ dtype: value.dtype, shape }));
  },
  reference: ([value], { num, axis }) => {
    const { pieceShape, outer, inner } = resolveUnpack(value.shape, num, axis);
    const src = elementsOf(value);
    return Array.from({ length: num }, (_, i) => {
      const out = newElements(value.dtype, outer * inner);
      for (let o = 0, k = 0; o < outer; o++) {
        const from = (o * num + i) * inner;
        for (let j = 0; j < inner; j++) out[k++] = src[from + j];
      }
      return fromElements(value.dtype, pieceShape, out);
    });
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { minRank: 1, maxRank: 4 }), fc.nat()).map(([shape, seed]) => {
      const axis = (seed % (2 * shape.length)) - shape.length;
      const num = shape[axis < 0 ? axis + shape.length : axis];
      return { inputs: [randomTensor(dtype, shape, seed)], attrs: { num, axis } };
    }),
  testDTypes: TESTED,
});

export const JOIN_OPS: readonly OpDef[] = [ConcatV2, Pack, Unpack];

// ---- builders ----------------------------------------------------------------------------

/** tf.concat: one value is returned as is (ConcatV2 needs N ≥ 2). */
export function concat(
  values: readonly TensorLike[],
  axis: TensorLike,
  options: OpOptions<ConcatAttrs> = {},
): Output {
  if (values.length === 1) {
    const { N: _n, Tidx: _t, ...rest } = options;
    return identity(values[0], rest);
  }
  return apply(ConcatV2, [values, axis], options).outputs[0];
}
export function stack(values: readonly TensorLike[], options: OpOptions<PackAttrs> = {}): Output {
  return apply(Pack, [values], options).outputs[0];
}
/** tf.unstack: `num` defaults to the value's dim at `axis`, which must then be known. */
export function unstack(value: TensorLike, options: OpOptions<UnpackAttrs> = {}): Output[] {
  let num = options.num;
  if (num === undefined) {
    const shape = staticShape(value);
    const dim = shape === null ? -1 : shape[normalizeAxis(options.axis ?? 0, shape.length)];
    if (dim < 0) {
      throw new EdgeflowError("unstack needs `num` when the dim to unstack is unknown", {
        op: "Unpack",
      });
    }
    num = dim;
  }
  return [...apply(Unpack, [value], { ...options, num }).outputs];
}
