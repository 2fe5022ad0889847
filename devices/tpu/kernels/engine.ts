/**
 * The vector unit's elementwise engine: applies a scalar program to every element of one, two
 * buffers with TensorFlow broadcasting, reading floats as float32 (bfloat16 widened)
 * and integers and bools from their storage, and writing through the output dtype's rounding.
 */
import { isFloat } from "../../../core/dtype.ts";
import type { FlatIndex } from "../../../core/ops/array_util.ts";
import { broadcastIndex } from "../../../core/ops/elementwise.ts";
import { type PartialShape, type Shape, shapesEqual } from "../../../core/shape.ts";
import { ShapeMemo } from "../../../core/shape_memo.ts";
import type { TpuBuffer } from "../hbm.ts";
import { loadF32, resultF32, storeF32 } from "../numerics.ts";

type Numbers = { [i: number]: number; readonly length: number };

/** A buffer's values as the program reads them: float32 for floats, storage for the rest. */
export function operand(b: TpuBuffer): Numbers {
  return isFloat(b.dtype) ? loadF32(b) : b.data as Int32Array | Uint8Array;
}

/**
 * Where results go before `finish`: float32 scratch (or the storage itself) for float outputs,
 * the storage for int32 and bool, whose typed-array stores wrap as the hardware's integers do.
 */
export function target(out: TpuBuffer): Numbers {
  return isFloat(out.dtype) ? resultF32(out) : out.data as Int32Array | Uint8Array;
}

/** Stores float results computed into `target(out)`. */
export function finish(out: TpuBuffer, values: Numbers): void {
  if (isFloat(out.dtype)) storeF32(out, values as Float32Array);
}

export function mapUnary(x: TpuBuffer, out: TpuBuffer, f: (x: number) => number): void {
  const xs = operand(x), ys = target(out);
  for (let i = 0; i < ys.length; i++) ys[i] = f(xs[i]);
  finish(out, ys);
}

/** For each output element, the input element broadcast onto it (undefined: same index). */
export function indexFor(shape: Shape, outShape: Shape): FlatIndex | undefined {
  return shapesEqual(shape, outShape) ? undefined : broadcastIndex(shape, outShape);
}

/** Where each output element of a binary op reads its two operands (undefined: same index). */
export interface BinaryIndex {
  ix: FlatIndex | undefined;
  iy: FlatIndex | undefined;
}

/**
 * A node's broadcast plans by (x, y, output) shapes, seeded from its static shapes when the plan
 * is built: runs with those shapes build no index.
 */
export function binaryIndexes(
  x: PartialShape | undefined,
  y: PartialShape | undefined,
  out: PartialShape | undefined,
): ShapeMemo<BinaryIndex> {
  return new ShapeMemo((xs, ys, outs) => ({ ix: indexFor(xs, outs), iy: indexFor(ys, outs) }))
    .seed([x, y, out]);
}

/**
 * z = f(x, y) with TensorFlow broadcasting; `indexes` (a node's memo) holds the broadcast plans,
 * else they are built for this call.
 */
export function mapBinary(
  x: TpuBuffer,
  y: TpuBuffer,
  out: TpuBuffer,
  f: (x: number, y: number) => number,
  indexes?: ShapeMemo<BinaryIndex>,
): void {
  const xs = operand(x), ys = operand(y), zs = target(out);
  const { ix, iy } = indexes
    ? indexes.get(x.shape, y.shape, out.shape)
    : { ix: indexFor(x.shape, out.shape), iy: indexFor(y.shape, out.shape) };
  const n = zs.length;
  if (!ix && !iy) { for (let i = 0; i < n; i++) zs[i] = f(xs[i], ys[i]); }
  else if (!ix && ys.length === 1) {
    const v = ys[0];
    for (let i = 0; i < n; i++) zs[i] = f(xs[i], v);
  } else {
    for (let i = 0; i < n; i++) zs[i] = f(xs[ix ? ix[i] : i], ys[iy ? iy[i] : i]);
  }
  finish(out, zs);
}
