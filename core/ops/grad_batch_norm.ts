/**
 * FusedBatchNormGradV3, FusedBatchNormV3's gradient, with TensorFlow's inputs, attrs and
 * outputs. reserve_space_1/2 are what the forward op saved: the batch's mean and biased variance
 * in training, the given mean and variance in inference. Per channel, with r = rsqrt(v + ε),
 * x̂ = (x - m)·r and n elements per channel:
 * - training: dx = scale·r·(dy - mean(dy) - x̂·mean(dy·x̂)), the gradient through the batch's
 *   statistics as well;
 * - inference: dx = dy·scale·r;
 * and in both dscale = Σ dy·x̂, doffset = Σ dy. reserve_space_4/5 are empty ([0]), as TensorFlow's
 * CPU kernel allocates them. (This module imports nothing from nn.ts: nn.ts imports the gradient
 * functions that build this op.)
 */
import { type DType, FLOAT_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { formatShape, type PartialShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { mergeDim, requireRank, spec } from "./infer_util.ts";

export type FusedBatchNormGradV3Attrs = {
  T: DType;
  U: DType;
  epsilon: number;
  data_format: string;
  is_training: boolean;
};

const channelAxis = (dataFormat: string) => (dataFormat === "NCHW" ? 1 : 3);

export const FusedBatchNormGradV3: OpDef<FusedBatchNormGradV3Attrs> = defineOp<
  FusedBatchNormGradV3Attrs
>({
  name: "FusedBatchNormGradV3",
  inputs: [
    { name: "y_backprop", type: "T" },
    { name: "x", type: "T" },
    { name: "scale", type: "float32" },
    { name: "reserve_space_1", type: "U" },
    { name: "reserve_space_2", type: "U" },
    { name: "reserve_space_3", type: "U" },
  ],
  outputs: [
    { name: "x_backprop", type: "T" },
    { name: "scale_backprop", type: "U" },
    { name: "offset_backprop", type: "U" },
    { name: "reserve_space_4", type: "U" },
    { name: "reserve_space_5", type: "U" },
  ],
  attrs: {
    T: { kind: "type", allowed: FLOAT_DTYPES },
    U: { kind: "type", allowed: ["float32"] },
    epsilon: { kind: "float", default: 0.0001 },
    data_format: { kind: "string", default: "NHWC", allowed: ["NHWC", "NCHW"] },
    is_training: { kind: "bool", default: true },
  },
  infer: ([dy, x, scale, mean, variance], { U, data_format }) => {
    requireRank(dy, 4, 4, "y_backprop");
    requireRank(x, 4, 4, "x");
    [scale, mean, variance].forEach((v, i) =>
      requireRank(v, 1, 1, ["scale", "reserve_space_1", "reserve_space_2"][i])
    );
    const shape = mergeShapes4(dy.shape, x.shape);
    const axis = channelAxis(data_format);
    let c = shape[axis];
    for (const v of [scale, mean, variance]) {
      const len = v.shape?.[0] ?? -1;
      if (len >= 0 && c >= 0 && len !== c) {
        throw new EdgeflowError(
          `expected ${c} elements (the channel dim ${axis} of ${
            formatShape(shape)
          }, ${data_format}), got a vector of shape ${formatShape(v.shape)}`,
        );
      }
      c = mergeDim(c, len, "channels");
    }
    shape[axis] = c;
    const channels = spec(U, [c]);
    return [spec(x.dtype, shape), channels, channels, spec(U, [0]), spec(U, [0])];
  },
  reference: (inputs, attrs) => {
    FusedBatchNormGradV3.infer(inputs.map((t) => ({ dtype: t.dtype, shape: t.shape })), attrs);
    const [dy, x, scale, mean, variance] = inputs;
    const axis = channelAxis(attrs.data_format);
    const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const C = x.shape[axis], n = C > 0 ? x.size / C : 0;
    const [ds, xs, ss, ms, vs] = [dy, x, scale, mean, variance].map(numbers);
    const r = Float64Array.from({ length: C }, (_, c) => 1 / Math.sqrt(vs[c] + attrs.epsilon));
    const sumDy = new Float64Array(C), sumDyXhat = new Float64Array(C);
    for (let i = 0; i < xs.length; i++) {
      const c = Math.floor(i / inner) % C;
      sumDy[c] += ds[i];
      sumDyXhat[c] += ds[i] * (xs[i] - ms[c]) * r[c];
    }
    const dx = new Float64Array(x.size);
    for (let i = 0; i < dx.length; i++) {
      const c = Math.floor(i / inner) % C;
      if (!attrs.is_training) {
        dx[i] = ds[i] * ss[c] * r[c];
        continue;
      }
      const xhat = (xs[i] - ms[c]) * r[c];
      dx[i] = ss[c] * r[c] * (ds[i] - sumDy[c] / n - xhat * (sumDyXhat[c] / n));
    }
    return [
      Tensor.fromNumbers(x.dtype, x.shape, dx),
      Tensor.fromNumbers(attrs.U, [C], sumDyXhat),
      Tensor.fromNumbers(attrs.U, [C], sumDy),
      Tensor.zeros(attrs.U, [0]),
      Tensor.zeros(attrs.U, [0]),
    ];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 4, maxRank: 4, maxDim: 4 }),
      fc.constantFrom("NHWC", "NCHW"),
      fc.constantFrom(0.0001, 0.001, 0.1),
      fc.boolean(),
      fc.nat(),
    ).map(([shape, data_format, epsilon, is_training, seed]) => {
      const c = [shape[channelAxis(data_format)]];
      return {
        inputs: [
          randomTensor(dtype, shape, seed),
          randomTensor(dtype, shape, seed + 1),
          randomTensor("float32", c, seed + 2, { min: -2, max: 2 }),
          randomTensor("float32", c, seed + 3, { min: -2, max: 2 }),
          randomTensor("float32", c, seed + 4, { min: 0.05, max: 2 }),
          Tensor.zeros("float32", []),
        ],
        attrs: { data_format, epsilon, is_training },
      };
    }),
});

/** Two rank-4 shapes merged dim by dim (y_backprop and x must agree). */
function mergeShapes4(a: PartialShape, b: PartialShape): number[] {
  const x = a ?? [-1, -1, -1, -1], y = b ?? [-1, -1, -1, -1];
  return x.map((d, i) => {
    if (d >= 0 && y[i] >= 0 && d !== y[i]) {
      throw new EdgeflowError(
        `y_backprop ${formatShape(a)} and x ${formatShape(b)} must have the same shape`,
      );
    }
    return d >= 0 ? d : y[i];
  });
}

export const GRAD_BATCH_NORM_OPS: readonly OpDef[] = [
  FusedBatchNormGradV3,
] as unknown as OpDef[];

/** FusedBatchNormGradV3's five outputs [x_backprop, scale_backprop, offset_backprop, ...]. */
export function fusedBatchNormGrad(
  yBackprop: TensorLike,
  x: TensorLike,
  scale: TensorLike,
  reserveSpace1: TensorLike,
  reserveSpace2: TensorLike,
  reserveSpace3: TensorLike,
  options: OpOptions<FusedBatchNormGradV3Attrs> = {},
): readonly Output[] {
  return apply(
    FusedBatchNormGradV3,
    [yBackprop, x, scale, reserveSpace1, reserveSpace2, reserveSpace3],
    options,
  ).outputs;
}
