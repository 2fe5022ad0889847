/**
 * The backward convolutions: Conv2DBackpropInput, Conv2DBackpropFilter and the depthwise pair,
 * with TensorFlow's inputs (the shape of the tensor whose gradient is wanted, as an int32 vector)
 * and attrs (those of the forward op). Windows are placed by conv_geometry.ts exactly as the
 * forward op places them; each gradient is the adjoint of the forward sum, in float64, rounded once.
 */
import { type DType, FLOAT_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import {
  type AttrSpecs,
  defineOp,
  type InferInput,
  type OpCase,
  type OpDef,
  type TensorSpec,
} from "../op.ts";
import { formatShape, isCompatible, type PartialShape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import { checkRank, int32Vector, intVector, knownInts } from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import {
  Conv2D,
  type Conv2DAttrs,
  DepthwiseConv2dNative,
  type DepthwiseConv2dNativeAttrs,
} from "./conv.ts";
import { convGeometry, type WindowGeometry, type WindowKind } from "./conv_geometry.ts";
import { spec } from "./infer_util.ts";

const convAttrs = {
  T: { kind: "type", allowed: FLOAT_DTYPES },
  strides: { kind: "list(int)" },
  padding: { kind: "string", allowed: ["SAME", "VALID", "EXPLICIT"] },
  explicit_paddings: { kind: "list(int)", default: [] },
  data_format: { kind: "string", default: "NHWC", allowed: ["NHWC"] },
  dilations: { kind: "list(int)", default: [1, 1, 1, 1] },
} as const;
const conv2dAttrs = { ...convAttrs, use_cudnn_on_gpu: { kind: "bool", default: true } } as const;

/**
 * Calls `tap` for every (window, tap) pair that reads a real input element: `x` is the flat index
 * of input[b, ih, iw, 0], `f` of filter row (fh, fw) in units of input channels, `o` of
 * output[b, oh, ow, 0].
 */
function forEachTap(g: WindowGeometry, tap: (x: number, f: number, o: number) => void): void {
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, o += g.outChannels) {
        for (let fh = 0; fh < g.filterHeight; fh++) {
          const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let fw = 0; fw < g.filterWidth; fw++) {
            const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
            if (iw < 0 || iw >= g.inWidth) continue;
            tap(
              ((b * g.inHeight + ih) * g.inWidth + iw) * g.inChannels,
              fh * g.filterWidth + fw,
              o,
            );
          }
        }
      }
    }
  }
}

/** A shape argument (input_sizes, filter_sizes): 4 non-negative ints. */
function sizesOf(t: Tensor, what: string): number[] {
  const v = intVector(t, what, 4);
  if (v.some((d) => d < 0)) throw new EdgeflowError(`${what} [${v}] must be non-negative`);
  return v;
}

function checkOutBackprop(g: WindowGeometry, dy: PartialShape): void {
  if (!isCompatible(dy, g.outShape)) {
    throw new EdgeflowError(
      `out_backprop has shape ${formatShape(dy)}, but the convolution's output has shape ${
        formatShape(g.outShape)
      }`,
    );
  }
}

/** The gradient with respect to the input: dx[b, ih, iw, c] += dy · filter over every tap. */
function backpropInput(
  kind: WindowKind,
  sizes: Tensor,
  filter: Tensor,
  dy: Tensor,
  attrs: DepthwiseConv2dNativeAttrs,
): Tensor {
  const g = convGeometry(kind, sizesOf(sizes, "input_sizes"), filter.shape, attrs);
  checkOutBackprop(g, dy.shape);
  const fs = numbers(filter), ds = numbers(dy);
  const dx = new Float64Array(g.batch * g.inHeight * g.inWidth * g.inChannels);
  const C = g.inChannels, M = g.channelMultiplier, OC = g.outChannels;
  forEachTap(g, (x, f, o) => {
    for (let c = 0; c < C; c++) {
      let acc = 0;
      if (kind === "conv2d") {
        const row = (f * C + c) * OC;
        for (let oc = 0; oc < OC; oc++) acc += ds[o + oc] * fs[row + oc];
      } else {
        for (let m = 0; m < M; m++) acc += ds[o + c * M + m] * fs[(f * C + c) * M + m];
      }
      dx[x + c] += acc;
    }
  });
  return Tensor.fromNumbers(dy.dtype, [g.batch, g.inHeight, g.inWidth, C], dx);
}

