/** DepthwiseConv2dNative, MaxPool and AvgPool on the window programs (window.ts). */
import type { Tolerance } from "../../core/kernel.ts";
import { DepthwiseConv2dNative } from "../../core/ops/conv.ts";
import { convGeometry, type WindowGeometry } from "../../core/ops/conv_geometry.ts";
import { AvgPool, MaxPool } from "../../core/ops/pool.ts";
import type { Node } from "../../core/graph.ts";
import { numbers } from "../../core/tensor.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import { ARITHMETIC, defineGpuKernel, FLOATS, staticBinding } from "../kernel.ts";
import { dotTolerance } from "../matmul/matmul.ts";
import { dotOverflow } from "../overflow.ts";
import { rowWidth, windowDispatch, type WindowOp, windowProgram, windowVec4 } from "./window.ts";

/** The program a node will use, from the static channel count. */
function predict(node: Node, device: WebGpuDevice, op: WindowOp, multiplier: number, fw: number) {
  const ins = node.inputs.map((o) => staticBinding(device, o));
  const out = staticBinding(device, node.outputs[0]);
  const channels = node.outputs[0].shape?.[3] ?? -1;
  const vec4 = channels > 0 && windowVec4(channels, multiplier, [...ins, out]);
  const attrs = node.attrs as { strides: number[]; dilations?: number[] };
  const row = fw > 0 ? rowWidth(attrs.strides[2], attrs.dilations?.[2] ?? 1, fw) : 0;
  return [windowProgram(op, ins, out, vec4, row)];
}

function run(
  device: WebGpuDevice,
  node: Node,
  op: WindowOp,
  g: WindowGeometry,
  ins: GpuBuffer[],
  out: GpuBuffer,
) {
  return device.encode(node, [windowDispatch(device, op, g, ins, out)]);
}

export const depthwiseKernel = defineGpuKernel(DepthwiseConv2dNative, {
  dtypes: FLOATS,
  run(ctx) {
    const [x, f] = ctx.inputs as GpuBuffer[];
    const g = convGeometry("depthwise", x.shape, f.shape, ctx.attrs);
    const out = ctx.output(0, g.outShape) as GpuBuffer;
    return run(ctx.device, ctx.node, "depthwise", g, [x, f], out);
  },
  programs: (node, device) => {
    const f = node.inputs[1].shape;
    return predict(node, device, "depthwise", f?.[3] ?? -1, f?.[1] ?? -1);
  },
  tolerance: (c): Tolerance => {
    const [x, f] = c.inputs;
    return dotTolerance(f.shape[0] * f.shape[1], numbers(x), numbers(f), x.dtype);
  },
  differs: [dotOverflow((c) => c.inputs[1].shape[0] * c.inputs[1].shape[1])],
});

export const maxPoolKernel = defineGpuKernel(MaxPool, {
  dtypes: ARITHMETIC,
  run(ctx) {
    const x = ctx.inputs[0] as GpuBuffer;
    const g = convGeometry("pool", x.shape, null, ctx.attrs);
    const out = ctx.output(0) as GpuBuffer;
    return run(ctx.device, ctx.node, "max", g, [x], out);
  },
  programs: (node, device) => predict(node, device, "max", 1, node.attrs.ksize[2]),
});

export const avgPoolKernel = defineGpuKernel(AvgPool, {
  dtypes: FLOATS,
  run(ctx) {
    const x = ctx.inputs[0] as GpuBuffer;
    const g = convGeometry("pool", x.shape, null, ctx.attrs);
    const out = ctx.output(0) as GpuBuffer;
    return run(ctx.device, ctx.node, "avg", g, [x], out);
  },
  programs: (node, device) => predict(node, device, "avg", 1, node.attrs.ksize[2]),
  tolerance: (c): Tolerance => {
    const [kh, kw] = c.attrs.ksize.slice(1, 3);
    const x = numbers(c.inputs[0]);
    return dotTolerance(kh * kw, x, [1], c.inputs[0].dtype);
  },
  differs: [dotOverflow((c) => c.attrs.ksize[1] * c.attrs.ksize[2], true)],
});

export const WINDOW_KERNELS = [depthwiseKernel, maxPoolKernel, avgPoolKernel];
