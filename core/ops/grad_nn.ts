/**
 * BiasAddGrad, MaxPoolGrad and AvgPoolGrad, with TensorFlow's inputs and attrs. Pool windows are
 * placed by conv_geometry.ts as the forward pools place them.
 */
import { type DType, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { formatShape, isCompatible, type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { checkRank, int32Vector, intVector, knownInts } from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { convGeometry, type WindowGeometry } from "./conv_geometry.ts";
import { requireRank, spec } from "./infer_util.ts";
import {
  AVG_POOL_ATTRS,
  AvgPool,
  type AvgPoolAttrs,
  forEachWindow,
  MAX_POOL_ATTRS,
  MaxPool,
  type MaxPoolAttrs,
} from "./pool.ts";
import { MapHostContext } from "../host_context.ts";

// ---- BiasAddGrad -----------------------------------------------------------------------

type BiasAddGradAttrs = { T: DType; data_format: string };
/** The sum of out_backprop over every dim but the channel dim (last for NHWC, 1 for NCHW). */
export const BiasAddGrad: OpDef<BiasAddGradAttrs> = defineOp<BiasAddGradAttrs>({
  name: "BiasAddGrad",
  inputs: [{ name: "out_backprop", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: {
    T: { kind: "type", allowed: REAL_DTYPES },
    data_format: { kind: "string", default: "NHWC", allowed: ["NHWC", "NCHW"] },
  },
  infer: ([dy], { data_format }) => {
    if (requireRank(dy, 2, Infinity, "out_backprop") === null) return [spec(dy.dtype, [-1])];
    const shape = dy.shape!;
    return [spec(dy.dtype, [shape[data_format === "NCHW" ? 1 : shape.length - 1]])];
  },
  reference: ([dy], { data_format }) => {
    if (dy.rank < 2) {
      throw new EdgeflowError(
        `out_backprop must have rank 2 or more, got ${formatShape(dy.shape)}`,
      );
    }
    const axis = data_format === "NCHW" ? 1 : dy.rank - 1;
    const channels = dy.shape[axis];
    const inner = sizeOf(dy.shape.slice(axis + 1));
    if (dy.dtype === "int64") {
      // Exact in BigInt, wrapping in 64 bits as TensorFlow's int64 sums do (float64 would round).
      const ds = dy.data as BigInt64Array, out = new BigInt64Array(channels);
      for (let i = 0; i < ds.length; i++) {
        const c = Math.floor(i / inner) % channels;
        out[c] = BigInt.asIntN(64, out[c] + ds[i]);
      }
      return [new Tensor("int64", [channels], out)];
    }
    // Other integers sum exactly in float64 (|sum| < 2^53 for any tensor that fits in memory)
    // and wrap when stored, as TensorFlow's wrapping sums.
    const ds = numbers(dy);
    const out = new Float64Array(channels);
    for (let i = 0; i < ds.length; i++) out[Math.floor(i / inner) % channels] += ds[i];
    return [Tensor.fromNumbers(dy.dtype, [channels], out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 2, maxRank: 4, maxDim: 4 }),
      fc.constantFrom("NHWC", "NCHW"),
      fc.nat(),
    )
      .map(([shape, data_format, seed]) => ({
        inputs: [randomTensor(dtype, shape, seed)],
        attrs: { data_format },
      })),
});

// ---- MaxPoolGrad and AvgPoolGrad -------------------------------------------------------

/** Refuses a gradient (or orig_output) whose shape is not the pool's output shape. */
export function checkGradShape(g: WindowGeometry, grad: PartialShape, what = "grad"): void {
  if (!isCompatible(grad, g.outShape)) {
    throw new EdgeflowError(
      `${what} has shape ${formatShape(grad)}, but the pool's output has shape ${
        formatShape(g.outShape)
      }`,
    );
  }
}

/**
 * MaxPool's gradient: each output's gradient goes to the first maximum of its window in row-major
 * order (TensorFlow's CPU kernel recomputes the argmax from orig_input the same way). Windows that
 * overlap add up.
 */
export const MaxPoolGrad: OpDef<MaxPoolAttrs> = defineOp<MaxPoolAttrs>({
  name: "MaxPoolGrad",
  inputs: [
    { name: "orig_input", type: "T" },
    { name: "orig_output", type: "T" },
    { name: "grad", type: "T" },
  ],
  outputs: [{ name: "output", type: "T" }],
  attrs: MAX_POOL_ATTRS,
  infer: ([x, y, grad], attrs) => {
    const g = convGeometry("pool", x.shape, null, attrs);
    checkGradShape(g, y.shape, "orig_output");
    checkGradShape(g, grad.shape);
    return [spec(x.dtype, x.shape ?? [-1, -1, -1, -1])];
  },
  reference: ([x, y, grad], attrs) => {
    const g = convGeometry("pool", x.shape, null, attrs);
    checkGradShape(g, y.shape, "orig_output");
    checkGradShape(g, grad.shape);
    const xs = numbers(x), gs = numbers(grad);
    const dx = new Float64Array(x.size);
    forEachWindow(g, (o, taps) => {
      let best = -1;
      for (const i of taps) if (best < 0 || xs[i] > xs[best]) best = i;
      if (best >= 0) dx[best] += gs[o];
    });
    return [Tensor.fromNumbers(x.dtype, x.shape, dx)];
  },
  arbitrary: (fc, dtype) =>
    MaxPool.arbitrary!(fc, dtype).map((c) => {
      const attrs = { explicit_paddings: [], ...c.attrs } as MaxPoolAttrs;
      const [y] = MaxPool.reference(c.inputs, attrs, new MapHostContext());
      const grad = randomTensor(dtype, y.shape, c.inputs[0].size * 7 + y.size);
      return { inputs: [c.inputs[0], y, grad], attrs: c.attrs };
    }),
});

/** AvgPoolGrad's orig_input_shape: 4 non-negative ints. */
export function origInputShape(sizes: Tensor): Shape {
  const shape: Shape = intVector(sizes, "orig_input_shape", 4);
  if (shape.some((d) => d < 0)) {
    throw new EdgeflowError(`orig_input_shape [${shape}] must be non-negative`);
  }
  return shape;
}

/** AvgPool's gradient: each output's gradient spread evenly over its window's real elements. */
export const AvgPoolGrad: OpDef<AvgPoolAttrs> = defineOp<AvgPoolAttrs>({
  name: "AvgPoolGrad",
  inputs: [{ name: "orig_input_shape", type: "int32" }, { name: "grad", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  // HostMemory in TensorFlow's device kernels: the shape sizes the output.
  hostMemory: { inputs: [0] },
  attrs: AVG_POOL_ATTRS,
  infer: ([sizes, grad], attrs) => {
    checkRank(sizes.shape, 1, "orig_input_shape");
    const shape = knownInts(sizes) ?? [-1, -1, -1, -1];
    checkGradShape(convGeometry("pool", shape, null, attrs), grad.shape);
    return [spec(grad.dtype, shape)];
  },
  reference: ([sizes, grad], attrs) => {
    const shape = origInputShape(sizes);
    const g = convGeometry("pool", shape, null, attrs);
    checkGradShape(g, grad.shape);
    const gs = numbers(grad);
    const dx = new Float64Array(sizeOf(shape));
    forEachWindow(g, (o, taps) => {
      for (const i of taps) dx[i] += gs[o] / taps.length;
    });
    return [Tensor.fromNumbers(grad.dtype, shape, dx)];
  },
  arbitrary: (fc, dtype) =>
    AvgPool.arbitrary!(fc, dtype).map((c) => {
      const x = c.inputs[0];
      const g = convGeometry("pool", x.shape, null, c.attrs as AvgPoolAttrs);
      const grad = randomTensor(dtype, g.outShape, x.size * 5 + 1);
      return { inputs: [int32Vector(x.shape), grad], attrs: c.attrs };
    }),
});

export const GRAD_NN_OPS: readonly OpDef[] = [
  BiasAddGrad,
  MaxPoolGrad,
  AvgPoolGrad,
] as unknown as OpDef[];

// ---- builders ---------------------------------------------------------------------------

export function biasAddGrad(
  outBackprop: TensorLike,
  options: OpOptions<BiasAddGradAttrs> = {},
): Output {
  return apply(BiasAddGrad, [outBackprop], options).outputs[0];
}
type PoolGradOptions<A extends AvgPoolAttrs> =
  & OpOptions<A>
  & Pick<A, "ksize" | "strides" | "padding">;
export function maxPoolGrad(
  origInput: TensorLike,
  origOutput: TensorLike,
  grad: TensorLike,
  options: PoolGradOptions<MaxPoolAttrs>,
): Output {
  return apply(MaxPoolGrad, [origInput, origOutput, grad], options).outputs[0];
}
export function avgPoolGrad(
  origInputShape: TensorLike,
  grad: TensorLike,
  options: PoolGradOptions<AvgPoolAttrs>,
): Output {
  return apply(AvgPoolGrad, [origInputShape, grad], options).outputs[0];
}
