/**
 * AddN and the elementwise gradient ops TensorFlow's gradient functions emit: ReluGrad, Relu6Grad,
 * LeakyReluGrad, EluGrad, SeluGrad, SoftplusGrad (from the gradient and the features or outputs)
 * and SigmoidGrad, TanhGrad, RsqrtGrad, SqrtGrad, ReciprocalGrad (from the output y and dy).
 * As in TensorFlow, both inputs must have the same shape: these ops do not broadcast.
 */
import { type DType, FLOAT_DTYPES, NUMERIC_DTYPES, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type InferInput, type OpDef } from "../op.ts";
import { formatShape, mergeShapes, type PartialShape, shapesEqual } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { arbShape, randomTensor, type ValueRange } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { type BigScalar2, mapBinary, type Scalar2 } from "./elementwise.ts";

// Selu's constants, as in unary.ts (TensorFlow's values).
const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_ALPHA = 1.6732632423543772848170429916717;

/** The shape two same-shaped inputs share, or an error naming both. */
function sameShapes(a: InferInput, b: InferInput, names: [string, string]): PartialShape {
  try {
    return mergeShapes(a.shape, b.shape);
  } catch {
    throw new EdgeflowError(
      `${names[0]} ${formatShape(a.shape)} and ${names[1]} ${
        formatShape(b.shape)
      } must have the same shape`,
    );
  }
}
function checkSame(a: Tensor, b: Tensor, names: [string, string]): void {
  if (!shapesEqual(a.shape, b.shape)) sameShapes(a, b, names);
}

// ---- AddN ------------------------------------------------------------------------------

type AddNAttrs = { N: number; T: DType };
/** The elementwise sum of N tensors of one shape, summed in order and rounded per addition. */
export const AddN: OpDef<AddNAttrs> = defineOp<AddNAttrs>({
  name: "AddN",
  inputs: [{ name: "inputs", type: "T", numberAttr: "N" }],
  outputs: [{ name: "sum", type: "T" }],
  attrs: {
    N: {
      kind: "int",
      validate: (n) => (n >= 1 ? undefined : `must be at least 1, got ${n}`),
    },
    T: { kind: "type", allowed: NUMERIC_DTYPES },
  },
  infer: (inputs) => {
    let shape: PartialShape = null;
    for (const x of inputs) {
      try {
        shape = mergeShapes(shape, x.shape);
      } catch {
        throw new EdgeflowError(
          `all inputs must have the same shape, got ${
            inputs.map((i) => formatShape(i.shape)).join(", ")
          }`,
        );
      }
    }
    return [{ dtype: inputs[0].dtype, shape }];
  },
  reference: (inputs) => {
    const [first, ...rest] = inputs;
    for (const x of rest) checkSame(first, x, ["inputs[0]", "another input"]);
    // Pairwise in order, each sum rounded to T: TensorFlow's CPU kernel adds in T.
    const add: Scalar2 = (x, y) => x + y;
    const add64: BigScalar2 = (x, y) => x + y;
    return [rest.reduce((acc, x) => mapBinary(acc, x, first.dtype, add, add64), first)];
  },
  // Every input receives the sum's gradient.
  gradient: (_, node, [dy]) => node.inputs.map(() => dy),
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc), fc.integer({ min: 1, max: 9 }), fc.nat()).map(([shape, n, seed]) => ({
      inputs: Array.from({ length: n }, (_, i) => randomTensor(dtype, shape, seed + i)),
      attrs: {},
    })),
  testDTypes: REAL_DTYPES,
});

// ---- elementwise gradient ops -----------------------------------------------------------

type GradAttrs = { T: DType };
interface GradSpec {
  name: string;
  /** TensorFlow's input names, in order. */
  args: [string, string];
  output: string;
  dtypes: readonly DType[];
  /** The result from the two inputs, in TensorFlow's order. */
  f: Scalar2;
  /** The same on int64, exact in BigInt, where `dtypes` has int64. */
  int64?: BigScalar2;
  /** Ranges for the random inputs (outputs of the forward op, where the op reads them). */
  ranges?: [ValueRange, ValueRange];
}

