// @tensorflow/tfjs-backend-wasm's side of bench/grad.ts, through tfjs's kernels (runKernel, as
// its gradient functions call them). tfjs-backend-wasm 4.22 registers Conv2DBackpropInput and
// MaxPoolGrad but no Conv2DBackpropFilter: those cells are n/a (the process answers without
// measuring). MaxPoolGrad's forward pass is computed once, outside the measured run.
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import { serve } from "./wasm_engine.ts";
import { findGrad, operands } from "./grad_workloads.ts";

if (!(await tf.setBackend("wasm"))) throw new Error("tfjs-backend-wasm did not initialise");
await tf.ready();

await serve((w) => {
  const o = operands(w);
  const t = (a: { shape: number[]; data: Float32Array }) => tf.tensor(a.data, a.shape);
  const conv = { strides: [1, 1], pad: "same", dataFormat: "NHWC" };
  let inputs: tf.Tensor[], run: () => tf.Tensor;
  if (w.kind === "input") {
    const [dy, filter] = inputs = [t(o.dy), t(o.f)];
    run = () =>
      tf.engine().runKernel("Conv2DBackpropInput", { dy, filter }, {
        ...conv,
        inputShape: o.x.shape,
      }) as tf.Tensor;
  } else if (w.kind === "filter") {
    const [x, dy] = inputs = [t(o.x), t(o.dy)];
    run = () =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
        ...conv,
        filterShape: o.f.shape,
      }) as tf.Tensor;
  } else {
    const x = t(o.x), y = tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"), dy = t(o.dy);
    inputs = [x, y, dy];
    run = () =>
      tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: y }, {
        filterSize: [2, 2],
        strides: [2, 2],
        pad: "valid",
      }) as tf.Tensor;
  }
  return Promise.resolve({
    run: async () => {
      const y = run();
      await y.data();
      y.dispose();
    },
    release: () => tf.dispose(inputs),
  });
}, findGrad);
