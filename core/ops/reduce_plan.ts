/**
 * Reduction axes and layouts, shared by shape inference, the reference reductions and device
 * kernels: TensorFlow's axis rules (in range, no duplicates, empty = no reduction) in one place.
 */
import { EdgeflowError } from "../errors.ts";
import { type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { resolveTranspose } from "./transpose.ts";
import { unknownShape } from "./infer_util.ts";
import { type FlatIndex, stridedIndex } from "./array_util.ts";

/** Checks reduction axes against a rank and returns them normalised and sorted. */
export function reductionAxes(axes: readonly number[], rank: number): number[] {
  const seen = new Set<number>();
  for (const axis of axes) {
    if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
      throw new EdgeflowError(`invalid reduction axis ${axis} for an input of rank ${rank}`);
    }
    const a = axis < 0 ? axis + rank : axis;
    if (seen.has(a)) {
      throw new EdgeflowError(`reduction axes [${axes}] name dimension ${a} twice`);
    }
    seen.add(a);
  }
  return [...seen].sort((x, y) => x - y);
}

/**
 * A reduction's output shape from a partial input shape and the axes, or when the axes are
 * unknown, how many there are (which fixes the output rank since duplicates are errors).
 */
export function reductionShape(
  input: PartialShape,
  axes: readonly number[] | undefined,
  axesCount: number | undefined,
  keepDims: boolean,
): PartialShape {
  if (input === null) return null;
  const rank = input.length;
  if (axes !== undefined) {
    const reduced = new Set(reductionAxes(axes, rank));
    return keepDims
      ? input.map((d, i) => (reduced.has(i) ? 1 : d))
      : input.filter((_, i) => !reduced.has(i));
  }
  if (keepDims) return unknownShape(rank);
  if (axesCount === undefined) return null;
  if (axesCount === 0) return input;
  if (axesCount > rank) {
    throw new EdgeflowError(`${axesCount} distinct reduction axes cannot fit rank ${rank}`);
  }
  return unknownShape(rank - axesCount);
}

/** What a kernel needs to reduce a concrete shape over some axes. */
export interface ReductionPlan {
  /** The reduced axes, normalised and sorted. */
  axes: number[];
  /** The output shape (with size-1 dims where keep_dims asks for them). */
  outShape: number[];
  /** Number of output elements. */
  outSize: number;
  /** Number of input elements reduced into each output element. */
  reduceSize: number;
  /**
   * Moves the reduced axes last, keeping the order of both groups: the input transposed by
   * `perm` and viewed as [outSize, reduceSize] reduces along its rows, whatever the axes.
   */
  perm: number[];
  /**
   * When the reduced dims (ignoring size-1 dims) are adjacent, the input viewed as
   * [outer, reduce, inner] reduces along the middle dim with no transpose; output [outer, inner].
   */
  contiguous?: { outer: number; reduce: number; inner: number };
}

export function resolveReduction(
  shape: Shape,
  axes: readonly number[],
  keepDims: boolean,
): ReductionPlan {
  const sorted = reductionAxes(axes, shape.length);
  const reduced = new Set(sorted);
  const kept = shape.flatMap((_, i) => (reduced.has(i) ? [] : [i]));
  const outShape = reductionShape(shape, sorted, sorted.length, keepDims) as number[];
  return {
    axes: sorted,
    outShape,
    outSize: sizeOf(outShape),
    reduceSize: sizeOf(sorted.map((a) => shape[a])),
    perm: [...kept, ...sorted],
    contiguous: contiguousLayout(shape, reduced),
  };
}

function contiguousLayout(shape: Shape, reduced: Set<number>) {
  // Size-1 dims cannot break adjacency: skip them when looking for one run of reduced dims.
  const live = shape.flatMap((d, i) => (d === 1 ? [] : [i]));
  const first = live.findIndex((i) => reduced.has(i));
  if (first < 0) return { outer: sizeOf(shape), reduce: 1, inner: 1 };
  let last = first;
  while (last + 1 < live.length && reduced.has(live[last + 1])) last++;
  if (live.slice(last + 1).some((i) => reduced.has(i))) return undefined;
  const size = (ids: number[]) => sizeOf(ids.map((i) => shape[i]));
  return {
    outer: size(live.slice(0, first)),
    reduce: size(live.slice(first, last + 1)),
    inner: size(live.slice(last + 1)),
  };
}

/**
 * For the reference and simple kernels: the flat input index of every element in reduction
 * order, so output element o reduces `index[o * reduceSize .. (o + 1) * reduceSize)`.
 */
export function reductionIndex(shape: Shape, plan: ReductionPlan): FlatIndex {
  const t = resolveTranspose(shape, plan.perm);
  return stridedIndex(t.outShape, t.inStrides, 0);
}
