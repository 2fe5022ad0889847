/**
 * Binary elementwise kernels with TensorFlow broadcasting (map.ts): arithmetic, comparisons
 * (bool results) and logic. Integer division and modulo floor as TensorFlow's do, computed on
 * magnitudes as u32: WGSL's i32 `/` and `%` of negative operands become GLSL's on the GL backend,
 * where they are undefined (llvmpipe gave -7 floordiv 3 = -2). Maximum and Minimum propagate NaN,
 * which WGSL's max/min leave undefined; comparisons with NaN are false (NotEqual true) and float
 * FloorMod is an exact fmod (math_wgsl.ts). Integer Pow runs on REF, which refuses negative
 * exponents as TensorFlow does (a shader cannot raise an error).
 */
import type { DType } from "../../core/dtype.ts";
import type { KernelCase, Tolerance } from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { numbers } from "../../core/tensor.ts";
import * as B from "../../core/ops/binary.ts";
import type { GpuKernel } from "../../devices/webgpu/device.ts";
import {
  ARITHMETIC,
  defineGpuKernel,
  FLOATS,
  floatTolerance,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { type MapFunction, NodeMap } from "./map.ts";
import { FMOD, NAN, POW } from "./math_wgsl.ts";

interface BinaryEntry {
  op: B.BinaryOpDef;
  /** Expression of `a, b: f32`, or one per float dtype. */
  float?: string | ((dtype: DType) => string);
  /** Expression of `a, b: i32` (int32, and bool for logic and equality). */
  int?: string;
  /** Dtypes besides the floats and int32 that `int` serves. */
  also?: readonly DType[];
  /** Comparisons: the expression is a bool, stored as 0/1. */
  bool?: boolean;
  helpers?: string;
  /** The bound, or a bound per case (Pow's depends on its operands). */
  tol?: Omit<Tolerance, "reason"> | ((c: KernelCase<Attrs>) => Omit<Tolerance, "reason">);
  reason?: string;
}

/**
 * Integer division on magnitudes: |a| and |b| as u32 (|MIN| = 2^31 fits), unsigned `/` (defined
 * on every backend), then the sign. The divisor is never 0 (the op refuses it); MIN / -1 wraps
 * to MIN as on the other devices.
 */
const INT_DIV = `
fn mag(x: i32) -> u32 { return select(bitcast<u32>(x), 0u - bitcast<u32>(x), x < 0); }
fn trunc_div(a: i32, b: i32) -> i32 {
  let q = mag(a) / mag(b);
  return bitcast<i32>(select(q, 0u - q, (a < 0) != (b < 0)));
}
fn floor_div(a: i32, b: i32) -> i32 {
  let ua = mag(a);
  let ub = mag(b);
  let q = ua / ub;
  if ((a < 0) == (b < 0)) { return bitcast<i32>(q); }
  // Opposite signs: -(q + 1) when the division is inexact, rounding toward -Inf.
  return bitcast<i32>(0u - (q + select(0u, 1u, ua - q * ub != 0u)));
}
fn floor_mod_i(a: i32, b: i32) -> i32 {
  let ub = mag(b);
  let r = mag(a) % ub;
  if (r == 0u) { return 0; }
  // The result has b's sign: |result| = r when a and b agree, |b| - r when not (both < 2^31).
  let m = bitcast<i32>(select(ub - r, r, (a < 0) == (b < 0)));
  return select(m, -m, b < 0);
}`;
/**
 * TensorFlow's float FloorMod: r = fmod(a, b), plus b when r is nonzero and its sign differs
 * from b's (signs and zero read on the bits; r + b is one float32 rounding, as TensorFlow's).
 */
const FLOOR_MOD = FMOD + `
fn floor_mod_f(a: f32, b: f32) -> f32 {
  let r = fmod_(a, b);
  let rb = bitcast<u32>(r);
  let moves = (rb & 0x7fffffffu) != 0u && !is_nan(r) &&
    ((rb ^ bitcast<u32>(b)) & 0x80000000u) != 0u;
  return select(r, r + b, moves);
}`;

/**
 * Float comparisons are false when either operand is NaN (NotEqual true), as IEEE's; WGSL lets
 * a compiler assume no NaN (the GL backend gave NotEqual(NaN, -1) = false), so NaN is tested on
 * the bits first.
 */
function ordered(compare: string): string {
  return `!(is_nan(a) || is_nan(b)) && ${compare}`;
}

/**
 * Float FloorDiv as TensorFlow: the quotient rounded to the dtype (16-bit floats compute in f32
 * here, so they round it to their width first), then floored.
 */
function floatFloorDiv(dtype: DType): string {
  if (dtype === "bfloat16") return "floor(round_bf16(a / b))";
  if (dtype === "float16") return "floor(round_f16(a / b))";
  return "floor(a / b)";
}

/**
 * WGSL's pow(x, y) (pow_ calls it for finite x != 0, y) is bounded only as exp2(y log2(x)):
 * log2 within 3 ULPs, or 2^-21 absolute on [0.5, 2]; t = y log2(x) rounds (1/2 ULP); exp2(t)
 * within 3 + 2|t| ULPs. An absolute error d in t is a relative error ln2·d in the result, at most
 * ln2·d·2^24 ULPs: 3|t|·2^-23 + |t|·2^-24 from log2 and the product (4.9|t| ULPs), or
 * |y|·2^-21 + |t|·2^-24 on [0.5, 2] (5.6|y| + 0.7|t| ULPs). With the final rounding:
 * 4 + 7|t| ULPs, plus 6|y| for bases in [0.5, 2], over the case's largest |y| and |log2 |x||.
 */
function powTolerance(c: KernelCase<Attrs>): Omit<Tolerance, "reason"> {
  const xs = numbers(c.inputs[0]), ys = numbers(c.inputs[1]);
  let maxLog = 0, nearOne = false, maxY = 0;
  for (let i = 0; i < xs.length; i++) {
    const a = Math.abs(xs[i]);
    if (a === 0 || !Number.isFinite(a)) continue;
    maxLog = Math.max(maxLog, Math.abs(Math.log2(a)));
    if (a >= 0.5 && a <= 2) nearOne = true;
  }
  for (let i = 0; i < ys.length; i++) {
    if (Number.isFinite(ys[i])) maxY = Math.max(maxY, Math.abs(ys[i]));
  }
  const ulps = 4 + 7 * maxY * maxLog + (nearOne ? 6 * maxY : 0);
  return { ulps: Math.max(16, Math.ceil(ulps)), atol: 1e-6 };
}

const ENTRIES: BinaryEntry[] = [
  { op: B.AddV2, float: "a + b", int: "a + b" },
  { op: B.Sub, float: "a - b", int: "a - b" },
  { op: B.Mul, float: "a * b", int: "a * b" },
  {
    op: B.RealDiv,
    float: "a / b",
    int: "trunc_div(a, b)",
    helpers: INT_DIV,
    tol: { ulps: 3 },
    reason: "WGSL division is accurate to 2.5 ULP",
  },
  {
    op: B.FloorDiv,
    float: floatFloorDiv,
    int: "floor_div(a, b)",
    helpers: INT_DIV,
  },
  {
    op: B.FloorMod,
    float: "floor_mod_f(a, b)",
    int: "floor_mod_i(a, b)",
    helpers: FLOOR_MOD + INT_DIV,
  },
  {
    op: B.Maximum,
    float: `select(max(a, b), ${NAN}, is_nan(a) || is_nan(b))`,
    int: "max(a, b)",
  },
  {
    op: B.Minimum,
    float: `select(min(a, b), ${NAN}, is_nan(a) || is_nan(b))`,
    int: "min(a, b)",
  },
  {
    op: B.Pow,
    float: "pow_(a, b)",
    helpers: POW,
    tol: powTolerance,
    reason: "WGSL's pow is exp2(b log2(a)), its error growing with |b log2(a)| (powTolerance)",
  },
  {
    op: B.SquaredDifference,
    float: "(a - b) * (a - b)",
    int: "(a - b) * (a - b)",
    tol: { ulps: 2 },
    reason: "the difference rounds to float32 before it is squared",
  },
  { op: B.Equal, float: ordered("a == b"), int: "a == b", also: ["bool"], bool: true },
  {
    op: B.NotEqual,
    float: "is_nan(a) || is_nan(b) || a != b",
    int: "a != b",
    also: ["bool"],
    bool: true,
  },
  { op: B.Less, float: ordered("a < b"), int: "a < b", bool: true },
  { op: B.LessEqual, float: ordered("a <= b"), int: "a <= b", bool: true },
  { op: B.Greater, float: ordered("a > b"), int: "a > b", bool: true },
  { op: B.GreaterEqual, float: ordered("a >= b"), int: "a >= b", bool: true },
  { op: B.LogicalAnd, int: "a & b", also: ["bool"] },
  { op: B.LogicalOr, int: "a | b", also: ["bool"] },
];

function binaryFunction(e: BinaryEntry, dtype: DType): MapFunction {
  const type = computeType(dtype);
  const float = typeof e.float === "function" ? e.float(dtype) : e.float;
  const expr = (type === "f32" ? float : e.int)!;
  const result = e.bool ? "i32" : type;
  const body = e.bool ? `select(0, 1, ${expr})` : expr;
  return {
    name: `binary.${e.op.name}.${typeof e.float === "function" ? dtype : type}`,
    wgsl: `${e.helpers ?? ""}\nfn f(a: ${type}, b: ${type}) -> ${result} { return ${body}; }`,
  };
}

function kernelFor(e: BinaryEntry): GpuKernel {
  const logic = e.op === B.LogicalAnd || e.op === B.LogicalOr;
  const numeric = e.float ? (e.int ? ARITHMETIC : FLOATS) : ["int32" as const];
  const dtypes = [...(logic ? [] : numeric), ...(e.also ?? [])];
  return defineGpuKernel(e.op, {
    dtypes,
    create({ inputs: [x, y], outputs: [out], device }) {
      const map = new NodeMap(
        binaryFunction(e, x.dtype),
        [x.shape, y.shape],
        out.shape,
        [staticBinding(device, x), staticBinding(device, y)],
        staticBinding(device, out),
      );
      return {
        programs: map.programs,
        run(ctx) {
          const d = map.dispatch(ctx.device, ctx.inputs, ctx.output(0));
          return ctx.device.encode(ctx.node, [d]);
        },
      };
    },
    tolerance: tolerance(e),
  });
}

function tolerance(e: BinaryEntry) {
  const reason = e.reason ?? "float32 arithmetic, rounded once";
  const tol = e.tol;
  if (typeof tol !== "function") return floatTolerance(tol ?? {}, reason);
  return (c: KernelCase<Attrs>): Tolerance => widenFor16(c.inputs[0]?.dtype, { ...tol(c), reason });
}

export const BINARY_KERNELS: readonly GpuKernel[] = ENTRIES.map(kernelFor);
