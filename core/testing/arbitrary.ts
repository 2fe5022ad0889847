/**
 * Building blocks for op arbitraries. Values come from a seeded generator rather than one
 * fast-check draw per element: tensors stay cheap to draw, fast-check still shrinks shapes and
 * attrs, and the printed seed reproduces a failure.
 */
import { type DType, isFloat } from "../dtype.ts";
import type { Shape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import type { Arbitrary, FastCheck } from "./fast_check_types.ts";

export interface ValueRange {
  min?: number;
  max?: number;
  /** Keep values away from zero (divisors, logarithms). */
  nonzero?: boolean;
  /** For floats: values on a grid of 1/8 so sums and products are exact in float32. */
  exact?: boolean;
}

/** mulberry32: small, fast and good enough for test data. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Default value ranges: small enough that products and sums stay well inside every dtype. */
export function defaultRange(dtype: DType): { min: number; max: number } {
  switch (dtype) {
    case "bool":
      return { min: 0, max: 1 };
    case "uint8":
      return { min: 0, max: 15 };
    case "int8":
      return { min: -8, max: 8 };
    case "int32":
    case "int64":
      return { min: -20, max: 20 };
    default:
      return { min: -4, max: 4 };
  }
}

/** A tensor of `shape` with values drawn from `seed`. */
export function randomTensor(
  dtype: DType,
  shape: Shape,
  seed: number,
  range: ValueRange = {},
): Tensor {
  const rand = seededRandom(seed);
  const { min, max } = { ...defaultRange(dtype), ...range };
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    let v = isFloat(dtype)
      ? min + rand() * (max - min)
      : Math.floor(min + rand() * (max - min + 1));
    if (range.exact && isFloat(dtype)) v = Math.round(v * 8) / 8;
    if (range.nonzero && Math.abs(v) < (isFloat(dtype) ? 0.25 : 1)) {
      v = isFloat(dtype) ? (v < 0 ? -0.25 - rand() : 0.25 + rand()) : (v < 0 ? -1 : 1);
    }
    values[i] = Math.min(max, v);
  }
  if (dtype === "string" || dtype === "resource") {
    return new Tensor(dtype, shape, Array.from(values, (v) => `s${v}`));
  }
  return Tensor.fromNumbers(dtype, shape, values);
}

/** A shape with rank in [minRank, maxRank] and dims in [minDim, maxDim]. */
export function arbShape(
  fc: FastCheck,
  { minRank = 0, maxRank = 4, minDim = 1, maxDim = 5 } = {},
): Arbitrary<number[]> {
  return fc.array(fc.integer({ min: minDim, max: maxDim }), {
    minLength: minRank,
    maxLength: maxRank,
  });
}

/** A tensor of the given (or drawn) shape. */
export function arbTensor(
  fc: FastCheck,
  dtype: DType,
  shape: Shape | Arbitrary<number[]>,
  range: ValueRange = {},
): Arbitrary<Tensor> {
  const shapes = Array.isArray(shape)
    ? fc.constant(shape as number[])
    : shape as Arbitrary<number[]>;
  return fc.tuple(shapes, fc.integer({ min: 0, max: 0x7fffffff }))
    .map(([s, seed]) => randomTensor(dtype, s, seed, range));
}

/** Two shapes that broadcast together: one drawn shape, the other a suffix with some dims set to 1. */
export function arbBroadcastShapes(fc: FastCheck, maxRank = 4): Arbitrary<[number[], number[]]> {
  return fc.tuple(
    arbShape(fc, { maxRank }),
    fc.integer({ min: 0, max: maxRank }),
    fc.array(fc.boolean(), { minLength: maxRank, maxLength: maxRank }),
    fc.boolean(),
  ).map(([full, drop, ones, swap]) => {
    const other = full.slice(Math.min(drop, full.length)).map((d, i) => (ones[i] ? 1 : d));
    return swap ? [other, full] : [full, other];
  });
}
