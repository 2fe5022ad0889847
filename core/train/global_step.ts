/**
 * The global step: an int64 scalar variable named "global_step" in the graph's "global_step"
 * collection (tf.compat.v1.train.get_or_create_global_step), incremented by
 * `optimizer.minimize(loss, { globalStep })` and saved by the Saver with the weights.
 *
 * It lives on the host (REF), as TensorFlow keeps the global step on the CPU when training on
 * TPUs: WEBGPU and the TPU have no int64 arithmetic, and the placer decides each plan alone, so
 * a variable initialised on one device and incremented by a fallback kernel on another would be
 * two variables. One scalar increment per step costs the host nothing.
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
    device: "/device:REF:0",
    dtype: "int64",
    trainable: false,
  });
  graph.addToCollection(GLOBAL_STEP, step);
  return step;
}
