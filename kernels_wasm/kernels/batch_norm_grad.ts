/**
 * FusedBatchNormGradV3 (kernels_wasm/src/batch_norm_grad.c): a task per block of channels, sums
 * and dx in double with the reference's expressions in its order, so the results are exact.
 */
import type { Kernel } from "../../core/kernel.ts";
import { FusedBatchNormGradV3 } from "../../core/ops/grad_batch_norm.ts";
import { Task } from "../tasks.ts";
import { f64Word2, sizeOfBuffer, wasmKernel } from "./util.ts";

/** Channels per task (BN_BLOCK in the C source bounds it): a few tasks for each thread. */
const BLOCK = 8;

export const batchNormGradKernel = wasmKernel(FusedBatchNormGradV3, {
  dtypes: ["float32"],
  run(ctx) {
    const [dy, x, scale, mean, variance] = ctx.inputs;
    // Inference (run where the plan's shapes were partial) checked ranks and channel counts.
    const nchw = ctx.attrs.data_format === "NCHW";
    const [d0, d1, d2, d3] = x.shape;
    const [outer, C, inner] = nchw ? [d0, d1, d2 * d3] : [d0 * d1 * d2, d3, 1];
    const dx = ctx.output(0, x.shape);
    const dscale = ctx.output(1, [C]), doffset = ctx.output(2, [C]);
    ctx.output(3, [0]);
    ctx.output(4, [0]);
    if (C === 0) return;
    const [e0, e1] = f64Word2(ctx.attrs.epsilon);
    ctx.device.launch(Task.task_batch_norm_grad, Math.ceil(C / BLOCK), [
      dy.ptr,
      x.ptr,
      scale.ptr,
      mean.ptr,
      variance.ptr,
      dx.ptr,
      dscale.ptr,
      doffset.ptr,
      outer,
      C,
      inner,
      BLOCK,
      ctx.attrs.is_training ? 1 : 0,
      e0,
      e1,
    ], 3 * sizeOfBuffer(x));
  },
});

export const BATCH_NORM_GRAD_KERNELS: readonly Kernel[] = [batchNormGradKernel];
