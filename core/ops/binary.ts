/** Binary elementwise ops with broadcasting: arithmetic, comparisons and logic. */
import { type DType, isInteger, NUMERIC_DTYPES, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type GradientFn, type OpDef } from "../op.ts";
import { broadcastShapes } from "../shape.ts";
import { arbBroadcastShapes, randomTensor, type ValueRange } from "../testing/arbitrary.ts";
import {
  addGrad,
  floorModGrad,
  maximumGrad,
  minimumGrad,
  mulGrad,
  notDifferentiable,
  powGrad,
  realDivGrad,
  squaredDifferenceGrad,
  subGrad,
} from "../grads/math.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { mapBinary, type Scalar2 } from "./elementwise.ts";

type BinaryAttrs = { T: DType };
export type BinaryOpDef = OpDef<BinaryAttrs>;

interface BinarySpec {
  name: string;
  gradient?: GradientFn<BinaryAttrs>;
  dtypes: readonly DType[];
  f: Scalar2;
  /** Replaces `f` for int32, where doubles would lose the low bits of a product. */
  int32?: Scalar2;
  /** Comparisons produce bool. */
  bool?: boolean;
  /** Integer divisors must be nonzero (TensorFlow raises "Integer division by zero"). */
  divides?: boolean;
  /** Ranges for the random inputs x and y. */
  ranges?: (dtype: DType) => [ValueRange, ValueRange];
}

function defineBinary(s: BinarySpec): BinaryOpDef {
  return defineOp<BinaryAttrs>({
    name: s.name,
    gradient: s.gradient,
    inputs: [{ name: "x", type: "T" }, { name: "y", type: "T" }],
    outputs: [{ name: "z", type: s.bool ? "bool" : "T" }],
    attrs: { T: { kind: "type", allowed: s.dtypes } },
    infer: (
      [x, y],
      { T },
    ) => [{ dtype: s.bool ? "bool" : T, shape: broadcastShapes(x.shape, y.shape) }],
    reference: ([x, y], { T }) => {
      if (s.divides && isInteger(T) && (y.data as Int32Array).some((v) => Number(v) === 0)) {
        throw new EdgeflowError("integer division by zero");
      }
      const f = T === "int32" && s.int32 ? s.int32 : s.f;
      return [mapBinary(x, y, s.bool ? "bool" : T, f)];
    },
    arbitrary: (fc, dtype) =>
      fc.tuple(arbBroadcastShapes(fc), fc.nat(), fc.nat()).map(([[sa, sb], seedA, seedB]) => {
        const [ra, rb] = s.ranges?.(dtype) ?? [{}, s.divides ? { nonzero: true } : {}];
        return {
          inputs: [randomTensor(dtype, sa, seedA, ra), randomTensor(dtype, sb, seedB, rb)],
          attrs: {},
        };
      }),
  });
}

const floorModScalar: Scalar2 = (x, y) => {
  const r = x % y;
  return r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
};
const bothBool = ["bool"] as const;
const comparable = REAL_DTYPES;

