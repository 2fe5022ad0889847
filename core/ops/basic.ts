/** Placeholder, PlaceholderWithDefault, Identity and NoOp, and the builders for sources. */
import { ALL_DTYPES, ANY_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError, withContext } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { defineOp } from "../op.ts";
import { formatShape, isCompatible, type PartialShape } from "../shape.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import {
  apply,
  type BuildOptions,
  literalDType,
  type OpOptions,
  type TensorLike,
} from "./build.ts";
import { Const } from "./const.ts";
import { ControlTrigger } from "./control_flow.ts";
import { NO_INPUTS_OR_OUTPUTS } from "./no_io.ts";
import { Tensor, tensorArg } from "../tensor.ts";
import { identityGrad } from "../grads/math.ts";

export { Const };

export const Placeholder = defineOp<{ dtype: DType; shape: PartialShape }>({
  name: "Placeholder",
  inputs: [],
  outputs: [{ name: "output", type: "dtype" }],
  attrs: { dtype: { kind: "type", allowed: ALL_DTYPES }, shape: { kind: "shape", default: null } },
  infer: (_, { dtype, shape }) => [{ dtype, shape }],
  reference: () => {
    throw new EdgeflowError("a Placeholder must be fed");
  },
  testDTypes: [],
});

export const PlaceholderWithDefault = defineOp<{ dtype: DType; shape: PartialShape }>({
  gradient: identityGrad,
  name: "PlaceholderWithDefault",
  inputs: [{ name: "input", type: "dtype" }],
  outputs: [{ name: "output", type: "dtype" }],
  attrs: { dtype: { kind: "type", allowed: ALL_DTYPES }, shape: { kind: "shape", default: null } },
  infer: ([input], { dtype, shape }) => {
    if (!isCompatible(input.shape, shape)) {
      throw new EdgeflowError(
        `default value of shape ${formatShape(input.shape)} does not match shape ${
          formatShape(shape)
        }`,
      );
    }
    // TensorFlow's shape function: the output has the declared shape, not the default's, so a
    // feed of another batch size fits `shape: [null, 64]` with a default of 32 rows.
    return [{ dtype, shape }];
  },
  reference: ([input]) => [input],
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).map((t) => ({
      inputs: [t],
      attrs: { dtype, shape: t.shape },
    })),
  testDTypes: ALL_DTYPES.filter((d) => d !== "resource"),
});

export const Identity = defineOp<{ T: DType }>({
  name: "Identity",
  inputs: [{ name: "input", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  // Any dtype, a TensorList's variant included: TensorFlow 2 reads a While's results through it.
  attrs: { T: { kind: "type", allowed: ANY_DTYPES } },
  infer: ([input]) => [{ dtype: input.dtype, shape: input.shape }],
  reference: ([input]) => [input],
  gradient: identityGrad,
  arbitrary: (fc, dtype) =>
    arbTensor(fc, dtype, arbShape(fc)).map((t) => ({ inputs: [t], attrs: {} })),
  testDTypes: ALL_DTYPES.filter((d) => d !== "resource"),
});

export const NoOp = defineOp<Record<never, never>>({ name: "NoOp", ...NO_INPUTS_OR_OUTPUTS });

/** Normalises a user shape: null or -1 (or undefined) for an unknown dim. */
export function partialShape(shape: readonly (number | null)[] | null | undefined): PartialShape {
  if (shape === null || shape === undefined) return null;
  if (!Array.isArray(shape)) {
    throw new EdgeflowError(
      `shape must be an array of dims (null for unknown), got ${typeof shape}`,
    );
  }
  return shape.map((d) => (d === null || d === undefined ? -1 : d));
}

export function placeholder(
  graph: Graph,
  dtype: DType,
  shape?: readonly (number | null)[] | null,
  options: BuildOptions = {},
): Output {
  return apply(Placeholder, [], { ...options, graph, dtype, shape: partialShape(shape) })
    .outputs[0];
}
export function placeholderWithDefault(
  input: TensorLike,
  shape?: readonly (number | null)[] | null,
  options: BuildOptions = {},
): Output {
  return apply(PlaceholderWithDefault, [input], { ...options, shape: partialShape(shape) })
    .outputs[0];
}
export function constant(
  value: TensorLike,
  options: BuildOptions & { dtype?: DType } = {},
): Output {
  const { dtype, ...rest } = options;
  const t = value instanceof Tensor ? value : withContext(
    { op: "Const" },
    () => tensorArg("value", value as never, undefined, dtype ?? literalDType(value as never)),
  );
  return apply(Const, [], { ...rest, value: t, dtype: t.dtype }).outputs[0];
}
export function identity(x: TensorLike, options: OpOptions<{ T: DType }> = {}): Output {
  return apply(Identity, [x], options).outputs[0];
}
export function noOp(graph: Graph, options: BuildOptions = {}): Node {
  return apply(NoOp, [], { ...options, graph });
}
/** A NoOp that runs after all of `deps` (TensorFlow's tf.group). */
export function group(deps: readonly (Node | Output)[], options: BuildOptions = {}): Node {
  return apply(NoOp, [], { ...options, graph: graphOf(deps, options), controlInputs: deps });
}
/**
 * A ControlTrigger that runs after all of `deps`, live even where they are dead (a branch not
 * taken, a loop's exiting iteration): tf.raw_ops.ControlTrigger with control dependencies.
 */
export function controlTrigger(
  deps: readonly (Node | Output)[],
  options: BuildOptions = {},
): Node {
  return apply(ControlTrigger, [], {
    ...options,
    graph: graphOf(deps, options),
    controlInputs: deps,
  });
}
function graphOf(deps: readonly (Node | Output)[], options: BuildOptions): Graph | undefined {
  const first = deps[0];
  return options.graph ?? (first ? ("graph" in first ? first.graph : undefined) : undefined);
}
