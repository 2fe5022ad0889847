/**
 * Ops that only change the shape: Reshape, ExpandDims and Squeeze forward their input's storage
 * under the new shape (no copy, no dispatch); Shape answers from the buffer's shape into host
 * memory, as TensorFlow keeps Shape's output in host memory on GPUs, so consumers that read it
 * as a host input need no readback.
 */
import { HostBuffer } from "../../core/buffer.ts";
import { ExpandDims, Reshape, Shape, Squeeze } from "../../core/ops/shape_ops.ts";
import { Tensor } from "../../core/tensor.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel } from "../kernel.ts";

export const reshapeKernel = defineGpuKernel(Reshape, {
  dtypes: GPU_DTYPES,
  hostInputs: [1],
  run(ctx) {
    ctx.setOutput(0, ctx.device.view(ctx.inputs[0] as GpuBuffer, ctx.outputShape(0)));
  },
});

export const expandDimsKernel = defineGpuKernel(ExpandDims, {
  dtypes: GPU_DTYPES,
  hostInputs: [1],
  run(ctx) {
    ctx.setOutput(0, ctx.device.view(ctx.inputs[0] as GpuBuffer, ctx.outputShape(0)));
  },
});

export const squeezeKernel = defineGpuKernel(Squeeze, {
  dtypes: GPU_DTYPES,
  run(ctx) {
    ctx.setOutput(0, ctx.device.view(ctx.inputs[0] as GpuBuffer, ctx.outputShape(0)));
  },
});

export const shapeKernel = defineGpuKernel(Shape, {
  dtypes: GPU_DTYPES,
  run(ctx) {
    const shape = ctx.inputs[0].shape;
    const t = Tensor.fromNumbers(ctx.attrs.out_type, [shape.length], shape);
    ctx.setOutput(0, new HostBuffer(t));
  },
});

export const VIEW_KERNELS = [reshapeKernel, expandDimsKernel, squeezeKernel, shapeKernel];
