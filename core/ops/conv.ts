/**
 * Conv2D and DepthwiseConv2dNative, NHWC only. Their geometry (output size, SAME padding) comes
 * from conv_geometry.ts, which device kernels share, so this file holds only the meaning: a
 * float64 sum of input × filter over each window, rounded once to the output dtype.
 */
import type { DType } from "../dtype.ts";
import type { Output } from "../graph.ts";
import type { Difference } from "../kernel.ts";
import { CONV2D_ATTRS, CONV_ATTRS } from "./window_attrs.ts";
import { defineOp, type InferInput, type OpDef, type TensorSpec } from "../op.ts";
import { sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { convGeometry, type WindowGeometry, type WindowKind } from "./conv_geometry.ts";
import { spec } from "./infer_util.ts";
import { conv2dGrad } from "../grads/nn.ts";
import { depthwiseConv2dGrad } from "../grads/nn.ts";

export type Padding = "SAME" | "VALID" | "EXPLICIT";

/** The attrs Conv2D and DepthwiseConv2dNative share, with TensorFlow's names. */
export type DepthwiseConv2dNativeAttrs = {
  T: DType;
  strides: readonly number[];
  padding: Padding;
  explicit_paddings: readonly number[];
  data_format: string;
  dilations: readonly number[];
};
export type Conv2DAttrs = DepthwiseConv2dNativeAttrs & { use_cudnn_on_gpu: boolean };

export const Conv2D: OpDef<Conv2DAttrs> = defineOp<Conv2DAttrs>({
  gradient: conv2dGrad,
  name: "Conv2D",
  inputs: [{ name: "input", type: "T" }, { name: "filter", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: CONV2D_ATTRS,
  infer: inferConv("conv2d"),
  reference: ([x, f], attrs) => [convReference("conv2d", x, f, attrs)],
  arbitrary: (fc, dtype) => arbConv(fc, dtype),
});

export const DepthwiseConv2dNative: OpDef<DepthwiseConv2dNativeAttrs> = defineOp<
  DepthwiseConv2dNativeAttrs
>({
  gradient: depthwiseConv2dGrad,
  name: "DepthwiseConv2dNative",
  inputs: [{ name: "input", type: "T" }, { name: "filter", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: CONV_ATTRS,
  infer: inferConv("depthwise"),
  reference: ([x, f], attrs) => [convReference("depthwise", x, f, attrs)],
  arbitrary: (fc, dtype) => arbConv(fc, dtype),
});

/**
 * For a device kernel that visits only taps inside the image: TensorFlow and the reference let
 * padding zeros meet every tap, which is NaN for a ±Inf or NaN tap (0·Inf). Such cases are the
 * kernel's declared difference.
 */
export function skipsPaddedTaps<A extends DepthwiseConv2dNativeAttrs>(
  device: string,
): Difference<A> {
  return {
    reason: `the ${device} kernel skips padded taps; padding zeros times a ±Inf/NaN tap give ` +
      "NaN in TensorFlow and the reference",
    when: ({ inputs, attrs }) =>
      attrs.padding !== "VALID" &&
      Array.prototype.some.call(numbers(inputs[1]), (v: number) => !Number.isFinite(v)),
  };
}

export const CONV_OPS: readonly OpDef[] = [Conv2D, DepthwiseConv2dNative] as unknown as OpDef[];

function inferConv(kind: WindowKind) {
  return ([x, f]: readonly InferInput[], attrs: DepthwiseConv2dNativeAttrs): TensorSpec[] => [
    spec(x.dtype, convGeometry(kind, x.shape, f.shape, attrs).outShape),
  ];
}

// ---- reference --------------------------------------------------------------------------

function convReference(
  kind: WindowKind,
  x: Tensor,
  filter: Tensor,
  attrs: DepthwiseConv2dNativeAttrs,
): Tensor {
  const g = convGeometry(kind, x.shape, filter.shape, attrs);
  const xs = numbers(x), fs = numbers(filter);
  const out = new Float64Array(sizeOf(g.outShape));
  // Padding is zeros that meet every tap, as in TensorFlow's padded patches: they add nothing
  // unless a tap is ±Inf or NaN (0·Inf = NaN), so they are visited only then.
  const padded = Array.prototype.some.call(fs, (v: number) => !Number.isFinite(v));
  const zeros = new Float64Array(g.inChannels);
  let o = 0; // flat index of out[b, oh, ow, 0]
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, o += g.outChannels) {
        for (let fh = 0; fh < g.filterHeight; fh++) {
          const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
          const rowInside = ih >= 0 && ih < g.inHeight;
          if (!rowInside && !padded) continue;
          for (let fw = 0; fw < g.filterWidth; fw++) {
            const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
            const inside = rowInside && iw >= 0 && iw < g.inWidth;
            if (!inside && !padded) continue;
            const [pixels, xAt] = inside
              ? [xs, ((b * g.inHeight + ih) * g.inWidth + iw) * g.inChannels]
              : [zeros, 0];
            const fAt = (fh * g.filterWidth + fw) * g.inChannels;
            if (kind === "conv2d") addConvTap(g, pixels, xAt, fs, fAt, out, o);
            else addDepthwiseTap(g, pixels, xAt, fs, fAt, out, o);
          }
        }
      }
    }
  }
  return Tensor.fromNumbers(x.dtype, g.outShape, out);
}

/** Every input channel meets every output channel: filter[fh, fw, ic, oc]. */
function addConvTap(
  g: WindowGeometry,
  xs: ArrayLike<number>,
  xAt: number,
  fs: ArrayLike<number>,
  fAt: number,
  out: Float64Array,
  o: number,
): void {
  for (let ic = 0; ic < g.inChannels; ic++) {
    const v = xs[xAt + ic];
    const f = (fAt + ic) * g.outChannels;
    for (let oc = 0; oc < g.outChannels; oc++) out[o + oc] += v * fs[f + oc];
  }
}

/** Input channel ic feeds only output channels ic * M + m: filter[fh, fw, ic, m]. */
function addDepthwiseTap(
  g: WindowGeometry,
  xs: ArrayLike<number>,
  xAt: number,
  fs: ArrayLike<number>,
  fAt: number,
  out: Float64Array,
  o: number,
): void {
  const m = g.channelMultiplier;
  for (let ic = 0; ic < g.inChannels; ic++) {
    const v = xs[xAt + ic];
    for (let j = 0; j < m; j++) out[o + ic * m + j] += v * fs[(fAt + ic) * m + j];
  }
}

// ---- random cases -----------------------------------------------------------------------

/** A drawn window: input dims, window dims, strides, dilations and padding. */
export interface WindowDraw {
  batch: number;
  height: number;
  width: number;
  channels: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  dh: number;
  dw: number;
  padding: Padding;
  /** top, bottom, left, right; used with EXPLICIT. */
  pads: number[];
  seeds: number[];
}

/** What `arbWindow` may draw. */
export interface WindowDrawOptions {
  paddings: readonly Padding[];
  /** Draw dilations of 2 as well as 1 (convolutions). */
  dilate?: boolean;
  /** Keep each explicit pad below the window size (MaxPool: no window wholly in padding). */
  padsBelowWindow?: boolean;
}

/**
 * Small windows over small inputs (batch 1-2, 1-7 spatial, 1-4 channels, windows 1-3, strides
 * 1-2, dilations 1-2), with each padding in `paddings`. The input grows to fit the window where VALID or
 * EXPLICIT padding needs it, so every case has a non-empty output.
 */
export function arbWindow(
  fc: FastCheck,
  { paddings, dilate = false, padsBelowWindow = false }: WindowDrawOptions,
): Arbitrary<WindowDraw> {
  const dim = (max: number) => fc.integer({ min: 1, max });
  return fc.record<WindowDraw>({
    batch: dim(2),
    height: dim(7),
    width: dim(7),
    channels: dim(4),
    kh: dim(3),
    kw: dim(3),
    sh: dim(2),
    sw: dim(2),
    dh: dim(dilate ? 2 : 1),
    dw: dim(dilate ? 2 : 1),
    padding: fc.constantFrom(...paddings),
    pads: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
    seeds: fc.array(fc.nat(), { minLength: 2, maxLength: 2 }),
  }).map((drawn) => {
    const k = [drawn.kh, drawn.kh, drawn.kw, drawn.kw];
    const pads = padsBelowWindow ? drawn.pads.map((p, i) => Math.min(p, k[i] - 1)) : drawn.pads;
    const w = { ...drawn, pads };
    if (w.padding === "SAME") return w;
    const [top, bottom, left, right] = w.padding === "EXPLICIT" ? w.pads : [0, 0, 0, 0];
    const height = Math.max(w.height, (w.kh - 1) * w.dh + 1 - top - bottom);
    const width = Math.max(w.width, (w.kw - 1) * w.dw + 1 - left - right);
    return { ...w, height, width };
  });
}

/** The padding attrs of a drawn window. */
export function windowPaddingAttrs(
  w: WindowDraw,
): { padding: Padding; explicit_paddings: number[] } {
  const [t, b, l, r] = w.pads;
  return {
    padding: w.padding,
    explicit_paddings: w.padding === "EXPLICIT" ? [0, 0, t, b, l, r, 0, 0] : [],
  };
}

export function arbConv(fc: FastCheck, dtype: DType) {
  return fc.tuple(
    arbWindow(fc, { paddings: ["SAME", "VALID", "EXPLICIT"], dilate: true }),
    fc.integer({ min: 1, max: 4 }),
  )
    .map(([w, last]) => ({
      inputs: [
        randomTensor(dtype, [w.batch, w.height, w.width, w.channels], w.seeds[0]),
        randomTensor(dtype, [w.kh, w.kw, w.channels, last], w.seeds[1]),
      ],
      attrs: {
        strides: [1, w.sh, w.sw, 1],
        dilations: [1, w.dh, w.dw, 1],
        ...windowPaddingAttrs(w),
      },
    }));
}

// ---- builders ---------------------------------------------------------------------------

/** Options of a convolution builder: strides and padding are required, as in TensorFlow. */
export type ConvOptions<A extends DepthwiseConv2dNativeAttrs> =
  & OpOptions<A>
  & Pick<A, "strides" | "padding">;

/** Conv2D: `input` [batch, h, w, in], `filter` [fh, fw, in, out] → [batch, oh, ow, out]. */
export function conv2d(
  input: TensorLike,
  filter: TensorLike,
  options: ConvOptions<Conv2DAttrs>,
): Output {
  return apply(Conv2D, [input, filter], options).outputs[0];
}

/** DepthwiseConv2dNative: `filter` [fh, fw, in, multiplier] → [batch, oh, ow, in * multiplier]. */
export function depthwiseConv2d(
  input: TensorLike,
  filter: TensorLike,
  options: ConvOptions<DepthwiseConv2dNativeAttrs>,
): Output {
  return apply(DepthwiseConv2dNative, [input, filter], options).outputs[0];
}

export { CONV2D_ATTRS, CONV_ATTRS };
