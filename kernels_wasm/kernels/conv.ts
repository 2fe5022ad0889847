/**
 * Conv2D (the packed GEMM, im2col done while packing; a 1x1 stride-1 unpadded convolution is a
 * plain GEMM on the image), DepthwiseConv2dNative, MaxPool and AvgPool (kernels_wasm/src/
 * window.c). Window geometry is core/ops/conv_geometry.ts's `convGeometry`, never re-derived.
 */
import type { Kernel, KernelCase, KernelInstance, Tolerance } from "../../core/kernel.ts";
import type { TensorSpec } from "../../core/op.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Conv2D, DepthwiseConv2dNative, skipsPaddedTaps } from "../../core/ops/conv.ts";
import { convGeometry, type WindowGeometry } from "../../core/ops/conv_geometry.ts";
import { AvgPool, type AvgPoolAttrs, MaxPool } from "../../core/ops/pool.ts";
import { Task } from "../tasks.ts";
import { dtypeCode } from "./elementwise.ts";
import { sgemm } from "./gemm.ts";
import { dotTolerance, maxAbs, wasmKernel } from "./util.ts";

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

/**
 * Conv2D as one GEMM: im2col(x) (rows = output pixels, packed from the image while packing A;
 * a 1x1 stride-1 unpadded convolution reads the image as A directly) times the filter.
 */
export function conv2dGemm(g: WindowGeometry) {
  const k = g.filterHeight * g.filterWidth * g.inChannels;
  const pointwise = g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
    g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0 && g.padBottom === 0 &&
    g.padRight === 0;
  return {
    m: g.batch * g.outHeight * g.outWidth,
    n: g.outChannels,
    k,
    rsa: k,
    csa: 1,
    rsb: g.outChannels,
    csb: 1,
    conv: pointwise ? undefined : geometryWords(g),
  };
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
  create({ inputs: [x, f], attrs }) {
    // The geometry and the GEMM's sizes by input shapes, seeded from the static ones.
    const problems = new ShapeMemo((xs, fs) => {
      const g = convGeometry("conv2d", xs, fs, attrs);
      return { outShape: g.outShape, gemm: conv2dGemm(g) };
    }).seed([x.shape, f.shape]);
    return {
      run(ctx) {
        const [x, f] = ctx.inputs;
        const { outShape, gemm } = problems.get(x.shape, f.shape);
        const out = ctx.output(0, outShape);
        sgemm(ctx.device, { ...gemm, a: x.ptr, b: f.ptr, c: out.ptr });
      },
    };
  },
  tolerance: windowTolerance(false),
});

/**
 * A depthwise launch (task_depthwise): output rows cut into channel blocks (multiples of 8)
 * until there are about 8 tasks per thread, so a 7x7 layer's 7 rows still feed two threads
 * evenly. Each output sums its taps in the same order whatever block computes it, so the cut
 * may follow the thread count.
 */
export function depthwiseLaunch(
  xs: readonly number[],
  fs: readonly number[],
  attrs: Parameters<typeof convGeometry>[3],
  threads: number,
) {
  const g = convGeometry("depthwise", xs, fs, attrs);
  const rows = g.batch * g.outHeight;
  const c = g.outChannels;
  const work = rows * g.outWidth * c * g.filterHeight * g.filterWidth;
  const blocks = threads > 1 && g.channelMultiplier === 1
    ? Math.max(1, Math.min(Math.ceil((8 * threads) / Math.max(1, rows)), Math.floor(c / 16)))
    : 1;
  const cb = Math.max(8, Math.ceil(c / blocks / 8) * 8);
  return {
    outShape: g.outShape,
    channels: c,
    tasks: rows * Math.max(1, Math.ceil(c / cb)),
    work,
    /** The words after x, filter and out up to the epilogue, and the one after it. */
    words: [g.channelMultiplier, ...geometryWords(g)],
    cb,
  };
}

export const depthwiseKernel = wasmKernel(DepthwiseConv2dNative, {
  dtypes: ["float32"],
  create({ inputs: [x, f], attrs, device }) {
    const launches = new ShapeMemo((xs, fs) => depthwiseLaunch(xs, fs, attrs, device.threads))
      .seed([x.shape, f.shape]);
    return {
      run(ctx) {
        const [x, f] = ctx.inputs;
        const l = launches.get(x.shape, f.shape);
        const out = ctx.output(0, l.outShape);
        const words = [x.ptr, f.ptr, out.ptr, ...l.words, 0, 0, 0, l.cb]; // no epilogue
        ctx.device.launch(Task.task_depthwise, l.tasks, words, l.work);
      },
    };
  },
  tolerance: windowTolerance(true),
  differs: [skipsPaddedTaps("WASM")],
});

/** A pool's instance (`avg` 0 for max, 1 for average): its geometry by input shape. */
function poolInstance<A extends AvgPoolAttrs>(
  x: TensorSpec,
  attrs: A,
  avg: 0 | 1,
): KernelInstance<A, WasmDevice> {
  const dt = dtypeCode(x.dtype);
  const launches = new ShapeMemo((xs) => {
    const g = convGeometry("pool", xs, null, attrs);
    const work = g.batch * g.outHeight * g.outWidth * g.inChannels * g.filterHeight * g.filterWidth;
    return { outShape: g.outShape, tasks: g.batch * g.outHeight, work, words: geometryWords(g) };
  }).seed([x.shape]);
  return {
    run(ctx) {
      const x = ctx.inputs[0];
      const l = launches.get(x.shape);
      const out = ctx.output(0, l.outShape); // inference refuses pads as wide as the window
      const words = [x.ptr, out.ptr, dt, avg, ...l.words];
      ctx.device.launch(Task.task_pool, l.tasks, words, l.work);
    },
  };
}

export const maxPoolKernel = wasmKernel(MaxPool, {
  dtypes: ["float32", "int32", "int64"],
  create: ({ inputs: [x], attrs }) => poolInstance(x, attrs, 0),
});

export const avgPoolKernel = wasmKernel(AvgPool, {
  dtypes: ["float32"],
  create: ({ inputs: [x], attrs }) => poolInstance(x, attrs, 1),
});

export const CONV_KERNELS: readonly Kernel[] = [
  conv2dKernel,
  depthwiseKernel,
  maxPoolKernel,
  avgPoolKernel,
];
