/**
 * The training bench's two models, as every runner builds them (bench/train.ts):
 * - "mlp": 784-256-10 (ReLU), batch 128, softmax cross entropy, plain SGD (lr 0.01);
 *   2·128·(784·256 + 256·10)·3 = 104.7 MFLOP per step (forward, and both backward products).
 * - "cnn": the digits CNN of examples/train_digits.ts (conv 3x3 16 SAME + ReLU, conv 3x3 32 SAME
 *   + ReLU, max pool 2, flatten, dense 64 + ReLU, dense 10), batch 64, Adam lr 1e-3.
 * Inputs are fixed pseudo-random batches (the same numbers in every runner; labels i mod 10), so
 * a step's work does not depend on data; a step ends with its loss read on the host.
 */
import { values } from "./wasm_workloads.ts";

export const MODELS = ["mlp", "cnn"] as const;
export type ModelName = (typeof MODELS)[number];

export const MLP = { batch: 128, input: 784, hidden: 256, classes: 10, lr: 0.01 };
export const CNN = { batch: 64, side: 8, c1: 16, c2: 32, hidden: 64, classes: 10, lr: 1e-3 };

/**
 * bench/train.ts's reference workload, on Edgeflow's WASM rows only: MatMul 1024x1024x1024, whose
 * FLOP rate the MLP step's is compared with (issue 11: the step at ≥ 80% of it).
 */
export const MATMUL_1024 = "matmul1024";
export const MATMUL_1024_FLOPS = 2 * 1024 ** 3;

/** FLOPs of one MLP step: forward, and the two products of the backward pass per layer. */
export const MLP_STEP_FLOPS = 2 * MLP.batch *
  (MLP.input * MLP.hidden + MLP.hidden * MLP.classes) * 3;

/** The batch of a model: inputs in [0, 1) (NHWC for the CNN) and int32 labels. */
export function batchOf(
  model: ModelName,
): { x: Float32Array<ArrayBuffer>; shape: number[]; y: Int32Array<ArrayBuffer> } {
  const [n, shape] = model === "mlp"
    ? [MLP.batch, [MLP.batch, MLP.input]]
    : [CNN.batch, [CNN.batch, CNN.side, CNN.side, 1]];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(values(size, 11).map((v) => (v + 1) / 2));
  const y = Int32Array.from({ length: n }, (_, i) => i % 10);
  return { x, shape, y };
}

/** Initial weights: uniform in ±sqrt(6 / (fanIn + fanOut)) from a fixed seed. */
export function weights(shape: number[], seed: number): Float32Array<ArrayBuffer> {
  const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
  const fanOut = shape.length === 4 ? shape[0] * shape[1] * shape[3] : shape.at(-1)!;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return new Float32Array(values(shape.reduce((a, b) => a * b, 1), seed).map((v) => v * limit));
}

/** Weight shapes, in order: [kernel, bias] per layer. */
export const SHAPES: Record<ModelName, number[][]> = {
  mlp: [[784, 256], [256], [256, 10], [10]],
  cnn: [[3, 3, 1, 16], [16], [3, 3, 16, 32], [32], [512, 64], [64], [64, 10], [10]],
};
