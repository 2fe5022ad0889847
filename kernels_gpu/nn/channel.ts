/**
 * BiasAdd and FusedBatchNormV3 (inference; training in batch_norm.ts) as elementwise maps: the
 * per-channel vectors broadcast along the channel dim, which is last for NHWC (the engine's cheap "tail" indexing) and dim 1
 * for NCHW (viewed as [C, 1, 1] so ordinary broadcasting applies, no copy).
 */
import { Tensor } from "../../core/tensor.ts";
import { batchNormInferencePartial, zeroVariance } from "../../core/batch_norm_bounds.ts";
import { admittingOverflow, type KernelCase, type Tolerance } from "../../core/kernel.ts";
import { BiasAdd, FusedBatchNormV3, type FusedBatchNormV3Attrs } from "../../core/ops/nn.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import { ARITHMETIC, defineGpuKernel, FLOATS, floatTolerance, staticBinding } from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { type MapFunction, NodeMap } from "../elementwise/map.ts";
import {
  batchNormTrainingInstance,
  batchNormTrainingTolerance,
  fusedBatchNormGradKernel,
} from "./batch_norm.ts";

/** A channel vector viewed so it broadcasts along dim 1 of a rank-`rank` NCHW tensor. */
export function channelView(device: WebGpuDevice, v: GpuBuffer, rank: number, nchw: boolean) {
  if (!nchw) return v;
  return device.alias(v, [v.shape[0], ...new Array(rank - 2).fill(1)]);
}

const biasFunction = (type: "f32" | "i32"): MapFunction => ({
  name: `BiasAdd.${type}`,
  wgsl: `fn f(x: ${type}, b: ${type}) -> ${type} { return x + b; }`,
});

export const biasAddKernel = defineGpuKernel(BiasAdd, {
  dtypes: ARITHMETIC,
  create({ inputs: [x, b], outputs: [out], attrs, device }) {
    const nchw = attrs.data_format === "NCHW";
    const bShape = nchw && x.shape !== null
      ? [b.shape?.[0] ?? -1, ...new Array(x.shape.length - 2).fill(1)]
      : b.shape;
    const map = new NodeMap(
      biasFunction(computeType(x.dtype)),
      [x.shape, bShape],
      x.shape,
      [staticBinding(device, x), staticBinding(device, b)],
      staticBinding(device, out),
    );
    return {
      programs: map.programs,
      run(ctx) {
        const [x, b] = ctx.inputs;
        const bias = channelView(ctx.device, b, x.shape.length, nchw);
        const d = map.dispatch(ctx.device, [x, bias], ctx.output(0));
        return ctx.device.encode(ctx.node, [d]);
      },
    };
  },
  tolerance: floatTolerance({}, "float32 addition, rounded once"),
});

const ZERO = Tensor.zeros("float32", []);

export const NORMALIZE: MapFunction = {
  name: "FusedBatchNorm",
  wgsl: `fn f(x: f32, scale: f32, offset: f32, mean: f32, variance: f32) -> f32 {
  return (x - mean) / sqrt(variance + u.epsilon) * scale + offset;
}`,
  uniforms: [{ name: "epsilon", type: "f32" }],
};

/**
 * Outputs 1-4 forward `mean` and `variance` (the op's inference-mode definition); the scalar
 * reserve_space_3 is a zero uploaded once per device.
 */
export const fusedBatchNormKernel = defineGpuKernel(FusedBatchNormV3, {
  dtypes: FLOATS,
  modes: ["training"],
  differs: [zeroVariance()],
  create(construction) {
    if (construction.attrs.is_training) return batchNormTrainingInstance(construction);
    const { inputs, outputs, attrs, device } = construction;
    const x = inputs[0];
    const nchw = attrs.data_format === "NCHW";
    const c = outputs[1].shape?.[0] ?? -1;
    const vShape = nchw ? [c, 1, 1] : [c];
    // Only 4-D inputs run (the op's inference refuses others): no prediction for other ranks.
    const map = new NodeMap(
      NORMALIZE,
      [x.shape, ...inputs.slice(1).map(() => vShape)],
      x.shape?.length === 4 ? x.shape : null,
      inputs.map((o) => staticBinding(device, o)),
      staticBinding(device, outputs[0]),
      [attrs.epsilon],
    );
    return {
      programs: map.programs,
      run(ctx) {
        const [x, scale, offset, mean, variance] = ctx.inputs;
        const vectors = [scale, offset, mean, variance].map((v) =>
          channelView(ctx.device, v, 4, nchw)
        );
        const y = ctx.output(0);
        ctx.setOutput(1, mean);
        ctx.setOutput(2, variance);
        ctx.setOutput(3, mean);
        ctx.setOutput(4, variance);
        ctx.setOutput(5, ctx.device.constant(ZERO));
        return ctx.device.encode(ctx.node, [map.dispatch(ctx.device, [x, ...vectors], y)]);
      },
    };
  },
  tolerance: (c) => c.attrs.is_training ? batchNormTrainingTolerance(c) : inferenceTolerance(c),
});

const inferenceRounding = floatTolerance(
  { ulps: 8, atol: 1e-6 },
  "float32 arithmetic and WGSL's sqrt and division (a few ULPs)",
);
/** A few ULPs, and an overflowed output where a float32 partial passes float32's range. */
const inferenceTolerance = (c: KernelCase<FusedBatchNormV3Attrs>): Tolerance =>
  admittingOverflow(inferenceRounding(c), batchNormInferencePartial(c.inputs, c.attrs));

export const CHANNEL_KERNELS = [biasAddKernel, fusedBatchNormKernel, fusedBatchNormGradKernel];
