/**
 * Helpers shared by the array, movement and reduction ops: reading int arguments (shapes, axes,
 * indices) from inference inputs and host tensors, splitting a shape around an axis, and copying
 * elements by flat index so every dtype's storage (int64, 16-bit floats, bool, string) moves
 * unchanged.
 */
import { allocStorage, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { InferInput } from "../op.ts";
import { formatShape, type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { Output } from "../graph.ts";
import { intList, Tensor, tensor } from "../tensor.ts";
import type { TensorLike } from "./build.ts";

/** The values of a constant int input during inference, or undefined when the graph lacks them. */
export function knownInts(input: InferInput): number[] | undefined {
  return input.value ? intList(input.value) : undefined;
}

/** Throws unless a (partial) shape has rank `rank`; unknown ranks pass. */
export function checkRank(shape: PartialShape, rank: number, what: string): void {
  if (shape !== null && shape.length !== rank) {
    const kind = rank === 0 ? "a scalar" : rank === 1 ? "a vector" : `of rank ${rank}`;
    throw new EdgeflowError(`${what} must be ${kind}, got shape ${formatShape(shape)}`);
  }
}

/** The number of elements of a vector input when its shape says so, else undefined. */
export function knownLength(shape: PartialShape): number | undefined {
  if (shape === null) return undefined;
  if (shape.length === 0) return 1;
  return shape.length === 1 && shape[0] >= 0 ? shape[0] : undefined;
}

/** Refuses a known shape `intScalar` would refuse (one element, rank at most 1), at inference. */
export function checkScalarLike(shape: PartialShape, what: string): void {
  if (shape === null) return;
  if (shape.length > 1 || (shape.length === 1 && shape[0] >= 0 && shape[0] !== 1)) {
    throw new EdgeflowError(`${what} must be a scalar, got shape ${formatShape(shape)}`);
  }
}

/** A scalar int argument of a host tensor (an axis, a depth); `what` names it in errors. */
export function intScalar(t: Tensor, what: string): number {
  if (t.size !== 1 || t.rank > 1) {
    throw new EdgeflowError(`${what} must be a scalar, got shape ${formatShape(t.shape)}`);
  }
  return intList(t)[0];
}

/** A vector int argument (a shape, a permutation), optionally of an exact length. */
export function intVector(t: Tensor, what: string, length?: number): number[] {
  if (t.rank !== 1 || (length !== undefined && t.size !== length)) {
    const want = length === undefined ? "a vector" : `a vector of ${length} elements`;
    throw new EdgeflowError(`${what} must be ${want}, got shape ${formatShape(t.shape)}`);
  }
  return intList(t);
}

/**
 * A shape viewed as [outer, dim, inner] around `axis`: the layout most movement kernels use
 * (concat, pack, unpack, one-hot, gather, arg-reductions).
 */
export interface AxisSplit {
  /** Product of the dims before the axis. */
  outer: number;
  /** The axis's own size. */
  dim: number;
  /** Product of the dims after the axis. */
  inner: number;
}
export function splitAtAxis(shape: Shape, axis: number): AxisSplit {
  return {
    outer: sizeOf(shape.slice(0, axis)),
    dim: shape[axis],
    inner: sizeOf(shape.slice(axis + 1)),
  };
}

// Movement code copies elements without reading them, so one untyped view serves every storage
// (typed arrays, BigInt64Array, string arrays) and int64 or bfloat16 bits move unchanged.

/** A tensor's storage as plain elements. */
export function elementsOf(t: Tensor): ArrayLike<unknown> {
  return t.data as unknown as ArrayLike<unknown>;
}
/** Zero-filled storage for `size` elements of `dtype` (0, false, ""), writable as plain elements. */
export function newElements(dtype: DType, size: number): unknown[] {
  return allocStorage(dtype, size) as unknown as unknown[];
}
/** The tensor over storage made by `newElements`. */
export function fromElements<D extends DType>(dtype: D, shape: Shape, out: unknown[]): Tensor<D> {
  return new Tensor(dtype, shape, out as unknown as Tensor<D>["data"]);
}

/** A tensor of `shape` whose element i is element `index[i]` of `t`, storage copied verbatim. */
export function takeElements<D extends DType>(
  t: Tensor<D>,
  shape: Shape,
  index: ArrayLike<number>,
): Tensor<D> {
  const out = newElements(t.dtype, index.length);
  const src = elementsOf(t);
  for (let i = 0; i < index.length; i++) out[i] = src[index[i]];
  return fromElements(t.dtype, shape, out);
}

/**
 * A tensor of `shape` with every element equal to the one element of `scalar`, its storage copied
 * verbatim. Filled in place: no index per output element, so Fill needs only its output's memory.
 */
export function repeatElement<D extends DType>(scalar: Tensor<D>, shape: Shape): Tensor<D> {
  const out = newElements(scalar.dtype, sizeOf(shape));
  // Typed arrays and the string array alike have fill; one element fills every storage kind.
  const value = elementsOf(scalar)[0];
  (out as { fill(v: unknown): unknown }).fill(value);
  return fromElements(scalar.dtype, shape, out);
}

/**
 * Flat element indices: Int32Array while every index fits in 32 bits, Float64Array (exact to
 * 2^53) past that, so a slice of a tensor of more than 2^31 elements reads the right elements.
 */
export type FlatIndex = Int32Array | Float64Array;

/** An index array of `n` entries able to hold every value in [lo, hi]. */
export function newFlatIndex(n: number, [lo, hi]: readonly [number, number]): FlatIndex {
  return lo >= -(2 ** 31) && hi < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
}

/** The least and greatest flat index a strided view of `shape` reaches. */
function indexBounds(
  shape: Shape,
  strides: readonly number[],
  offset: number,
): [number, number] {
  let lo = offset, hi = offset;
  for (let d = 0; d < shape.length; d++) {
    const reach = Math.max(0, shape[d] - 1) * strides[d];
    if (reach < 0) lo += reach;
    else hi += reach;
  }
  return [lo, hi];
}

/**
 * The flat input index of each element of a strided view: the view element at coordinates c
 * reads the input at `offset + Σ c[d] * strides[d]`. Strides may be zero (broadcast) or negative
 * (reversed slices).
 */
export function stridedIndex(shape: Shape, strides: readonly number[], offset: number): FlatIndex {
  const n = sizeOf(shape);
  const rank = shape.length;
  const index = newFlatIndex(n, indexBounds(shape, strides, offset));
  const counter = new Array<number>(rank).fill(0);
  let flat = offset;
  for (let i = 0; i < n; i++) {
    index[i] = flat;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      flat += strides[d];
      if (counter[d] < shape[d]) break;
      flat -= strides[d] * counter[d];
      counter[d] = 0;
    }
  }
  return index;
}

/** Calls `fn` with the coordinates of every element of `shape`, in row-major order. */
export function forEachCoord(shape: Shape, fn: (coord: readonly number[], flat: number) => void) {
  const n = sizeOf(shape);
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    fn(coord, i);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
}

/** An int32 vector tensor: how arbitraries build shape, axis and index arguments. */
export function int32Vector(values: readonly number[]): Tensor<"int32"> {
  return new Tensor("int32", [values.length], Int32Array.from(values));
}
export function int32Scalar(value: number): Tensor<"int32"> {
  return new Tensor("int32", [], Int32Array.of(value));
}

/** The shape of a builder argument as known when the graph is built (null: unknown rank). */
export function staticShape(x: TensorLike): PartialShape {
  if (x instanceof Output || x instanceof Tensor) return x.shape;
  return tensor(x).shape;
}

/**
 * Pieces of shape [n_i, ...rest] joined along dim 0, and the int64 vector of the n_i: the two
 * outputs of TensorArrayConcatV3 and TensorListConcatV2, storage copied verbatim.
 */
export function concatRows<D extends DType>(
  dtype: D,
  pieces: readonly Tensor[],
  rest: Shape,
): [Tensor<D>, Tensor<"int64">] {
  const total = pieces.reduce((n, t) => n + t.shape[0], 0);
  const out = newElements(dtype, total * sizeOf(rest));
  let at = 0;
  for (const t of pieces) {
    const src = elementsOf(t);
    for (let k = 0; k < t.size; k++) out[at + k] = src[k];
    at += t.size;
  }
  return [
    fromElements(dtype, [total, ...rest], out),
    new Tensor("int64", [pieces.length], BigInt64Array.from(pieces, (t) => BigInt(t.shape[0]))),
  ];
}

/**
 * `t` cut along dim 0 into pieces of `lengths` rows (the caller has checked they sum to its rows):
 * TensorArraySplitV3's and TensorListSplit's elements, storage copied verbatim.
 */
export function splitRows<D extends DType>(t: Tensor<D>, lengths: readonly number[]): Tensor<D>[] {
  const rest = t.shape.slice(1);
  const inner = sizeOf(rest);
  const src = elementsOf(t);
  let row = 0;
  return lengths.map((l) => {
    const out = newElements(t.dtype, l * inner);
    for (let k = 0; k < l * inner; k++) out[k] = src[row * inner + k];
    row += l;
    return fromElements(t.dtype, [l, ...rest], out);
  });
}
