/**
 * The geometry of a 2-D sliding window (Conv2D, DepthwiseConv2dNative, MaxPool, AvgPool): where
 * every window sits in the input, resolved once from shapes and attrs exactly as TensorFlow's
 * GetWindowedOutputSizeVerbose does. Device kernels (WASM, WebGPU, TPU) import `convGeometry`
 * instead of re-deriving padding, so every device agrees with the reference on SAME's asymmetric
 * padding and on VALID's rounding.
 *
 * Layout is NHWC throughout; a window at output (oh, ow) reads input rows and columns
 *
 *   ih = oh * strideHeight - padTop  + fh * dilationHeight,  0 <= fh < filterHeight
 *   iw = ow * strideWidth  - padLeft + fw * dilationWidth,   0 <= fw < filterWidth
 *
 * and taps with ih outside [0, inHeight) or iw outside [0, inWidth) fall in the padding: a
 * convolution reads them as zero, MaxPool skips them, AvgPool skips them and leaves them out of
 * the divisor.
 */
import { EdgeflowError } from "../errors.ts";
import { formatShape, type PartialShape } from "../shape.ts";

/** The attrs that place a window, named as TensorFlow names them (an op's attrs object fits). */
export interface WindowAttrs {
  /** [1, stride_h, stride_w, 1]; batch and channel strides must be 1. */
  readonly strides: readonly number[];
  /** "SAME", "VALID" or "EXPLICIT" (pools in TensorFlow allow SAME and VALID; MaxPool EXPLICIT). */
  readonly padding: string;
  /** With EXPLICIT: 8 entries, (before, after) for N, H, W, C, batch and channel pairs 0. Else []. */
  readonly explicit_paddings?: readonly number[];
  /** Convolutions: [1, dilation_h, dilation_w, 1]; absent means no dilation. Pools have none. */
  readonly dilations?: readonly number[];
  /** Pools: the window [1, window_h, window_w, 1]. Ignored for convolutions. */
  readonly ksize?: readonly number[];
}

/**
 * Which op the window belongs to; decides where the window size and output channels come from:
 * - "conv2d": filter [fh, fw, in, out], output channels = out;
 * - "depthwise": filter [fh, fw, in, multiplier], output channel c * multiplier + m;
 * - "pool": window from `ksize`, output channels = input channels.
 */
export type WindowKind = "conv2d" | "depthwise" | "pool";

/**
 * A resolved window geometry. Every count is a non-negative integer when the shapes are fully
 * known; with partial shapes a field that depends on an unknown dim is -1.
 */
export interface WindowGeometry {
  /** The padding mode it was resolved with. */
  readonly padding: "SAME" | "VALID" | "EXPLICIT";
  /** N of the input and the output. */
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  /** Taps per window along each axis (the filter's or ksize's spatial dims). */
  readonly filterHeight: number;
  readonly filterWidth: number;
  /** Depthwise: output channels per input channel; 1 for conv2d and pools. */
  readonly channelMultiplier: number;
  /** Rows and columns the dilated window spans: (filter - 1) * dilation + 1. */
  readonly effectiveFilterHeight: number;
  readonly effectiveFilterWidth: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
  readonly strideHeight: number;
  readonly strideWidth: number;
  /** 1 for pools. */
  readonly dilationHeight: number;
  readonly dilationWidth: number;
  /** Zero rows/columns before and after the input; SAME puts the odd one after (bottom/right). */
  readonly padTop: number;
  readonly padBottom: number;
  readonly padLeft: number;
  readonly padRight: number;
  /** [batch, outHeight, outWidth, outChannels]. */
  readonly outShape: readonly number[];
}

const UNKNOWN4 = [-1, -1, -1, -1] as const;

/**
 * Resolves and validates the window geometry of a Conv2D, DepthwiseConv2dNative or pool from
 * NHWC `input` shape, `filter` shape (convolutions; null for pools or an unknown filter rank) and
 * attrs. Shapes may be partial (-1 dims, null rank): shape inference calls it on graph shapes,
 * kernels on concrete ones. Throws EdgeflowError on bad ranks, attrs, channel mismatches, or a
 * window that cannot fit (negative output size).
 */
