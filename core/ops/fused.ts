/**
 * The contractions TensorFlow's grappler (remapper) and tfjs-converter fuse with what follows
 * them: _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul. Each is its contraction, then
 * one of BiasAdd (num_args 1: bias) or FusedBatchNorm (num_args 4: scale, offset, mean,
 * variance), then at most one activation (Relu, Relu6, Elu, LeakyRelu with `leakyrelu_alpha`,
 * Sigmoid, Tanh, or tfjs's Prelu, whose alpha is one more arg).
 *
 * The meaning is the unfused chain, each step rounded to T as TensorFlow's unfused ops would:
 * the reference calls Conv2D's (or MatMul's) reference, then BiasAdd's or FusedBatchNormV3's,
 * then the activation op's. Devices compute the same chain as the contraction followed by one
 * per-channel epilogue y = act((x + shift[c]) · scale[c] + offset[c]) (`fusedEpilogue` below),
 * which is BiasAdd exactly (shift = bias, scale = 1, offset = 0) and batch norm as TensorFlow's
 * fused kernel computes it ((x − mean) · scale·rsqrt(variance + ε) + offset).
 *
 * No gradient: TensorFlow registers none for these ops either; they exist only in the inference
 * graphs grappler and the converters write (a training graph keeps the unfused ops).
 */
