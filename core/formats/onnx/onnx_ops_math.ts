/**
 * ONNX elementwise, logical, reduction and matrix ops as Edgeflow ops. ONNX's multidirectional
 * broadcasting is numpy's, which TensorFlow's binary ops share, so binary ops map one to one;
 * ops Edgeflow has no kernel for become short compositions of ops it has.
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

const unary = (op: string): OnnxMapper => (c) => [c.out(op, [c.req(0)])];
const binary = (op: string): OnnxMapper => (c) => [c.out(op, [c.req(0), c.req(1)])];

/** Folds a variadic op (Max, Min, Sum) pairwise. */
const variadic = (op: string): OnnxMapper => (c) => {
  let acc = c.req(0);
  for (let i = 1; i < c.inputCount; i++) acc = c.out(op, [acc, c.req(i)]);
  return [c.inputCount === 1 ? c.out("Identity", [acc]) : acc];
};

function scalarLike(c: OnnxNodeContext, x: Output, v: number): Output {
  return c.scalar(v, x.dtype);
}

/** gamma · (x > 0 ? x : alpha · (eˣ − 1)), Elu giving eˣ − 1 where x ≤ 0. */
function scaledElu(c: OnnxNodeContext, x: Output, alpha: number, gamma: number): Output {
  const neg = alpha === 1 ? c.out("Elu", [x]) : c.out("Mul", [
    scalarLike(c, x, alpha),
    c.out("Elu", [x]),
  ]);
  const y = alpha === 1 ? neg : c.out("SelectV2", [
    c.out("Greater", [x, scalarLike(c, x, 0)]),
    x,
    neg,
  ]);
  return gamma === 1 ? y : c.out("Mul", [scalarLike(c, x, gamma), y]);
}

function hardSigmoid(c: OnnxNodeContext, x: Output, alpha: number, beta: number): Output {
  const lin = c.out("AddV2", [c.out("Mul", [x, scalarLike(c, x, alpha)]), scalarLike(c, x, beta)]);
  return c.out("Maximum", [
    scalarLike(c, x, 0),
    c.out("Minimum", [scalarLike(c, x, 1), lin]),
  ]);
}

