/** BiasAdd, FusedBatchNormV3 (training and inference), Softmax and LogSoftmax. */
import { type DType, FLOAT_DTYPES, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type GradientFn, type InferInput, type OpDef } from "../op.ts";
import { formatShape, type PartialShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, arbTensor, randomTensor } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { mergeDim, requireRank, spec } from "./infer_util.ts";
import { biasAddGradFn, fusedBatchNormGradFn, logSoftmaxGrad, softmaxGrad } from "../grads/nn.ts";

// ---- BiasAdd ----------------------------------------------------------------------------

export type BiasAddAttrs = { T: DType; data_format: string };

export const BiasAdd: OpDef<BiasAddAttrs> = defineOp<BiasAddAttrs>({
  gradient: biasAddGradFn,
  name: "BiasAdd",
  inputs: [{ name: "value", type: "T" }, { name: "bias", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: {
    T: { kind: "type", allowed: REAL_DTYPES },
    data_format: { kind: "string", default: "NHWC", allowed: ["NHWC", "NCHW"] },
  },
  infer: ([value, bias], { data_format }) => {
    requireRank(bias, 1, 1, "bias");
    if (requireRank(value, 2, Infinity, "value") === null) return [spec(value.dtype, null)];
    const axis = channelAxis(value.shape!.length, data_format);
    return [spec(value.dtype, withChannels(value, axis, [bias], data_format))];
  },
  reference: ([value, bias], attrs) => {
    checkRunTimeShapes(BiasAdd, [value, bias], attrs);
    const axis = channelAxis(value.rank, attrs.data_format);
    const inner = value.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    if (value.dtype === "int64") {
      // BigInt, so values past 2^53 keep their bits; the store wraps in 64 bits.
      const vs = value.data as BigInt64Array, bs = bias.data as BigInt64Array;
      const out = new BigInt64Array(value.size);
      for (let i = 0; i < out.length; i++) out[i] = vs[i] + bs[Math.floor(i / inner) % bs.length];
      return [new Tensor("int64", value.shape, out)];
    }
    const vs = numbers(value), bs = numbers(bias);
    const out = new Float64Array(value.size);
    for (let i = 0; i < out.length; i++) out[i] = vs[i] + bs[Math.floor(i / inner) % bs.length];
    return [Tensor.fromNumbers(value.dtype, value.shape, out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 2, maxRank: 4, maxDim: 4 }),
      fc.constantFrom("NHWC", "NCHW"),
      fc.nat(),
      fc.nat(),
    ).map(([shape, data_format, sv, sb]) => ({
      inputs: [
        randomTensor(dtype, shape, sv),
        randomTensor(dtype, [shape[channelAxis(shape.length, data_format)]], sb),
      ],
      attrs: { data_format },
    })),
});

/**
 * Runs the op's shape checks on run-time shapes: a graph built with unknown dims defers them to
 * the run, where a bias of 4 for 3 channels must be refused, not read modulo its length.
 */
function checkRunTimeShapes<A extends BiasAddAttrs | FusedBatchNormV3Attrs>(
  op: OpDef<A>,
  inputs: readonly Tensor[],
  attrs: A,
): void {
  op.infer(inputs.map((t) => ({ dtype: t.dtype, shape: t.shape })), attrs);
}

/** The channel dim: last for NHWC (any rank), 1 for NCHW, as TensorFlow's kernels read it. */
function channelAxis(rank: number, dataFormat: string): number {
  return dataFormat === "NCHW" ? 1 : rank - 1;
}

/** `x`'s shape with its channel dim merged with the length of every vector in `vectors`. */
function withChannels(
  x: InferInput,
  axis: number,
  vectors: readonly InferInput[],
  dataFormat: string,
): PartialShape {
  const shape = x.shape!.slice();
  for (const v of vectors) {
    const len = v.shape?.[0] ?? -1;
    if (len >= 0 && shape[axis] >= 0 && len !== shape[axis]) {
      throw new EdgeflowError(
        `expected ${shape[axis]} elements (the channel dim ${axis} of ${
          formatShape(x.shape)
        }, ${dataFormat}), got a vector of shape ${formatShape(v.shape)}`,
      );
    }
    shape[axis] = mergeDim(shape[axis], len, "channels");
  }
  return shape;
}

// ---- FusedBatchNormV3 -------------------------------------------------------------------

export type FusedBatchNormV3Attrs = {
  T: DType;
  U: DType;
  epsilon: number;
  exponential_avg_factor: number;
  data_format: string;
  is_training: boolean;
};

/**
 * Batch normalization per channel, as TensorFlow's CPU kernel defines every output.
 *
 * Inference (is_training false): y = (x - mean) * rsqrt(variance + epsilon) * scale + offset;
 * batch_mean and batch_variance pass `mean` and `variance` through; TensorFlow leaves
 * reserve_space_1/2 uninitialized there, we define them as `mean` and `variance`.
 *
 * Training (is_training true, TensorFlow's default): the batch's statistics over every dim but
 * the channel's, m = Σx/n and v = Σ(x - m)²/n (biased), normalize x: y = (x - m) *
 * rsqrt(v + epsilon) * scale + offset. batch_mean and batch_variance are the running statistics:
 * with exponential_avg_factor f = 1 the batch's own, m and v·n/(n-1) (Bessel's correction, n/1
 * for n = 1), else (1 - f)·mean + f·m and (1 - f)·variance + f·v·n/(n-1); `mean` and `variance`
 * may then be empty ([0]) when f = 1, as TensorFlow allows. reserve_space_1/2 keep m and v (what
 * FusedBatchNormGradV3 reads). An empty batch gives NaN statistics, as TensorFlow's.
 *
 * reserve_space_3 is a scalar 0 in both modes (TensorFlow allocates it with shape []).
 */
export const FusedBatchNormV3: OpDef<FusedBatchNormV3Attrs> = defineOp<FusedBatchNormV3Attrs>({
  name: "FusedBatchNormV3",
  gradient: fusedBatchNormGradFn,
  // The kernels written for inference do not run training nodes (core/kernel.ts `runsMode`).
  kernelMode: (attrs) => (attrs.is_training ? "training" : undefined),
  inputs: ["x:T", "scale:U", "offset:U", "mean:U", "variance:U"].map(arg),
  outputs: [
    "y:T",
    "batch_mean:U",
    "batch_variance:U",
    "reserve_space_1:U",
    "reserve_space_2:U",
    "reserve_space_3:U",
  ].map(arg),
  attrs: {
    T: { kind: "type", allowed: FLOAT_DTYPES },
    U: { kind: "type", allowed: ["float32"] },
    epsilon: { kind: "float", default: 0.0001 },
    exponential_avg_factor: { kind: "float", default: 1 },
    data_format: { kind: "string", default: "NHWC", allowed: ["NHWC", "NCHW"] },
    is_training: { kind: "bool", default: true },
  },
  infer: ([x, scale, offset, mean, variance], attrs) => {
    const names = ["scale", "offset", "mean", "variance"];
    [scale, offset, mean, variance].forEach((v, i) => requireRank(v, 1, 1, names[i]));
    requireRank(x, 4, 4, "x");
    const axis = channelAxis(4, attrs.data_format);
    // Training with a factor of 1 never reads mean and variance: they may be empty.
    const optional = attrs.is_training && attrs.exponential_avg_factor === 1;
    const stats = [mean, variance].filter((v) => !(optional && v.shape?.[0] === 0));
    const y = withChannels(
      { ...x, shape: x.shape ?? [-1, -1, -1, -1] },
      axis,
      [scale, offset, ...stats],
      attrs.data_format,
    );
    const channels = spec(attrs.U, [y![axis]]);
    return [spec(x.dtype, y), channels, channels, channels, channels, spec(attrs.U, [])];
  },
  reference: ([x, scale, offset, mean, variance], attrs) => {
    checkRunTimeShapes(FusedBatchNormV3, [x, scale, offset, mean, variance], attrs);
    if (attrs.is_training) return batchNormTraining(x, scale, offset, mean, variance, attrs);
    return [
      batchNormInference(x, scale, offset, mean, variance, attrs),
      mean,
      variance,
      mean,
      variance,
      Tensor.zeros(attrs.U, []),
    ];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 4, maxRank: 4, maxDim: 4 }),
      fc.constantFrom("NHWC", "NCHW"),
      fc.constantFrom(0.0001, 0.001, 0.1),
      fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
      fc.constantFrom("inference", "training", "training-empty", "training-average"),
    ).map(([shape, data_format, epsilon, seeds, mode]) => {
      const c = [shape[channelAxis(4, data_format)]];
      const vector = (seed: number, min: number) =>
        randomTensor("float32", c, seed, { min, max: 2 });
      const stats = mode === "training-empty"
        ? [Tensor.zeros("float32", [0]), Tensor.zeros("float32", [0])]
        : [vector(seeds[3], -2), vector(seeds[4], 0.05)];
      return {
        inputs: [
          randomTensor(dtype, shape, seeds[0]),
          vector(seeds[1], -2),
          vector(seeds[2], -2),
          ...stats,
        ],
        attrs: {
          data_format,
          epsilon,
          is_training: mode !== "inference",
          exponential_avg_factor: mode === "training-average" ? 0.25 : 1,
        },
      };
    }),
});

