// tfjs's side of bench/train.ts: `deno run -A bench/train_tfjs.ts <wasm|cpu>` trains the bench's
// models (bench/train_models.ts) with tf.variable weights, tf.train.sgd / tf.train.adam and
// optimizer.minimize (tfjs's gradients), reading each step's loss with dataSync.
// The union package: tfjs-core alone registers no gradient functions (the union does, and its
// register_all_gradients module cannot be imported alone under Deno: extensionless imports).
//
// tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter kernel, so conv2d cannot be trained
// there, and tfjs does not fall back to another backend's kernel (the engine throws "Kernel
// 'Conv2DBackpropFilter' not registered for backend 'wasm'"). On wasm the CNN's 3x3 SAME
// convolutions therefore take a custom gradient: tf.conv2d forward and Conv2DBackpropInput for
// the input gradient (wasm's own kernels), and the filter gradient as one matMul of the im2col
// matrix (pad, the 9 shifted slices concatenated along channels, taps in the filter's HWIO
// order) with dy: TensorFlow's own formulation of Conv2DBackpropFilter, so the numbers equal it
// up to summation order. (The "tfjs-backend-wasm reaches 97% in 7.2 s" has to come from
// a formulation of this kind; the cpu row runs tf.conv2d's registered gradients.)
import * as tf from "npm:@tensorflow/tfjs@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import { serveTrainers, type Trainer } from "./train_engine.ts";
import { batchOf, CNN, MLP, type ModelName, SHAPES, weights } from "./train_models.ts";
import { runRace } from "./train_race.ts";

const backend = Deno.args[0] ?? "wasm";
if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not initialise`);
await tf.ready();

/** The 3x3 SAME im2col matrix of x: [n·h·w, 9·c], taps in the filter's HWIO order. */
function im2col3x3(x: tf.Tensor4D): tf.Tensor2D {
  const [n, h, wd, c] = x.shape;
  const p = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const taps: tf.Tensor4D[] = [];
  for (let ky = 0; ky < 3; ky++) {
    for (let kx = 0; kx < 3; kx++) taps.push(tf.slice(p, [0, ky, kx, 0], [n, h, wd, c]));
  }
  return tf.reshape(tf.concat(taps, 3), [n * h * wd, 9 * c]);
}

/**
 * A 3x3 SAME stride-1 convolution on tfjs-backend-wasm (see the header for why): the forward
 * pass and the input gradient on wasm's own Conv2D and Conv2DBackpropInput kernels, the filter
 * gradient as im2col(x)^T · dy in one matMul.
 */
const conv3x3Wasm = tf.customGrad((x, w, save) => {
  const xs = x as tf.Tensor4D, ws = w as tf.Tensor4D;
  (save as (saved: tf.Tensor[]) => void)([xs, ws]);
  return {
    value: tf.conv2d(xs, ws, 1, "same"),
    gradFunc: (dy, saved) => {
      const [sx, sw] = saved as [tf.Tensor4D, tf.Tensor4D];
      const d = dy as tf.Tensor4D;
      const [n, h, wd, c] = sx.shape;
      const out = sw.shape[3];
      const dx = tf.conv2dTranspose(d, sw, [n, h, wd, c], 1, "same");
      const dw = tf.matMul(im2col3x3(sx), tf.reshape(d, [n * h * wd, out]), true, false);
      return [dx, tf.reshape(dw, sw.shape)];
    },
  };
}) as (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D;

const conv2d = (x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D =>
  backend === "wasm" ? conv3x3Wasm(x, w) : tf.conv2d(x, w, 1, "same");

function logitsOf(model: ModelName, w: tf.Variable[], x: tf.Tensor): tf.Tensor2D {
  if (model === "mlp") {
    const h = tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, w[0] as tf.Tensor2D), w[1]));
    return tf.add(tf.matMul(h as tf.Tensor2D, w[2] as tf.Tensor2D), w[3]);
  }
  const conv = (h: tf.Tensor4D, k: number) =>
    tf.relu(tf.add(conv2d(h, w[k] as tf.Tensor4D), w[k + 1])) as tf.Tensor4D;
  const h = tf.maxPool(conv(conv(x as tf.Tensor4D, 0), 2), 2, 2, "valid");
  const flat = tf.reshape(h, [x.shape[0], 512]) as tf.Tensor2D;
  const d = tf.relu(tf.add(tf.matMul(flat, w[4] as tf.Tensor2D), w[5])) as tf.Tensor2D;
  return tf.add(tf.matMul(d, w[6] as tf.Tensor2D), w[7]);
}

const variables = (model: ModelName) =>
  SHAPES[model].map((s, i) => tf.variable(tf.tensor(weights(s, i + 1), s)));

function prepare(model: ModelName): Trainer {
  const b = batchOf(model);
  const x = tf.tensor(b.x, b.shape);
  const labels = tf.oneHot(tf.tensor1d(b.y, "int32"), 10);
  const w = variables(model);
  const forward = () => tf.losses.softmaxCrossEntropy(labels, logitsOf(model, w, x)) as tf.Scalar;
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

/** bench/train_race.ts's race: fresh variables and Adam, the loss read every step. */
function race() {
  return runRace(() => {
    const w = variables("cnn");
    const optimizer = tf.train.adam(CNN.lr);
    const images = (x: Float32Array, n: number) => tf.tensor4d(x, [n, CNN.side, CNN.side, 1]);
    return {
      step(x, y) {
        const xs = images(x, y.length), ys = tf.oneHot(tf.tensor1d(y, "int32"), 10);
        const loss = optimizer.minimize(
          () => tf.losses.softmaxCrossEntropy(ys, logitsOf("cnn", w, xs)) as tf.Scalar,
          true,
        )!;
        loss.dataSync();
        tf.dispose([loss, xs, ys]);
      },
      accuracy(x, y) {
        return tf.tidy(() => {
          const predicted = tf.argMax(logitsOf("cnn", w, images(x, y.length)), 1);
          return tf.mean(tf.cast(tf.equal(predicted, tf.tensor1d(y, "int32")), "float32"))
            .dataSync()[0];
        });
      },
    };
  });
}

await serveTrainers(prepare, race);
