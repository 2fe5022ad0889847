/** Slice and StridedSlice; their argument rules live in slice_spec.ts for kernels to share. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { stridesOf } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import {
  checkRank,
  int32Vector,
  intVector,
  knownInts,
  knownLength,
  stridedIndex,
  takeElements,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { unknownShape } from "./infer_util.ts";
import {
  resolveSlice,
  resolveStridedSlice,
  sliceShape,
  type StridedSliceMasks,
} from "./slice_spec.ts";
import { sliceGrad, stridedSliceGradFn } from "../grads/array.ts";

const INDEX_DTYPES: readonly DType[] = ["int32", "int64"];
const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

/** Copies the block of `x` that starts at `begin` and steps by `steps`, `size` elements per dim. */
function copyBlock(
  x: Tensor,
  begin: readonly number[],
  steps: readonly number[],
  size: readonly number[],
  outShape: readonly number[],
): Tensor {
  const inStrides = stridesOf(x.shape);
  const empty = size.some((s) => s === 0);
  const offset = empty ? 0 : begin.reduce((o, b, d) => o + b * inStrides[d], 0);
  const strides = steps.map((s, d) => s * inStrides[d]);
  return takeElements(x, outShape, stridedIndex(size, strides, offset));
}

// ---- Slice -------------------------------------------------------------------------------

type SliceAttrs = { T: DType; Index: DType };
export const Slice = defineOp<SliceAttrs>({
  gradient: sliceGrad,
  name: "Slice",
  inputs: [
    { name: "input", type: "T" },
    { name: "begin", type: "Index" },
    { name: "size", type: "Index" },
  ],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1, 2] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    Index: { kind: "type", allowed: INDEX_DTYPES },
  },
  infer: ([input, begin, size]) => {
    checkRank(begin.shape, 1, "begin");
    checkRank(size.shape, 1, "size");
    const b = knownInts(begin), s = knownInts(size);
    if (input.shape !== null) return [{ dtype: input.dtype, shape: sliceShape(input.shape, b, s) }];
    // Unknown input rank: the size values still give the dims that are not -1.
    if (s) return [{ dtype: input.dtype, shape: s.map((d) => (d >= 0 ? d : -1)) }];
    const rank = knownLength(begin.shape) ?? knownLength(size.shape) ?? null;
    return [{ dtype: input.dtype, shape: unknownShape(rank) }];
  },
  reference: ([input, begin, size]) => {
    const spec = resolveSlice(input.shape, intVector(begin, "begin"), intVector(size, "size"));
    const ones = spec.size.map(() => 1);
    return [copyBlock(input, spec.begin, ones, spec.size, spec.size)];
  },
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).chain((x) =>
      fc.tuple(...x.shape.map((d) => sliceRange(fc, d))).map((ranges) => ({
        inputs: [x, int32Vector(ranges.map((r) => r[0])), int32Vector(ranges.map((r) => r[1]))],
        attrs: {},
      }))
    ),
  testDTypes: TESTED,
});

/** A valid [begin, size] for a dim: size -1 (to the end) a quarter of the time. */
function sliceRange(fc: FastCheck, dim: number): Arbitrary<[number, number]> {
  return fc.tuple(fc.integer({ min: 0, max: dim }), fc.nat(), fc.boolean(), fc.boolean())
    .map(([b, n, toEnd, again]) => [b, toEnd && again ? -1 : n % (dim - b + 1)]);
}

// ---- StridedSlice ------------------------------------------------------------------------

type StridedSliceAttrs = StridedSliceMasks & { T: DType; Index: DType };
const MASK = { kind: "int", default: 0 } as const;

function masksOf(attrs: StridedSliceAttrs): StridedSliceMasks {
  const { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask } = attrs;
  return { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask };
}

export const StridedSlice = defineOp<StridedSliceAttrs>({
  gradient: stridedSliceGradFn,
  name: "StridedSlice",
  inputs: [
    { name: "input", type: "T" },
    { name: "begin", type: "Index" },
    { name: "end", type: "Index" },
    { name: "strides", type: "Index" },
  ],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1, 2, 3] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    Index: { kind: "type", allowed: INDEX_DTYPES },
    begin_mask: MASK,
    end_mask: MASK,
    ellipsis_mask: MASK,
    new_axis_mask: MASK,
    shrink_axis_mask: MASK,
  },
  infer: ([input, begin, end, strides], attrs) => {
    for (const [x, name] of [[begin, "begin"], [end, "end"], [strides, "strides"]] as const) {
      checkRank(x.shape, 1, name);
    }
    const s = knownInts(strides);
    // As TensorFlow: without the input's rank or the strides, nothing is known.
    if (input.shape === null || s === undefined) return [{ dtype: input.dtype, shape: null }];
    const spec = resolveStridedSlice(
      input.shape,
      knownInts(begin),
      knownInts(end),
      s,
      masksOf(attrs),
    );
    return [{ dtype: input.dtype, shape: spec.finalShape }];
  },
  reference: ([input, begin, end, strides], attrs) => {
    const spec = resolveStridedSlice(
      input.shape,
      intVector(begin, "begin"),
      intVector(end, "end"),
      intVector(strides, "strides"),
      masksOf(attrs),
    );
    return [copyBlock(input, spec.begin, spec.strides, spec.processingShape, spec.finalShape)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbTensor(fc, dtype, arbShape(fc)),
      fc.array(arbEntry(fc), { maxLength: 6 }),
    ).map(([x, entries]) => {
      const { args, masks } = sliceArgs(x.shape, entries);
      return { inputs: [x, ...args], attrs: masks };
    }),
  testDTypes: TESTED,
});

