/** Unary elementwise ops: arithmetic, activations, transcendental functions and LogicalNot. */
import { type DType, FLOAT_DTYPES, isInteger, REAL_DTYPES } from "../dtype.ts";
import type { Output } from "../graph.ts";
import { defineOp, type GradientFn, type OpDef } from "../op.ts";
import { arbShape, arbTensor, type ValueRange } from "../testing/arbitrary.ts";
import {
  absGrad,
  cosGrad,
  eluGradFn,
  erfGrad,
  expGrad,
  leakyReluGradFn,
  log1pGrad,
  logGrad,
  negGrad,
  notDifferentiable,
  reciprocalGradFn,
  relu6GradFn,
  reluGradFn,
  rsqrtGradFn,
  seluGradFn,
  sigmoidGradFn,
  signGrad,
  sinGrad,
  softplusGradFn,
  sqrtGradFn,
  squareGrad,
  tanhGradFn,
} from "../grads/math.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { type BigScalar1, mapUnary, type Scalar1 } from "./elementwise.ts";

type UnaryAttrs = { T: DType };
export type UnaryOpDef = OpDef<UnaryAttrs>;

interface UnarySpec {
  name: string;
  gradient?: GradientFn<UnaryAttrs>;
  dtypes: readonly DType[];
  f: Scalar1;
  /** Replaces `f` for int32, int8 and uint8 where doubles would lose the low bits. */
  int?: Scalar1;
  /** The int64 function, exact in BigInt; needed where `dtypes` has int64. */
  int64?: BigScalar1;
  /** Where the function is defined and well-conditioned, for random inputs. */
  range?: ValueRange;
}

function defineUnary(s: UnarySpec): UnaryOpDef {
  return defineOp<UnaryAttrs>({
    name: s.name,
    gradient: s.gradient,
    inputs: [{ name: "x", type: "T" }],
    outputs: [{ name: "y", type: "T" }],
    attrs: { T: { kind: "type", allowed: s.dtypes } },
    infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
    reference: ([x], { T }) => [mapUnary(x, T, isInteger(T) ? s.int ?? s.f : s.f, s.int64)],
    arbitrary: (fc, dtype) =>
      arbTensor(fc, dtype, arbShape(fc), s.range).map((x) => ({ inputs: [x], attrs: {} })),
  });
}

const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_ALPHA = 1.6732632423543772848170429916717;

/** Round half to even, as TensorFlow's Round (and numpy's rint). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/**
 * erf by its Taylor series, with float64 accuracy far beyond float32's needs for |x| < 4;
 * beyond 4, erf(x) rounds to ±1 in float32 (erfc(4) ≈ 1.5e-8).
 */
