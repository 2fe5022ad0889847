/** Binary elementwise ops with broadcasting: arithmetic, comparisons and logic. */
import { type DType, isFloat, isInteger, NUMERIC_DTYPES, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type GradientFn, type InputCheck, type OpDef } from "../op.ts";
import { broadcastShapes } from "../shape.ts";
import { arbBroadcastShapes, randomTensor, type ValueRange } from "../testing/arbitrary.ts";
import { withElement } from "../testing/invalid.ts";
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
import { type BigScalar2, mapBinary, type Scalar2 } from "./elementwise.ts";
import {
  cPow,
  floatFloorDiv,
  floorMod as floorModScalar,
  int64FloorDiv,
  int64FloorMod,
  int64Pow,
  intPow,
} from "./scalar_math.ts";

type BinaryAttrs = { T: DType };
export type BinaryOpDef = OpDef<BinaryAttrs>;

interface BinarySpec {
  name: string;
  gradient?: GradientFn<BinaryAttrs>;
  dtypes: readonly DType[];
  /** The function on floats (and on integers unless `int` is given). */
  f: Scalar2;
  /** Replaces `f` per float dtype, where TensorFlow rounds an intermediate to the dtype. */
  float?: (dtype: DType) => Scalar2;
  /**
   * Replaces `f` for int32, int8 and uint8, where doubles would lose the low bits of a product;
   * results wrap when stored.
   */
  int?: Scalar2;
  /** The int64 function, exact in BigInt (the output wraps in 64 bits when stored). */
  int64: BigScalar2;
  /** Integer exponents must be non-negative (TensorFlow's Pow refuses them). */
  nonNegativeIntExponent?: boolean;
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
    checks: s.divides
      ? [nonzeroIntegerDivisor]
      : s.nonNegativeIntExponent
      ? [nonNegativeIntegerExponent]
      : undefined,
    reference: ([x, y], { T }) => {
      const f = isInteger(T) ? s.int ?? s.f : isFloat(T) && s.float ? s.float(T) : s.f;
      return [mapBinary(x, y, s.bool ? "bool" : T, f, s.int64)];
    },
    arbitrary: (fc, dtype) =>
      fc.tuple(arbBroadcastShapes(fc), fc.nat(), fc.nat()).map(([[sa, sb], seedA, seedB]) => {
        const [ra, rb] = s.ranges?.(dtype) ?? [{}, s.divides ? { nonzero: true } : {}];
        return {
          inputs: [randomTensor(dtype, sa, seedA, ra), randomTensor(dtype, sb, seedB, rb)],
          attrs: {},
        };
      }),
    invalidArbitrary: s.divides || s.nonNegativeIntExponent
      ? (fc, dtype) => {
        // A zero divisor, or a negative exponent (uint8 holds none), in a non-empty output.
        const bad = s.divides ? 0 : -1;
        if (!isInteger(dtype) || (bad < 0 && dtype === "uint8")) return undefined;
        const [ra, rb] = s.ranges?.(dtype) ?? [{}, { nonzero: true }];
        return fc.tuple(arbBroadcastShapes(fc), fc.nat(), fc.nat())
          .filter(([[sa, sb]]) => [...sa, ...sb].every((d) => d > 0))
          .map(([[sa, sb], seedA, seedB]) => ({
            inputs: [
              randomTensor(dtype, sa, seedA, ra),
              withElement(randomTensor(dtype, sb, seedB, rb), seedA, bad),
            ],
            attrs: {},
          }));
      }
      : undefined,
  });
}

/** TensorFlow refuses an integer division by zero ("Integer division by zero") before any. */
const nonzeroIntegerDivisor: InputCheck<BinaryAttrs> = {
  reads: [1],
  applies: ({ T }) => isInteger(T),
  run(values) {
    const y = values[1]!.data as ArrayLike<number | bigint>;
    for (let i = 0; i < y.length; i++) {
      if (Number(y[i]) === 0) throw new EdgeflowError("integer division by zero");
    }
  },
};

/**
 * TensorFlow's integer Pow refuses a negative exponent ("Integers to negative integer powers are
 * not allowed") wherever an element is computed: an empty output refuses nothing.
 */
