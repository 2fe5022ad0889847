/**
 * SoftmaxCrossEntropyWithLogits and SparseSoftmaxCrossEntropyWithLogits (task_xent in
 * kernels_wasm/src/nn.c): the reference's formulas in double, one row per task.
 */
import type { Kernel, Tolerance } from "../../core/kernel.ts";
import {
  SoftmaxCrossEntropyWithLogits,
  SparseSoftmaxCrossEntropyWithLogits,
} from "../../core/ops/loss.ts";
import type { Shape } from "../../core/shape.ts";
import { Task } from "../tasks.ts";
import { wasmBuffer, wasmKernel } from "./util.ts";

/** Row and column element strides of a [batch, classes] broadcast of `shape` (rank 1 or 2). */
function matrixStrides(shape: Shape): [number, number] {
  const rows = shape.length === 2 ? shape[0] : 1, cols = shape[shape.length - 1];
  return [rows === 1 ? 0 : cols, cols === 1 ? 0 : 1];
}

const TOLERANCE: Tolerance = {
  ulps: 1,
  atol: 1e-12,
  reason: "the reference's formulas in double with musl's exp and log instead of V8's",
};

export const xentKernel = wasmKernel(SoftmaxCrossEntropyWithLogits, {
  dtypes: ["float32"],
  run(ctx) {
    const [f, l] = ctx.inputs.map(wasmBuffer);
    const loss = wasmBuffer(ctx.output(0)), backprop = wasmBuffer(ctx.output(1));
    const [batch, classes] = backprop.shape;
    ctx.device.launch(Task.task_xent, batch, [
      f.ptr,
      l.ptr,
      loss.ptr,
      backprop.ptr,
      batch,
      classes,
      ...matrixStrides(f.shape),
      ...matrixStrides(l.shape),
      0,
      4,
    ], batch * classes * 20);
  },
  tolerance: TOLERANCE,
});

export const sparseXentKernel = wasmKernel(SparseSoftmaxCrossEntropyWithLogits, {
  dtypes: ["float32"],
  run(ctx) {
    const [f, l] = ctx.inputs.map(wasmBuffer);
    const loss = wasmBuffer(ctx.output(0)), backprop = wasmBuffer(ctx.output(1));
    const [batch, classes] = f.shape;
    // Labels outside [0, classes) were refused by the op's check before the kernel ran.
    ctx.device.launch(Task.task_xent, batch, [
      f.ptr,
      l.ptr,
      loss.ptr,
      backprop.ptr,
      batch,
      classes,
      classes,
      1,
      0,
      0,
      1,
      l.dtype === "int64" ? 8 : 4,
    ], batch * classes * 20);
  },
  tolerance: TOLERANCE,
});

export const LOSS_KERNELS: readonly Kernel[] = [xentKernel, sparseXentKernel];
