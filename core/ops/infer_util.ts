/** Small helpers shared by shape-inference functions. */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { InferInput, TensorSpec } from "../op.ts";
import { formatShape, type PartialShape } from "../shape.ts";

export function spec(dtype: DType, shape: PartialShape): TensorSpec {
  return { dtype, shape };
}

/** The input's rank, or an error if it is known and outside [min, max]. */
export function requireRank(
  input: InferInput,
  min: number,
  max: number,
  what: string,
): number | null {
  if (input.shape === null) return null;
  const r = input.shape.length;
  if (r < min || r > max) {
    const want = min === max ? `rank ${min}` : `rank ${min} to ${max}`;
    throw new EdgeflowError(`${what} must have ${want}, got shape ${formatShape(input.shape)}`);
  }
  return r;
}

/** Checks two dims agree when both are known; returns the known one. */
export function mergeDim(a: number, b: number, what: string): number {
  if (a >= 0 && b >= 0 && a !== b) throw new EdgeflowError(`${what}: ${a} vs ${b}`);
  return a >= 0 ? a : b;
}

/** A shape of `rank` unknown dims, or unknown rank. */
export function unknownShape(rank: number | null): PartialShape {
  return rank === null ? null : new Array(rank).fill(-1);
}
