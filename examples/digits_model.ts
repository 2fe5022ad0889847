/**
 * The digits example's model (examples/train_digits.ts), on its own so that tests (the board's,
 * tests/observe/board_test.ts) can build exactly the graph the example trains.
 *
 * The CNN: conv 3x3 16 SAME + ReLU, conv 3x3 32 SAME + ReLU, max pool 2, flatten, dense 64 +
 * ReLU, dense 10; the loss is the mean sparse softmax cross-entropy, trained by Adam (lr 1e-3)
 * through ResourceApplyAdam with a global step.
 */
import * as ef from "../mod.ts";

export interface DigitsModel {
  readonly graph: ef.Graph;
  /** Images [batch, 8, 8, 1], pixels in [0, 1]. */
  readonly x: ef.Output;
  /** Labels [batch], 0..9. */
  readonly y: ef.Output;
  readonly logits: ef.Output;
  readonly loss: ef.Output;
  readonly predicted: ef.Output;
  readonly accuracy: ef.Output;
  readonly globalStep: ReturnType<typeof ef.train.getOrCreateGlobalStep>;
  /** One Adam step (run it as a target). */
  readonly train: ReturnType<ef.train.AdamOptimizer["minimize"]>;
}

/** The CNN's logits for NHWC images x [batch, 8, 8, 1]. */
function cnn(x: ef.Output): ef.Output {
  const L = ef.layers;
  let h = L.conv2d(x, 16, 3, { padding: "SAME", activation: ef.relu });
  h = L.conv2d(h, 32, 3, { padding: "SAME", activation: ef.relu });
  h = L.maxPool(h, 2);
  h = L.dense(L.flatten(h), 64, { activation: ef.relu });
  return L.dense(h, 10);
}

/** Builds the digits model in a new graph (graph seed 1: the same initial weights every time). */
export function buildDigitsModel(): DigitsModel {
  const graph = new ef.Graph();
  graph.seed = 1;
  const x = ef.placeholder(graph, "float32", [null, 8, 8, 1], { name: "x" });
  const y = ef.placeholder(graph, "int32", [null], { name: "y" });
  const logits = cnn(x);
  const loss = ef.mean(ef.sparseSoftmaxCrossEntropyWithLogits(logits, y)[0], [0], {
    name: "loss",
  });
  const predicted = ef.argMax(logits, 1, { output_type: "int32", name: "predicted" });
  const accuracy = ef.mean(ef.cast(ef.equal(predicted, y), "float32"), [0], {
    name: "accuracy",
  });
  const globalStep = ef.train.getOrCreateGlobalStep(graph);
  const train = new ef.train.AdamOptimizer(1e-3).minimize(loss, { globalStep });
  return { graph, x, y, logits, loss, predicted, accuracy, globalStep, train };
}
