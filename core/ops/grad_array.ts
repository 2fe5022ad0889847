/**
 * Ops the gradients of array and reduction ops use, with TensorFlow's semantics: StopGradient,
 * BroadcastGradientArgs (which dims of each operand a broadcast replicated), UnsortedSegmentSum
 * (GatherV2's gradient), StridedSliceGrad, ConcatOffset and InvertPermutation.
 */
import { ALL_DTYPES, type DType, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type InputCheck, type OpDef } from "../op.ts";
import { formatShape, type PartialShape, type Shape, sizeOf, stridesOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, arbTensor, randomTensor } from "../testing/arbitrary.ts";
import {
  checkRank,
  elementsOf,
  fromElements,
  int32Scalar,
  int32Vector,
  intScalar,
  intVector,
  knownInts,
  knownLength,
  newElements,
  stridedIndex,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { StridedSlice } from "./slice.ts";
import { shuffledRange } from "./transpose.ts";
import { MapHostContext } from "../host_context.ts";
import { unknownShape } from "./infer_util.ts";
import { resolveStridedSlice, type StridedSliceMasks } from "./slice_spec.ts";

const INDEX_DTYPES: readonly DType[] = ["int32", "int64"];
const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

// ---- StopGradient ----------------------------------------------------------------------

type StopGradientAttrs = { T: DType };
/** The identity in the forward pass; `gradients()` sends no gradient through it. */
export const StopGradient: OpDef<StopGradientAttrs> = defineOp<StopGradientAttrs>({
  name: "StopGradient",
  inputs: [{ name: "input", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: { T: { kind: "type", allowed: ALL_DTYPES } },
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  reference: ([x]) => [x],
  // TensorFlow registers StopGradient as not differentiable: no gradient reaches its input.
  gradient: () => [null],
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).map((x) => ({ inputs: [x], attrs: {} })),
  testDTypes: TESTED,
});

// ---- BroadcastGradientArgs -------------------------------------------------------------

/**
 * For shapes s0 and s1 that broadcast together: the dims of the broadcast shape each operand's
 * gradient must be summed over, ascending. Like TensorFlow's BCast (without its fewer-dims
 * rewrite): a dim where both are 1 is listed for both, a missing leading dim counts as 1, and
 * shapes that do not broadcast are an error.
 */
export function broadcastGradientArgs(s0: Shape, s1: Shape): [number[], number[]] {
  const rank = Math.max(s0.length, s1.length);
  const r0: number[] = [], r1: number[] = [];
  for (let i = 0; i < rank; i++) {
    const a = i < rank - s0.length ? 1 : s0[i - (rank - s0.length)];
    const b = i < rank - s1.length ? 1 : s1[i - (rank - s1.length)];
    if (a === b) {
      if (a === 1) r0.push(i), r1.push(i);
    } else if (a === 1) r0.push(i);
    else if (b === 1) r1.push(i);
    else {
      throw new EdgeflowError(
        `Incompatible shapes: ${formatShape(s0)} vs. ${formatShape(s1)}`,
      );
    }
  }
  return [r0, r1];
}

type BroadcastGradientArgsAttrs = { T: DType };
export const BroadcastGradientArgs: OpDef<BroadcastGradientArgsAttrs> = defineOp<
  BroadcastGradientArgsAttrs
>({
  name: "BroadcastGradientArgs",
  inputs: [{ name: "s0", type: "T" }, { name: "s1", type: "T" }],
  outputs: [{ name: "r0", type: "T" }, { name: "r1", type: "T" }],
  // Shape arithmetic: HostMemory for every argument, as TensorFlow registers it on devices.
  hostMemory: { inputs: [0, 1], outputs: [0, 1] },
  attrs: { T: { kind: "type", allowed: INDEX_DTYPES, default: "int32" } },
  infer: ([s0, s1], { T }) => {
    checkRank(s0.shape, 1, "s0");
    checkRank(s1.shape, 1, "s1");
    const a = knownInts(s0), b = knownInts(s1);
    if (a && b) {
      const [r0, r1] = broadcastGradientArgs(a, b);
      return [{ dtype: T, shape: [r0.length] }, { dtype: T, shape: [r1.length] }];
    }
    return [{ dtype: T, shape: [-1] }, { dtype: T, shape: [-1] }];
  },
  reference: ([s0, s1], { T }) => {
    const [r0, r1] = broadcastGradientArgs(intVector(s0, "s0"), intVector(s1, "s1"));
    return [r0, r1].map((r) => Tensor.fromNumbers(T, [r.length], r));
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minDim: 0 }),
      fc.integer({ min: 0, max: 4 }),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      fc.boolean(),
    ).map(([full, drop, ones, swap]) => {
      const other = full.slice(Math.min(drop, full.length)).map((d, i) => (ones[i] ? 1 : d));
      const [a, b] = swap ? [other, full] : [full, other];
      const vector = (s: number[]) => Tensor.fromNumbers(dtype, [s.length], s);
      return { inputs: [vector(a), vector(b)], attrs: {} };
    }),
  testDTypes: INDEX_DTYPES,
});