// The arbitrary's entries: one per index of a Python slice expression like x[1:, ..., None, -2].
const RANGE = 0, INDEX = 1, NEW = 2, ELLIPSIS = 3;
interface Entry {
  kind: number;
  begin: number;
  end: number;
  stride: number;
  beginMasked: boolean;
  endMasked: boolean;
}
function arbEntry(fc: FastCheck): Arbitrary<Entry> {
  return fc.record({
    kind: fc.constantFrom(RANGE, RANGE, RANGE, INDEX, NEW, ELLIPSIS),
    begin: fc.integer({ min: -7, max: 7 }),
    end: fc.integer({ min: -7, max: 7 }),
    stride: fc.constantFrom(1, 1, 2, 3, -1, -2),
    beginMasked: fc.boolean(),
    endMasked: fc.boolean(),
  });
}

/** Turns drawn entries into valid begin/end/strides tensors and the masks that go with them. */
function sliceArgs(
  shape: readonly number[],
  drawn: readonly Entry[],
): { args: Tensor[]; masks: StridedSliceMasks } {
  // One ellipsis at most; no more dims consumed than the input has (extras become new axes).
  let seenEllipsis = false, consumed = 0;
  const entries = drawn.map((e) => {
    if (e.kind === ELLIPSIS && !seenEllipsis) return (seenEllipsis = true), e;
    const kind = e.kind === ELLIPSIS ? RANGE : e.kind;
    if (kind !== NEW && consumed++ >= shape.length) return { ...e, kind: NEW };
    return { ...e, kind };
  });
  const ellipsisAt = entries.findIndex((e) => e.kind === ELLIPSIS);
  const consumers = entries.flatMap((e, i) => (e.kind === RANGE || e.kind === INDEX ? [i] : []));
  const after = consumers.filter((i) => ellipsisAt >= 0 && i > ellipsisAt).length;
  const m = { begin_mask: 0, end_mask: 0, ellipsis_mask: 0, new_axis_mask: 0, shrink_axis_mask: 0 };
  const begin: number[] = [], end: number[] = [], strides: number[] = [];
  entries.forEach((e, i) => {
    const bit = 2 ** i;
    if (e.kind === ELLIPSIS || e.kind === NEW) {
      begin.push(0), end.push(0), strides.push(1);
      if (e.kind === ELLIPSIS) m.ellipsis_mask |= bit;
      else m.new_axis_mask |= bit;
      return;
    }
    const k = consumers.indexOf(i);
    const dim = ellipsisAt >= 0 && i > ellipsisAt
      ? shape[shape.length - after + (k - (consumers.length - after))]
      : shape[k];
    if (e.kind === INDEX) {
      // A valid index in [-dim, dim).
      const b = ((e.begin % (2 * dim)) + 2 * dim) % (2 * dim) - dim;
      begin.push(b), end.push(b + 1), strides.push(1);
      m.shrink_axis_mask |= bit;
      return;
    }
    begin.push(e.begin), end.push(e.end), strides.push(e.stride);
    if (e.beginMasked) m.begin_mask |= bit;
    if (e.endMasked) m.end_mask |= bit;
  });
  return { args: [int32Vector(begin), int32Vector(end), int32Vector(strides)], masks: m };
}

export const SLICE_OPS: readonly OpDef[] = [Slice, StridedSlice];

// ---- builders ----------------------------------------------------------------------------

export function slice(
  x: TensorLike,
  begin: TensorLike,
  size: TensorLike,
  options: OpOptions<SliceAttrs> = {},
): Output {
  return apply(Slice, [x, begin, size], options).outputs[0];
}

/** tf.strided_slice; `strides` defaults to ones when `begin` is a literal array. */
export function stridedSlice(
  x: TensorLike,
  begin: TensorLike,
  end: TensorLike,
  strides?: TensorLike,
  options: OpOptions<StridedSliceAttrs> = {},
): Output {
  if (strides === undefined) {
    if (!Array.isArray(begin)) {
      throw new EdgeflowError("stridedSlice needs strides unless begin is a literal array", {
        op: "StridedSlice",
      });
    }
    strides = begin.map(() => 1);
  }
  return apply(StridedSlice, [x, begin, end, strides], options).outputs[0];
}
