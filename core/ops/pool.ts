/**
 * MaxPool and AvgPool over the H and W dims of an NHWC tensor. Windows are placed by
 * conv_geometry.ts, as for convolutions; padded taps are skipped, never read as values, so
 * MaxPool ignores them and AvgPool divides by the count of real elements (TensorFlow's SAME
 * behaviour, unlike a zero-padded average).
 */
import { type DType, isInteger } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { AVG_POOL_ATTRS, MAX_POOL_ATTRS } from "./window_attrs.ts";
import { defineOp, type OpDef } from "../op.ts";
import { sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import type { FastCheck } from "../testing/fast_check_types.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { arbWindow, type Padding, windowPaddingAttrs } from "./conv.ts";
import { convGeometry, type WindowGeometry } from "./conv_geometry.ts";
import { spec } from "./infer_util.ts";
import { maxPoolGradFn } from "../grads/nn.ts";
import { avgPoolGradFn } from "../grads/nn.ts";

export type AvgPoolAttrs = {
  T: DType;
  ksize: readonly number[];
  strides: readonly number[];
  padding: Padding;
  data_format: string;
};
export type MaxPoolAttrs = AvgPoolAttrs & { explicit_paddings: readonly number[] };

export const MaxPool: OpDef<MaxPoolAttrs> = defineOp<MaxPoolAttrs>({
  gradient: maxPoolGradFn,
  name: "MaxPool",
  inputs: [{ name: "input", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: MAX_POOL_ATTRS,
  infer: ([x], attrs) => [spec(x.dtype, maxPoolGeometry(x.shape, attrs).outShape)],
  reference: ([x], attrs) => [poolReference(x, maxPoolGeometry(x.shape, attrs), true)],
  arbitrary: (fc, dtype) => arbPool(fc, dtype, ["SAME", "VALID", "EXPLICIT"]),
});

export const AvgPool: OpDef<AvgPoolAttrs> = defineOp<AvgPoolAttrs>({
  gradient: avgPoolGradFn,
  name: "AvgPool",
  inputs: [{ name: "value", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: AVG_POOL_ATTRS,
  infer: ([x], attrs) => [spec(x.dtype, convGeometry("pool", x.shape, null, attrs).outShape)],
  reference: ([x], attrs) => [poolReference(x, convGeometry("pool", x.shape, null, attrs), false)],
  arbitrary: (fc, dtype) => arbPool(fc, dtype, ["SAME", "VALID"]),
});

export const POOL_OPS: readonly OpDef[] = [MaxPool, AvgPool] as unknown as OpDef[];

/**
 * MaxPool's geometry, refusing explicit pads as large as the window: such a window could lie
 * wholly in the padding and have no maximum. (SAME never pads that much.)
 */
function maxPoolGeometry(shape: readonly number[] | null, attrs: MaxPoolAttrs): WindowGeometry {
  const g = convGeometry("pool", shape, null, attrs);
  const pads = [g.padTop, g.padBottom, g.padLeft, g.padRight];
  const window = [g.filterHeight, g.filterWidth];
  pads.forEach((p, i) => {
    if (p >= window[i >> 1]) {
      throw new EdgeflowError(
        `explicit padding ${p} must be smaller than the window ${i < 2 ? "height" : "width"} ${
          window[i >> 1]
        } (ksize ${JSON.stringify(attrs.ksize)})`,
      );
    }
  });
  return g;
}

function poolReference(x: Tensor, g: WindowGeometry, max: boolean): Tensor {
  // int64 (MaxPool only) compares BigInts: a detour through doubles would merge values past 2^53.
  if (x.dtype === "int64") {
    const xs = x.data as BigInt64Array;
    const out = new BigInt64Array(sizeOf(g.outShape));
    forEachWindow(g, (o, taps) => {
      // A window with no element (an empty input dim) keeps the reduction's start: the lowest
      // value, as TensorFlow's max pooling (Eigen's MaxReducer) does.
      let best = -(2n ** 63n);
      for (const i of taps) if (xs[i] > best) best = xs[i];
      out[o] = best;
    });
    return new Tensor("int64", g.outShape, out);
  }
  const xs = numbers(x);
  const out = new Float64Array(sizeOf(g.outShape));
  const lowest = (isInteger(x.dtype) ? INTEGER_LOWEST[x.dtype] : undefined) ?? -Infinity;
  forEachWindow(g, (o, taps) => (out[o] = poolWindow(xs, taps, max, lowest)));
  return Tensor.fromNumbers(x.dtype, g.outShape, out);
}

/**
 * Calls `visit` with each output's flat index and the flat input indices of its window's real
 * (non-padding) elements. MaxPool's geometry check guarantees every window has one.
 */
export function forEachWindow(g: WindowGeometry, visit: (o: number, taps: number[]) => void): void {
  let o = 0;
  const taps: number[] = [];
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        for (let c = 0; c < g.inChannels; c++) {
          taps.length = 0;
          for (let fh = 0; fh < g.filterHeight; fh++) {
            const ih = oh * g.strideHeight - g.padTop + fh;
            if (ih < 0 || ih >= g.inHeight) continue;
            for (let fw = 0; fw < g.filterWidth; fw++) {
              const iw = ow * g.strideWidth - g.padLeft + fw;
              if (iw < 0 || iw >= g.inWidth) continue;
              taps.push(((b * g.inHeight + ih) * g.inWidth + iw) * g.inChannels + c);
            }
          }
          visit(o++, taps);
        }
      }
    }
  }
}

/** The start of a max over no element, per integer dtype (TensorFlow's lowest()). */
const INTEGER_LOWEST: Partial<Record<DType, number>> = {
  int32: -(2 ** 31),
  int8: -128,
  uint8: 0,
};

/** The max or mean of one window's elements, in float64; `lowest` for a max over none. */
function poolWindow(
  xs: ArrayLike<number>,
  taps: readonly number[],
  max: boolean,
  lowest: number,
): number {
  let acc = max ? lowest : 0;
  for (const i of taps) acc = max ? Math.max(acc, xs[i]) : acc + xs[i];
  return max ? acc : acc / taps.length;
}

function arbPool(fc: FastCheck, dtype: DType, paddings: readonly Padding[]) {
  return arbWindow(fc, { paddings, padsBelowWindow: true }).map((w) => ({
    inputs: [randomTensor(dtype, [w.batch, w.height, w.width, w.channels], w.seeds[0])],
    attrs: {
      ksize: [1, w.kh, w.kw, 1],
      strides: [1, w.sh, w.sw, 1],
      ...(w.padding === "EXPLICIT" ? windowPaddingAttrs(w) : { padding: w.padding }),
    },
  }));
}

/** Options of a pool builder: ksize, strides and padding are required, as in TensorFlow. */
export type PoolOptions<A extends AvgPoolAttrs> =
  & OpOptions<A>
  & Pick<A, "ksize" | "strides" | "padding">;

/** MaxPool: `input` [batch, h, w, c] → [batch, oh, ow, c], the max of each window. */
export function maxPool(input: TensorLike, options: PoolOptions<MaxPoolAttrs>): Output {
  return apply(MaxPool, [input], options).outputs[0];
}

/** AvgPool: `value` [batch, h, w, c] → [batch, oh, ow, c], the mean of each window's real elements. */
export function avgPool(value: TensorLike, options: PoolOptions<AvgPoolAttrs>): Output {
  return apply(AvgPool, [value], options).outputs[0];
}

export { AVG_POOL_ATTRS, MAX_POOL_ATTRS };
