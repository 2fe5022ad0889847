/**
 * The backward convolutions: Conv2DBackpropInput, Conv2DBackpropFilter and the depthwise pair,
 * with TensorFlow's inputs (the shape of the tensor whose gradient is wanted, as an int32 vector)
 * and attrs (those of the forward op). Windows are placed by conv_geometry.ts exactly as the
 * forward op places them; each gradient is the adjoint of the forward sum, in float64, rounded once.
 */
import type { DType } from "../dtype.ts";
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
  CONV2D_ATTRS,
  type Conv2DAttrs,
  CONV_ATTRS,
  DepthwiseConv2dNative,
  type DepthwiseConv2dNativeAttrs,
} from "./conv.ts";
import { convGeometry, type WindowGeometry, type WindowKind } from "./conv_geometry.ts";
import { spec } from "./infer_util.ts";

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
export function sizesOf(t: Tensor, what: string): number[] {
  const v = intVector(t, what, 4);
  if (v.some((d) => d < 0)) throw new EdgeflowError(`${what} [${v}] must be non-negative`);
  return v;
}

/** Refuses an out_backprop whose shape is not the convolution's output shape. */
export function checkOutBackprop(g: WindowGeometry, dy: PartialShape): void {
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

/** The forward op's cases, with a random out_backprop of its output's shape. */
function arbBackprop<A extends DepthwiseConv2dNativeAttrs>(
  forward: OpDef<A>,
  kind: WindowKind,
  fc: FastCheck,
  dtype: DType,
  pick: (c: OpCase<A>, dy: Tensor) => Tensor[],
): Arbitrary<OpCase<A>> {
  return forward.arbitrary!(fc, dtype).map((c) => {
    const [x, f] = c.inputs;
    const g = convGeometry(kind, x.shape, f.shape, c.attrs as DepthwiseConv2dNativeAttrs);
    const dy = randomTensor(dtype, g.outShape, x.size * 31 + f.size);
    return { inputs: pick(c, dy), attrs: c.attrs };
  });
}

/**
 * One backward convolution: `side` says which forward operand's gradient it computes, and so
 * which of its first two inputs is the int32 shape of that operand (TensorFlow's order: input
 * sizes first for "input", the input tensor first for "filter").
 */
function defineBackprop<A extends DepthwiseConv2dNativeAttrs>(
  name: string,
  kind: WindowKind,
  side: "input" | "filter",
  /** The forward op, looked up when cases are drawn: conv.ts imports this module's gradients. */
  forward: () => OpDef<A>,
  attrs: AttrSpecs<A>,
): OpDef<A> {
  const sizes = { name: `${side}_sizes`, type: "int32" };
  const operand = side === "input" ? { name: "filter", type: "T" } : { name: "input", type: "T" };
  const sizesAt = side === "input" ? 0 : 1;
  return defineOp<A>({
    name,
    inputs: side === "input"
      ? [sizes, operand, { name: "out_backprop", type: "T" }]
      : [operand, sizes, { name: "out_backprop", type: "T" }],
    outputs: [{ name: "output", type: "T" }],
    // The sizes are HostMemory in TensorFlow's device kernels: they shape the output.
    hostMemory: { inputs: [sizesAt] },
    attrs,
    infer: side === "input" ? inferInput(kind) : inferFilter(kind),
    reference: ([a, b, dy], attrs) => [
      side === "input"
        ? backpropInput(kind, a, b, dy, attrs)
        : backpropFilter(kind, a, b, dy, attrs),
    ],
    arbitrary: (fc, dtype) =>
      arbBackprop(forward(), kind, fc, dtype, (c, dy) => {
        const inputs = [c.inputs[0], c.inputs[1], dy];
        inputs[sizesAt] = int32Vector(c.inputs[sizesAt].shape);
        return inputs;
      }),
  });
}

const conv2dAttrSpecs = CONV2D_ATTRS as unknown as AttrSpecs<Conv2DAttrs>;
const depthwiseAttrSpecs = CONV_ATTRS as unknown as AttrSpecs<DepthwiseConv2dNativeAttrs>;

export const Conv2DBackpropInput: OpDef<Conv2DAttrs> = defineBackprop(
  "Conv2DBackpropInput",
  "conv2d",
  "input",
  () => Conv2D,
  conv2dAttrSpecs,
);
export const Conv2DBackpropFilter: OpDef<Conv2DAttrs> = defineBackprop(
  "Conv2DBackpropFilter",
  "conv2d",
  "filter",
  () => Conv2D,
  conv2dAttrSpecs,
);
export const DepthwiseConv2dNativeBackpropInput: OpDef<DepthwiseConv2dNativeAttrs> = defineBackprop(
  "DepthwiseConv2dNativeBackpropInput",
  "depthwise",
  "input",
  () => DepthwiseConv2dNative,
  depthwiseAttrSpecs,
);
export const DepthwiseConv2dNativeBackpropFilter: OpDef<DepthwiseConv2dNativeAttrs> =
  defineBackprop(
    "DepthwiseConv2dNativeBackpropFilter",
    "depthwise",
    "filter",
    () => DepthwiseConv2dNative,
    depthwiseAttrSpecs,
  );

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
