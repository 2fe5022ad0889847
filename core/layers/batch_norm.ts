/**
 * tf.compat.v1.layers.batch_normalization over the last axis (NHWC), built from basic ops:
 * in training the batch's mean and (biased) variance normalize the input and the moving
 * statistics move toward them by (1 − momentum); in inference the moving statistics normalize.
 * The moving-average updates go to the graph's "update_ops" collection, as in TensorFlow 1: run
 * them with the training op (`ef.layers.updateOps(graph)`, or `minimize` under their control).
 */
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { constant } from "../ops/basic.ts";
import { add, mul, squaredDifference, sub } from "../ops/binary.ts";
import { stopGradient } from "../ops/grad_array.ts";
import { mean } from "../ops/reduce.ts";
import { where } from "../ops/select.ts";
import { rsqrt } from "../ops/unary.ts";
import { Variable } from "../variables.ts";
import { ones, zeros } from "./initializers.ts";

export const UPDATE_OPS = "update_ops";

/** The graph's "update_ops" collection (batch-norm moving averages). */
export function updateOps(graph: Graph): Node[] {
  return graph.getCollection<Node>(UPDATE_OPS);
}

export interface BatchNormOptions {
  momentum?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  /** A JavaScript boolean, or a bool scalar tensor decided per run. */
  training?: boolean | Output;
  trainable?: boolean;
  name?: string;
}

/** The mean and biased variance of `x` over `axes` (tf.nn.moments). */
export function moments(x: Output, axes: readonly number[]): [Output, Output] {
  const m = mean(x, axes, { name: "mean" });
  const v = mean(squaredDifference(x, stopGradient(m)), axes, { name: "variance" });
  return [m, v];
}

export function batchNormalization(x: Output, options: BatchNormOptions = {}): Output {
  const { momentum = 0.99, epsilon = 1e-3, center = true, scale = true } = options;
  if (!(momentum >= 0 && momentum <= 1)) {
    throw new EdgeflowError(`batch normalization momentum must lie in [0, 1], got ${momentum}`);
  }
  if (x.shape === null || x.shape.length < 2) {
    throw new EdgeflowError("batchNormalization needs an input of known rank of at least 2");
  }
  const c = x.shape.at(-1);
  if (c === null || c === undefined || c < 0) {
    throw new EdgeflowError("batchNormalization needs the channel (last) dimension to be known");
  }
  const training = options.training ?? false;
  const g = x.graph;
  return g.withNameScope(options.name ?? "batch_normalization", () => {
    const t = options.trainable ?? true;
    const dt = x.dtype;
    const v = (name: string, init: typeof zeros, trainable: boolean) =>
      new Variable(init()([c], dt, g), { graph: g, name, dtype: dt, trainable });
    const gamma = scale ? v("gamma", ones, t) : undefined;
    const beta = center ? v("beta", zeros, t) : undefined;
    const movingMean = v("moving_mean", zeros, false);
    const movingVar = v("moving_variance", ones, false);
    const k = (value: number) => constant(value, { graph: g, dtype: dt });
    const normalize = (m: Output, variance: Output) => {
      let inv = rsqrt(add(variance, k(epsilon)));
      if (gamma) inv = mul(inv, gamma.read());
      const y = mul(sub(x, m), inv);
      return beta ? add(y, beta.read()) : y;
    };
    const inference = () => normalize(movingMean.read(), movingVar.read());
    if (training === false) return inference();
    const axes = x.shape!.slice(0, -1).map((_, i) => i);
    const [batchMean, batchVar] = moments(x, axes);
    // decay = 1 − momentum while training, 0 otherwise (TensorFlow's smart_cond on momentum).
    const decay = training === true ? k(1 - momentum) : where(training, k(1 - momentum), k(0));
    for (const [mv, stat] of [[movingMean, batchMean], [movingVar, batchVar]] as const) {
      const update = mv.assignSub(mul(sub(mv.read(), stat), decay), { name: "AssignMovingAvg" });
      g.addToCollection(UPDATE_OPS, update);
    }
    const trained = normalize(batchMean, batchVar);
    return training === true ? trained : where(training, trained, inference());
  });
}
