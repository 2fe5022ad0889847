/**
 * TensorFlow's five classic optimizers (tf.compat.v1.train), each one ResourceApply* op per
 * variable with TensorFlow's defaults, slot names and slot initial values.
 */
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { group } from "../ops/basic.ts";
import { mul } from "../ops/binary.ts";
import {
  resourceApply,
  ResourceApplyAdagrad,
  ResourceApplyAdam,
  ResourceApplyGradientDescent,
  ResourceApplyMomentum,
  ResourceApplyRMSProp,
} from "../ops/training_ops.ts";
import type { Variable } from "../variables.ts";
import { checkHyper, type Hyperparameter, Optimizer } from "./optimizer.ts";

/** var -= learning_rate * grad. */
export class GradientDescentOptimizer extends Optimizer {
  constructor(
    readonly learningRate: Hyperparameter,
    options: { useLocking?: boolean; name?: string } = {},
  ) {
    super(options.name ?? "GradientDescent", options.useLocking);
    checkHyper("learningRate", learningRate);
  }
  protected createSlots(): void {}
  protected applyDense(grad: Output, v: Variable): Node {
    const g = v.graph;
    return resourceApply(ResourceApplyGradientDescent, {
      var: v.handle,
      alpha: this.hyper(g, "learning_rate", this.learningRate, v.dtype),
      delta: grad,
    }, { use_locking: this.useLocking });
  }
}

/** accum = accum * momentum + grad; var -= lr * accum (or Nesterov's look-ahead). */
export class MomentumOptimizer extends Optimizer {
  readonly useNesterov: boolean;
  constructor(
    readonly learningRate: Hyperparameter,
    readonly momentum: Hyperparameter,
    options: { useLocking?: boolean; name?: string; useNesterov?: boolean } = {},
  ) {
    super(options.name ?? "Momentum", options.useLocking);
    checkHyper("learningRate", learningRate);
    checkHyper("momentum", momentum);
    this.useNesterov = options.useNesterov ?? false;
  }
  protected createSlots(vars: readonly Variable[]): void {
    for (const v of vars) this.slot(v, "momentum", this.name);
  }
  protected applyDense(grad: Output, v: Variable): Node {
    const g = v.graph;
    return resourceApply(ResourceApplyMomentum, {
      var: v.handle,
      accum: this.getSlot(v, "momentum")!.handle,
      lr: this.hyper(g, "learning_rate", this.learningRate, v.dtype),
      grad,
      momentum: this.hyper(g, "momentum", this.momentum, v.dtype),
    }, { use_locking: this.useLocking, use_nesterov: this.useNesterov });
  }
}

export interface AdamOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  useLocking?: boolean;
  useNesterov?: boolean;
  name?: string;
}

/**
 * Adam (Kingma and Ba) as TensorFlow 1 computes it: slots m ("<var>/Adam") and v
 * ("<var>/Adam_1"), and the non-slot variables beta1_power and beta2_power, multiplied by beta1
 * and beta2 after each step's updates.
 */
export class AdamOptimizer extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly useNesterov: boolean;
  constructor(readonly learningRate: Hyperparameter = 0.001, options: AdamOptions = {}) {
    super(options.name ?? "Adam", options.useLocking);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.useNesterov = options.useNesterov ?? false;
    checkHyper("learningRate", learningRate);
    for (const [k, x] of [["beta1", this.beta1], ["beta2", this.beta2]] as const) {
      if (!(x >= 0 && x < 1)) throw new EdgeflowError(`${k} must lie in [0, 1), got ${x}`);
    }
    checkHyper("epsilon", this.epsilon);
  }
  protected createSlots(vars: readonly Variable[]): void {
    // TensorFlow colocates the beta powers with the first variable by name.
    const first = [...vars].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
    this.nonSlot("beta1_power", this.beta1, first);
    this.nonSlot("beta2_power", this.beta2, first);
    for (const v of vars) {
      this.slot(v, "m", this.name);
      this.slot(v, "v", `${this.name}_1`);
    }
  }
  private powers(): [Variable, Variable] {
    const [b1, b2] = ["beta1_power", "beta2_power"].map((n) =>
      this.variables().find((v) => v.name === n)!
    );
    return [b1, b2];
  }
  protected applyDense(grad: Output, v: Variable): Node {
    const g = v.graph;
    const [b1, b2] = this.powers();
    const d = v.dtype;
    return resourceApply(ResourceApplyAdam, {
      var: v.handle,
      m: this.getSlot(v, "m")!.handle,
      v: this.getSlot(v, "v")!.handle,
      beta1_power: b1.read(),
      beta2_power: b2.read(),
      lr: this.hyper(g, "learning_rate", this.learningRate, d),
      beta1: this.hyper(g, "beta1", this.beta1, d),
      beta2: this.hyper(g, "beta2", this.beta2, d),
      epsilon: this.hyper(g, "epsilon", this.epsilon, d),
      grad,
    }, { use_locking: this.useLocking, use_nesterov: this.useNesterov });
  }
  protected override finish(graph: Graph, updates: readonly Node[]): Node {
    const [b1, b2] = this.powers();
    const advance = graph.withControlDependencies(updates, () => [
      b1.assign(mul(b1.read(), this.hyper(graph, "beta1", this.beta1, b1.dtype)), {
        name: "update_beta1",
      }),
      b2.assign(mul(b2.read(), this.hyper(graph, "beta2", this.beta2, b2.dtype)), {
        name: "update_beta2",
      }),
    ]);
    return group([...updates, ...advance], { graph, name: "update" });
  }
}