function arg(s: string) {
  const [name, type] = s.split(":");
  return { name, type };
}

/** Training mode (see FusedBatchNormV3): y, the running statistics, the batch's m and v. */
function batchNormTraining(
  x: Tensor,
  scale: Tensor,
  offset: Tensor,
  mean: Tensor,
  variance: Tensor,
  { epsilon, data_format, exponential_avg_factor: f, U }: FusedBatchNormV3Attrs,
): Tensor[] {
  const axis = channelAxis(4, data_format);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const C = x.shape[axis], n = C > 0 ? x.size / C : 0;
  const xs = numbers(x), ss = numbers(scale), os = numbers(offset);
  const m = new Float64Array(C), v = new Float64Array(C);
  for (let i = 0; i < xs.length; i++) m[Math.floor(i / inner) % C] += xs[i];
  for (let c = 0; c < C; c++) m[c] /= n; // 0/0 = NaN for an empty batch, as TensorFlow's
  for (let i = 0; i < xs.length; i++) {
    const c = Math.floor(i / inner) % C;
    v[c] += (xs[i] - m[c]) ** 2;
  }
  for (let c = 0; c < C; c++) v[c] /= n;
  const y = new Float64Array(x.size);
  for (let i = 0; i < y.length; i++) {
    const c = Math.floor(i / inner) % C;
    y[i] = ((xs[i] - m[c]) / Math.sqrt(v[c] + epsilon)) * ss[c] + os[c];
  }
  const bessel = n > 1 ? n / (n - 1) : 1;
  const runMean = new Float64Array(C), runVar = new Float64Array(C);
  const ms = f === 1 ? undefined : numbers(mean), vs = f === 1 ? undefined : numbers(variance);
  for (let c = 0; c < C; c++) {
    runMean[c] = ms ? (1 - f) * ms[c] + f * m[c] : m[c];
    runVar[c] = vs ? (1 - f) * vs[c] + f * v[c] * bessel : v[c] * bessel;
  }
  const vector = (values: Float64Array) => Tensor.fromNumbers(U, [C], values);
  return [
    Tensor.fromNumbers(x.dtype, x.shape, y),
    vector(runMean),
    vector(runVar),
    vector(m),
    vector(v),
    Tensor.zeros(U, []),
  ];
}