const nonNegativeIntegerExponent: InputCheck<BinaryAttrs> = {
  reads: [1],
  applies: ({ T }) => isInteger(T),
  run(values, specs) {
    const out = broadcastShapes(specs[0].shape, specs[1].shape);
    if (out === null || out.some((d) => d === 0)) return;
    const y = values[1]!.data as ArrayLike<number | bigint>;
    for (let i = 0; i < y.length; i++) {
      if (y[i] < 0) throw new EdgeflowError("Integers to negative integer powers are not allowed");
    }
  },
};

const bothBool = ["bool"] as const;
const comparable = REAL_DTYPES;
const big = (b: boolean) => (b ? 1n : 0n);
const square64 = (d: bigint) => d * d;

export const AddV2 = defineBinary({
  gradient: addGrad,
  name: "AddV2",
  dtypes: REAL_DTYPES,
  f: (x, y) => x + y,
  int64: (x, y) => x + y,
});
export const Sub = defineBinary({
  gradient: subGrad,
  name: "Sub",
  dtypes: REAL_DTYPES,
  f: (x, y) => x - y,
  int64: (x, y) => x - y,
});
export const Mul = defineBinary({
  gradient: mulGrad,
  name: "Mul",
  dtypes: REAL_DTYPES,
  f: (x, y) => x * y,
  int: Math.imul,
  int64: (x, y) => x * y,
});
/** On integers, C's division: truncation toward zero (MIN / -1 wraps to MIN). */
export const RealDiv = defineBinary({
  gradient: realDivGrad,
  name: "RealDiv",
  dtypes: REAL_DTYPES,
  f: (x, y) => x / y,
  int64: (x, y) => x / y,
  divides: true,
});
export const FloorDiv = defineBinary({
  gradient: notDifferentiable,
  name: "FloorDiv",
  dtypes: REAL_DTYPES,
  f: (x, y) => Math.floor(x / y),
  float: floatFloorDiv,
  int64: int64FloorDiv,
  divides: true,
});
export const FloorMod = defineBinary({
  gradient: floorModGrad,
  name: "FloorMod",
  dtypes: REAL_DTYPES,
  f: floorModScalar,
  int64: int64FloorMod,
  divides: true,
});
export const Maximum = defineBinary({
  gradient: maximumGrad,
  name: "Maximum",
  dtypes: REAL_DTYPES,
  f: Math.max,
  int64: (x, y) => (x > y ? x : y),
});
export const Minimum = defineBinary({
  gradient: minimumGrad,
  name: "Minimum",
  dtypes: REAL_DTYPES,
  f: Math.min,
  int64: (x, y) => (x < y ? x : y),
});
export const Pow = defineBinary({
  gradient: powGrad,
  name: "Pow",
  dtypes: REAL_DTYPES,
  f: cPow,
  int: intPow,
  int64: int64Pow,
  nonNegativeIntExponent: true,
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
  int: (x, y) => Math.imul(x - y, x - y),
  int64: (x, y) => square64(x - y),
});
export const Equal = defineBinary({
  name: "Equal",
  dtypes: NUMERIC_DTYPES,
  f: (x, y) => +(x === y),
  int64: (x, y) => big(x === y),
  bool: true,
});
export const NotEqual = defineBinary({
  name: "NotEqual",
  dtypes: NUMERIC_DTYPES,
  f: (x, y) => +(x !== y),
  int64: (x, y) => big(x !== y),
  bool: true,
});
export const Less = defineBinary({
  name: "Less",
  dtypes: comparable,
  f: (x, y) => +(x < y),
  int64: (x, y) => big(x < y),
  bool: true,
});
export const LessEqual = defineBinary({
  name: "LessEqual",
  dtypes: comparable,
  f: (x, y) => +(x <= y),
  int64: (x, y) => big(x <= y),
  bool: true,
});
export const Greater = defineBinary({
  name: "Greater",
  dtypes: comparable,
  f: (x, y) => +(x > y),
  int64: (x, y) => big(x > y),
  bool: true,
});
export const GreaterEqual = defineBinary({
  name: "GreaterEqual",
  dtypes: comparable,
  f: (x, y) => +(x >= y),
  int64: (x, y) => big(x >= y),
  bool: true,
});
export const LogicalAnd = defineBinary({
  name: "LogicalAnd",
  dtypes: bothBool,
  f: (x, y) => x & y,
  int64: (x, y) => x & y,
});
export const LogicalOr = defineBinary({
  name: "LogicalOr",
  dtypes: bothBool,
  f: (x, y) => x | y,
  int64: (x, y) => x | y,
});

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
