/**
 * Kernels that compute nothing, valid on every device: Const, Identity, PlaceholderWithDefault,
 * NoOp, the Reshape-like views and Shape. Each device plugin lists them (as it lists
 * variable_kernels.ts) instead of writing its own.
 */
import { HostBuffer, release, retain } from "./buffer.ts";
import type { Device, DeviceBuffer } from "./device.ts";
import { EdgeflowError } from "./errors.ts";
import { defineKernel, forwardInput, type Kernel, type KernelContext } from "./kernel.ts";
import type { Attrs, OpDef } from "./op.ts";
import { Identity, NoOp, PlaceholderWithDefault } from "./ops/basic.ts";
import { Const } from "./ops/const.ts";
import { ExpandDims, Reshape, Shape, Squeeze } from "./ops/shape_ops.ts";
import { Tensor } from "./tensor.ts";
import { BroadcastGradientArgs, ConcatOffset, InvertPermutation } from "./ops/grad_array.ts";
import { MapHostContext } from "./host_context.ts";

/**
 * Const: a value no kernel on this device computes on (shapes, axes and permutations read in
 * host memory, values only fetched) stays in host memory, as TensorFlow keeps such tensors of
 * accelerator kernels; a device copy would only cost a readback. Any other value is placed in
 * device memory and kept there, as TensorFlow's ConstantOp holds its device tensor for the
 * kernel's life: every later run hands out the same buffer (buffers are immutable once written;
 * in-place variable updates skip any buffer someone else holds). A stateless plan (a served
 * frozen model) keeps it from its first run: its weights are uploaded once. A plan with stateful
 * ops (`statefulPlan`) keeps it from its second run, so that a plan run once (a variable's
 * initializer) leaves nothing behind: an initial value does not sit in device memory beside its
 * variable. Weights a loader placed on the device (`Device.adopt`) are not copied at all: their
 * upload is the buffer. The plan's disposal frees it.
 */
export const constKernel = defineKernel(Const, {
  create({ attrs, computedOn, statefulPlan }) {
    const value = attrs.value;
    if (!computedOn[0] || value.dtype === "string" || value.dtype === "resource") {
      const host = retain(new HostBuffer(value));
      return { run: (ctx) => ctx.setOutput(0, host) };
    }
    let runs = 0;
    let kept: DeviceBuffer | Promise<DeviceBuffer> | undefined;
    return {
      run(ctx) {
        if (kept instanceof Promise) return kept.then((b) => ctx.setOutput(0, b));
        if (kept) return ctx.setOutput(0, kept);
        const placed = ctx.device.upload(value);
        if (statefulPlan && ++runs === 1) {
          if (placed instanceof Promise) return placed.then((b) => ctx.setOutput(0, b));
          return ctx.setOutput(0, placed);
        }
        if (placed instanceof Promise) {
          // Runs that start before the upload lands share it; a failed upload is retried.
          kept = placed.then(
            (b) => kept = retain(b),
            (e) => {
              kept = undefined;
              throw e;
            },
          );
          return kept.then((b) => ctx.setOutput(0, b));
        }
        kept = retain(placed);
        ctx.setOutput(0, placed);
      },
      dispose() {
        const k = kept;
        kept = undefined;
        if (k instanceof Promise) k.then(release, () => {});
        else if (k) release(k);
      },
    };
  },
});

export const identityKernel = defineKernel(Identity, { run: forwardInput });
export const placeholderWithDefaultKernel = defineKernel(PlaceholderWithDefault, {
  run: forwardInput,
});
export const noOpKernel = defineKernel(NoOp, { run() {} });

/** The input's bytes under the shape inference gives: a view where the device makes views. */
function viewKernel<A extends Attrs>(op: OpDef<A>): Kernel<A> {
  return defineKernel(op, {
    run(ctx: KernelContext<A, Device>) {
      const x = ctx.inputs[0];
      const shape = ctx.outputShape(0);
      if (x instanceof HostBuffer) return ctx.setOutput(0, new HostBuffer(x.tensor.reshape(shape)));
      if (!ctx.device.view) {
        throw new EdgeflowError(`the ${ctx.device.type} device makes no views of its buffers`);
      }
      ctx.setOutput(0, ctx.device.view(x, shape));
    },
  });
}
export const reshapeKernel = viewKernel(Reshape);
export const expandDimsKernel = viewKernel(ExpandDims);
export const squeezeKernel = viewKernel(Squeeze);

/** Shape's output is in host memory (the op's HostMemory): it is known from the buffer. */
export const shapeKernel = defineKernel(Shape, {
  run(ctx) {
    const shape = ctx.inputs[0].shape;
    ctx.setOutput(0, new HostBuffer(Tensor.fromNumbers(ctx.attrs.out_type, [shape.length], shape)));
  },
});

/**
 * Shape arithmetic whose every argument is in host memory (the ops' HostMemory): the reference
 * runs on the host values, on any device, and its results stay host tensors.
 */
function hostArithmeticKernel<A extends Attrs>(op: OpDef<A>): Kernel<A> {
  return defineKernel(op, {
    run(ctx) {
      const values = ctx.inputs.map((_, i) => ctx.hostInput(i));
      op.reference(values, ctx.attrs, new MapHostContext()).forEach((t, i) =>
        ctx.setOutput(i, new HostBuffer(t))
      );
    },
  });
}

/**
 * BroadcastGradientArgs, ConcatOffset and InvertPermutation, which gradients use on shapes and
 * permutations.
 */
export const GENERIC_HOST_ARITHMETIC_KERNELS: readonly Kernel[] = [
  hostArithmeticKernel(BroadcastGradientArgs),
  hostArithmeticKernel(ConcatOffset),
  hostArithmeticKernel(InvertPermutation),
];

/** Const, Identity, PlaceholderWithDefault and NoOp. */
export const GENERIC_BASIC_KERNELS: readonly Kernel[] = [
  constKernel,
  identityKernel,
  placeholderWithDefaultKernel,
  noOpKernel,
];
/** Reshape, ExpandDims, Squeeze and Shape. */
export const GENERIC_VIEW_KERNELS: readonly Kernel[] = [
  reshapeKernel,
  expandDimsKernel,
  squeezeKernel,
  shapeKernel,
];