/** The gradient with respect to the filter: df[fh, fw, c, k] += input · dy over every window. */
function backpropFilter(
  kind: WindowKind,
  input: Tensor,
  sizes: Tensor,
  dy: Tensor,
  attrs: DepthwiseConv2dNativeAttrs,
): Tensor {
  const filterShape = sizesOf(sizes, "filter_sizes");
  const g = convGeometry(kind, input.shape, filterShape, attrs);
  checkOutBackprop(g, dy.shape);
  const xs = numbers(input), ds = numbers(dy);
  const df = new Float64Array(sizeOf(filterShape));
  const C = g.inChannels, M = g.channelMultiplier, OC = g.outChannels;
  forEachTap(g, (x, f, o) => {
    for (let c = 0; c < C; c++) {
      const v = xs[x + c];
      if (kind === "conv2d") {
        const row = (f * C + c) * OC;
        for (let oc = 0; oc < OC; oc++) df[row + oc] += v * ds[o + oc];
      } else {
        for (let m = 0; m < M; m++) df[(f * C + c) * M + m] += v * ds[o + c * M + m];
      }
    }
  });
  return Tensor.fromNumbers(dy.dtype, filterShape, df);
}

/** Infers from a sizes argument: its value when constant, else four unknown dims. */
function sizesShape(sizes: InferInput): PartialShape {
  checkRank(sizes.shape, 1, "sizes");
  return knownInts(sizes) ?? [-1, -1, -1, -1];
}

function inferInput(kind: WindowKind) {
  return (
    [sizes, filter, dy]: readonly InferInput[],
    attrs: DepthwiseConv2dNativeAttrs,
  ): TensorSpec[] => {
    const shape = sizesShape(sizes);
    checkOutBackprop(convGeometry(kind, shape, filter.shape, attrs), dy.shape);
    return [spec(dy.dtype, shape)];
  };
}
function inferFilter(kind: WindowKind) {
  return (
    [input, sizes, dy]: readonly InferInput[],
    attrs: DepthwiseConv2dNativeAttrs,
  ): TensorSpec[] => {
    const shape = sizesShape(sizes);
    checkOutBackprop(convGeometry(kind, input.shape, shape, attrs), dy.shape);
    return [spec(dy.dtype, shape)];
  };
}

type ForwardCase = OpCase<DepthwiseConv2dNativeAttrs>;
/** The forward op's cases, with a random out_backprop of its output's shape. */
function arbBackprop(
  // deno-lint-ignore no-explicit-any
  forward: OpDef<any>,
  kind: WindowKind,
  fc: FastCheck,
  dtype: DType,
  pick: (c: ForwardCase, dy: Tensor) => Tensor[],
): Arbitrary<ForwardCase> {
  return forward.arbitrary!(fc, dtype).map((c) => {
    const [x, f] = c.inputs;
    const g = convGeometry(kind, x.shape, f.shape, c.attrs as DepthwiseConv2dNativeAttrs);
    const dy = randomTensor(dtype, g.outShape, x.size * 31 + f.size);
    return { inputs: pick(c, dy), attrs: c.attrs };
  });
}

const sizesInput = (name: string) => ({ name, type: "int32" });

export const Conv2DBackpropInput: OpDef<Conv2DAttrs> = defineOp<Conv2DAttrs>({
  name: "Conv2DBackpropInput",
  inputs: [sizesInput("input_sizes"), { name: "filter", type: "T" }, {
    name: "out_backprop",
    type: "T",
  }],
  outputs: [{ name: "output", type: "T" }],
  attrs: conv2dAttrs as unknown as AttrSpecs<Conv2DAttrs>,
  infer: inferInput("conv2d"),
  reference: ([sizes, f, dy], attrs) => [backpropInput("conv2d", sizes, f, dy, attrs)],
  arbitrary: (fc, dtype) =>
    arbBackprop(
      Conv2D,
      "conv2d",
      fc,
      dtype,
      (c, dy) => [int32Vector(c.inputs[0].shape), c.inputs[1], dy],
    ),
});

