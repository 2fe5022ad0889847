/**
 * TensorFlow's initializers as graph ops: each returns the initial value of a variable of a given
 * shape, drawn by the seeded random ops (Philox, core/ops/random.ts), so a graph with a seed
 * starts from the same weights on every run and device.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph, Output } from "../graph.ts";
import { constant } from "../ops/basic.ts";
import { fill } from "../ops/fill.ts";
import { randomUniform, truncatedNormal } from "../ops/random.ts";

/** Makes a variable's initial value; `seed` is the op seed (the graph seed applies too). */
export type Initializer = (
  shape: readonly number[],
  dtype: DType,
  graph: Graph,
  seed?: number,
) => Output;

/** fan_in and fan_out as TensorFlow's _compute_fans: receptive field × the last two dims. */
export function computeFans(shape: readonly number[]): [number, number] {
  if (shape.length === 0) return [1, 1];
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  let receptive = 1;
  for (const d of shape.slice(0, -2)) receptive *= d;
  return [shape.at(-2)! * receptive, shape.at(-1)! * receptive];
}

function dims(graph: Graph, shape: readonly number[]): Output {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new EdgeflowError(`an initializer needs a fully defined shape, got [${shape}]`);
    }
  }
  return constant(shape as number[], { graph, dtype: "int32" });
}

export function zeros(): Initializer {
  return (shape, dtype, graph) => fill(dims(graph, shape), constant(0, { graph, dtype }));
}
export function ones(): Initializer {
  return (shape, dtype, graph) => fill(dims(graph, shape), constant(1, { graph, dtype }));
}
export function constantInitializer(value: number): Initializer {
  return (shape, dtype, graph) => fill(dims(graph, shape), constant(value, { graph, dtype }));
}

/** U(−limit, limit) with limit = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio). */
export function glorotUniform(options: { seed?: number } = {}): Initializer {
  return (shape, dtype, graph, seed) => {
    const [fanIn, fanOut] = computeFans(shape);
    const limit = Math.sqrt(6 / Math.max(1, fanIn + fanOut));
    return randomUniform(dims(graph, shape), {
      graph,
      dtype,
      seed: options.seed ?? seed,
      minval: -limit,
      maxval: limit,
    });
  };
}

/**
 * He normal as TensorFlow 2: VarianceScaling(2, "fan_in", "truncated_normal"), a normal truncated
 * at two standard deviations whose stddev is corrected by 0.8796... so the variance is 2/fan_in.
 */
export function heNormal(options: { seed?: number } = {}): Initializer {
  return (shape, dtype, graph, seed) => {
    const [fanIn] = computeFans(shape);
    const stddev = Math.sqrt(2 / Math.max(1, fanIn)) / 0.87962566103423978;
    return truncatedNormal(dims(graph, shape), {
      graph,
      dtype,
      seed: options.seed ?? seed,
      stddev,
    });
  };
}
