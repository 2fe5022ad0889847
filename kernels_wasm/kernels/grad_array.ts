/**
 * The array gradient ops on WASM: StopGradient (the identity) and StridedSliceGrad (a zero fill,
 * then dy copied into the slice with the strided copy of strided.ts). BroadcastGradientArgs,
 * ConcatOffset and InvertPermutation keep every argument in host memory (their HostMemory):
 * core's GENERIC_HOST_ARITHMETIC_KERNELS run them, listed in plugin.ts.
 */
import { forwardInput, type Kernel } from "../../core/kernel.ts";
import { intVector } from "../../core/ops/array_util.ts";
import { StopGradient, StridedSliceGrad, stridedSliceGradPlan } from "../../core/ops/grad_array.ts";
import { byteSize } from "../../core/dtype.ts";
import { Task } from "../tasks.ts";
import { contiguous, stridedCopy } from "./strided.ts";
import { BYTE_DTYPES, wasmKernel } from "./util.ts";

export const stridedSliceGradKernel = wasmKernel(StridedSliceGrad, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const dy = ctx.inputs[4];
    const { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask } = ctx.attrs;
    const plan = stridedSliceGradPlan(
      intVector(ctx.hostInput(0), "shape"),
      intVector(ctx.hostInput(1), "begin"),
      intVector(ctx.hostInput(2), "end"),
      intVector(ctx.hostInput(3), "strides"),
      { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask },
      dy.shape,
    );
    const out = ctx.output(0, plan.dims);
    const size = byteSize(dy.dtype);
    const bytes = plan.dims.reduce((a, b) => a * b, 1) * size;
    if (bytes === 0) return;
    ctx.device.launch(Task.task_fill, 1, [out.ptr, bytes, 1, 0, 0]);
    if (plan.empty) return;
    stridedCopy(ctx.device, {
      dtype: dy.dtype,
      dst: out.ptr + plan.offset * size,
      src: dy.ptr,
      dims: plan.spec.processingShape,
      dstStrides: plan.dstStrides,
      srcStrides: contiguous(plan.spec.processingShape),
    });
  },
});

/** StopGradient is the identity when the graph runs: its output is its input's buffer. */
export const stopGradientKernel = wasmKernel(StopGradient, {
  dtypes: BYTE_DTYPES,
  run: forwardInput,
});

export const GRAD_ARRAY_KERNELS: readonly Kernel[] = [
  stopGradientKernel,
  stridedSliceGradKernel,
];