export const Conv2DBackpropFilter: OpDef<Conv2DAttrs> = defineOp<Conv2DAttrs>({
  name: "Conv2DBackpropFilter",
  inputs: [{ name: "input", type: "T" }, sizesInput("filter_sizes"), {
    name: "out_backprop",
    type: "T",
  }],
  outputs: [{ name: "output", type: "T" }],
  attrs: conv2dAttrs as unknown as AttrSpecs<Conv2DAttrs>,
  infer: inferFilter("conv2d"),
  reference: ([x, sizes, dy], attrs) => [backpropFilter("conv2d", x, sizes, dy, attrs)],
  arbitrary: (fc, dtype) =>
    arbBackprop(
      Conv2D,
      "conv2d",
      fc,
      dtype,
      (c, dy) => [c.inputs[0], int32Vector(c.inputs[1].shape), dy],
    ),
});

export const DepthwiseConv2dNativeBackpropInput: OpDef<DepthwiseConv2dNativeAttrs> = defineOp<
  DepthwiseConv2dNativeAttrs
>({
  name: "DepthwiseConv2dNativeBackpropInput",
  inputs: [sizesInput("input_sizes"), { name: "filter", type: "T" }, {
    name: "out_backprop",
    type: "T",
  }],
  outputs: [{ name: "output", type: "T" }],
  attrs: convAttrs as unknown as AttrSpecs<DepthwiseConv2dNativeAttrs>,
  infer: inferInput("depthwise"),
  reference: ([sizes, f, dy], attrs) => [backpropInput("depthwise", sizes, f, dy, attrs)],
  arbitrary: (fc, dtype) =>
    arbBackprop(
      DepthwiseConv2dNative,
      "depthwise",
      fc,
      dtype,
      (c, dy) => [int32Vector(c.inputs[0].shape), c.inputs[1], dy],
    ),
});

export const DepthwiseConv2dNativeBackpropFilter: OpDef<DepthwiseConv2dNativeAttrs> = defineOp<
  DepthwiseConv2dNativeAttrs
>({
  name: "DepthwiseConv2dNativeBackpropFilter",
  inputs: [{ name: "input", type: "T" }, sizesInput("filter_sizes"), {
    name: "out_backprop",
    type: "T",
  }],
  outputs: [{ name: "output", type: "T" }],
  attrs: convAttrs as unknown as AttrSpecs<DepthwiseConv2dNativeAttrs>,
  infer: inferFilter("depthwise"),
  reference: ([x, sizes, dy], attrs) => [backpropFilter("depthwise", x, sizes, dy, attrs)],
  arbitrary: (fc, dtype) =>
    arbBackprop(
      DepthwiseConv2dNative,
      "depthwise",
      fc,
      dtype,
      (c, dy) => [c.inputs[0], int32Vector(c.inputs[1].shape), dy],
    ),
});

export const GRAD_CONV_OPS: readonly OpDef[] = [
  Conv2DBackpropInput,
  Conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
] as unknown as OpDef[];

// ---- builders ---------------------------------------------------------------------------

type ConvGradOptions<A extends DepthwiseConv2dNativeAttrs> =
  & OpOptions<A>
  & Pick<A, "strides" | "padding">;

export function conv2dBackpropInput(
  inputSizes: TensorLike,
  filter: TensorLike,
  outBackprop: TensorLike,
  options: ConvGradOptions<Conv2DAttrs>,
): Output {
  return apply(Conv2DBackpropInput, [inputSizes, filter, outBackprop], options).outputs[0];
}
export function conv2dBackpropFilter(
  input: TensorLike,
  filterSizes: TensorLike,
  outBackprop: TensorLike,
  options: ConvGradOptions<Conv2DAttrs>,
): Output {
  return apply(Conv2DBackpropFilter, [input, filterSizes, outBackprop], options).outputs[0];
}
export function depthwiseConv2dBackpropInput(
  inputSizes: TensorLike,
  filter: TensorLike,
  outBackprop: TensorLike,
  options: ConvGradOptions<DepthwiseConv2dNativeAttrs>,
): Output {
  return apply(DepthwiseConv2dNativeBackpropInput, [inputSizes, filter, outBackprop], options)
    .outputs[0];
}
export function depthwiseConv2dBackpropFilter(
  input: TensorLike,
  filterSizes: TensorLike,
  outBackprop: TensorLike,
  options: ConvGradOptions<DepthwiseConv2dNativeAttrs>,
): Output {
  return apply(DepthwiseConv2dNativeBackpropFilter, [input, filterSizes, outBackprop], options)
    .outputs[0];
}
