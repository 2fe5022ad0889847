/**
 * BiasAdd and FusedBatchNormV3 (inference) as elementwise maps: the per-channel vectors broadcast
 * along the channel dim, which is last for NHWC (the engine's cheap "tail" indexing) and dim 1
 * for NCHW (viewed as [C, 1, 1] so ordinary broadcasting applies, no copy).
 */
import { Tensor } from "../../core/tensor.ts";
import { BiasAdd, FusedBatchNormV3 } from "../../core/ops/nn.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import { ARITHMETIC, defineGpuKernel, FLOATS, floatTolerance, staticBinding } from "../kernel.ts";
import { computeType } from "../wgsl.ts";
import { mapDispatch, type MapFunction, predictMap } from "../elementwise/map.ts";

/** A channel vector viewed so it broadcasts along dim 1 of a rank-`rank` NCHW tensor. */
function channelView(device: WebGpuDevice, v: GpuBuffer, rank: number, nchw: boolean) {
  if (!nchw) return v;
  return device.alias(v, [v.shape[0], ...new Array(rank - 2).fill(1)]);
}

const biasFunction = (type: "f32" | "i32"): MapFunction => ({
  name: `BiasAdd.${type}`,
  wgsl: `fn f(x: ${type}, b: ${type}) -> ${type} { return x + b; }`,
});

export const biasAddKernel = defineGpuKernel(BiasAdd, {
  dtypes: ARITHMETIC,
  run(ctx) {
    const [x, b] = ctx.inputs;
    const out = ctx.output(0);
    const bias = channelView(ctx.device, b, x.shape.length, ctx.attrs.data_format === "NCHW");
    const d = mapDispatch(ctx.device, biasFunction(computeType(x.dtype)), [x, bias], out);
    return ctx.device.encode(ctx.node, [d]);
  },
  programs(node, device) {
    const [x, b] = node.inputs;
    if (x.shape === null) return [];
    const nchw = node.attrs.data_format === "NCHW";
    const bShape = nchw ? [b.shape?.[0] ?? -1, ...new Array(x.shape.length - 2).fill(1)] : b.shape;
    const p = predictMap(
      biasFunction(computeType(x.dtype)),
      [x.shape, bShape],
      x.shape,
      [staticBinding(device, x), staticBinding(device, b)],
      staticBinding(device, node.outputs[0]),
    );
    return p ? [p] : [];
  },
  tolerance: floatTolerance({}, "float32 addition, rounded once"),
});

const ZERO = Tensor.zeros("float32", []);

const NORMALIZE: MapFunction = {
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
  run(ctx) {
    const [x, scale, offset, mean, variance] = ctx.inputs;
    const nchw = ctx.attrs.data_format === "NCHW";
    const vectors = [scale, offset, mean, variance].map((v) => channelView(ctx.device, v, 4, nchw));
    const y = ctx.output(0);
    ctx.setOutput(1, mean);
    ctx.setOutput(2, variance);
    ctx.setOutput(3, mean);
    ctx.setOutput(4, variance);
    ctx.setOutput(5, ctx.device.constant(ZERO));
    const d = mapDispatch(ctx.device, NORMALIZE, [x, ...vectors], y, [ctx.attrs.epsilon]);
    return ctx.device.encode(ctx.node, [d]);
  },
  programs(node, device) {
    const [x, ...vectors] = node.inputs;
    if (x.shape === null || x.shape.length !== 4) return [];
    const c = node.outputs[1].shape?.[0] ?? -1;
    const vShape = node.attrs.data_format === "NCHW" ? [c, 1, 1] : [c];
    const p = predictMap(
      NORMALIZE,
      [x.shape, ...vectors.map(() => vShape)],
      x.shape,
      [x, ...vectors].map((o) => staticBinding(device, o)),
      staticBinding(device, node.outputs[0]),
    );
    return p ? [p] : [];
  },
  tolerance: floatTolerance(
    { ulps: 8, atol: 1e-6 },
    "float32 arithmetic and WGSL's sqrt and division (a few ULPs)",
  ),
});

export const CHANNEL_KERNELS = [biasAddKernel, fusedBatchNormKernel];
