// tfjs's side of bench/train.ts: `deno run -A bench/train_tfjs.ts <wasm|cpu>` trains the bench's
// models (bench/train_models.ts) with tf.variable weights, tf.train.sgd / tf.train.adam and
// optimizer.minimize (tfjs's gradients), reading each step's loss with dataSync.
// The union package: tfjs-core alone registers no gradient functions (the union does, and its
// register_all_gradients module cannot be imported alone under Deno: extensionless imports).
import * as tf from "npm:@tensorflow/tfjs@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import { serveTrainers, type Trainer } from "./train_engine.ts";
import { batchOf, CNN, MLP, type ModelName, SHAPES, weights } from "./train_models.ts";

const backend = Deno.args[0] ?? "wasm";
if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not initialise`);
await tf.ready();

function prepare(model: ModelName): Trainer {
  const b = batchOf(model);
  const x = tf.tensor(b.x, b.shape);
  const labels = tf.oneHot(tf.tensor1d(b.y, "int32"), 10);
  const w = SHAPES[model].map((s, i) => tf.variable(tf.tensor(weights(s, i + 1), s)));
  const forward = (): tf.Scalar => {
    let logits: tf.Tensor2D;
    if (model === "mlp") {
      const h = tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, w[0] as tf.Tensor2D), w[1]));
      logits = tf.add(tf.matMul(h as tf.Tensor2D, w[2] as tf.Tensor2D), w[3]);
    } else {
      const conv = (h: tf.Tensor4D, k: number) =>
        tf.relu(tf.add(tf.conv2d(h, w[k] as tf.Tensor4D, 1, "same"), w[k + 1])) as tf.Tensor4D;
      const h = tf.maxPool(conv(conv(x as tf.Tensor4D, 0), 2), 2, 2, "valid");
      const flat = tf.reshape(h, [CNN.batch, 512]) as tf.Tensor2D;
      const d = tf.relu(tf.add(tf.matMul(flat, w[4] as tf.Tensor2D), w[5])) as tf.Tensor2D;
      logits = tf.add(tf.matMul(d, w[6] as tf.Tensor2D), w[7]);
    }
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  const optimizer = model === "mlp" ? tf.train.sgd(MLP.lr) : tf.train.adam(CNN.lr);
  return {
    step() {
      const loss = optimizer.minimize(forward, true)!;
      loss.dataSync();
      loss.dispose();
    },
    stats: () => ({ peakBytes: tf.memory().numBytes }),
  };
}

await serveTrainers(prepare);
