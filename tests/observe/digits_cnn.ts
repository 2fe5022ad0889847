// A digits-like CNN for the board's and traces' tests (8x8 images, 10 classes): conv → relu →
// max pool → dense on the TPU, sparse softmax cross-entropy, plain SGD through variables.
import * as ef from "../../mod.ts";

export interface DigitsCnn {
  graph: ef.Graph;
  x: ef.Output;
  labels: ef.Output;
  loss: ef.Output;
  train: ef.Node[];
  variables: ef.Variable[];
}

export function digitsCnn(learningRate = 0.1): DigitsCnn {
  const graph = new ef.Graph();
  return graph.asDefault(() => {
    const x = ef.placeholder(graph, "float32", [-1, 8, 8, 1], { name: "images" });
    const labels = ef.placeholder(graph, "int32", [-1], { name: "labels" });
    const seeded = (shape: number[], seed: number) =>
      ef.tensor(
        Float32Array.from(
          { length: shape.reduce((a, b) => a * b) },
          (_, i) => Math.sin(i * 12.9898 + seed) * 0.2,
        ),
        shape,
      );
    const kernel = new ef.Variable(seeded([3, 3, 1, 4], 1), { name: "conv/kernel" });
    const dense = new ef.Variable(seeded([64, 10], 2), { name: "dense/kernel" });
    const bias = new ef.Variable(ef.tensor(new Float32Array(10), [10]), { name: "dense/bias" });
    // Gradients are taken with respect to the reads the model uses.
    const reads = [kernel.read(), dense.read(), bias.read()];
    const conv = ef.conv2d(x, reads[0], {
      strides: [1, 1, 1, 1],
      padding: "SAME",
      name: "conv/Conv2D",
    });
    const relu = ef.relu(conv, { name: "conv/Relu" });
    const pool = ef.maxPool(relu, {
      ksize: [1, 2, 2, 1],
      strides: [1, 2, 2, 1],
      padding: "VALID",
      name: "pool",
    });
    const flat = ef.reshape(pool, ef.constant([-1, 64], { dtype: "int32" }), { name: "flatten" });
    const logits = graph.withDevice(
      "/device:TPU:0",
      () =>
        ef.add(ef.matMul(flat, reads[1], { name: "dense/MatMul" }), reads[2], {
          name: "dense/logits",
        }),
    );
    const [perExample] = ef.sparseSoftmaxCrossEntropyWithLogits(logits, labels, { name: "xent" });
    const loss = ef.mean(perExample, ef.constant([0], { dtype: "int32" }), {
      name: "loss",
    });
    const variables = [kernel, dense, bias];
    const grads = ef.gradients(loss, reads);
    const train = variables.map((v, i) =>
      v.assignSub(ef.mul(grads[i]!, ef.constant(learningRate)), { name: `sgd/${i}` })
    );
    return { graph, x, labels, loss, train, variables };
  });
}

/** A deterministic batch of 8x8 "digits": blobs whose position encodes the label. */
export function digitsBatch(n: number, seed = 0): { images: ef.Tensor; labels: ef.Tensor } {
  const pixels = new Float32Array(n * 64);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = (i * 7 + seed) % 10;
    labels[i] = label;
    const cx = 1 + (label % 5) * 1.4, cy = label < 5 ? 2 : 5.5;
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        pixels[i * 64 + y * 8 + x] = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 3);
      }
    }
  }
  return { images: ef.tensor(pixels, [n, 8, 8, 1]), labels: ef.tensor(labels, [n], "int32") };
}