import { type DType, FLOAT_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { HostContext, InferInput, OpDef, TensorSpec } from "../op.ts";
import { defineOp } from "../op.ts";
import { formatShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import { arbConv, Conv2D, type Conv2DAttrs, DepthwiseConv2dNative } from "./conv.ts";
import { CONV2D_ATTRS, CONV_ATTRS } from "./window_attrs.ts";
import { MatMul, type MatMulAttrs } from "./matmul.ts";
import { BiasAdd, FusedBatchNormV3 } from "./nn.ts";
import { Elu, LeakyRelu, Relu, Relu6, Sigmoid, Tanh } from "./unary.ts";
import { spec } from "./infer_util.ts";

/** The activations a fused op may end in, in the order devices number them (0: none). */
export const FUSED_ACTIVATIONS = [
  "",
  "Relu",
  "Relu6",
  "Elu",
  "LeakyRelu",
  "Sigmoid",
  "Tanh",
  "Prelu",
] as const;
export type FusedActivation = (typeof FUSED_ACTIVATIONS)[number];

/** The attrs every fused contraction shares. */
export type FusionAttrs = {
  T: DType;
  num_args: number;
  fused_ops: readonly string[];
  epsilon: number;
  leakyrelu_alpha: number;
};
export type FusedConv2DAttrs = Conv2DAttrs & FusionAttrs;
export type FusedDepthwiseConv2dNativeAttrs = Omit<Conv2DAttrs, "use_cudnn_on_gpu"> & FusionAttrs;
export type FusedMatMulAttrs = MatMulAttrs & FusionAttrs;

const FUSION_ATTRS = {
  T: { kind: "type", allowed: FLOAT_DTYPES },
  num_args: { kind: "int", default: 0 },
  fused_ops: { kind: "list(string)", default: [] },
  // TensorFlow's defaults; epsilon is used by FusedBatchNorm, leakyrelu_alpha by LeakyRelu.
  epsilon: { kind: "float", default: 0.0001 },
  leakyrelu_alpha: { kind: "float", default: 0.2 },
} as const;

/** What a fused op's `fused_ops` and `num_args` say, checked. */
export interface Fusion {
  /** "BiasAdd" (args: bias) or "FusedBatchNorm" (args: scale, offset, mean, variance). */
  kind: "BiasAdd" | "FusedBatchNorm";
  activation: FusedActivation;
  /** How many of the extra args are the bias or batch norm's (Prelu's alpha follows). */
  vectors: number;
}

/** Parses `fused_ops` with `num_args`: an EdgeflowError for a fusion TensorFlow does not make. */
export function parseFusion(attrs: FusionAttrs): Fusion {
  const [first, act = "", ...rest] = attrs.fused_ops;
  const kind = first === "BiasAdd" || first === "FusedBatchNorm" ? first : undefined;
  const activation = (FUSED_ACTIVATIONS as readonly string[]).includes(act)
    ? act as FusedActivation
    : undefined;
  if (kind === undefined || activation === undefined || rest.length > 0) {
    throw new EdgeflowError(
      `fused_ops [${attrs.fused_ops.join(", ")}] is not a fusion Edgeflow computes: BiasAdd or ` +
        `FusedBatchNorm, then at most one of ${FUSED_ACTIVATIONS.slice(1).join(", ")}`,
    );
  }
  const vectors = kind === "BiasAdd" ? 1 : 4;
  const want = vectors + (activation === "Prelu" ? 1 : 0);
  if (attrs.num_args !== want) {
    throw new EdgeflowError(
      `fused_ops [${attrs.fused_ops.join(", ")}] takes ${want} args, but num_args is ` +
        `${attrs.num_args}`,
    );
  }
  return { kind, activation, vectors };
}

/** Checks the extra args against the contraction's output spec; returns that spec. */
function inferFused(
  out: TensorSpec,
  args: readonly InferInput[],
  attrs: FusionAttrs,
  /** Which of `args` is Prelu's alpha (the one after the bias or norm vectors by default). */
  preluAt?: number,
): TensorSpec[] {
  const fusion = parseFusion(attrs);
  const alphaAt = preluAt ?? fusion.vectors;
  const rank = out.shape?.length;
  const channels = rank === undefined ? -1 : out.shape![rank - 1];
  args.forEach((a, i) => {
    if (a.dtype !== out.dtype) {
      throw new EdgeflowError(`args[${i}] is ${a.dtype}, the input ${out.dtype}`);
    }
    if (a.shape === null) return;
    const prelu = fusion.activation === "Prelu" && i === alphaAt;
    // Prelu's alpha may be any shape whose dims are all 1 but the last (1 or the channels), of a
    // rank up to the output's (a higher rank would broadcast the output up, as tfjs does), as
    // tfjs's fused kernels read it; the bias and batch norm vectors are [channels].
    const ok = prelu
      ? a.shape.slice(0, -1).every((d) => d === 1 || d === -1) &&
        (rank === undefined || a.shape.length <= rank)
      : a.shape.length === 1;
    const last = a.shape.length === 0 ? 1 : a.shape[a.shape.length - 1];
    const lastOk = channels < 0 || last < 0 || last === channels || (prelu && last === 1);
    if (!ok || !lastOk) {
      throw new EdgeflowError(
        `args[${i}] (${prelu ? "Prelu's alpha" : fusion.kind}) has shape ${
          formatShape(a.shape)
        }; expected ${prelu ? "[..., 1 or " : "["}${channels < 0 ? "channels" : channels}] for ` +
          `an output of shape ${formatShape(out.shape)}`,
      );
    }
  });
  return [spec(out.dtype, out.shape)];
}

/** The unfused chain on host tensors: the contraction's result, then bias or norm, then act. */
function fusedReference(y: Tensor, args: readonly Tensor[], attrs: FusionAttrs, ctx: HostContext) {
  const fusion = parseFusion(attrs);
  const T = attrs.T;
  y = fusion.kind === "BiasAdd"
    ? BiasAdd.reference([y, args[0]], { T, data_format: "NHWC" }, ctx)[0]
    : FusedBatchNormV3.reference([y, ...args.slice(0, 4)], {
      T,
      U: T,
      epsilon: attrs.epsilon,
      exponential_avg_factor: 1,
      data_format: "NHWC",
      is_training: false,
    }, ctx)[0];
  switch (fusion.activation) {
    case "":
      return [y];
    case "LeakyRelu":
      return LeakyRelu.reference([y], { T, alpha: attrs.leakyrelu_alpha }, ctx);
    case "Prelu":
      return [preluReference(y, args[fusion.vectors])];
    default: {
      const op = { Relu, Relu6, Elu, Sigmoid, Tanh }[fusion.activation];
      return op.reference([y], { T }, ctx);
    }
  }
}

/** tfjs's prelu: x < 0 ? alpha · x : x, alpha read per channel (or one for all). */
function preluReference(x: Tensor, alpha: Tensor): Tensor {
  const xs = numbers(x), as = numbers(alpha);
  const c = x.shape[x.rank - 1] || 1;
  const out = new Float64Array(x.size);
  for (let i = 0; i < out.length; i++) {
    const v = xs[i];
    out[i] = v < 0 ? (as.length === 1 ? as[0] : as[i % c]) * v : v;
  }
  return Tensor.fromNumbers(x.dtype, x.shape, out);
}

/**
 * Per-channel vectors of the epilogue y = act((x + shift) · scale + offset), in double, from
 * the op's args (host tensors): BiasAdd is (x + bias)·1 + 0; batch norm is (x − mean)·f +
 * offset with f = scale·rsqrt(variance + ε) rounded to float32 as TensorFlow's fused kernel
 * computes it. `alpha` is Prelu's per channel (LeakyRelu's alpha for every channel otherwise).
 */
export function fusedEpilogue(
  args: readonly Tensor[],
  attrs: FusionAttrs,
  channels: number,
): {
  activation: number;
  shift: Float64Array;
  scale: Float64Array;
  offset: Float64Array;
  alpha: Float64Array;
} {
  const fusion = parseFusion(attrs);
  const shift = new Float64Array(channels), scale = new Float64Array(channels).fill(1);
  const offset = new Float64Array(channels), alpha = new Float64Array(channels);
  if (fusion.kind === "BiasAdd") shift.set(numbers(args[0]));
  else {
    const [s, o, m, v] = args.slice(0, 4).map(numbers);
    for (let c = 0; c < channels; c++) {
      shift[c] = -m[c];
      scale[c] = Math.fround(s[c] / Math.sqrt(v[c] + attrs.epsilon));
      offset[c] = o[c];
    }
  }
  if (fusion.activation === "Prelu") {
    const as = numbers(args[fusion.vectors]);
    for (let c = 0; c < channels; c++) alpha[c] = as.length === 1 ? as[0] : as[c];
  } else alpha.fill(attrs.leakyrelu_alpha);
  return {
    activation: FUSED_ACTIVATIONS.indexOf(fusion.activation),
    shift,
    scale,
    offset,
    alpha,
  };
}

/** The largest gain of the epilogue on an error in x: |scale| times the activation's slope. */
export function epilogueGain(
  args: readonly Tensor[],
  attrs: FusionAttrs,
  channels: number,
): number {
  const e = fusedEpilogue(args, attrs, channels);
  let g = 0, a = 1;
  for (let c = 0; c < channels; c++) g = Math.max(g, Math.abs(e.scale[c]));
  if (e.activation === 4 || e.activation === 7) {
    for (let c = 0; c < channels; c++) a = Math.max(a, Math.abs(e.alpha[c]));
  }
  return g * a;
}

// ---- random cases -----------------------------------------------------------------------

/** Draws a fusion and its args for an output of `channels` channels. */
function arbFusion(fc: FastCheck, dtype: DType, batchNorm = true) {
  return fc.record({
    kind: batchNorm ? fc.constantFrom("BiasAdd", "FusedBatchNorm") : fc.constant("BiasAdd"),
    act: fc.constantFrom(...FUSED_ACTIVATIONS),
    alpha: fc.constantFrom(0.2, 0.01, 0.5),
    epsilon: fc.constantFrom(0.001, 0.0001),
    preluShape: fc.constantFrom("vector", "scalar", "keras"),
    seed: fc.nat(),
  }).map((f) => (channels: number, outRank: number) => {
    const vectors = f.kind === "BiasAdd" ? 1 : 4;
    const args = Array.from(
      { length: vectors },
      (_, i) =>
        // The variance (batch norm's fourth vector) is positive, as a trained model's is.
        randomTensor(dtype, [channels], f.seed + i, i === 3 ? { min: 0.25, max: 4 } : {}),
    );
    if (f.act === "Prelu") {
      const shape = f.preluShape === "vector"
        ? [channels]
        : f.preluShape === "scalar"
        ? [1]
        : [...new Array(Math.min(outRank, 3) - 1).fill(1), channels];
      args.push(randomTensor(dtype, shape, f.seed + 7, { min: 0, max: 1 }));
    }
    return {
      args,
      attrs: {
        fused_ops: f.act === "" ? [f.kind] : [f.kind, f.act],
        num_args: args.length,
        epsilon: f.epsilon,
        leakyrelu_alpha: f.alpha,
      },
    };
  });
}

function arbFusedWindow<A extends FusionAttrs>(
  fc: FastCheck,
  dtype: DType,
  depthwise: boolean,
): Arbitrary<{ inputs: Tensor[]; attrs: Partial<A> }> {
  return fc.tuple(arbConv(fc, dtype), arbFusion(fc, dtype)).map(([conv, fusion]) => {
    const [x, f] = conv.inputs;
    const channels = depthwise ? f.shape[2] * f.shape[3] : f.shape[3];
    const { args, attrs } = fusion(channels, 4);
    return {
      inputs: [x, f, ...args],
      attrs: { ...conv.attrs, ...attrs } as unknown as Partial<A>,
    };
  });
}

// ---- ops --------------------------------------------------------------------------------

const ARGS_INPUT = { name: "args", type: "T", numberAttr: "num_args" };

export const FusedConv2D: OpDef<FusedConv2DAttrs> = defineOp<FusedConv2DAttrs>({
  name: "_FusedConv2D",
  inputs: [{ name: "input", type: "T" }, { name: "filter", type: "T" }, ARGS_INPUT],
  outputs: [{ name: "output", type: "T" }],
  attrs: { ...CONV2D_ATTRS, ...FUSION_ATTRS },
  infer: ([x, f, ...args], attrs) => inferFused(Conv2D.infer([x, f], attrs)[0], args, attrs),
  reference: ([x, f, ...args], attrs, ctx) =>
    fusedReference(Conv2D.reference([x, f], attrs, ctx)[0], args, attrs, ctx),
  arbitrary: (fc, dtype) => arbFusedWindow<FusedConv2DAttrs>(fc, dtype, false),
});

export const FusedDepthwiseConv2dNative: OpDef<FusedDepthwiseConv2dNativeAttrs> = defineOp<
  FusedDepthwiseConv2dNativeAttrs
>({
  name: "FusedDepthwiseConv2dNative",
  inputs: [{ name: "input", type: "T" }, { name: "filter", type: "T" }, ARGS_INPUT],
  outputs: [{ name: "output", type: "T" }],
  attrs: { ...CONV_ATTRS, ...FUSION_ATTRS },
  infer: ([x, f, ...args], attrs) =>
    inferFused(DepthwiseConv2dNative.infer([x, f], attrs)[0], args, attrs),
  reference: ([x, f, ...args], attrs, ctx) =>
    fusedReference(DepthwiseConv2dNative.reference([x, f], attrs, ctx)[0], args, attrs, ctx),
  arbitrary: (fc, dtype) => arbFusedWindow<FusedDepthwiseConv2dNativeAttrs>(fc, dtype, true),
});

const flag = { kind: "bool", default: false } as const;

export const FusedMatMul: OpDef<FusedMatMulAttrs> = defineOp<FusedMatMulAttrs>({
  name: "_FusedMatMul",
  inputs: [{ name: "a", type: "T" }, { name: "b", type: "T" }, ARGS_INPUT],
  outputs: [{ name: "product", type: "T" }],
  attrs: {
    transpose_a: flag,
    transpose_b: flag,
    grad_a: flag,
    grad_b: flag,
    ...FUSION_ATTRS,
  },
  infer: ([a, b, ...args], attrs) => {
    // TensorFlow's _FusedMatMul fuses BiasAdd only (batch norm follows convolutions).
    if (attrs.fused_ops[0] === "FusedBatchNorm") {
      throw new EdgeflowError("_FusedMatMul fuses BiasAdd, not FusedBatchNorm");
    }
    return inferFused(MatMul.infer([a, b], attrs)[0], args, attrs);
  },
  reference: ([a, b, ...args], attrs, ctx) =>
    fusedReference(MatMul.reference([a, b], attrs, ctx)[0], args, attrs, ctx),
  arbitrary: (fc, dtype) =>
    fc.tuple(
      fc.integer({ min: 1, max: 6 }),
      // k = 0: an empty sum, whose output is the epilogue of zeros.
      fc.integer({ min: 0, max: 9 }),
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      fc.boolean(),
      fc.nat(),
      arbFusion(fc, dtype, false),
    ).map(([m, k, n, ta, tb, seed, fusion]) => {
      const { args, attrs } = fusion(n, 2);
      return {
        inputs: [
          randomTensor(dtype, ta ? [k, m] : [m, k], seed),
          randomTensor(dtype, tb ? [n, k] : [k, n], seed + 1),
          ...args,
        ],
        attrs: { transpose_a: ta, transpose_b: tb, ...attrs },
      };
    }),
});

/**
 * tfjs's Prelu (tfjs-converter writes it for Keras' PReLU; TensorFlow's own graphs spell it
 * Relu(x) − alpha·Relu(−x)): x < 0 ? alpha·x : x, alpha read per channel (the last dim) or one
 * for all, the forms the converter writes ([C], [1, 1, C], [1]). NaN stays NaN. No gradient:
 * TensorFlow has no such op; a training graph keeps the Relu form, whose ops have gradients.
 */
export const Prelu: OpDef<{ T: DType }> = defineOp<{ T: DType }>({
  name: "Prelu",
  inputs: [{ name: "x", type: "T" }, { name: "alpha", type: "T" }],
  outputs: [{ name: "y", type: "T" }],
  attrs: { T: { kind: "type", allowed: FLOAT_DTYPES } },
  infer: ([x, alpha]) =>
    inferFused(
      { dtype: x.dtype, shape: x.shape },
      [alpha],
      { T: x.dtype, num_args: 2, fused_ops: ["BiasAdd", "Prelu"], epsilon: 0, leakyrelu_alpha: 0 },
      0,
    ),
  reference: ([x, alpha]) => [preluReference(x, alpha)],
  arbitrary: (fc, dtype) =>
    fc.tuple(
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
      fc.constantFrom("vector", "scalar", "keras"),
      fc.nat(),
    ).map(([shape, form, seed]) => {
      const c = shape[shape.length - 1];
      const alphaShape = form === "vector"
        ? [c]
        : form === "scalar"
        ? [1]
        : [...new Array(Math.min(shape.length, 3) - 1).fill(1), c];
      return {
        inputs: [
          randomTensor(dtype, shape, seed),
          randomTensor(dtype, alphaShape, seed + 1, { min: 0, max: 1 }),
        ],
        attrs: {},
      };
    }),
});

export const FUSED_OPS: readonly OpDef[] = [
  FusedConv2D,
  FusedDepthwiseConv2dNative,
  FusedMatMul,
  Prelu,
] as unknown as OpDef[];
