/**
 * TensorFlow's optimizer ops (training_ops.cc): each reads a variable and its slots through
 * resource handles, the hyperparameters as scalars and the gradient, and updates the variable
 * and slots in place. They have no outputs; a training step groups them.
 *
 * The update is one elementwise rule per op (`step`), written with TensorFlow's Eigen expressions
 * and their evaluation order, rounding to the dtype after each operation (Eigen computes in T).
 * The reference, the TPU kernel and the tests share it; the WASM (kernels_wasm/src/optim.c) and
 * WebGPU (kernels_gpu/optim.ts) kernels spell the same expressions in C and WGSL.
 *
 * `use_locking` is accepted and has no effect: one executor runs a plan's nodes one at a time
 * (TensorFlow's lock only orders concurrent updates of one variable).
 */
import { type DType, type NumericDType, roundTo } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type HostContext, type OpCase, type OpDef } from "../op.ts";
import type { Node, Output } from "../graph.ts";
import { formatShape, isCompatible, type Shape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, randomTensor, type ValueRange } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import { handleOf } from "./state.ts";
import { apply, type BuildOptions, type TensorLike } from "./build.ts";

/** The dtypes the optimizer ops take (TensorFlow's also take double and complex, Edgeflow lacks them). */
export const TRAINING_DTYPES: readonly NumericDType[] = ["float32", "bfloat16", "float16"];

/** Each op has T and use_locking; Momentum and Adam add use_nesterov, Adagrad update_slots. */
export type TrainingAttrs = {
  T: DType;
  use_locking: boolean;
  use_nesterov?: boolean;
  update_slots?: boolean;
};

/** One optimizer op's inputs and rule, as data the kernels of every device read. */
export interface ApplySpec {
  readonly name: string;
  /** Resource inputs: the variable first, then its slots, in TensorFlow's order. */
  readonly resources: readonly string[];
  /** Scalar hyperparameter inputs, by TensorFlow name, in input order. */
  readonly scalars: readonly string[];
  /** Every input name in TensorFlow's order ("grad" or "delta" is the gradient). */
  readonly order: readonly string[];
  readonly gradName: string;
  /** Boolean attrs beyond use_locking. */
  readonly flags: readonly ("use_nesterov" | "update_slots")[];
  /**
   * The per-element rule: `s` holds [var, slots...] and is updated; `k` the scalars (in `scalars`
   * order) after `prepare`; `r` rounds to the dtype.
   */
  step(
    s: number[],
    g: number,
    k: readonly number[],
    a: TrainingAttrs,
    r: (x: number) => number,
  ): void;
  /** Scalars derived once per run (Adam's alpha), in T as TensorFlow computes them. */
  prepare?(k: readonly number[], r: (x: number) => number): number[];
}

const GD: ApplySpec = {
  name: "ResourceApplyGradientDescent",
  resources: ["var"],
  scalars: ["alpha"],
  order: ["var", "alpha", "delta"],
  gradName: "delta",
  flags: [],
  // var -= delta * alpha
  step: (s, g, [alpha], _, r) => void (s[0] = r(s[0] - r(g * alpha))),
};

const MOMENTUM: ApplySpec = {
  name: "ResourceApplyMomentum",
  resources: ["var", "accum"],
  scalars: ["lr", "momentum"],
  order: ["var", "accum", "lr", "grad", "momentum"],
  gradName: "grad",
  flags: ["use_nesterov"],
  step(s, g, [lr, momentum], a, r) {
    // accum = accum * momentum + grad
    s[1] = r(r(s[1] * momentum) + g);
    // nesterov: var -= grad * lr + accum * momentum * lr; else var -= accum * lr
    s[0] = a.use_nesterov
      ? r(s[0] - r(r(g * lr) + r(r(s[1] * momentum) * lr)))
      : r(s[0] - r(s[1] * lr));
  },
};