// ---- UnsortedSegmentSum ----------------------------------------------------------------

type SegmentAttrs = { T: DType; Tindices: DType; Tnumsegments: DType };

/** [num_segments] + data.shape[rank(segment_ids):], checking segment_ids' shape is a prefix. */
function segmentShape(data: PartialShape, ids: PartialShape, n: number): PartialShape {
  if (data === null || ids === null) return null;
  if (ids.length > data.length || ids.some((d, i) => d >= 0 && data[i] >= 0 && d !== data[i])) {
    throw new EdgeflowError(
      `segment_ids shape ${formatShape(ids)} must be a prefix of data shape ${formatShape(data)}`,
    );
  }
  return [n, ...data.slice(ids.length)];
}

/**
 * segment_ids must be below num_segments (negative ids are dropped, not refused), and
 * num_segments non-negative: TensorFlow's CPU kernel refuses both before summing. A run-time
 * check, so every device refuses them before its kernel reads anything.
 */
const segmentIdsInRange: InputCheck<SegmentAttrs> = {
  reads: [1, 2],
  run(values) {
    const count = intScalar(values[2]!, "num_segments");
    if (count < 0) throw new EdgeflowError(`num_segments must be non-negative, got ${count}`);
    const is = numbers(values[1]!);
    for (let j = 0; j < is.length; j++) {
      if (is[j] >= count) {
        throw new EdgeflowError(`segment_ids[${j}] = ${is[j]} is out of range [0, ${count})`);
      }
    }
  },
};

/**
 * Sums the slices of `data` that share a segment id: output[i] = Σ data[j...] over j with
 * segment_ids[j] = i. Negative ids are dropped, ids ≥ num_segments are an error, and segments no
 * id names are 0 (TensorFlow's semantics).
 */