function defineGrad(s: GradSpec): OpDef<GradAttrs> {
  return defineOp<GradAttrs>({
    name: s.name,
    inputs: s.args.map((name) => ({ name, type: "T" })),
    outputs: [{ name: s.output, type: "T" }],
    attrs: { T: { kind: "type", allowed: s.dtypes } },
    infer: ([a, b]) => [{ dtype: a.dtype, shape: sameShapes(a, b, s.args) }],
    reference: ([a, b], { T }) => {
      checkSame(a, b, s.args);
      return [mapBinary(a, b, T, s.f, s.int64)];
    },
    arbitrary: (fc, dtype) =>
      fc.tuple(arbShape(fc), fc.nat()).map(([shape, seed]) => ({
        inputs: [
          randomTensor(dtype, shape, seed, s.ranges?.[0]),
          randomTensor(dtype, shape, seed + 1, s.ranges?.[1]),
        ],
        attrs: {},
      })),
  });
}

const floats = FLOAT_DTYPES;

/** gradients * (features > 0). */
export const ReluGrad = defineGrad({
  name: "ReluGrad",
  args: ["gradients", "features"],
  output: "backprops",
  dtypes: REAL_DTYPES,
  f: (g, f) => (f > 0 ? g : 0),
  int64: (g, f) => (f > 0n ? g : 0n),
});
/** gradients * (0 < features < 6). */
export const Relu6Grad = defineGrad({
  name: "Relu6Grad",
  args: ["gradients", "features"],
  output: "backprops",
  dtypes: REAL_DTYPES,
  f: (g, f) => (f > 0 && f < 6 ? g : 0),
  int64: (g, f) => (f > 0n && f < 6n ? g : 0n),
  ranges: [{}, { min: -2, max: 8 }],
});
/** From Elu's outputs: gradients where outputs ≥ 0, gradients * (outputs + 1) below. */
export const EluGrad = defineGrad({
  name: "EluGrad",
  args: ["gradients", "outputs"],
  output: "backprops",
  dtypes: floats,
  f: (g, y) => (y < 0 ? g * (y + 1) : g),
  ranges: [{}, { min: -1, max: 4 }],
});
/** From Selu's outputs: gradients * scale where outputs ≥ 0, gradients * (outputs + scale * alpha) below. */
export const SeluGrad = defineGrad({
  name: "SeluGrad",
  args: ["gradients", "outputs"],
  output: "backprops",
  dtypes: floats,
  f: (g, y) => (y < 0 ? g * (y + SELU_SCALE * SELU_ALPHA) : g * SELU_SCALE),
  ranges: [{}, { min: -1.7, max: 4 }],
});
/** gradients * sigmoid(features), the derivative of log(1 + exp(x)). */
export const SoftplusGrad = defineGrad({
  name: "SoftplusGrad",
  args: ["gradients", "features"],
  output: "backprops",
  dtypes: floats,
  f: (g, f) => g / (1 + Math.exp(-f)),
});
/** dy * y * (1 - y), from Sigmoid's output y. */
export const SigmoidGrad = defineGrad({
  name: "SigmoidGrad",
  args: ["y", "dy"],
  output: "z",
  dtypes: floats,
  f: (y, dy) => dy * (y * (1 - y)),
  ranges: [{ min: 0, max: 1 }, {}],
});
/** dy * (1 - y²), from Tanh's output y. */
export const TanhGrad = defineGrad({
  name: "TanhGrad",
  args: ["y", "dy"],
  output: "z",
  dtypes: floats,
  f: (y, dy) => dy * (1 - y * y),
  ranges: [{ min: -1, max: 1 }, {}],
});
/** dy * -0.5 * y³, from Rsqrt's output y. */
export const RsqrtGrad = defineGrad({
  name: "RsqrtGrad",
  args: ["y", "dy"],
  output: "z",
  dtypes: floats,
  f: (y, dy) => dy * (-0.5 * y * y * y),
  ranges: [{ min: 0.3, max: 4 }, {}],
});
/** dy * 0.5 / y, from Sqrt's output y (inf where y = 0, as in TensorFlow). */
export const SqrtGrad = defineGrad({
  name: "SqrtGrad",
  args: ["y", "dy"],
  output: "z",
  dtypes: floats,
  f: (y, dy) => (dy * 0.5) / y,
  ranges: [{ min: 0.3, max: 4 }, {}],
});
/** -dy * y², from Reciprocal's output y. */
export const ReciprocalGrad = defineGrad({
  name: "ReciprocalGrad",
  args: ["y", "dy"],
  output: "z",
  dtypes: floats,
  f: (y, dy) => -dy * (y * y),
});