const ADAM: ApplySpec = {
  name: "ResourceApplyAdam",
  resources: ["var", "m", "v"],
  scalars: ["beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon"],
  order: [
    "var",
    "m",
    "v",
    "beta1_power",
    "beta2_power",
    "lr",
    "beta1",
    "beta2",
    "epsilon",
    "grad",
  ],
  gradName: "grad",
  flags: ["use_nesterov"],
  // alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power), appended after the scalars.
  prepare: (k, r) => [...k, r(r(k[2] * r(Math.sqrt(r(1 - k[1])))) / r(1 - k[0]))],
  step(s, g, k, a, r) {
    const [, , , beta1, beta2, epsilon, alpha] = k;
    // m += (grad - m) * (1 - beta1); v += (grad^2 - v) * (1 - beta2)
    s[1] = r(s[1] + r(r(g - s[1]) * r(1 - beta1)));
    s[2] = r(s[2] + r(r(r(g * g) - s[2]) * r(1 - beta2)));
    const denom = r(r(Math.sqrt(s[2])) + epsilon);
    // nesterov: var -= ((grad * (1 - beta1) + beta1 * m) * alpha) / (sqrt(v) + epsilon)
    const num = a.use_nesterov
      ? r(r(r(g * r(1 - beta1)) + r(beta1 * s[1])) * alpha)
      : r(s[1] * alpha);
    s[0] = r(s[0] - r(num / denom));
  },
};

const RMSPROP: ApplySpec = {
  name: "ResourceApplyRMSProp",
  resources: ["var", "ms", "mom"],
  scalars: ["lr", "rho", "momentum", "epsilon"],
  order: ["var", "ms", "mom", "lr", "rho", "momentum", "epsilon", "grad"],
  gradName: "grad",
  flags: [],
  step(s, g, [lr, rho, momentum, epsilon], _, r) {
    // ms += (grad^2 - ms) * (1 - rho)
    s[1] = r(s[1] + r(r(r(g * g) - s[1]) * r(1 - rho)));
    // mom = mom * momentum + (grad * lr) / sqrt(ms + epsilon); var -= mom
    s[2] = r(r(s[2] * momentum) + r(r(g * lr) / r(Math.sqrt(r(s[1] + epsilon)))));
    s[0] = r(s[0] - s[2]);
  },
};

const ADAGRAD: ApplySpec = {
  name: "ResourceApplyAdagrad",
  resources: ["var", "accum"],
  scalars: ["lr"],
  order: ["var", "accum", "lr", "grad"],
  gradName: "grad",
  flags: ["update_slots"],
  step(s, g, [lr], a, r) {
    // if update_slots: accum += grad^2; var -= grad * lr * rsqrt(accum)
    if (a.update_slots) s[1] = r(s[1] + r(g * g));
    s[0] = r(s[0] - r(r(g * lr) * r(1 / r(Math.sqrt(s[1])))));
  },
};

/** Every optimizer op's spec, by op name. */
export const APPLY_SPECS: Readonly<Record<string, ApplySpec>> = Object.fromEntries(
  [GD, MOMENTUM, ADAM, RMSPROP, ADAGRAD].map((s) => [s.name, s]),
);

/** Input positions of a spec: resources, scalars (in `scalars` order) and the gradient. */
export function applyLayout(
  spec: ApplySpec,
): { resources: number[]; scalars: number[]; grad: number } {
  return {
    resources: spec.resources.map((n) => spec.order.indexOf(n)),
    scalars: spec.scalars.map((n) => spec.order.indexOf(n)),
    grad: spec.order.indexOf(spec.gradName),
  };
}

/**
 * The checks every device makes before updating (TensorFlow's OP_REQUIRES in training_ops.cc):
 * the same messages, so the equivalence suite can compare refusals. `values` are the variable's
 * and each slot's dtype and shape, as the device's resource table holds them.
 */
