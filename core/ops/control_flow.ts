/**
 * The control-flow primitives (2015 paper section 4.4; "Dynamic Control Flow in Large-Scale
 * Machine Learning", EuroSys 2018): Switch, Merge, Enter, Exit, NextIteration and LoopCond, and
 * TensorFlow's ControlTrigger.
 *
 * Their meaning involves dead tensors, which plain host tensors cannot carry, so each reference
 * takes and returns `undefined` for a dead value: Switch leaves the output it does not take dead,
 * Merge forwards its first live input. The executor (core/control_flow/) routes their outputs
 * between frames and iterations according to `controlFlow`; the kernels
 * (core/control_flow_kernels.ts) run these references on every device.
 */
import { ANY_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type OpDef } from "../op.ts";
import { formatShape, type PartialShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { loopGrad, mergeGrad, switchGrad } from "../grads/control_flow.ts";
import { NO_INPUTS_OR_OUTPUTS } from "./no_io.ts";

/** A possibly dead value: undefined is a dead tensor. */
export type MaybeDead = Tensor | undefined;

const forwardSpec = { name: "data", type: "T" } as const;

function scalarPred(shape: PartialShape, what: string): void {
  if (shape !== null && shape.length !== 0) {
    throw new EdgeflowError(`${what} must be a scalar, got shape ${formatShape(shape)}`);
  }
}

/** TensorFlow's Merge shape: dims where all inputs agree, unknown elsewhere; rank likewise. */
export function mergedShape(shapes: readonly PartialShape[]): PartialShape {
  let out: PartialShape | undefined;
  for (const s of shapes) {
    if (out === undefined) out = s;
    else if (out === null || s === null || out.length !== s.length) return null;
    else out = out.map((d, i) => (d === s[i] ? d : -1));
  }
  return out ?? null;
}

/** Switch: forwards `data` to output_true when `pred`, else to output_false; the other is dead. */
export const Switch = defineOp<{ T: DType }>({
  name: "Switch",
  controlFlow: "Switch",
  gradient: switchGrad,
  inputs: [forwardSpec, { name: "pred", type: "bool" }],
  outputs: [{ name: "output_false", type: "T" }, { name: "output_true", type: "T" }],
  attrs: { T: { kind: "type", allowed: ANY_DTYPES } },
  hostMemory: { inputs: [1] },
  infer: ([data, pred]) => {
    scalarPred(pred.shape, "pred");
    return [data, data].map((d) => ({ dtype: d.dtype, shape: d.shape }));
  },
  reference: ([data, pred]) => {
    if (pred === undefined) throw new EdgeflowError("pred is dead");
    const taken = pred.data[0] ? 1 : 0;
    return (taken ? [undefined, data] : [data, undefined]) as Tensor[];
  },
  testDTypes: [],
});

/**
 * Merge: the first of its inputs to arrive live, and that input's index (in host memory). All
 * inputs dead: both outputs dead.
 */
export const Merge = defineOp<{ T: DType; N: number }>({
  name: "Merge",
  controlFlow: "Merge",
  gradient: mergeGrad,
  inputs: [{ name: "inputs", type: "T", numberAttr: "N" }],
  outputs: [{ name: "output", type: "T" }, { name: "value_index", type: "int32" }],
  attrs: {
    T: { kind: "type", allowed: ANY_DTYPES },
    N: { kind: "int", validate: (n) => (n >= 1 ? undefined : "must be at least 1") },
  },
  hostMemory: { outputs: [1] },
  infer: (inputs) => [
    { dtype: inputs[0].dtype, shape: mergedShape(inputs.map((i) => i.shape)) },
    { dtype: "int32", shape: [] },
  ],
  reference: (inputs) => {
    const i = (inputs as readonly MaybeDead[]).findIndex((t) => t !== undefined);
    if (i < 0) return [undefined, undefined] as unknown as Tensor[];
    return [inputs[i], Tensor.fromNumbers("int32", [], [i])];
  },
  testDTypes: [],
});

function forwardingOp<A extends { T: DType }>(
  name: "Enter" | "Exit" | "NextIteration",
  attrs: OpDef<A>["attrs"],
): OpDef<A> {
  return defineOp<A>({
    name,
    controlFlow: name,
    gradient: loopGrad,
    inputs: [forwardSpec],
    outputs: [{ name: "output", type: "T" }],
    attrs,
    infer: ([data]) => [{ dtype: data.dtype, shape: data.shape }],
    reference: ([data]) => [data],
    testDTypes: [],
  });
}

/**
 * Enter: forwards `data` into the child frame `frame_name` (iteration 0; every iteration when
 * `is_constant`, a loop invariant). At most `parallel_iterations` iterations run at once.
 */
export const Enter = forwardingOp<
  { T: DType; frame_name: string; is_constant: boolean; parallel_iterations: number }
>(
  "Enter",
  {
    T: { kind: "type", allowed: ANY_DTYPES },
    frame_name: {
      kind: "string",
      validate: (s) => (s.length > 0 ? undefined : "must name the frame"),
    },
    is_constant: { kind: "bool", default: false },
    parallel_iterations: {
      kind: "int",
      default: 10,
      validate: (n) => (n >= 1 ? undefined : "must be at least 1"),
    },
  },
);

/** Exit: forwards `data` from a loop's frame to the frame it was entered from. */
export const Exit = forwardingOp<{ T: DType }>(
  "Exit",
  { T: { kind: "type", allowed: ANY_DTYPES } },
);

/** NextIteration: forwards `data` to the next iteration of its frame (the loop's back edge). */
export const NextIteration = forwardingOp<{ T: DType }>(
  "NextIteration",
  { T: { kind: "type", allowed: ANY_DTYPES } },
);

/** LoopCond: forwards the loop predicate; marks the Switches of a loop for the executor. */
export const LoopCond = defineOp<Record<never, never>>({
  name: "LoopCond",
  controlFlow: "LoopCond",
  inputs: [{ name: "input", type: "bool" }],
  outputs: [{ name: "output", type: "bool" }],
  attrs: {},
  hostMemory: { inputs: [0], outputs: [0] },
  infer: ([input]) => {
    scalarPred(input.shape, "input");
    return [{ dtype: "bool", shape: [] }];
  },
  reference: ([input]) => [input],
  testDTypes: [],
});

/**
 * ControlTrigger: a NoOp that runs live even when what its control inputs carry is dead
 * (TensorFlow's executor never marks it dead). TensorFlow 1's while-loop gradients hang their
 * stack pushes and pops on such triggers ("f_sync", "b_sync") so that they stay ordered across
 * iterations, the loop's last (exiting) iteration included.
 */
export const ControlTrigger = defineOp<Record<never, never>>({
  name: "ControlTrigger",
  controlFlow: "ControlTrigger",
  ...NO_INPUTS_OR_OUTPUTS,
});

export const CONTROL_FLOW_OPS = [
  Switch,
  Merge,
  Enter,
  Exit,
  NextIteration,
  LoopCond,
  ControlTrigger,
] as const;
