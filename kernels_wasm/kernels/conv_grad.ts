/**
 * The backward convolutions (kernels_wasm/src/conv_grad.c). Conv2D's gradients run on the packed
 * GEMM of gemm.ts around an im2col matrix (NHWC, any stride, dilation and padding):
 *
 * - Conv2DBackpropFilter: im2col(x) is written to scratch (task_im2col, rows = output pixels,
 *   columns = taps), and df [taps, out channels] = im2col(x)^T · dy, A read transposed.
 * - Conv2DBackpropInput: dcol [pixels, taps] = dy · filter^T (B read transposed), then
 *   task_col2im gathers every input pixel's taps from dcol. Images are independent, so large
 *   batches go through in groups of images whose dcol fits SCRATCH_BYTES.
 *
 * A 1x1 stride-1 unpadded convolution needs neither: the image is already the im2col matrix.
 * The depthwise pair runs direct loops. Geometry is core/ops/conv_geometry.ts's, the sizes
 * arguments are checked as the reference checks them (grad_conv.ts).
 */
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import type { Tensor } from "../../core/tensor.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import { constIntList } from "../../core/shape_memo.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { convGeometry, type WindowGeometry } from "../../core/ops/conv_geometry.ts";
import {
  checkOutBackprop,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  sizesOf,
} from "../../core/ops/grad_conv.ts";
import type { Shape } from "../../core/shape.ts";
import { Task } from "../tasks.ts";
import { geometryWords } from "./conv.ts";
import { stridedCopy } from "./strided.ts";
import { sgemm } from "./gemm.ts";
import { dotTolerance, maxAbs, wasmKernel } from "./util.ts";

/**
 * The most bytes of dcol Conv2DBackpropInput holds at once (a group of whole images): enough for
 * a batch of small images in one GEMM, little enough that a large batch does not double the
 * step's memory.
 */
const SCRATCH_BYTES = 8 << 20;

/**
 * Conv2DBackpropFilter with at most this many input channels runs task_conv_grad_filter_direct:
 * with one channel (the digits CNN's first layer) im2col rows are 9 floats, whose copying cost
 * more than the GEMM (measured: 1.8 ms of a 10 ms training step, against 0.2 ms for the
 * forward convolution).
 */
const DIRECT_FILTER_MAX_C = 4;

/** Whether the image itself is the im2col matrix (1x1 filter, stride 1, no padding). */
function pointwise(g: WindowGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
    g.strideWidth === 1 && g.padTop === 0 && g.padLeft === 0 && g.padBottom === 0 &&
    g.padRight === 0;
}

/** Fills `bytes` at `ptr` with zeros (an empty product's gradient). */
function zero(d: WasmDevice, ptr: number, bytes: number): void {
  if (bytes > 0) d.launch(Task.task_fill, 1, [ptr, bytes, 4, 0, 0]);
}

/**
 * The geometry of a backward convolution from its sizes argument (checked by `sizesArg` on each
 * run), the other operand's shape and dy's, refusing what the reference refuses.
 */
function geometry(
  kind: "conv2d" | "depthwise",
  side: "input" | "filter",
  attrs: Parameters<typeof convGeometry>[3],
) {
  return (sizes: Shape, other: Shape, dy: Shape): WindowGeometry => {
    const g = side === "input"
      ? convGeometry(kind, sizes, other, attrs)
      : convGeometry(kind, other, sizes, attrs);
    checkOutBackprop(g, dy);
    return g;
  };
}

/** The sizes argument in host memory: 4 non-negative ints, as the reference requires. */
function sizesArg(t: Tensor, side: "input" | "filter"): number[] {
  return sizesOf(t, side === "input" ? "input_sizes" : "filter_sizes");
}

/**
 * With stride 1, dx is a forward convolution of dy with the filter turned 180° and its channel
 * dims swapped, padded by (filter extent - 1 - the forward padding) on each side: the forward
 * Conv2D's GEMM (im2col while packing, no dcol in memory, no col2im pass) computes it. The
 * geometry of that convolution, where every such padding is non-negative (always for SAME and
 * VALID), else undefined.
 */
function transposedConv(g: WindowGeometry) {
  if (g.strideHeight !== 1 || g.strideWidth !== 1 || pointwise(g)) return undefined;
  const spanH = (g.filterHeight - 1) * g.dilationHeight;
  const spanW = (g.filterWidth - 1) * g.dilationWidth;
  const pads = [spanH - g.padTop, spanW - g.padLeft, spanH - g.padBottom, spanW - g.padRight];
  if (pads.some((p) => p < 0)) return undefined;
  const [fh, fw, c, oc] = [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels];
  return {
    gemm: { m: g.batch * g.inHeight * g.inWidth, n: c, k: fh * fw * oc, csa: 1, rsb: c, csb: 1 },
    conv: [
      g.batch,
      g.outHeight,
      g.outWidth,
      oc,
      fh,
      fw,
      g.inHeight,
      g.inWidth,
      1,
      1,
      g.dilationHeight,
      g.dilationWidth,
      pads[0],
      pads[1],
    ],
    // filter[fh - 1 - i, fw - 1 - j, c, o] to flipped[i, j, o, c]: a copy with negative strides.
    flip: {
      dims: [fh, fw, oc, c],
      dstStrides: [fw * oc * c, oc * c, c, 1],
      srcStrides: [-fw * c * oc, -c * oc, 1, oc],
      last: ((fh - 1) * fw + (fw - 1)) * c * oc,
      elements: fh * fw * c * oc,
    },
  };
}