export const AddV2 = defineBinary({
  gradient: addGrad,
  name: "AddV2",
  dtypes: REAL_DTYPES,
  f: (x, y) => x + y,
});
export const Sub = defineBinary({
  gradient: subGrad,
  name: "Sub",
  dtypes: REAL_DTYPES,
  f: (x, y) => x - y,
});
export const Mul = defineBinary({
  gradient: mulGrad,
  name: "Mul",
  dtypes: REAL_DTYPES,
  f: (x, y) => x * y,
  int32: Math.imul,
});
export const RealDiv = defineBinary({
  gradient: realDivGrad,
  name: "RealDiv",
  dtypes: REAL_DTYPES,
  f: (x, y) => x / y,
  divides: true,
});
export const FloorDiv = defineBinary({
  gradient: notDifferentiable,
  name: "FloorDiv",
  dtypes: REAL_DTYPES,
  f: (x, y) => Math.floor(x / y),
  divides: true,
});
export const FloorMod = defineBinary({
  gradient: floorModGrad,
  name: "FloorMod",
  dtypes: REAL_DTYPES,
  f: floorModScalar,
  divides: true,
});
export const Maximum = defineBinary({
  gradient: maximumGrad,
  name: "Maximum",
  dtypes: REAL_DTYPES,
  f: Math.max,
});
export const Minimum = defineBinary({
  gradient: minimumGrad,
  name: "Minimum",
  dtypes: REAL_DTYPES,
  f: Math.min,
});
export const Pow = defineBinary({
  gradient: powGrad,
  name: "Pow",
  dtypes: REAL_DTYPES,
  f: Math.pow,
  // Positive float bases keep the results real; integer exponents stay non-negative as TF requires.
  ranges: (d) =>
    isInteger(d)
      ? [{ min: d === "uint8" ? 0 : -3, max: 3 }, { min: 0, max: 3 }]
      : [{ min: 0.25, max: 3 }, { min: -2, max: 2 }],
});
export const SquaredDifference = defineBinary({
  gradient: squaredDifferenceGrad,
  name: "SquaredDifference",
  dtypes: REAL_DTYPES,
  f: (x, y) => (x - y) * (x - y),
  int32: (x, y) => Math.imul(x - y, x - y),
});
export const Equal = defineBinary({
  name: "Equal",
  dtypes: NUMERIC_DTYPES,
  f: (x, y) => +(x === y),
  bool: true,
});
export const NotEqual = defineBinary({
  name: "NotEqual",
  dtypes: NUMERIC_DTYPES,
  f: (x, y) => +(x !== y),
  bool: true,
});
export const Less = defineBinary({
  name: "Less",
  dtypes: comparable,
  f: (x, y) => +(x < y),
  bool: true,
});
export const LessEqual = defineBinary({
  name: "LessEqual",
  dtypes: comparable,
  f: (x, y) => +(x <= y),
  bool: true,
});
export const Greater = defineBinary({
  name: "Greater",
  dtypes: comparable,
  f: (x, y) => +(x > y),
  bool: true,
});
export const GreaterEqual = defineBinary({
  name: "GreaterEqual",
  dtypes: comparable,
  f: (x, y) => +(x >= y),
  bool: true,
});
export const LogicalAnd = defineBinary({
  name: "LogicalAnd",
  dtypes: bothBool,
  f: (x, y) => x & y,
});
export const LogicalOr = defineBinary({ name: "LogicalOr", dtypes: bothBool, f: (x, y) => x | y });

export const BINARY_OPS: readonly BinaryOpDef[] = [
  AddV2,
  Sub,
  Mul,
  RealDiv,
  FloorDiv,
  FloorMod,
  Maximum,
  Minimum,
  Pow,
  SquaredDifference,
  Equal,
  NotEqual,
  Less,
  LessEqual,
  Greater,
  GreaterEqual,
  LogicalAnd,
  LogicalOr,
];

type Binary = (x: TensorLike, y: TensorLike, options?: OpOptions<BinaryAttrs>) => Output;
function builder(op: BinaryOpDef): Binary {
  return (x, y, options = {}) => apply(op, [x, y], options).outputs[0];
}
export const add = builder(AddV2);
export const sub = builder(Sub);
export const mul = builder(Mul);
export const div = builder(RealDiv);
export const floorDiv = builder(FloorDiv);
export const floorMod = builder(FloorMod);
export const maximum = builder(Maximum);
export const minimum = builder(Minimum);
export const pow = builder(Pow);
export const squaredDifference = builder(SquaredDifference);
export const equal = builder(Equal);
export const notEqual = builder(NotEqual);
export const less = builder(Less);
export const lessEqual = builder(LessEqual);
export const greater = builder(Greater);
export const greaterEqual = builder(GreaterEqual);
export const logicalAnd = builder(LogicalAnd);
export const logicalOr = builder(LogicalOr);