export const MATH_MAPPERS: Record<string, OnnxMapper> = {
  Abs: unary("Abs"),
  Ceil: unary("Ceil"),
  Cos: unary("Cos"),
  Erf: unary("Erf"),
  Exp: unary("Exp"),
  Floor: unary("Floor"),
  Log: unary("Log"),
  Neg: unary("Neg"),
  Reciprocal: unary("Reciprocal"),
  Relu: unary("Relu"),
  // ONNX rounds halves to even, as TensorFlow's Round does.
  Round: unary("Round"),
  Sigmoid: unary("Sigmoid"),
  Sign: unary("Sign"),
  Sin: unary("Sin"),
  Sqrt: unary("Sqrt"),
  Tanh: unary("Tanh"),
  Softplus: unary("Softplus"),
  Identity: unary("Identity"),
  Not: unary("LogicalNot"),
  Tan: (c) => [c.out("RealDiv", [c.out("Sin", [c.req(0)]), c.out("Cos", [c.req(0)])])],
  Sinh: (c) => {
    const x = c.req(0);
    const d = c.out("Sub", [c.out("Exp", [x]), c.out("Exp", [c.out("Neg", [x])])]);
    return [c.out("Mul", [d, scalarLike(c, x, 0.5)])];
  },
  Cosh: (c) => {
    const x = c.req(0);
    const s = c.out("AddV2", [c.out("Exp", [x]), c.out("Exp", [c.out("Neg", [x])])]);
    return [c.out("Mul", [s, scalarLike(c, x, 0.5)])];
  },
  Elu: (c) => [scaledElu(c, c.req(0), c.float("alpha", 1), 1)],
  Selu: (c) => [
    scaledElu(
      c,
      c.req(0),
      c.float("alpha", 1.67326319217681884765625),
      c.float("gamma", 1.05070102214813232421875),
    ),
  ],
  Celu: (c) => {
    // max(0, x) + min(0, α·(exp(x/α) − 1)); Elu(x/α) is exp(x/α) − 1 where that part matters.
    const x = c.req(0), alpha = c.float("alpha", 1);
    const e = c.out("Mul", [
      scalarLike(c, x, alpha),
      c.out("Elu", [c.out("RealDiv", [x, scalarLike(c, x, alpha)])]),
    ]);
    return [c.out("AddV2", [
      c.out("Maximum", [scalarLike(c, x, 0), x]),
      c.out("Minimum", [scalarLike(c, x, 0), e]),
    ])];
  },
  LeakyRelu: (c) => [c.out("LeakyRelu", [c.req(0)], { alpha: c.float("alpha", 0.01) })],
  PRelu: (c) => {
    const x = c.req(0);
    return [c.out("SelectV2", [
      c.out("Less", [x, scalarLike(c, x, 0)]),
      c.out("Mul", [x, c.req(1)]),
      x,
    ])];
  },
  ThresholdedRelu: (c) => {
    const x = c.req(0);
    return [c.out("SelectV2", [
      c.out("Greater", [x, scalarLike(c, x, c.float("alpha", 1))]),
      x,
      scalarLike(c, x, 0),
    ])];
  },
  HardSigmoid: (c) => [hardSigmoid(c, c.req(0), c.float("alpha", 0.2), c.float("beta", 0.5))],
  HardSwish: (c) => [c.out("Mul", [c.req(0), hardSigmoid(c, c.req(0), 1 / 6, 0.5)])],
  Softsign: (c) => {
    const x = c.req(0);
    return [c.out("RealDiv", [
      x,
      c.out("AddV2", [scalarLike(c, x, 1), c.out("Abs", [x])]),
    ])];
  },
  Shrink: (c) => {
    const x = c.req(0), bias = c.float("bias", 0), lambd = c.float("lambd", 0.5);
    const low = c.out("Less", [x, scalarLike(c, x, -lambd)]);
    const high = c.out("Greater", [x, scalarLike(c, x, lambd)]);
    return [c.out("SelectV2", [
      low,
      c.out("AddV2", [x, scalarLike(c, x, bias)]),
      c.out("SelectV2", [high, c.out("Sub", [x, scalarLike(c, x, bias)]), scalarLike(c, x, 0)]),
    ])];
  },
  IsNaN: (c) => [c.out("NotEqual", [c.req(0), c.req(0)])],
  IsInf: (c) => {
    const x = c.req(0);
    const pos = c.int("detect_positive", 1), neg = c.int("detect_negative", 1);
    const isPos = c.out("Equal", [x, scalarLike(c, x, Infinity)]);
    const isNeg = c.out("Equal", [x, scalarLike(c, x, -Infinity)]);
    if (pos && neg) return [c.out("LogicalOr", [isPos, isNeg])];
    if (pos) return [isPos];
    if (neg) return [isNeg];
    return [c.out("LogicalAnd", [isPos, isNeg])]; // all false
  },

  Add: binary("AddV2"),
  Sub: binary("Sub"),
  Mul: binary("Mul"),
  // On integers both truncate toward zero (C division).
  Div: binary("RealDiv"),
  Pow: (c) => {
    // The exponent may have another type than the base; the result has the base's.
    const x = c.req(0), y = c.req(1);
    const e = y.dtype === x.dtype ? y : c.out("Cast", [y], { DstT: x.dtype });
    return [c.out("Pow", [x, e])];
  },
  Equal: binary("Equal"),
  Greater: binary("Greater"),
  Less: binary("Less"),
  GreaterOrEqual: binary("GreaterEqual"),
  LessOrEqual: binary("LessEqual"),
  And: binary("LogicalAnd"),
  Or: binary("LogicalOr"),
  Xor: binary("NotEqual"),
  Where: (c) => [c.out("SelectV2", [c.req(0), c.req(1), c.req(2)])],
  Max: variadic("Maximum"),
  Min: variadic("Minimum"),
  Sum: variadic("AddV2"),
  Mean: (c) => {
    const sum = variadic("AddV2")(c)[0]!;
    return [c.out("RealDiv", [sum, scalarLike(c, sum, c.inputCount)])];
  },
  Mod: (c) => {
    const x = c.req(0), y = c.req(1);
    const r = c.out("FloorMod", [x, y]);
    if (c.int("fmod", 0) === 0) return [r];
    // C's fmod takes the dividend's sign; the floor remainder, the divisor's. They differ by y
    // where the remainder is nonzero and the signs disagree.
    const zero = scalarLike(c, x, 0);
    const fix = c.out("LogicalAnd", [
      c.out("NotEqual", [r, zero]),
      c.out("NotEqual", [c.out("Less", [x, zero]), c.out("Less", [r, zero])]),
    ]);
    return [c.out("SelectV2", [fix, c.out("Sub", [r, y]), r])];
  },
  Clip: (c) => {
    let x = c.req(0);
    const lo = c.opset < 11 ? c.attr("min") && scalarLike(c, x, c.float("min", 0)) : c.input(1);
    const hi = c.opset < 11 ? c.attr("max") && scalarLike(c, x, c.float("max", 0)) : c.input(2);
    if (lo) x = c.out("Maximum", [x, lo]);
    if (hi) x = c.out("Minimum", [x, hi]);
    return [lo || hi ? x : c.out("Identity", [x])];
  },

  MatMul: (c) => [matMul(c, c.req(0), c.req(1))],
  Gemm: (c) => {
    const a = c.req(0), b = c.req(1);
    const alpha = c.float("alpha", 1), beta = c.float("beta", 1);
    let y = c.out("MatMul", [a, b], {
      transpose_a: c.int("transA", 0) !== 0,
      transpose_b: c.int("transB", 0) !== 0,
    });
    if (alpha !== 1) y = c.out("Mul", [y, scalarLike(c, y, alpha)]);
    const bias = c.input(2);
    if (bias) {
      y = c.out("AddV2", [
        y,
        beta === 1 ? bias : c.out("Mul", [bias, scalarLike(c, bias, beta)]),
      ]);
    }
    return [y];
  },
};

/** numpy's matmul: batch dims broadcast; a 1-D operand gains a dim that is dropped after. */
function matMul(c: OnnxNodeContext, a: Output, b: Output): Output {
  const ra = c.rank(a), rb = c.rank(b);
  if (ra === 2 && rb === 2) return c.out("MatMul", [a, b]);
  const a2 = ra === 1 ? c.out("ExpandDims", [a, c.scalar(0, "int32")]) : a;
  const b2 = rb === 1 ? c.out("ExpandDims", [b, c.scalar(-1, "int32")]) : b;
  let y = c.out("BatchMatMulV2", [a2, b2]);
  if (ra === 1 && rb === 1) return c.out("Squeeze", [y], { squeeze_dims: [-2, -1] });
  if (ra === 1) y = c.out("Squeeze", [y], { squeeze_dims: [-2] });
  if (rb === 1) y = c.out("Squeeze", [y], { squeeze_dims: [-1] });
  return y;
}
