/**
 * The global step: an int64 scalar variable named "global_step" in the graph's "global_step"
 * collection (tf.compat.v1.train.get_or_create_global_step), incremented by
 * `optimizer.minimize(loss, { globalStep })` and saved by the Saver with the weights.
 */
import { EdgeflowError } from "../errors.ts";
import type { Graph } from "../graph.ts";
import { constant } from "../ops/basic.ts";
import { Variable } from "../variables.ts";

export const GLOBAL_STEP = "global_step";

/** The graph's global step variable, or undefined. */
export function getGlobalStep(graph: Graph): Variable | undefined {
  const list = graph.getCollection<Variable>(GLOBAL_STEP);
  if (list.length > 1) throw new EdgeflowError("the graph has more than one global step");
  return list[0];
}

/** The graph's global step, created (int64 zero, not trainable) the first time. */
export function getOrCreateGlobalStep(graph: Graph): Variable {
  const found = getGlobalStep(graph);
  if (found) return found;
  const step = new Variable(constant(0n, { graph, dtype: "int64" }), {
    graph,
    name: GLOBAL_STEP,
    dtype: "int64",
    trainable: false,
  });
  graph.addToCollection(GLOBAL_STEP, step);
  return step;
}