export const UnsortedSegmentSum: OpDef<SegmentAttrs> = defineOp<SegmentAttrs>({
  name: "UnsortedSegmentSum",
  inputs: [
    { name: "data", type: "T" },
    { name: "segment_ids", type: "Tindices" },
    { name: "num_segments", type: "Tnumsegments" },
  ],
  outputs: [{ name: "output", type: "T" }],
  // num_segments is HostMemory in TensorFlow's device kernels; the ids are checked before any
  // kernel runs, so devices that cannot raise an error (a shader) never see one out of range.
  hostMemory: { inputs: [2] },
  checks: [segmentIdsInRange],
  attrs: {
    T: { kind: "type", allowed: REAL_DTYPES },
    Tindices: { kind: "type", allowed: INDEX_DTYPES },
    Tnumsegments: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([data, ids, n]) => {
    checkRank(n.shape, 0, "num_segments");
    const count = knownInts(n)?.[0];
    if (count !== undefined && count < 0) {
      throw new EdgeflowError(`num_segments must be non-negative, got ${count}`);
    }
    return [{ dtype: data.dtype, shape: segmentShape(data.shape, ids.shape, count ?? -1) }];
  },
  reference: ([data, ids, n]) => {
    const count = intScalar(n, "num_segments");
    const shape = segmentShape(data.shape, ids.shape, count) as Shape;
    const inner = sizeOf(data.shape.slice(ids.rank));
    const is = numbers(ids);
    if (data.dtype === "int64") {
      // Exact in BigInt, wrapping in 64 bits as TensorFlow's int64 sums do (float64 would round).
      const ds = data.data as BigInt64Array, out = new BigInt64Array(sizeOf(shape));
      for (let j = 0; j < ids.size; j++) {
        const id = is[j];
        if (id < 0) continue;
        for (let k = 0; k < inner; k++) {
          out[id * inner + k] = BigInt.asIntN(64, out[id * inner + k] + ds[j * inner + k]);
        }
      }
      return [new Tensor("int64", shape, out)];
    }
    const ds = numbers(data);
    const out = new Float64Array(sizeOf(shape));
    for (let j = 0; j < ids.size; j++) {
      const id = is[j];
      if (id < 0) continue; // ids ≥ num_segments were refused by segmentIdsInRange
      for (let k = 0; k < inner; k++) out[id * inner + k] += ds[j * inner + k];
    }
    return [Tensor.fromNumbers(data.dtype, shape, out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 5 }),
      fc.constantFrom("int32", "int64"),
      fc.nat(),
    ).map(([shape, idRank, segments, idType, seed]) => {
      const ids = shape.slice(0, Math.min(idRank, shape.length));
      return {
        inputs: [
          randomTensor(dtype, shape, seed),
          // Some ids are -1: dropped, as in TensorFlow.
          randomTensor(idType, ids, seed + 1, { min: -1, max: segments - 1 }),
          int32Scalar(segments),
        ],
        attrs: {},
      };
    }),
  // One id at or past num_segments (the rest valid): every device refuses it before running.
  invalidArbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3, minDim: 1, maxDim: 4 }),
      fc.integer({ min: 0, max: 5 }),
      fc.nat(),
      fc.constantFrom("int32", "int64"),
    ).map(([shape, segments, seed, idType]) => {
      const ids = randomTensor(idType, [shape[0]], seed + 1, { min: -1, max: segments - 1 });
      const values = Array.from(numbers(ids));
      values[seed % values.length] = segments + (seed % 3);
      return {
        inputs: [
          randomTensor(dtype, shape, seed),
          idType === "int64"
            ? new Tensor("int64", [shape[0]], BigInt64Array.from(values, BigInt))
            : Tensor.fromNumbers("int32", [shape[0]], values),
          int32Scalar(segments),
        ],
        attrs: {},
      };
    }),
});

// ---- StridedSliceGrad ------------------------------------------------------------------

/** dy must have the slice's shape (device kernels check it before they scatter). */
export function checkSliceGradDy(dy: Shape, dims: Shape, finalShape: Shape): void {
  if (sizeOf(finalShape) !== sizeOf(dy) || finalShape.length !== dy.length) {
    throw new EdgeflowError(
      `dy has shape ${formatShape(dy)}, but the slice of ${formatShape(dims)} has shape ${
        formatShape(finalShape)
      }`,
    );
  }
}

type StridedSliceGradAttrs = StridedSliceMasks & { T: DType; Index: DType };
const MASK = { kind: "int", default: 0 } as const;

/**
 * StridedSlice's gradient: a tensor of `shape` that is zero except where StridedSlice with the
 * same arguments would read, which holds `dy`.
 */
export const StridedSliceGrad: OpDef<StridedSliceGradAttrs> = defineOp<StridedSliceGradAttrs>({
  name: "StridedSliceGrad",
  inputs: [
    { name: "shape", type: "Index" },
    { name: "begin", type: "Index" },
    { name: "end", type: "Index" },
    { name: "strides", type: "Index" },
    { name: "dy", type: "T" },
  ],
  outputs: [{ name: "output", type: "T" }],
  // HostMemory in TensorFlow's device kernels: the arguments place the slice.
  hostMemory: { inputs: [0, 1, 2, 3] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    Index: { kind: "type", allowed: INDEX_DTYPES },
    begin_mask: MASK,
    end_mask: MASK,
    ellipsis_mask: MASK,
    new_axis_mask: MASK,
    shrink_axis_mask: MASK,
  },
  infer: ([shape, begin, end, strides, dy]) => {
    for (
      const [x, name] of [[shape, "shape"], [begin, "begin"], [end, "end"], [
        strides,
        "strides",
      ]] as const
    ) {
      checkRank(x.shape, 1, name);
    }
    const dims = knownInts(shape);
    return [{ dtype: dy.dtype, shape: dims ?? unknownShape(knownLength(shape.shape) ?? null) }];
  },
  reference: ([shape, begin, end, strides, dy], attrs) => {
    const { dims, spec, offset, dstStrides } = stridedSliceGradPlan(
      intVector(shape, "shape"),
      intVector(begin, "begin"),
      intVector(end, "end"),
      intVector(strides, "strides"),
      attrs,
      dy.shape,
    );
    const dest = stridedIndex(spec.processingShape, dstStrides, offset);
    const out = newElements(dy.dtype, sizeOf(dims));
    const src = elementsOf(dy);
    for (let i = 0; i < dest.length; i++) out[dest[i]] = src[i];
    return [fromElements(dy.dtype, dims, out)];
  },
  // StridedSlice's own cases, with a dy of the shape the slice has.
  arbitrary: (fc, dtype) =>
    StridedSlice.arbitrary!(fc, dtype).map((c) => {
      const [x, begin, end, strides] = c.inputs;
      const attrs = { ...MASKS_OFF, ...c.attrs, T: dtype, Index: begin.dtype };
      const [y] = StridedSlice.reference(c.inputs, attrs, new MapHostContext());
      const dy = randomTensor(dtype, y.shape, y.size + x.size);
      return { inputs: [int32Vector(x.shape), begin, end, strides, dy], attrs: c.attrs };
    }),
  testDTypes: TESTED,
});
/**
 * Where StridedSliceGrad writes dy: the slice of `dims` the arguments select, checked against
 * dy's shape, with the output offset and element strides of its processing shape.
 */
