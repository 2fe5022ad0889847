// @tensorflow/tfjs-backend-wasm's side of bench/wasm.ts: serves the parent's measuring commands
// (bench/wasm_engine.ts) on tfjs's WASM backend (XNNPACK, SIMD; tfjs runs it single-threaded
// under Deno). Inputs are tensors created once; each run reads its result back with data().
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import { serve } from "./wasm_engine.ts";
import { values, type Workload } from "./wasm_workloads.ts";

if (!(await tf.setBackend("wasm"))) throw new Error("tfjs-backend-wasm did not initialise");
await tf.ready();
if (!tf.env().getBool("WASM_HAS_SIMD_SUPPORT")) throw new Error("tfjs-backend-wasm has no SIMD");

const t = (shape: number[], seed: number) =>
  tf.tensor(values(shape.reduce((a, b) => a * b, 1), seed), shape);

/** The inputs of a workload and the computation on them. */
function setup(w: Workload): { inputs: tf.Tensor[]; run: (xs: tf.Tensor[]) => tf.Tensor } {
  const n = w.n ?? 0, c = w.conv;
  switch (w.kind) {
    case "matmul":
      return { inputs: [t([n, n], 1), t([n, n], 2)], run: ([a, b]) => tf.matMul(a, b) };
    case "conv":
      return {
        inputs: [t([1, c!.h, c!.w, c!.c], 1), t([c!.k, c!.k, c!.c, c!.out], 2)],
        run: ([x, f]) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c!.stride, "same"),
      };
    case "depthwise":
      return {
        inputs: [t([1, c!.h, c!.w, c!.c], 1), t([c!.k, c!.k, c!.c, 1], 2)],
        run: ([x, f]) => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same"),
      };
    case "add":
      return { inputs: [t([n], 1), t([n], 2)], run: ([a, b]) => tf.add(a, b) };
    case "relu":
      return { inputs: [t([n], 1)], run: ([x]) => tf.relu(x) };
    case "softmax":
      return { inputs: [t([n, n], 1)], run: ([x]) => tf.softmax(x) };
    case "sum":
      return { inputs: [t([n], 1)], run: ([x]) => tf.sum(x) };
    case "mlp":
      // tfjs's fused matMul adds the bias and applies relu in one kernel: its best form.
      return {
        inputs: [t([n, 784], 1), t([784, 256], 2), t([256], 3), t([256, 10], 4), t([10], 5)],
        run: ([x, w1, b1, w2, b2]) => {
          const h = tf.fused.matMul({ a: x, b: w1, bias: b1, activation: "relu" });
          return tf.fused.matMul({ a: h, b: w2, bias: b2 });
        },
      };
    case "dispatch":
      return {
        inputs: [t([1], 1), t([1], 2)],
        run: ([x, one]) => {
          let y = x;
          for (let i = 0; i < w.chain!; i++) y = tf.add(y, one);
          return y;
        },
      };
  }
}

await serve((w) => {
  const { inputs, run } = setup(w);
  return Promise.resolve({
    run: async () => {
      const y = tf.tidy(() => run(inputs));
      await y.data();
      y.dispose();
    },
    release: () => tf.dispose(inputs),
  });
});
