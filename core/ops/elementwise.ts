/**
 * Reference engines for elementwise ops: map a scalar function over one tensor, or over two with
 * TensorFlow broadcasting. Results are stored with C-cast rounding for the output dtype.
 * int64 tensors go through a BigInt function instead, so no bit past 2^53 is lost and results wrap
 * in 64 bits as TensorFlow's int64 arithmetic does.
 */
import { allocStorage, type DType } from "../dtype.ts";
import { broadcastShapes, type Shape, sizeOf, stridesOf } from "../shape.ts";
import { EdgeflowError } from "../errors.ts";
import { numbers, Tensor, writeNumbers } from "../tensor.ts";
import { type FlatIndex, stridedIndex } from "./array_util.ts";

export type Scalar1 = (x: number) => number;
export type Scalar2 = (x: number, y: number) => number;
/** The int64 version of a scalar function; comparisons return 0n or 1n. */
export type BigScalar1 = (x: bigint) => bigint;
export type BigScalar2 = (x: bigint, y: bigint) => bigint;

function missingInt64(): never {
  throw new EdgeflowError("this elementwise function has no int64 version");
}

/** Stores BigInt results: int64 wraps (BigInt64Array does it), bool becomes 0 or 1. */
function fromBigInts(outDType: DType, shape: Shape, vals: BigInt64Array): Tensor {
  if (outDType === "int64") return new Tensor("int64", shape, vals);
  return Tensor.fromNumbers(outDType, shape, Float64Array.from(vals, Number));
}

/** Storage that stores numbers directly (a JS number assignment does the right cast). */
function directlyWritable(d: DType): boolean {
  return d === "float32" || d === "int32" || d === "uint8" || d === "int8";
}

export function mapUnary(x: Tensor, outDType: DType, f: Scalar1, big?: BigScalar1): Tensor {
  if (x.dtype === "int64") {
    const g = big ?? missingInt64();
    const xs = x.data as BigInt64Array;
    const out = new BigInt64Array(x.size);
    for (let i = 0; i < out.length; i++) out[i] = g(xs[i]);
    return fromBigInts(outDType, x.shape, out);
  }
  const xs = numbers(x);
  const n = x.size;
  if (directlyWritable(outDType)) {
    const out = allocStorage(outDType, n) as Float32Array;
    for (let i = 0; i < n; i++) out[i] = f(xs[i]);
    return new Tensor(outDType, x.shape, out);
  }
  const vals = new Float64Array(n);
  for (let i = 0; i < n; i++) vals[i] = f(xs[i]);
  return Tensor.fromNumbers(outDType, x.shape, vals);
}

export function mapBinary(
  a: Tensor,
  b: Tensor,
  outDType: DType,
  f: Scalar2,
  big?: BigScalar2,
): Tensor {
  const shape = a.shape.length === b.shape.length && sameShape(a.shape, b.shape)
    ? a.shape
    : broadcastShapes(a.shape, b.shape) as Shape;
  const n = sizeOf(shape);
  if (a.dtype === "int64") {
    const g = big ?? missingInt64();
    const as = a.data as BigInt64Array, bs = b.data as BigInt64Array;
    const ia = a.size === n ? null : broadcastIndex(a.shape, shape);
    const ib = b.size === n ? null : broadcastIndex(b.shape, shape);
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) out[i] = g(as[ia ? ia[i] : i], bs[ib ? ib[i] : i]);
    return fromBigInts(outDType, shape, out);
  }
  const as = numbers(a), bs = numbers(b);
  const direct = directlyWritable(outDType);
  const out = direct ? allocStorage(outDType, n) as Float32Array : new Float64Array(n);
  if (a.size === n && b.size === n) {
    for (let i = 0; i < n; i++) out[i] = f(as[i], bs[i]);
  } else if (b.size === 1 && a.size === n) {
    const y = bs[0];
    for (let i = 0; i < n; i++) out[i] = f(as[i], y);
  } else if (a.size === 1 && b.size === n) {
    const x = as[0];
    for (let i = 0; i < n; i++) out[i] = f(x, bs[i]);
  } else {
    const ia = broadcastIndex(a.shape, shape), ib = broadcastIndex(b.shape, shape);
    for (let i = 0; i < n; i++) out[i] = f(as[ia[i]], bs[ib[i]]);
  }
  if (direct) return new Tensor(outDType, shape, out as Float32Array);
  const storage = allocStorage(outDType, n);
  writeNumbers(outDType, storage, out);
  return new Tensor(outDType, shape, storage);
}

function sameShape(a: Shape, b: Shape): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * For each element of `outShape`, the flat index of the element of `inShape` broadcast onto it:
 * a strided view with stride 0 along broadcast dims, 64-bit past 2^31 like every flat index.
 */
export function broadcastIndex(inShape: Shape, outShape: Shape): FlatIndex {
  const offset = outShape.length - inShape.length;
  const inStrides = stridesOf(inShape);
  const strides = outShape.map((_, d) =>
    d < offset || inShape[d - offset] === 1 ? 0 : inStrides[d - offset]
  );
  return stridedIndex(outShape, strides, 0);
}