export function erfScalar(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) >= 4) return Math.sign(x);
  let term = x, sum = x;
  const x2 = x * x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= -x2 / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export function softplusScalar(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

const floats = FLOAT_DTYPES;
const reals = REAL_DTYPES;
const signed = REAL_DTYPES.filter((d) => d !== "uint8");

const identity64 = (x: bigint) => x;

export const Neg = defineUnary({
  gradient: negGrad,
  name: "Neg",
  dtypes: signed,
  f: (x) => -x,
  int64: (x) => -x,
});
export const Abs = defineUnary({
  gradient: absGrad,
  name: "Abs",
  dtypes: signed,
  f: Math.abs,
  int64: (x) => (x < 0n ? -x : x),
});
/** Sign(NaN) is 0, as TensorFlow documents (Eigen's (x > 0) - (x < 0)); Sign(-0) is 0. */
export const Sign = defineUnary({
  gradient: signGrad,
  name: "Sign",
  dtypes: signed,
  f: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  int64: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
});
export const Exp = defineUnary({ gradient: expGrad, name: "Exp", dtypes: floats, f: Math.exp });
export const Log = defineUnary({
  gradient: logGrad,
  name: "Log",
  dtypes: floats,
  f: Math.log,
  range: { min: 0.05, max: 8 },
});
export const Log1p = defineUnary({
  gradient: log1pGrad,
  name: "Log1p",
  dtypes: floats,
  f: Math.log1p,
  range: { min: -0.9, max: 8 },
});
export const Sqrt = defineUnary({
  gradient: sqrtGradFn,
  name: "Sqrt",
  dtypes: floats,
  f: Math.sqrt,
  range: { min: 0, max: 8 },
});
export const Rsqrt = defineUnary({
  gradient: rsqrtGradFn,
  name: "Rsqrt",
  dtypes: floats,
  f: (x) => 1 / Math.sqrt(x),
  range: { min: 0.05, max: 8 },
});
export const Square = defineUnary({
  gradient: squareGrad,
  name: "Square",
  dtypes: reals,
  f: (x) => x * x,
  int: (x) => Math.imul(x, x),
  int64: (x) => x * x,
});
export const Reciprocal = defineUnary({
  gradient: reciprocalGradFn,
  name: "Reciprocal",
  dtypes: floats,
  f: (x) => 1 / x,
  range: { nonzero: true },
});
export const Tanh = defineUnary({
  gradient: tanhGradFn,
  name: "Tanh",
  dtypes: floats,
  f: Math.tanh,
});
export const Sigmoid = defineUnary({
  gradient: sigmoidGradFn,
  name: "Sigmoid",
  dtypes: floats,
  f: (x) => 1 / (1 + Math.exp(-x)),
});
/** Relu(NaN) is NaN: TensorFlow's max(x, 0) propagates NaN. */
export const Relu = defineUnary({
  gradient: reluGradFn,
  name: "Relu",
  dtypes: reals,
  f: (x) => (x > 0 || x !== x ? x : 0),
  int64: (x) => (x > 0n ? x : 0n),
});
export const Relu6 = defineUnary({
  gradient: relu6GradFn,
  name: "Relu6",
  dtypes: reals,
  f: (x) => Math.min(Math.max(x, 0), 6),
  int64: (x) => (x < 0n ? 0n : x > 6n ? 6n : x),
});
export const Elu = defineUnary({
  gradient: eluGradFn,
  name: "Elu",
  dtypes: floats,
  f: (x) => (x > 0 ? x : Math.expm1(x)),
});
export const Selu = defineUnary({
  gradient: seluGradFn,
  name: "Selu",
  dtypes: floats,
  f: (x) => (x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * Math.expm1(x)),
});
export const Softplus = defineUnary({
  gradient: softplusGradFn,
  name: "Softplus",
  dtypes: floats,
  f: softplusScalar,
});
export const Erf = defineUnary({ gradient: erfGrad, name: "Erf", dtypes: floats, f: erfScalar });
export const Floor = defineUnary({
  gradient: notDifferentiable,
  name: "Floor",
  dtypes: floats,
  f: Math.floor,
});
export const Ceil = defineUnary({
  gradient: notDifferentiable,
  name: "Ceil",
  dtypes: floats,
  f: Math.ceil,
});
export const Round = defineUnary({
  gradient: notDifferentiable,
  name: "Round",
  dtypes: reals,
  f: roundHalfEven,
  int64: identity64,
});
export const Sin = defineUnary({ gradient: sinGrad, name: "Sin", dtypes: floats, f: Math.sin });
export const Cos = defineUnary({ gradient: cosGrad, name: "Cos", dtypes: floats, f: Math.cos });
export const LogicalNot = defineUnary({ name: "LogicalNot", dtypes: ["bool"], f: (x) => 1 - x });

type LeakyReluAttrs = { T: DType; alpha: number };
export const LeakyRelu = defineOp<LeakyReluAttrs>({
  gradient: leakyReluGradFn,
  name: "LeakyRelu",
  inputs: [{ name: "features", type: "T" }],
  outputs: [{ name: "activations", type: "T" }],
  attrs: { T: { kind: "type", allowed: floats }, alpha: { kind: "float", default: 0.2 } },
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  reference: ([x], { T, alpha }) => [mapUnary(x, T, (v) => (v < 0 ? alpha * v : v))],
  arbitrary: (fc, dtype) =>
    fc.tuple(arbTensor(fc, dtype, arbShape(fc)), fc.constantFrom(0.2, 0.01, 0.5))
      .map(([x, alpha]) => ({ inputs: [x], attrs: { alpha } })),
});

export const UNARY_OPS: readonly OpDef<UnaryAttrs>[] = [
  Neg,
  Abs,
  Sign,
  Exp,
  Log,
  Log1p,
  Sqrt,
  Rsqrt,
  Square,
  Reciprocal,
  Tanh,
  Sigmoid,
  Relu,
  Relu6,
  Elu,
  Selu,
  Softplus,
  Erf,
  Floor,
  Ceil,
  Round,
  Sin,
  Cos,
  LogicalNot,
];

type Unary = (x: TensorLike, options?: OpOptions<UnaryAttrs>) => Output;
function builder(op: UnaryOpDef): Unary {
  return (x, options = {}) => apply(op, [x], options).outputs[0];
}
export const neg = builder(Neg);
export const abs = builder(Abs);
export const sign = builder(Sign);
export const exp = builder(Exp);
export const log = builder(Log);
export const log1p = builder(Log1p);
export const sqrt = builder(Sqrt);
export const rsqrt = builder(Rsqrt);
export const square = builder(Square);
export const reciprocal = builder(Reciprocal);
export const tanh = builder(Tanh);
export const sigmoid = builder(Sigmoid);
export const relu = builder(Relu);
export const relu6 = builder(Relu6);
export const elu = builder(Elu);
export const selu = builder(Selu);
export const softplus = builder(Softplus);
export const erf = builder(Erf);
export const floor = builder(Floor);
export const ceil = builder(Ceil);
export const round = builder(Round);
export const sin = builder(Sin);
export const cos = builder(Cos);
export const logicalNot = builder(LogicalNot);
export function leakyRelu(x: TensorLike, options: OpOptions<LeakyReluAttrs> = {}): Output {
  return apply(LeakyRelu, [x], options).outputs[0];
}