function batchNormInference(
  x: Tensor,
  scale: Tensor,
  offset: Tensor,
  mean: Tensor,
  variance: Tensor,
  { epsilon, data_format }: FusedBatchNormV3Attrs,
): Tensor {
  const axis = channelAxis(4, data_format);
  const inner = x.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = x.shape[axis];
  const [xs, ss, os, ms, vs] = [x, scale, offset, mean, variance].map(numbers);
  const out = new Float64Array(x.size);
  for (let i = 0; i < out.length; i++) {
    const c = Math.floor(i / inner) % channels;
    out[i] = ((xs[i] - ms[c]) / Math.sqrt(vs[c] + epsilon)) * ss[c] + os[c];
  }
  return Tensor.fromNumbers(x.dtype, x.shape, out);
}

// ---- Softmax and LogSoftmax -------------------------------------------------------------

export type SoftmaxAttrs = { T: DType };

/**
 * One row's max and log(sum(exp(x - max))), as TensorFlow's kernels compute them: the logits are
 * shifted by the max first and the log of the sum is subtracted from the shifted logits, so
 * (x - max) - logSum keeps x's precision for huge logits where x - (max + logSum) would not.
 * A row holding +Inf (or NaN) gets a NaN logSum, so the whole row is NaN, as in TensorFlow;
 * likewise a row of -Inf (its shifted logits are -Inf - -Inf).
 */
