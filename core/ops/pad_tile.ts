/** Pad (with zeros) and Tile, with the plans kernels share. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { formatShape, type PartialShape, type Shape, sizeOf, stridesOf } from "../shape.ts";
import { intList, Tensor } from "../tensor.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import {
  checkRank,
  elementsOf,
  type FlatIndex,
  forEachCoord,
  fromElements,
  int32Vector,
  intVector,
  knownInts,
  knownLength,
  newElements,
  newFlatIndex,
  stridedIndex,
  takeElements,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { unknownShape } from "./infer_util.ts";
import { padGrad, tileGrad } from "../grads/array.ts";

const INDEX_DTYPES: readonly DType[] = ["int32", "int64"];
const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

// ---- Pad ---------------------------------------------------------------------------------

/** A resolved Pad: how many zeros go before and after each dim. */
export interface PadPlan {
  before: number[];
  after: number[];
  /** dim + before + after per dim (-1 for unknown dims during inference). */
  outShape: number[];
}

/**
 * Resolves Pad's paddings (row-major [rank, 2] values) against a shape whose dims may be -1.
 * The input element at coordinates c lands at c + before in the output; the rest is zero.
 */
export function resolvePad(shape: readonly number[], paddings: readonly number[]): PadPlan {
  if (paddings.length !== 2 * shape.length) {
    throw new EdgeflowError(
      `paddings must have shape [${shape.length}, 2] for an input of rank ${shape.length}`,
    );
  }
  const before = shape.map((_, i) => paddings[2 * i]);
  const after = shape.map((_, i) => paddings[2 * i + 1]);
  if (paddings.some((p) => p < 0)) {
    throw new EdgeflowError(`paddings must be non-negative, got [${paddings}]`);
  }
  return { before, after, outShape: shape.map((d, i) => (d < 0 ? -1 : d + before[i] + after[i])) };
}

function checkPaddingsShape(shape: PartialShape) {
  checkRank(shape, 2, "paddings");
  if (shape !== null && shape[1] >= 0 && shape[1] !== 2) {
    throw new EdgeflowError(`paddings must have shape [rank, 2], got ${formatShape(shape)}`);
  }
}

type PadAttrs = { T: DType; Tpaddings: DType };
export const Pad = defineOp<PadAttrs>({
  gradient: padGrad,
  name: "Pad",
  inputs: [{ name: "input", type: "T" }, { name: "paddings", type: "Tpaddings" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    Tpaddings: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([input, paddings]) => {
    const ps = paddings.shape;
    checkPaddingsShape(ps);
    const rows = ps !== null && ps[0] >= 0 ? ps[0] : undefined;
    const rank = input.shape?.length ?? rows ?? null;
    if (rank !== null && rows !== undefined && rows !== rank) {
      throw new EdgeflowError(
        `paddings must have ${rank} rows for an input of rank ${rank}, got ${rows}`,
      );
    }
    const values = knownInts(paddings);
    if (!values || rank === null) return [{ dtype: input.dtype, shape: unknownShape(rank) }];
    return [{
      dtype: input.dtype,
      shape: resolvePad(input.shape ?? unknownShape(rank)!, values).outShape,
    }];
  },
  reference: ([input, paddings]) => {
    checkPaddingsShape(paddings.shape);
    const plan = resolvePad(input.shape, intList(paddings));
    const outStrides = stridesOf(plan.outShape);
    const offset = plan.before.reduce((o, b, d) => o + b * outStrides[d], 0);
    // Where each input element lands; newElements' zero fill is the padding (0, false, "").
    const dest = stridedIndex(input.shape, outStrides, offset);
    const out = newElements(input.dtype, sizeOf(plan.outShape));
    const src = elementsOf(input);
    for (let i = 0; i < dest.length; i++) out[dest[i]] = src[i];
    return [fromElements(input.dtype, plan.outShape, out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbTensor(fc, dtype, arbShape(fc, { maxRank: 3, maxDim: 4 })),
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 6, maxLength: 6 }),
    ).map(([x, pads]) => ({
      inputs: [x, new Tensor("int32", [x.rank, 2], Int32Array.from(pads.slice(0, 2 * x.rank)))],
      attrs: {},
    })),
  testDTypes: TESTED,
});

// ---- Tile --------------------------------------------------------------------------------

/** Tile's output shape (dims may be -1 during inference; a multiple of 0 gives 0 regardless). */
export function tileShape(shape: readonly number[], multiples: readonly number[]): number[] {
  if (multiples.length !== shape.length) {
    throw new EdgeflowError(
      `multiples [${multiples}] must have ${shape.length} entries, one per input dim`,
    );
  }
  if (multiples.some((m) => m < 0)) {
    throw new EdgeflowError(`multiples must be non-negative, got [${multiples}]`);
  }
  return shape.map((d, i) => (multiples[i] === 0 ? 0 : d < 0 ? -1 : d * multiples[i]));
}

/**
 * For each element of Tile's output, the flat index of the input element it copies: output
 * coordinate c reads input coordinate c mod shape.
 */
export function tileIndex(shape: Shape, multiples: readonly number[]): FlatIndex {
  const outShape = tileShape(shape, multiples);
  const strides = stridesOf(shape);
  const index = newFlatIndex(sizeOf(outShape), [0, sizeOf(shape) - 1]);
  forEachCoord(outShape, (c, flat) => {
    let i = 0;
    for (let d = 0; d < c.length; d++) i += (c[d] % shape[d]) * strides[d];
    index[flat] = i;
  });
  return index;
}

type TileAttrs = { T: DType; Tmultiples: DType };
export const Tile = defineOp<TileAttrs>({
  gradient: tileGrad,
  name: "Tile",
  inputs: [{ name: "input", type: "T" }, { name: "multiples", type: "Tmultiples" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    Tmultiples: { kind: "type", allowed: INDEX_DTYPES, default: "int32" },
  },
  infer: ([input, multiples]) => {
    checkRank(multiples.shape, 1, "multiples");
    const m = knownInts(multiples);
    if (m && input.shape !== null) {
      return [{ dtype: input.dtype, shape: tileShape(input.shape, m) }];
    }
    const rank = input.shape?.length ?? m?.length ?? knownLength(multiples.shape) ?? null;
    return [{ dtype: input.dtype, shape: unknownShape(rank) }];
  },
  reference: ([input, multiples]) => {
    const m = intVector(multiples, "multiples");
    const outShape = tileShape(input.shape, m);
    return [takeElements(input, outShape, tileIndex(input.shape, m))];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbTensor(fc, dtype, arbShape(fc, { maxRank: 3, maxDim: 3 })),
      fc.array(fc.constantFrom(0, 1, 1, 2, 3), { minLength: 3, maxLength: 3 }),
    ).map(([x, m]) => ({ inputs: [x, int32Vector(m.slice(0, x.rank))], attrs: {} })),
  testDTypes: TESTED,
});

export const PAD_TILE_OPS: readonly OpDef[] = [Pad, Tile];

// ---- builders ----------------------------------------------------------------------------

/** tf.pad with zeros: `paddings` is [[before, after], ...], one row per dim. */
export function pad(
  x: TensorLike,
  paddings: TensorLike,
  options: OpOptions<PadAttrs> = {},
): Output {
  return apply(Pad, [x, paddings], options).outputs[0];
}
export function tile(
  x: TensorLike,
  multiples: TensorLike,
  options: OpOptions<TileAttrs> = {},
): Output {
  return apply(Tile, [x, multiples], options).outputs[0];
}
