/**
 * NCHW ↔ NHWC without a Transpose pair between every two window ops. Each NCHW value that a
 * convolution or pool produced by transposing its NHWC result keeps that NHWC "twin"; the next
 * window op reads the twin instead of transposing back, and layout-free ops (activations,
 * elementwise arithmetic of same-shaped values) are mapped on twins too, transposing their
 * result once more for whoever reads it as NCHW. The session prunes the Transposes nobody reads.
 */
import type { Output } from "../../graph.ts";
import type { OnnxNodeContext } from "./onnx_context.ts";

const twins = new WeakMap<Output, Output>();

/** The NHWC tensor `nchw` is the transpose of, when the importer made it so. */
export function nhwcTwin(nchw: Output): Output | undefined {
  return twins.get(nchw);
}

/** `nhwc` as NCHW (a Transpose), remembered as that value's twin. */
export function toNchwWithTwin(c: OnnxNodeContext, nhwc: Output): Output {
  const t = c.out("Transpose", [nhwc, c.ints32([0, 3, 1, 2])]);
  twins.set(t, nhwc);
  return t;
}

/** Ops whose result at each element depends on that element only (extra inputs: scalars). */
const ELEMENTWISE_UNARY = new Set([
  "Relu",
  "LeakyRelu",
  "Sigmoid",
  "Tanh",
  "Elu",
  "Selu",
  "Celu",
  "HardSigmoid",
  "HardSwish",
  "Softplus",
  "Softsign",
  "ThresholdedRelu",
  "Abs",
  "Neg",
  "Exp",
  "Log",
  "Sqrt",
  "Reciprocal",
  "Floor",
  "Ceil",
  "Round",
  "Erf",
  "Sin",
  "Cos",
  "Identity",
  "Clip",
]);
/** Elementwise ops of several inputs, layout-free when all inputs have one shape. */
const ELEMENTWISE_NARY = new Set(["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean"]);

/** The node's inputs as NHWC twins when its meaning does not depend on the layout. */
export function twinInputs(
  opType: string,
  inputs: readonly (Output | undefined)[],
  outputs: readonly string[],
): (Output | undefined)[] | undefined {
  if (outputs.slice(1).some((o) => o !== "")) return undefined;
  const first = inputs[0] && twins.get(inputs[0]);
  if (!first) return undefined;
  if (ELEMENTWISE_UNARY.has(opType)) {
    const scalarsOnly = inputs.slice(1).every((i) => !i || i.shape?.length === 0);
    return scalarsOnly ? [first, ...inputs.slice(1)] : undefined;
  }
  if (!ELEMENTWISE_NARY.has(opType)) return undefined;
  const shape = inputs[0]!.shape;
  if (shape === null || shape.some((d) => d < 0)) return undefined;
  const all = inputs.map((i) => i && twins.get(i));
  const same = inputs.every((i) => i?.shape?.join() === shape.join());
  return same && all.every((t) => t) ? all : undefined;
}