export interface RMSPropOptions {
  decay?: number;
  momentum?: number;
  epsilon?: number;
  useLocking?: boolean;
  name?: string;
}

/**
 * RMSProp as TensorFlow 1: slots rms ("<var>/RMSProp", starting at ones) and momentum
 * ("<var>/RMSProp_1", zeros); `decay` is the op's rho.
 */
export class RMSPropOptimizer extends Optimizer {
  readonly decay: number;
  readonly momentum: number;
  readonly epsilon: number;
  constructor(readonly learningRate: Hyperparameter, options: RMSPropOptions = {}) {
    super(options.name ?? "RMSProp", options.useLocking);
    this.decay = options.decay ?? 0.9;
    this.momentum = options.momentum ?? 0;
    this.epsilon = options.epsilon ?? 1e-10;
    checkHyper("learningRate", learningRate);
    checkHyper("decay", this.decay);
    checkHyper("momentum", this.momentum);
    checkHyper("epsilon", this.epsilon);
  }
  protected createSlots(vars: readonly Variable[]): void {
    for (const v of vars) {
      this.slot(v, "rms", this.name, 1);
      this.slot(v, "momentum", `${this.name}_1`);
    }
  }
  protected applyDense(grad: Output, v: Variable): Node {
    const g = v.graph, d = v.dtype;
    return resourceApply(ResourceApplyRMSProp, {
      var: v.handle,
      ms: this.getSlot(v, "rms")!.handle,
      mom: this.getSlot(v, "momentum")!.handle,
      lr: this.hyper(g, "learning_rate", this.learningRate, d),
      rho: this.hyper(g, "decay", this.decay, d),
      momentum: this.hyper(g, "momentum", this.momentum, d),
      epsilon: this.hyper(g, "epsilon", this.epsilon, d),
      grad,
    }, { use_locking: this.useLocking });
  }
}

/** Adagrad: slot accumulator ("<var>/Adagrad", starting at initialAccumulatorValue). */
export class AdagradOptimizer extends Optimizer {
  readonly initialAccumulatorValue: number;
  constructor(
    readonly learningRate: Hyperparameter,
    options: { initialAccumulatorValue?: number; useLocking?: boolean; name?: string } = {},
  ) {
    super(options.name ?? "Adagrad", options.useLocking);
    this.initialAccumulatorValue = options.initialAccumulatorValue ?? 0.1;
    checkHyper("learningRate", learningRate);
    if (!(this.initialAccumulatorValue > 0)) {
      throw new EdgeflowError(
        `initialAccumulatorValue must be positive, got ${this.initialAccumulatorValue}`,
      );
    }
  }
  protected createSlots(vars: readonly Variable[]): void {
    for (const v of vars) this.slot(v, "accumulator", this.name, this.initialAccumulatorValue);
  }
  protected applyDense(grad: Output, v: Variable): Node {
    return resourceApply(ResourceApplyAdagrad, {
      var: v.handle,
      accum: this.getSlot(v, "accumulator")!.handle,
      lr: this.hyper(v.graph, "learning_rate", this.learningRate, v.dtype),
      grad,
    }, { use_locking: this.useLocking });
  }
}