export function convGeometry(
  kind: WindowKind,
  input: PartialShape,
  filter: PartialShape,
  attrs: WindowAttrs,
): WindowGeometry {
  const [batch, inHeight, inWidth, inC] = rank4(
    input ?? UNKNOWN4,
    "input",
    "[batch, height, width, channels] (NHWC)",
  );
  const strides = spatialPair(attrs.strides, "strides", "stride");
  const dilations = kind === "pool"
    ? [1, 1]
    : spatialPair(attrs.dilations ?? [1, 1, 1, 1], "dilations", "dilation rate");
  const pads = explicitPads(attrs.padding, attrs.explicit_paddings ?? []);
  const w = windowShape(kind, inC, filter, attrs.ksize);
  const spatial = [inHeight, inWidth], extent = [w.height, w.width];
  const [rows, cols] = [0, 1].map((i) =>
    windowDim(attrs.padding, {
      axis: i === 0 ? "height" : "width",
      size: spatial[i],
      filter: extent[i],
      stride: strides[i],
      dilation: dilations[i],
      explicit: pads[i],
    })
  );
  return {
    padding: attrs.padding as WindowGeometry["padding"],
    batch,
    inHeight,
    inWidth,
    inChannels: w.inChannels,
    filterHeight: w.height,
    filterWidth: w.width,
    channelMultiplier: w.multiplier,
    effectiveFilterHeight: effective(w.height, dilations[0]),
    effectiveFilterWidth: effective(w.width, dilations[1]),
    outHeight: rows.out,
    outWidth: cols.out,
    outChannels: w.outChannels,
    strideHeight: strides[0],
    strideWidth: strides[1],
    dilationHeight: dilations[0],
    dilationWidth: dilations[1],
    padTop: rows.before,
    padBottom: rows.after,
    padLeft: cols.before,
    padRight: cols.after,
    outShape: [batch, rows.out, cols.out, w.outChannels],
  };
}

function rank4(shape: readonly number[], what: string, layout: string): number[] {
  if (shape.length !== 4) {
    throw new EdgeflowError(`${what} must be 4-D ${layout}, got shape ${formatShape(shape)}`);
  }
  return shape.slice();
}

/** The spatial entries of a [1, h, w, 1] attr, checking TensorFlow's constraints on it. */
function spatialPair(list: readonly number[], attr: string, what: string): [number, number] {
  const shown = JSON.stringify(list);
  if (list.length !== 4) {
    throw new EdgeflowError(`attribute '${attr}' must have 4 entries (NHWC), got ${shown}`);
  }
  if (list[0] !== 1 || list[3] !== 1) {
    throw new EdgeflowError(
      `attribute '${attr}' = ${shown}: the ${what} in the batch and channel dims must be 1`,
    );
  }
  if (!(list[1] >= 1 && list[2] >= 1)) {
    throw new EdgeflowError(`attribute '${attr}' = ${shown}: the ${what} must be at least 1`);
  }
  return [list[1], list[2]];
}

/** [[top, bottom], [left, right]] from explicit_paddings; zeros unless padding is EXPLICIT. */
function explicitPads(padding: string, list: readonly number[]): [number, number][] {
  if (padding !== "SAME" && padding !== "VALID" && padding !== "EXPLICIT") {
    throw new EdgeflowError(`padding must be "SAME", "VALID" or "EXPLICIT", got "${padding}"`);
  }
  const shown = JSON.stringify(list);
  if (padding !== "EXPLICIT") {
    if (list.length !== 0) {
      throw new EdgeflowError(
        `attribute 'explicit_paddings' = ${shown} must be empty unless padding is "EXPLICIT"`,
      );
    }
    return [[0, 0], [0, 0]];
  }
  if (list.length !== 8) {
    throw new EdgeflowError(
      `attribute 'explicit_paddings' must have 8 entries (before, after for N, H, W, C) with ` +
        `padding "EXPLICIT", got ${shown}`,
    );
  }
  if (list.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new EdgeflowError(`attribute 'explicit_paddings' = ${shown} must be non-negative`);
  }
  if (list[0] !== 0 || list[1] !== 0 || list[6] !== 0 || list[7] !== 0) {
    throw new EdgeflowError(
      `attribute 'explicit_paddings' = ${shown}: the batch and channel dims cannot be padded`,
    );
  }
  return [[list[2], list[3]], [list[4], list[5]]];
}