export function stridedSliceGradPlan(
  dims: Shape,
  begin: number[],
  end: number[],
  strides: number[],
  masks: StridedSliceMasks,
  dyShape: Shape,
) {
  const spec = resolveStridedSlice(dims, begin, end, strides, masks);
  checkSliceGradDy(dyShape, dims, spec.finalShape);
  const inStrides = stridesOf(dims);
  const empty = spec.processingShape.some((s) => s === 0);
  const offset = empty ? 0 : spec.begin.reduce((o, b, d) => o + b * inStrides[d], 0);
  const dstStrides = spec.strides.map((s, d) => s * inStrides[d]);
  return { dims, spec, offset, dstStrides, empty };
}

const MASKS_OFF = {
  begin_mask: 0,
  end_mask: 0,
  ellipsis_mask: 0,
  new_axis_mask: 0,
  shrink_axis_mask: 0,
};

// ---- ConcatOffset ----------------------------------------------------------------------

type ConcatOffsetAttrs = { N: number; shape_type: DType };
/**
 * Where each of N concatenated inputs starts in the result: offset i is 0 in every dim but
 * concat_dim, where it is the sum of the earlier inputs' sizes. The shapes must agree elsewhere.
 */
export const ConcatOffset: OpDef<ConcatOffsetAttrs> = defineOp<ConcatOffsetAttrs>({
  name: "ConcatOffset",
  inputs: [
    { name: "concat_dim", type: "int32" },
    { name: "shape", type: "shape_type", numberAttr: "N" },
  ],
  outputs: [{ name: "offset", type: "shape_type", numberAttr: "N" }],
  // Shape arithmetic: HostMemory for every argument, as TensorFlow registers it on devices.
  hostMemory: { inputs: "all", outputs: "all" },
  attrs: {
    N: { kind: "int", validate: (n) => (n >= 2 ? undefined : `must be ≥ 2, got ${n}`) },
    shape_type: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([dim, ...shapes], { shape_type }) => {
    checkRank(dim.shape, 0, "concat_dim");
    shapes.forEach((s, i) => checkRank(s.shape, 1, `shape[${i}]`));
    return shapes.map((s) => ({ dtype: shape_type, shape: s.shape }));
  },
  reference: ([dim, ...shapes], { shape_type }) => {
    const vectors = shapes.map((s, i) => intVector(s, `shape[${i}]`));
    const rank = vectors[0].length;
    const axis = intScalar(dim, "concat_dim");
    if (axis < -rank || axis >= rank) {
      throw new EdgeflowError(`concat_dim ${axis} is out of range [${-rank}, ${rank})`);
    }
    const a = axis < 0 ? axis + rank : axis;
    let at = 0;
    return vectors.map((v, i) => {
      if (v.length !== rank || v.some((d, j) => j !== a && d !== vectors[0][j])) {
        throw new EdgeflowError(
          `shape[${i}] = ${formatShape(v)} does not match shape[0] = ${
            formatShape(vectors[0])
          } outside dim ${a}`,
        );
      }
      const offset = new Array<number>(rank).fill(0);
      offset[a] = at;
      at += v[a];
      return Tensor.fromNumbers(shape_type, [rank], offset);
    });
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 4 }),
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 2, maxLength: 4 }),
      fc.nat(),
    ).map(([base, sizes, seed]) => {
      const a = seed % base.length;
      const shapes = sizes.map((n) =>
        Tensor.fromNumbers(dtype, [base.length], base.map((d, j) => (j === a ? n : d)))
      );
      return { inputs: [int32Scalar(a - (seed & 1 ? base.length : 0)), ...shapes], attrs: {} };
    }),
  testDTypes: INDEX_DTYPES,
});

