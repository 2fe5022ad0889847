/**
 * Scalar functions with TensorFlow's (C's) meaning where JavaScript's differs: integer powers
 * and divisions that wrap in their width, C's pow, FloorDiv rounded in the dtype.
 */
import { type DType, roundTo } from "../dtype.ts";

/**
 * x^y for 32-bit and narrower integers, wrapping as C's integer multiply does (exact through
 * Math.imul; storing into an int8/uint8 array keeps the low bits, which wrap the same way).
 * `y` must be non-negative: TensorFlow refuses negative integer exponents.
 */
export function intPow(x: number, y: number): number {
  let r = 1, base = x | 0;
  for (let e = y; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
  }
  return r;
}

/** x^y for int64, wrapping in 64 bits at every step; `y` must be non-negative. */
export function int64Pow(x: bigint, y: bigint): bigint {
  let r = 1n, base = x;
  for (let e = y; e > 0n; e >>= 1n) {
    if (e & 1n) r = BigInt.asIntN(64, r * base);
    base = BigInt.asIntN(64, base * base);
  }
  return r;
}

/**
 * C's pow: like Math.pow except pow(1, y) = 1 for every y (NaN included) and pow(-1, ±Inf) = 1,
 * where Math.pow gives NaN.
 */
export function cPow(x: number, y: number): number {
  if (x === 1 || (x === -1 && (y === Infinity || y === -Infinity))) return 1;
  return Math.pow(x, y);
}

/** Integer division rounding toward negative infinity, for int64 (wraps MIN / -1 to MIN). */
export function int64FloorDiv(x: bigint, y: bigint): bigint {
  const q = x / y;
  return x % y !== 0n && (x < 0n) !== (y < 0n) ? q - 1n : q;
}

/** The remainder with the divisor's sign, for int64. */
export function int64FloorMod(x: bigint, y: bigint): bigint {
  const r = x % y;
  return r !== 0n && (r < 0n) !== (y < 0n) ? r + y : r;
}

/** The remainder with the divisor's sign (C's fmod, then moved into the divisor's sign). */
export function floorMod(x: number, y: number): number {
  const r = x % y;
  return r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
}

/**
 * Float FloorDiv as TensorFlow computes it: the quotient rounded to the dtype first (float32
 * division; 16-bit floats divide in float32 and round to their own width), then floored. So
 * 1 / 0.33333334f is 3 (the float32 quotient 3.0000000), not the exact quotient's floor 2.
 */
export function floatFloorDiv(dtype: DType): (x: number, y: number) => number {
  if (dtype === "float32") return (x, y) => Math.floor(Math.fround(x / y));
  return (x, y) => Math.floor(roundTo(dtype as "bfloat16", Math.fround(x / y)));
}