type LeakyReluGradAttrs = { T: DType; alpha: number };
/** gradients where features > 0, alpha * gradients elsewhere. */
export const LeakyReluGrad: OpDef<LeakyReluGradAttrs> = defineOp<LeakyReluGradAttrs>({
  name: "LeakyReluGrad",
  inputs: [{ name: "gradients", type: "T" }, { name: "features", type: "T" }],
  outputs: [{ name: "backprops", type: "T" }],
  attrs: { T: { kind: "type", allowed: floats }, alpha: { kind: "float", default: 0.2 } },
  infer: ([a, b]) => [{ dtype: a.dtype, shape: sameShapes(a, b, ["gradients", "features"]) }],
  reference: ([g, f], { T, alpha }) => {
    checkSame(g, f, ["gradients", "features"]);
    return [mapBinary(g, f, T, (dy, x) => (x > 0 ? dy : alpha * dy))];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc), fc.nat(), fc.constantFrom(0.2, 0.01, 0.5)).map((
      [shape, seed, alpha],
    ) => ({
      inputs: [randomTensor(dtype, shape, seed), randomTensor(dtype, shape, seed + 1)],
      attrs: { alpha },
    })),
});

export const GRAD_MATH_OPS: readonly OpDef[] = [
  AddN,
  ReluGrad,
  Relu6Grad,
  LeakyReluGrad,
  EluGrad,
  SeluGrad,
  SoftplusGrad,
  SigmoidGrad,
  TanhGrad,
  RsqrtGrad,
  SqrtGrad,
  ReciprocalGrad,
] as unknown as OpDef[];

// ---- builders ---------------------------------------------------------------------------

/** The sum of `inputs` (TensorFlow's tf.add_n). */
export function addN(inputs: readonly TensorLike[], options: OpOptions<AddNAttrs> = {}): Output {
  return apply(AddN, [inputs], options).outputs[0];
}

type GradBuilder = (a: TensorLike, b: TensorLike, options?: OpOptions<GradAttrs>) => Output;
function builder(op: OpDef<GradAttrs>): GradBuilder {
  return (a, b, options = {}) => apply(op, [a, b], options).outputs[0];
}
export const reluGrad = builder(ReluGrad);
export const relu6Grad = builder(Relu6Grad);
export const eluGrad = builder(EluGrad);
export const seluGrad = builder(SeluGrad);
export const softplusGrad = builder(SoftplusGrad);
export const sigmoidGrad = builder(SigmoidGrad);
export const tanhGrad = builder(TanhGrad);
export const rsqrtGrad = builder(RsqrtGrad);
export const sqrtGrad = builder(SqrtGrad);
export const reciprocalGrad = builder(ReciprocalGrad);
export function leakyReluGrad(
  gradients: TensorLike,
  features: TensorLike,
  options: OpOptions<LeakyReluGradAttrs> = {},
): Output {
  return apply(LeakyReluGrad, [gradients, features], options).outputs[0];
}