// ---- InvertPermutation -----------------------------------------------------------------

type InvertPermutationAttrs = { T: DType };
/** y[x[i]] = i for a permutation x of 0..n-1. */
export const InvertPermutation: OpDef<InvertPermutationAttrs> = defineOp<InvertPermutationAttrs>({
  name: "InvertPermutation",
  inputs: [{ name: "x", type: "T" }],
  outputs: [{ name: "y", type: "T" }],
  // TensorFlow computes it on the GPU too; here its one consumer in gradients (Transpose's perm)
  // reads host memory, so keeping it there saves a device round trip and a readback.
  hostMemory: { inputs: [0], outputs: [0] },
  attrs: { T: { kind: "type", allowed: INDEX_DTYPES, default: "int32" } },
  infer: ([x]) => {
    checkRank(x.shape, 1, "x");
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  reference: ([x]) => {
    const perm = intVector(x, "x");
    const inverse = new Array<number>(perm.length).fill(-1);
    perm.forEach((p, i) => {
      if (!(p >= 0 && p < perm.length) || inverse[p] >= 0) {
        throw new EdgeflowError(`x = [${perm}] is not a permutation of 0..${perm.length - 1}`);
      }
      inverse[p] = i;
    });
    return [Tensor.fromNumbers(x.dtype, x.shape, inverse)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(fc.integer({ min: 0, max: 6 }), fc.nat()).map(([n, seed]) => ({
      inputs: [Tensor.fromNumbers(dtype, [n], shuffledRange(n, seed))],
      attrs: {},
    })),
  testDTypes: INDEX_DTYPES,
});

export const GRAD_ARRAY_OPS: readonly OpDef[] = [
  StopGradient,
  BroadcastGradientArgs,
  UnsortedSegmentSum,
  StridedSliceGrad,
  ConcatOffset,
  InvertPermutation,
] as unknown as OpDef[];

// ---- builders ---------------------------------------------------------------------------

/** tf.stop_gradient: the identity, but no gradient flows back through it. */
export function stopGradient(x: TensorLike, options: OpOptions<StopGradientAttrs> = {}): Output {
  return apply(StopGradient, [x], options).outputs[0];
}
export function broadcastGradientArgsOp(
  s0: TensorLike,
  s1: TensorLike,
  options: OpOptions<BroadcastGradientArgsAttrs> = {},
): readonly Output[] {
  return apply(BroadcastGradientArgs, [s0, s1], options).outputs;
}
export function unsortedSegmentSum(
  data: TensorLike,
  segmentIds: TensorLike,
  numSegments: TensorLike,
  options: OpOptions<SegmentAttrs> = {},
): Output {
  return apply(UnsortedSegmentSum, [data, segmentIds, numSegments], options).outputs[0];
}
export function stridedSliceGrad(
  shape: TensorLike,
  begin: TensorLike,
  end: TensorLike,
  strides: TensorLike,
  dy: TensorLike,
  options: OpOptions<StridedSliceGradAttrs> = {},
): Output {
  return apply(StridedSliceGrad, [shape, begin, end, strides, dy], options).outputs[0];
}
export function concatOffset(
  concatDim: TensorLike,
  shapes: readonly TensorLike[],
  options: OpOptions<ConcatOffsetAttrs> = {},
): readonly Output[] {
  return apply(ConcatOffset, [concatDim, shapes], options).outputs;
}
export function invertPermutation(
  x: TensorLike,
  options: OpOptions<InvertPermutationAttrs> = {},
): Output {
  return apply(InvertPermutation, [x], options).outputs[0];
}