export function checkApply(
  spec: ApplySpec,
  dtype: DType,
  handles: readonly string[],
  values: readonly { dtype: DType; shape: Shape }[],
  scalarShapes: readonly Shape[],
  gradShape: Shape,
): void {
  values.forEach((v, i) => {
    if (v.dtype !== dtype) {
      throw new EdgeflowError(
        `${spec.resources[i]} '${handles[i]}' holds ${v.dtype}, the op updates ${dtype}`,
      );
    }
  });
  const varShape = values[0].shape;
  values.forEach((v, i) => {
    if (i > 0 && !sameShape(v.shape, varShape)) {
      throw new EdgeflowError(
        `var and ${spec.resources[i]} do not have the same shape: ${formatShape(varShape)} ${
          formatShape(v.shape)
        }`,
      );
    }
  });
  scalarShapes.forEach((s, i) => {
    if (s.length !== 0) {
      throw new EdgeflowError(`${spec.scalars[i]} is not a scalar: ${formatShape(s)}`);
    }
  });
  if (!sameShape(gradShape, varShape)) {
    throw new EdgeflowError(
      `var and ${spec.gradName} do not have the same shape: ${formatShape(varShape)} ${
        formatShape(gradShape)
      }`,
    );
  }
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Runs a spec's rule over host arrays (reference and TPU): `state` [var, slots...] in place. */
export function applyUpdate(
  spec: ApplySpec,
  dtype: NumericDType,
  attrs: TrainingAttrs,
  state: { [i: number]: number; length: number }[],
  grad: ArrayLike<number>,
  scalars: readonly number[],
): void {
  const r = (x: number) => roundTo(dtype, x);
  const k = spec.prepare ? spec.prepare(scalars.map(r), r) : scalars.map(r);
  const s = new Array<number>(state.length);
  for (let i = 0; i < grad.length; i++) {
    for (let j = 0; j < state.length; j++) s[j] = state[j][i];
    spec.step(s, grad[i], k, attrs, r);
    for (let j = 0; j < state.length; j++) state[j][i] = s[j];
  }
}

function defineApply(spec: ApplySpec): OpDef<TrainingAttrs> {
  const layout = applyLayout(spec);
  // Only the op's own flags, so a GraphDef names exactly TensorFlow's attrs; `update_slots`
  // defaults to true as in TensorFlow.
  const flagSpecs = Object.fromEntries(
    spec.flags.map((f) => [f, { kind: "bool" as const, default: f === "update_slots" }]),
  );
  return defineOp<TrainingAttrs>({
    name: spec.name,
    inputs: spec.order.map((name) => ({
      name,
      type: spec.resources.includes(name) ? "resource" : "T",
    })),
    outputs: [],
    // Handles are host strings, as for every resource op.
    hostMemory: { inputs: layout.resources },
    attrs: {
      T: { kind: "type", allowed: TRAINING_DTYPES },
      use_locking: { kind: "bool", default: false },
      ...flagSpecs,
    },
    stateful: true,
    infer(inputs, { T }) {
      layout.resources.forEach((at, i) => {
        const h = inputs[at].handle;
        if (h && h.dtype !== T) {
          throw new EdgeflowError(
            `${spec.resources[i]} is a variable of ${h.dtype}, the op updates ${T}`,
          );
        }
      });
      layout.scalars.forEach((at, i) => {
        const s = inputs[at].shape;
        if (s !== null && s.length !== 0) {
          throw new EdgeflowError(`${spec.scalars[i]} is not a scalar: ${formatShape(s)}`);
        }
      });
      const varShape = inputs[layout.resources[0]].handle?.shape ?? null;
      if (!isCompatible(inputs[layout.grad].shape, varShape)) {
        throw new EdgeflowError(
          `var and ${spec.gradName} do not have the same shape: ${formatShape(varShape)} ${
            formatShape(inputs[layout.grad].shape)
          }`,
        );
      }
      return [];
    },
    reference(inputs, attrs, ctx: HostContext) {
      const handles = layout.resources.map((at) => handleOf(inputs[at]));
      const values = handles.map((h) => ctx.readVariable(h));
      const grad = inputs[layout.grad];
      checkApply(
        spec,
        attrs.T,
        handles,
        values,
        layout.scalars.map((at) => inputs[at].shape),
        grad.shape,
      );
      const state = values.map((v) => Float64Array.from(numbers(v)));
      const scalars = layout.scalars.map((at) => numbers(inputs[at])[0]);
      applyUpdate(spec, attrs.T as NumericDType, attrs, state, numbers(grad), scalars);
      handles.forEach((h, i) =>
        ctx.assignVariable(h, Tensor.fromNumbers(attrs.T, values[i].shape, state[i]))
      );
      return [];
    },
    arbitrary: (fc, dtype) => arbApply(fc, spec, dtype, false),
    invalidArbitrary: (fc, dtype) => arbApply(fc, spec, dtype, true),
  });
}

/** Value ranges that keep each hyperparameter where optimizers use it. */
const SCALAR_RANGES: Record<string, ValueRange> = {
  alpha: { min: 0, max: 1 },
  lr: { min: 0, max: 1 },
  momentum: { min: 0, max: 1 },
  beta1_power: { min: 0.01, max: 0.9 },
  beta2_power: { min: 0.01, max: 0.999 },
  beta1: { min: 0, max: 1 },
  beta2: { min: 0, max: 1 },
  rho: { min: 0, max: 1 },
  epsilon: { min: 1e-7, max: 0.5 },
};

/** Slots that hold squares (Adam's v, RMSProp's ms, Adagrad's accum): non-negative. */
const SQUARE_SLOTS = new Set(["v", "ms"]);

/**
 * A case with the variable and its slots as variables named after the inputs. Invalid cases
 * change one shape: a slot's, the gradient's or a scalar's (the checks of checkApply).
 */
function arbApply(
  fc: FastCheck,
  spec: ApplySpec,
  dtype: DType,
  invalid: boolean,
): Arbitrary<OpCase<TrainingAttrs>> {
  const flags = fc.record({ use_nesterov: fc.boolean(), update_slots: fc.boolean() });
  // Which shape an invalid case breaks: 1..R-1 a slot, R the gradient, R+1.. a scalar.
  const wrong = fc.integer({ min: 1, max: spec.resources.length + spec.scalars.length });
  return fc.tuple(arbShape(fc, { maxRank: 3 }), fc.nat(), flags, wrong).map(
    ([shape, seed, f, which]) => {
      const bad = (i: number) => invalid && which === i;
      const other = [...shape, 2];
      const variables: Record<string, Tensor> = {};
      spec.resources.forEach((name, i) => {
        const range: ValueRange = SQUARE_SLOTS.has(name)
          ? { min: 0, max: 4 }
          // Adagrad divides by sqrt(accum): keep it away from zero (with update_slots off too).
          : name === "accum" && spec.name === "ResourceApplyAdagrad"
          ? { min: 0.25, max: 4 }
          : {};
        variables[name] = randomTensor(dtype, bad(i) ? other : shape, seed + i, range);
      });
      const inputs = spec.order.map((name, at) => {
        if (spec.resources.includes(name)) return new Tensor("resource", [], [name]);
        if (name === spec.gradName) {
          return randomTensor(dtype, bad(spec.resources.length) ? other : shape, seed + 10 + at);
        }
        const si = spec.scalars.indexOf(name);
        const scalarShape = bad(spec.resources.length + 1 + si) ? [2] : [];
        return randomTensor(dtype, scalarShape, seed + 20 + at, SCALAR_RANGES[name]);
      });
      const attrs: Partial<TrainingAttrs> = { T: dtype };
      for (const flag of spec.flags) attrs[flag] = f[flag];
      return { inputs, attrs, variables };
    },
  );
}

export const ResourceApplyGradientDescent = defineApply(GD);
export const ResourceApplyMomentum = defineApply(MOMENTUM);
export const ResourceApplyAdam = defineApply(ADAM);
export const ResourceApplyRMSProp = defineApply(RMSPROP);
export const ResourceApplyAdagrad = defineApply(ADAGRAD);

export const TRAINING_OPS: readonly OpDef<TrainingAttrs>[] = [
  ResourceApplyGradientDescent,
  ResourceApplyMomentum,
  ResourceApplyAdam,
  ResourceApplyRMSProp,
  ResourceApplyAdagrad,
];

/**
 * Adds an optimizer op: `inputs` by TensorFlow input name (handles as Outputs), the node
 * colocated with the variable's handle as TensorFlow's optimizers place it.
 */
export function resourceApply(
  op: OpDef<TrainingAttrs>,
  inputs: Readonly<Record<string, TensorLike>>,
  options:
    & BuildOptions
    & Partial<Pick<TrainingAttrs, "use_nesterov" | "update_slots" | "use_locking">> = {},
): Node {
  const spec = APPLY_SPECS[op.name];
  const args = spec.order.map((name) => {
    if (!(name in inputs)) throw new EdgeflowError(`${op.name} needs input '${name}'`);
    return inputs[name];
  });
  const handle = args[0] as Output;
  const { use_nesterov, update_slots, use_locking, ...rest } = options;
  const attrs: Record<string, boolean> = {};
  if (use_locking !== undefined) attrs.use_locking = use_locking;
  if (use_nesterov !== undefined && spec.flags.includes("use_nesterov")) {
    attrs.use_nesterov = use_nesterov;
  }
  if (update_slots !== undefined && spec.flags.includes("update_slots")) {
    attrs.update_slots = update_slots;
  }
  return handle.graph.colocateWith(handle, () => apply(op, args, { ...rest, ...attrs }));
}