/**
 * Whether a float32 buffer holds only finite values. The transposed convolution multiplies dy's
 * padding zeros by filter taps, which is NaN for a ±Inf or NaN tap, where TensorFlow's col2im
 * (and the reference) never visit those taps: a filter with one takes the dcol path. Filters are
 * small (the digits CNN's largest is 4,608 floats), so the scan costs microseconds.
 */
function finite(d: WasmDevice, ptr: number, shape: Shape): boolean {
  const f32 = d.f32, start = ptr >>> 2, end = start + shape.reduce((a, b) => a * b, 1);
  for (let i = start; i < end; i++) if (!Number.isFinite(f32[i])) return false;
  return true;
}

function convolveTransposed(
  d: WasmDevice,
  t: NonNullable<ReturnType<typeof transposedConv>>,
  filter: number,
  dy: number,
  out: number,
): void {
  if (t.gemm.m === 0 || t.gemm.n === 0) return;
  const flipped = d.scratch(Math.max(1, t.flip.elements) * 4);
  try {
    stridedCopy(d, {
      dtype: "float32",
      dst: flipped.ptr,
      src: filter + t.flip.last * 4,
      dims: t.flip.dims,
      dstStrides: t.flip.dstStrides,
      srcStrides: t.flip.srcStrides,
    });
    sgemm(d, { ...t.gemm, rsa: t.gemm.k, a: dy, b: flipped.ptr, c: out, conv: t.conv });
  } finally {
    d.releaseScratch(flipped);
  }
}

export const conv2dBackpropInputKernel = wasmKernel(Conv2DBackpropInput, {
  dtypes: ["float32"],
  create({ node, inputs: [, f, dy], attrs }) {
    const plans = new ShapeMemo((sizes, fs, ds) => {
      const g = geometry("conv2d", "input", attrs)(sizes, fs, ds);
      const pixels = g.outHeight * g.outWidth, k = g.filterHeight * g.filterWidth * g.inChannels;
      const perImage = Math.max(1, pixels * k * 4);
      const group = Math.max(1, Math.min(g.batch, Math.floor(SCRATCH_BYTES / perImage)));
      return {
        g,
        pixels,
        k,
        group,
        direct: pointwise(g),
        words: geometryWords(g),
        transposed: transposedConv(g),
      };
    }).seed([constIntList(node, 0), f.shape, dy.shape]);
    return {
      run(ctx) {
        const [, f, dy] = ctx.inputs;
        const p = plans.get(sizesArg(ctx.hostInput(0), "input"), f.shape, dy.shape);
        const { g, pixels, k } = p;
        const out = ctx.output(0, [g.batch, g.inHeight, g.inWidth, g.inChannels]);
        const d = ctx.device, oc = g.outChannels;
        const inImage = g.inHeight * g.inWidth * g.inChannels;
        if (g.batch * inImage === 0) return;
        // dy · filter^T: A = dy [pixels, oc], B element (oc, tap) at filter[tap * oc + oc].
        const gemm = { n: k, k: oc, rsa: oc, csa: 1, rsb: 1, csb: oc, b: f.ptr };
        if (p.direct) {
          sgemm(d, { ...gemm, a: dy.ptr, c: out.ptr, m: g.batch * pixels });
          return;
        }
        if (p.transposed && finite(d, f.ptr, f.shape)) {
          return convolveTransposed(d, p.transposed, f.ptr, dy.ptr, out.ptr);
        }
        if (pixels === 0) return zero(d, out.ptr, g.batch * inImage * 4);
        const col = d.scratch(p.group * pixels * k * 4);
        try {
          for (let b0 = 0; b0 < g.batch; b0 += p.group) {
            const nb = Math.min(p.group, g.batch - b0);
            sgemm(d, { ...gemm, a: dy.ptr + b0 * pixels * oc * 4, c: col.ptr, m: nb * pixels });
            const words = [col.ptr, out.ptr + b0 * inImage * 4, nb, ...p.words.slice(1)];
            d.launch(Task.task_col2im, nb * g.inHeight, words, nb * pixels * k);
          }
        } finally {
          d.releaseScratch(col);
        }
      },
    };
  },
  tolerance: inputGradTolerance,
});

