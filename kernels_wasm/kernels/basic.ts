/** Const, Identity, PlaceholderWithDefault and NoOp: uploads and forwarded buffers, no arithmetic. */
import { HostBuffer } from "../../core/buffer.ts";
import { forwardInput, type Kernel } from "../../core/kernel.ts";
import { Const, Identity, NoOp, PlaceholderWithDefault } from "../../core/ops/basic.ts";
import { BYTE_DTYPES, wasmKernel } from "./util.ts";

/**
 * The value stays in host memory: consumers that read it on the host (shape and axis
 * arguments) take it as is, and the executor uploads it once per run for those that compute on it.
 */
export const constKernel = wasmKernel(Const, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    ctx.setOutput(0, new HostBuffer(ctx.attrs.value));
  },
});

export const identityKernel = wasmKernel(Identity, {
  dtypes: BYTE_DTYPES,
  run: forwardInput,
});

export const placeholderWithDefaultKernel = wasmKernel(PlaceholderWithDefault, {
  dtypes: BYTE_DTYPES,
  run: forwardInput,
});

export const noOpKernel = wasmKernel(NoOp, { run() {} });

export const BASIC_KERNELS: readonly Kernel[] = [
  constKernel,
  identityKernel,
  placeholderWithDefaultKernel,
  noOpKernel,
];