export function shiftedLogSum(
  xs: ArrayLike<number>,
  start: number,
  n: number,
): { max: number; sum: number; logSum: number } {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, xs[start + j]);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp(xs[start + j] - max);
  return { max, sum, logSum: Math.log(sum) };
}

function defineSoftmax(
  name: string,
  output: string,
  log: boolean,
  gradient: GradientFn<SoftmaxAttrs>,
): OpDef<SoftmaxAttrs> {
  return defineOp<SoftmaxAttrs>({
    name,
    gradient,
    inputs: [{ name: "logits", type: "T" }],
    outputs: [{ name: output, type: "T" }],
    attrs: { T: { kind: "type", allowed: FLOAT_DTYPES } },
    infer: ([logits]) => {
      requireRank(logits, 1, Infinity, "logits");
      return [spec(logits.dtype, logits.shape)];
    },
    reference: ([logits]) => {
      const n = logits.shape[logits.rank - 1];
      const xs = numbers(logits);
      const out = new Float64Array(logits.size);
      for (let row = 0; row < logits.size; row += n) {
        // Softmax divides by the sum rather than subtracting its log, as TensorFlow does.
        const { max, sum, logSum } = shiftedLogSum(xs, row, n);
        for (let j = row; j < row + n; j++) {
          const shifted = xs[j] - max;
          out[j] = log ? shifted - logSum : Math.exp(shifted) / sum;
        }
      }
      return [Tensor.fromNumbers(logits.dtype, logits.shape, out)];
    },
    arbitrary: (fc, dtype) =>
      arbTensor(fc, dtype, arbShape(fc, { minRank: 1 })).map((x) => ({ inputs: [x], attrs: {} })),
  });
}

/** Softmax over the last axis: exp(x - max) / sum(exp(x - max)). */
export const Softmax = defineSoftmax("Softmax", "softmax", false, softmaxGrad);
/** LogSoftmax over the last axis: (x - max) - log(sum(exp(x - max))). */
export const LogSoftmax = defineSoftmax("LogSoftmax", "logsoftmax", true, logSoftmaxGrad);

export const NN_OPS: readonly OpDef[] = [
  BiasAdd,
  FusedBatchNormV3,
  Softmax,
  LogSoftmax,
] as unknown as OpDef[];

// ---- builders ---------------------------------------------------------------------------

/** BiasAdd: adds `bias` [C] along the channel dim of `value` (last for NHWC, 1 for NCHW). */
export function biasAdd(
  value: TensorLike,
  bias: TensorLike,
  options: OpOptions<BiasAddAttrs> = {},
): Output {
  return apply(BiasAdd, [value, bias], options).outputs[0];
}

/**
 * FusedBatchNormV3; returns all six outputs [y, batch_mean, batch_variance, reserve_space_1..3].
 * is_training defaults to true, as TensorFlow's.
 */
export function fusedBatchNorm(
  x: TensorLike,
  scale: TensorLike,
  offset: TensorLike,
  mean: TensorLike,
  variance: TensorLike,
  options: OpOptions<FusedBatchNormV3Attrs> = {},
): readonly Output[] {
  return apply(FusedBatchNormV3, [x, scale, offset, mean, variance], options).outputs;
}

export function softmax(logits: TensorLike, options: OpOptions<SoftmaxAttrs> = {}): Output {
  return apply(Softmax, [logits], options).outputs[0];
}
export function logSoftmax(logits: TensorLike, options: OpOptions<SoftmaxAttrs> = {}): Output {
  return apply(LogSoftmax, [logits], options).outputs[0];
}
