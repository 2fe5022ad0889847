/**
 * Shapes: concrete (every dim known) and partial (-1 marks an unknown dim, null an unknown rank),
 * with TensorFlow's broadcasting rules.
 */
import { EdgeflowError } from "./errors.ts";

export type Shape = readonly number[];
/** A shape as the graph knows it: `null` is an unknown rank, `-1` an unknown dim. */
export type PartialShape = readonly number[] | null;

export const UNKNOWN_DIM = -1;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

export function isFullyDefined(s: PartialShape): s is Shape {
  return s !== null && s.every((d) => d >= 0);
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether a concrete or partial shape `a` could be the same as partial shape `b`. */
export function isCompatible(a: PartialShape, b: PartialShape): boolean {
  if (a === null || b === null) return true;
  if (a.length !== b.length) return false;
  return a.every((d, i) => d < 0 || b[i] < 0 || d === b[i]);
}

/** The most specific shape compatible with both, or an error. */
export function mergeShapes(a: PartialShape, b: PartialShape, what = "shapes"): PartialShape {
  if (a === null) return b;
  if (b === null) return a;
  if (!isCompatible(a, b)) {
    throw new EdgeflowError(`incompatible ${what}: ${formatShape(a)} and ${formatShape(b)}`);
  }
  return a.map((d, i) => (d >= 0 ? d : b[i]));
}

export function formatShape(s: PartialShape): string {
  if (s === null) return "<unknown>";
  return `[${s.map((d) => (d < 0 ? "?" : String(d))).join(",")}]`;
}

/** Row-major strides of a concrete shape. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/**
 * Broadcast two partial shapes (numpy/TensorFlow rules: align on the right; a dim of 1 stretches).
 * Unknown dims broadcast to unknown unless the other side pins them.
 */
export function broadcastShapes(a: PartialShape, b: PartialShape): PartialShape {
  if (a === null || b === null) return null;
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === 1) out[i] = db;
    else if (db === 1) out[i] = da;
    else if (da < 0) out[i] = db < 0 ? UNKNOWN_DIM : db;
    else if (db < 0 || da === db) out[i] = da;
    else {
      throw new EdgeflowError(
        `shapes ${formatShape(a)} and ${
          formatShape(b)
        } cannot be broadcast (dim ${i}: ${da} vs ${db})`,
      );
    }
  }
  return out;
}

/** Normalises a possibly negative axis against a rank, with a clear error when out of range. */
export function normalizeAxis(axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new EdgeflowError(`${what} ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}
