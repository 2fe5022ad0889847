/**
 * Const, Identity, PlaceholderWithDefault and NoOp on the GPU. Small integer Consts stay in host
 * memory, as TensorFlow keeps int32 tensors of GPU kernels in host memory: they are shapes, axes
 * and permutations that kernels read as host inputs, and a GPU copy would cost a readback.
 */
import { HostBuffer } from "../core/buffer.ts";
import { forwardInput } from "../core/kernel.ts";
import { Identity, NoOp, PlaceholderWithDefault } from "../core/ops/basic.ts";
import { Const } from "../core/ops/const.ts";
import { GPU_DTYPES } from "../devices/webgpu/storage.ts";
import { defineGpuKernel } from "./kernel.ts";

/** Integer Consts up to this many elements live in host memory. */
const HOST_CONST_LIMIT = 64;

export const constKernel = defineGpuKernel(Const, {
  dtypes: GPU_DTYPES,
  run(ctx) {
    const t = ctx.attrs.value;
    const hostSide = (t.dtype === "int32" || t.dtype === "int64") && t.size <= HOST_CONST_LIMIT;
    ctx.setOutput(0, hostSide ? new HostBuffer(t) : ctx.device.constant(t));
  },
});

export const identityKernel = defineGpuKernel(Identity, {
  dtypes: GPU_DTYPES,
  run: forwardInput,
});

export const placeholderWithDefaultKernel = defineGpuKernel(PlaceholderWithDefault, {
  dtypes: GPU_DTYPES,
  run: forwardInput,
});

export const noOpKernel = defineGpuKernel(NoOp, { run() {} });

export const BASIC_KERNELS = [
  constKernel,
  identityKernel,
  placeholderWithDefaultKernel,
  noOpKernel,
];