interface Window {
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
  multiplier: number;
}

/** The window's extent and the channel counts, checking the filter against the input. */
function windowShape(
  kind: WindowKind,
  inC: number,
  filter: PartialShape,
  ksize: readonly number[] | undefined,
): Window {
  if (kind === "pool") {
    const [height, width] = spatialPair(ksize ?? [], "ksize", "window size");
    return { height, width, inChannels: inC, outChannels: inC, multiplier: 1 };
  }
  const layout = kind === "conv2d"
    ? "[height, width, in_channels, out_channels]"
    : "[height, width, in_channels, channel_multiplier]";
  const [height, width, filterIn, last] = rank4(filter ?? UNKNOWN4, "filter", layout);
  if ([height, width, filterIn, last].includes(0)) {
    throw new EdgeflowError(`filter must not be empty, got shape ${formatShape(filter)}`);
  }
  if (inC >= 0 && filterIn >= 0 && inC !== filterIn) {
    throw new EdgeflowError(
      `input has ${inC} channels but the filter ${layout} expects ${filterIn} ` +
        `(filter shape ${formatShape(filter)})`,
    );
  }
  const inChannels = inC >= 0 ? inC : filterIn;
  if (kind === "conv2d") return { height, width, inChannels, outChannels: last, multiplier: 1 };
  const outChannels = inChannels >= 0 && last >= 0 ? inChannels * last : -1;
  return { height, width, inChannels, outChannels, multiplier: last };
}

function effective(filter: number, dilation: number): number {
  return filter < 0 ? -1 : (filter - 1) * dilation + 1;
}

/** One spatial axis of a window. */
interface Axis {
  axis: "height" | "width";
  size: number;
  filter: number;
  stride: number;
  dilation: number;
  /** Pads before and after; used with EXPLICIT. */
  explicit: [number, number];
}

/**
 * Output size and padding along one axis, as TensorFlow's GetWindowedOutputSizeVerbose computes
 * them, including its C++ integer division (truncation toward zero: a VALID window slightly
 * wider than the input gives an empty output rather than an error).
 */
function windowDim(
  padding: string,
  { axis, size, filter, stride, dilation, explicit }: Axis,
): { out: number; before: number; after: number } {
  const eff = effective(filter, dilation);
  if (padding === "SAME") {
    if (size < 0) return { out: -1, before: -1, after: -1 };
    const out = cDivide(size + stride - 1, stride);
    if (eff < 0) return { out, before: -1, after: -1 };
    const total = Math.max(0, (out - 1) * stride + eff - size);
    const before = Math.floor(total / 2);
    return { out, before, after: total - before };
  }
  const [before, after] = padding === "EXPLICIT" ? explicit : [0, 0];
  if (size < 0 || eff < 0) return { out: -1, before, after };
  const out = cDivide(size + before + after - eff + stride, stride);
  if (out < 0) {
    throw new EdgeflowError(
      `computed output ${axis} would be negative: input ${axis} ${size}, padding ` +
        `${before}+${after}, window ${eff} (filter ${filter}, dilation ${dilation}), ` +
        `stride ${stride}`,
    );
  }
  return { out, before, after };
}

/** C++ integer division: truncates toward zero (+ 0 turns JavaScript's -0 into 0). */
function cDivide(a: number, b: number): number {
  return Math.trunc(a / b) + 0;
}