export const conv2dBackpropFilterKernel = wasmKernel(Conv2DBackpropFilter, {
  dtypes: ["float32"],
  create({ node, inputs: [x, , dy], attrs }) {
    const plans = new ShapeMemo((sizes, xs, ds) => {
      const g = geometry("conv2d", "filter", attrs)(sizes, xs, ds);
      const m = g.batch * g.outHeight * g.outWidth;
      const k = g.filterHeight * g.filterWidth * g.inChannels;
      return {
        g,
        m,
        k,
        direct: pointwise(g),
        fewChannels: g.inChannels <= DIRECT_FILTER_MAX_C,
        words: geometryWords(g),
      };
    }).seed([constIntList(node, 1), x.shape, dy.shape]);
    return {
      run(ctx) {
        const [x, , dy] = ctx.inputs;
        const p = plans.get(sizesArg(ctx.hostInput(1), "filter"), x.shape, dy.shape);
        const { g, m, k } = p;
        const out = ctx.output(0, [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels]);
        const d = ctx.device, oc = g.outChannels;
        // im2col(x)^T · dy, A packed from the image (gemm_pack.c's pack_a_conv_t); the GEMM's k
        // is the pixel count (0 pixels: sgemm fills df with zeros). The pointwise case reads x
        // as A with rsa 1, csa k.
        const gemm = { m: k, n: oc, k: m, rsa: 1, csa: k, rsb: oc, csb: 1, b: dy.ptr, c: out.ptr };
        if (p.direct || m === 0 || k === 0) return sgemm(d, { ...gemm, a: x.ptr });
        if (p.fewChannels) {
          const taps = g.filterHeight * g.filterWidth;
          const words = [x.ptr, dy.ptr, out.ptr, oc, ...p.words];
          d.launch(Task.task_conv_grad_filter_direct, taps, words, m * k * oc);
          return;
        }
        sgemm(d, { ...gemm, a: x.ptr, conv: p.words, convTransposed: true });
      },
    };
  },
  tolerance: filterGradTolerance,
});

export const depthwiseBackpropInputKernel = wasmKernel(DepthwiseConv2dNativeBackpropInput, {
  dtypes: ["float32"],
  create({ node, inputs: [, f, dy], attrs }) {
    const plans = new ShapeMemo((sizes, fs, ds) => {
      const g = geometry("depthwise", "input", attrs)(sizes, fs, ds);
      return { g, words: [g.channelMultiplier, ...geometryWords(g)] };
    }).seed([constIntList(node, 0), f.shape, dy.shape]);
    return {
      run(ctx) {
        const [, f, dy] = ctx.inputs;
        const { g, words } = plans.get(sizesArg(ctx.hostInput(0), "input"), f.shape, dy.shape);
        const out = ctx.output(0, [g.batch, g.inHeight, g.inWidth, g.inChannels]);
        const rows = g.batch * g.inHeight;
        if (rows * g.inWidth * g.inChannels === 0) return;
        const work = rows * g.inWidth * g.outChannels * g.filterHeight * g.filterWidth;
        ctx.device.launch(Task.task_depthwise_grad_input, rows, [
          dy.ptr,
          f.ptr,
          out.ptr,
          ...words,
        ], work);
      },
    };
  },
  tolerance: inputGradTolerance,
});

export const depthwiseBackpropFilterKernel = wasmKernel(DepthwiseConv2dNativeBackpropFilter, {
  dtypes: ["float32"],
  create({ node, inputs: [x, , dy], attrs }) {
    const plans = new ShapeMemo((sizes, xs, ds) => {
      const g = geometry("depthwise", "filter", attrs)(sizes, xs, ds);
      return { g, words: [g.channelMultiplier, ...geometryWords(g)] };
    }).seed([constIntList(node, 1), x.shape, dy.shape]);
    return {
      run(ctx) {
        const [x, , dy] = ctx.inputs;
        const { g, words } = plans.get(sizesArg(ctx.hostInput(1), "filter"), x.shape, dy.shape);
        const out = ctx.output(0, [
          g.filterHeight,
          g.filterWidth,
          g.inChannels,
          g.channelMultiplier,
        ]);
        const taps = g.filterHeight * g.filterWidth;
        if (taps * g.outChannels === 0) return;
        const work = taps * g.batch * g.outHeight * g.outWidth * g.outChannels;
        ctx.device.launch(Task.task_depthwise_grad_filter, taps, [
          x.ptr,
          dy.ptr,
          out.ptr,
          ...words,
        ], work);
      },
    };
  },
  tolerance: filterGradTolerance,
});

export const CONV_GRAD_KERNELS: readonly Kernel[] = [
  conv2dBackpropInputKernel,
  conv2dBackpropFilterKernel,
  depthwiseBackpropInputKernel,
  depthwiseBackpropFilterKernel,
];

/**
 * An input gradient element sums filter_h * filter_w * (out channels, or the multiplier for
 * depthwise: the filter's last dim) products of the filter and dy.
 */
function inputGradTolerance(c: KernelCase<{ T: string }>): Tolerance {
  const [fh, fw, , last] = c.inputs[1].shape;
  return dotTolerance(fh * fw * last, maxAbs(c.inputs[1]), maxAbs(c.inputs[2]), SUMS);
}

/** A filter gradient element sums batch * out_height * out_width products of x and dy. */
function filterGradTolerance(c: KernelCase<{ T: string }>): Tolerance {
  const [b, oh, ow] = c.inputs[2].shape;
  return dotTolerance(b * oh * ow, maxAbs(c.inputs[0]), maxAbs(c.inputs[2]), SUMS);
}

const SUMS = "float32 sums of products";
