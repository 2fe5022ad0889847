/**
 * Optimizer: TensorFlow's tf.compat.v1.train.Optimizer on a graph. `minimize` builds the
 * gradients with core/gradients.ts and one optimizer op per variable (ResourceApply*, updating
 * the variable and its slots in place on the variable's device), then increments the global step.
 *
 * Slots are resource variables named as TensorFlow names them ("dense/kernel/Adam",
 * "dense/kernel/Adam_1"), colocated with their variable, untrainable and in the graph's
 * "variables" collection, so `ef.train.Saver` saves and restores them with the weights.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { gradients } from "../gradients.ts";
import { constant, group } from "../ops/basic.ts";
import { cast } from "../ops/cast.ts";
import { fill } from "../ops/fill.ts";
import { isFullyDefined } from "../shape.ts";
import { TRAINABLE_VARIABLES, Variable } from "../variables.ts";

/** A learning rate or other hyperparameter: a number or a scalar graph tensor (a decay schedule). */
export type Hyperparameter = number | Output;

/** A gradient and its variable (null where the loss does not depend on the variable). */
export type GradAndVar = [Output | null, Variable];

export interface MinimizeOptions {
  /** The variables to train; the graph's trainable variables by default. */
  varList?: readonly Variable[];
  /** Incremented by one after the updates (see getOrCreateGlobalStep). */
  globalStep?: Variable;
  /** The name of the returned op. */
  name?: string;
}

export abstract class Optimizer {
  private readonly slots = new Map<string, Map<Variable, Variable>>();
  private readonly nonSlots: Variable[] = [];
  /** Hyperparameter tensors of the applyGradients being built, by name and dtype. */
  private readonly hyperTensors = new Map<string, Output>();

  /** `name` is TensorFlow's: the slot suffix and the name scope of the updates. */
  constructor(readonly name: string, readonly useLocking = false) {}

  /** Gradients of `loss` for each variable (TensorFlow's compute_gradients). */
  computeGradients(loss: Output, options: { varList?: readonly Variable[] } = {}): GradAndVar[] {
    const vars = options.varList ?? loss.graph.getCollection<Variable>(TRAINABLE_VARIABLES);
    if (vars.length === 0) throw new EdgeflowError("no variables to optimize");
    if (!(loss.dtype === "float32" || loss.dtype === "float16" || loss.dtype === "bfloat16")) {
      throw new EdgeflowError(`the loss must be a float tensor, got ${loss.dtype}`);
    }
    const grads = gradients(loss, vars);
    return vars.map((v, i) => [grads[i], v]);
  }

  /**
   * One update per variable with a gradient, grouped; with a `globalStep`, the returned op is its
   * increment, run after every update (TensorFlow's apply_gradients).
   */
  applyGradients(
    gradsAndVars: readonly GradAndVar[],
    options: { globalStep?: Variable; name?: string } = {},
  ): Node {
    const live = gradsAndVars.filter(([g]) => g !== null) as [Output, Variable][];
    if (live.length === 0) {
      throw new EdgeflowError(
        `no gradients provided for any variable: ${gradsAndVars.map(([, v]) => v.name).join(", ")}`,
      );
    }
    const graph = live[0][1].graph;
    for (const [, v] of live) {
      if (!isFullyDefined(v.shape)) {
        throw new EdgeflowError(`variable '${v.name}' needs a fully defined shape for its slots`);
      }
    }
    this.createSlots(live.map(([, v]) => v));
    const name = options.name ?? this.name;
    return graph.withNameScope(name, () => {
      this.hyperTensors.clear();
      const updates = live.map(([g, v]) =>
        graph.withNameScope(`update_${v.name.replaceAll("/", "_")}`, () => this.applyDense(g, v))
      );
      const finish = this.finish(graph, updates);
      const step = options.globalStep;
      if (!step) return finish;
      return graph.withControlDependencies(
        [finish],
        () =>
          step.assignAdd(constant(1, { graph, dtype: step.dtype }), { name: "global_step_add" }),
      );
    });
  }

  /** computeGradients then applyGradients. */
  minimize(loss: Output, options: MinimizeOptions = {}): Node {
    const gv = this.computeGradients(loss, { varList: options.varList });
    return this.applyGradients(gv, { globalStep: options.globalStep, name: options.name });
  }

  /** The slot `name` ("m", "v", "momentum", ...) of a variable, or undefined. */
  getSlot(v: Variable, name: string): Variable | undefined {
    return this.slots.get(name)?.get(v);
  }
  getSlotNames(): string[] {
    return [...this.slots.keys()];
  }
  /** Every variable the optimizer created: slots and non-slot state (Adam's beta powers). */
  variables(): Variable[] {
    return [...this.nonSlots, ...[...this.slots.values()].flatMap((m) => [...m.values()])];
  }

  protected abstract createSlots(vars: readonly Variable[]): void;
  protected abstract applyDense(grad: Output, v: Variable): Node;
  /** Groups the updates; Adam also advances its beta powers after them. */
  protected finish(graph: Graph, updates: readonly Node[]): Node {
    return group(updates, { graph, name: "update" });
  }

  /**
   * A slot for `v` named "<var>/<slotVarName>" filled with `init`, created once (a second
   * minimize reuses it).
   */
  protected slot(v: Variable, slotName: string, slotVarName: string, init = 0): Variable {
    let bySlot = this.slots.get(slotName);
    if (!bySlot) this.slots.set(slotName, bySlot = new Map());
    const existing = bySlot.get(v);
    if (existing) return existing;
    const graph = v.graph;
    const s = graph.colocateWith(v.handle, () => {
      const shape = constant(v.shape as number[], { graph, dtype: "int32" });
      const value = fill(shape, constant(init, { graph, dtype: v.dtype }));
      return new Variable(value, {
        graph,
        name: `${v.name}/${slotVarName}`,
        dtype: v.dtype,
        trainable: false,
      });
    });
    bySlot.set(v, s);
    return s;
  }

  /** A variable outside the slots (Adam's beta1_power), colocated with `near`, created once. */
  protected nonSlot(name: string, init: number, near: Variable): Variable {
    const found = this.nonSlots.find((v) => v.name === name);
    if (found) return found;
    const graph = near.graph;
    const v = graph.colocateWith(
      near.handle,
      () =>
        new Variable(constant(init, { graph, dtype: near.dtype }), {
          graph,
          name,
          dtype: near.dtype,
          trainable: false,
        }),
    );
    this.nonSlots.push(v);
    return v;
  }

  /**
   * A hyperparameter as a scalar tensor of `dtype`, made once per applyGradients and dtype in
   * its name scope (TensorFlow's _prepare).
   */
  protected hyper(graph: Graph, name: string, value: Hyperparameter, dtype: DType): Output {
    const key = `${name}:${dtype}`;
    const found = this.hyperTensors.get(key);
    if (found) return found;
    let t: Output;
    if (typeof value === "number") t = constant(value, { graph, dtype, name });
    else {
      if (value.shape !== null && value.shape.length !== 0) {
        throw new EdgeflowError(`${name} must be a scalar, got shape [${value.shape}]`);
      }
      t = value.dtype === dtype ? value : cast(value, dtype, { name });
    }
    this.hyperTensors.set(key, t);
    return t;
  }
}

/** Checks a numeric hyperparameter where TensorFlow's constructors do. */
export function checkHyper(name: string, value: Hyperparameter, min = 0): void {
  if (typeof value === "number" && !(value >= min)) {
    throw new EdgeflowError(`${name} must be a number >= ${min}, got ${value}`);
  }
}
