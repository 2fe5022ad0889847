/**
 * Conv2D (the packed GEMM, im2col done while packing; a 1x1 stride-1 unpadded convolution is a
 * plain GEMM on the image), DepthwiseConv2dNative, MaxPool and AvgPool (kernels_wasm/src/
 * window.c). Window geometry is core/ops/conv_geometry.ts's `convGeometry`, never re-derived.
 */
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import { Conv2D, DepthwiseConv2dNative, skipsPaddedTaps } from "../../core/ops/conv.ts";
import { convGeometry, type WindowGeometry } from "../../core/ops/conv_geometry.ts";
import { AvgPool, MaxPool } from "../../core/ops/pool.ts";
import { Task } from "../tasks.ts";
import { dtypeCode } from "./elementwise.ts";
import { sgemm } from "./gemm.ts";
import { dotTolerance, maxAbs, wasmBuffer, wasmKernel } from "./util.ts";

/** The 14 ConvGeom words (kernels_wasm/src/window.h), in order. */
export function geometryWords(g: WindowGeometry): number[] {
  return [
    g.batch,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.filterHeight,
    g.filterWidth,
    g.outHeight,
    g.outWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padTop,
    g.padLeft,
  ];
}

/** Taps per output element, from a case's filter shape [fh, fw, in, ...]. */
function windowTolerance(perChannel: boolean) {
  return (c: KernelCase<{ T: string }>): Tolerance => {
    const [fh, fw, ic] = c.inputs[1].shape;
    const taps = fh * fw * (perChannel ? 1 : ic);
    return dotTolerance(taps, maxAbs(c.inputs[0]), maxAbs(c.inputs[1]), "float32 sums of products");
  };
}

export const conv2dKernel = wasmKernel(Conv2D, {
  dtypes: ["float32"],
  run(ctx) {
    const [x, f] = ctx.inputs.map(wasmBuffer);
    const g = convGeometry("conv2d", x.shape, f.shape, ctx.attrs);
    const out = wasmBuffer(ctx.output(0, g.outShape));
    const m = g.batch * g.outHeight * g.outWidth, k = g.filterHeight * g.filterWidth * g.inChannels;
    const pointwise = g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
      g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0 && g.padBottom === 0 &&
      g.padRight === 0;
    sgemm(ctx.device, {
      a: x.ptr,
      b: f.ptr,
      c: out.ptr,
      m,
      n: g.outChannels,
      k,
      rsa: k,
      csa: 1,
      rsb: g.outChannels,
      csb: 1,
      conv: pointwise ? undefined : geometryWords(g),
    });
  },
  tolerance: windowTolerance(false),
});

export const depthwiseKernel = wasmKernel(DepthwiseConv2dNative, {
  dtypes: ["float32"],
  run(ctx) {
    const [x, f] = ctx.inputs.map(wasmBuffer);
    const g = convGeometry("depthwise", x.shape, f.shape, ctx.attrs);
    const out = wasmBuffer(ctx.output(0, g.outShape));
    const rows = g.batch * g.outHeight;
    const work = rows * g.outWidth * g.outChannels * g.filterHeight * g.filterWidth;
    const words = [x.ptr, f.ptr, out.ptr, g.channelMultiplier, ...geometryWords(g)];
    ctx.device.launch(Task.task_depthwise, rows, words, work);
  },
  tolerance: windowTolerance(true),
  differs: [skipsPaddedTaps("WASM")],
});

export const maxPoolKernel = wasmKernel(MaxPool, {
  dtypes: ["float32", "int32", "int64"],
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const out = wasmBuffer(ctx.output(0)); // inference refuses pads as wide as the window
    const g = convGeometry("pool", x.shape, null, ctx.attrs);
    const words = [x.ptr, out.ptr, dtypeCode(x.dtype), 0, ...geometryWords(g)];
    const work = g.batch * g.outHeight * g.outWidth * g.inChannels * g.filterHeight * g.filterWidth;
    ctx.device.launch(Task.task_pool, g.batch * g.outHeight, words, work);
  },
});

export const avgPoolKernel = wasmKernel(AvgPool, {
  dtypes: ["float32"],
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const out = wasmBuffer(ctx.output(0));
    const g = convGeometry("pool", x.shape, null, ctx.attrs);
    const words = [x.ptr, out.ptr, dtypeCode(x.dtype), 1, ...geometryWords(g)];
    const work = g.batch * g.outHeight * g.outWidth * g.inChannels * g.filterHeight * g.filterWidth;
    ctx.device.launch(Task.task_pool, g.batch * g.outHeight, words, work);
  },
});

export const CONV_KERNELS: readonly Kernel[] = [
  conv2dKernel,
  depthwiseKernel,
  maxPoolKernel,
  avgPoolKernel,
];
