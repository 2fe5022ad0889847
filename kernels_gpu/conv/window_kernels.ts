/** DepthwiseConv2dNative, MaxPool and AvgPool on the window programs (window.ts). */
import type { Tolerance } from "../../core/kernel.ts";
import { DepthwiseConv2dNative, skipsPaddedTaps } from "../../core/ops/conv.ts";
import { convGeometry } from "../../core/ops/conv_geometry.ts";
import { AvgPool, MaxPool } from "../../core/ops/pool.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import { numbers } from "../../core/tensor.ts";
import type { GpuInstance } from "../../devices/webgpu/device.ts";
import {
  ARITHMETIC,
  defineGpuKernel,
  FLOATS,
  type GpuConstruction,
  NodePrograms,
  staticBinding,
} from "../kernel.ts";
import { dotTolerance } from "../matmul/matmul.ts";
import { dotOverflow } from "../overflow.ts";
import {
  rowShape,
  windowDispatch,
  windowKey,
  type WindowOp,
  windowProgram,
  windowVec4,
} from "./window.ts";
import { type Epilogue, perChannel } from "../nn/epilogue.ts";

/**
 * A window kernel's instance: the program predicted from the static channel count (compiled with
 * the plan), programs by layout and the geometry by input shapes, each derived once.
 */
function windowInstance(
  c: GpuConstruction,
  op: WindowOp,
  kind: "depthwise" | "pool",
  multiplier: number,
  fw: number,
  epilogue?: Epilogue,
): GpuInstance {
  const ins = c.inputs.map((o) => staticBinding(c.device, o));
  // The window's own inputs, then the epilogue's vectors (in nn/fused.ts's fallback, ctx.inputs
  // also holds the args its map reads).
  const count = (kind === "pool" ? 1 : 2) + (epilogue?.vectors ?? 0);
  const out = staticBinding(c.device, c.outputs[0]);
  const channels = c.outputs[0].shape?.[3] ?? -1;
  const vec4 = channels > 0 && windowVec4(channels, multiplier, [...ins, out]);
  const attrs = c.attrs as { strides: number[]; dilations?: number[] };
  const row = fw > 0 ? rowShape(attrs.strides[2], attrs.dilations?.[2] ?? 1, fw) : undefined;
  const programs = new NodePrograms().seed(
    windowKey(vec4, row),
    () => windowProgram(op, ins.slice(0, count), out, vec4, row, epilogue),
  );
  const geometries = new ShapeMemo((x, f) => convGeometry(kind, x, f ?? null, c.attrs))
    .seed(c.inputs.slice(0, kind === "pool" ? 1 : 2).map((s) => s.shape));
  return {
    programs: programs.programs,
    run(ctx) {
      const inputs = ctx.inputs.slice(0, count);
      const g = geometries.get(...inputs.slice(0, kind === "pool" ? 1 : 2).map((b) => b.shape));
      const out = ctx.output(0, g.outShape);
      const d = windowDispatch(ctx.device, op, g, inputs, out, programs, epilogue);
      return ctx.device.encode(ctx.node, [d]);
    },
  };
}

export const depthwiseKernel = defineGpuKernel(DepthwiseConv2dNative, {
  dtypes: FLOATS,
  create(c) {
    const f = c.inputs[1].shape;
    return windowInstance(c, "depthwise", "depthwise", f?.[3] ?? -1, f?.[1] ?? -1);
  },
  tolerance: (c): Tolerance => {
    const [x, f] = c.inputs;
    return dotTolerance(f.shape[0] * f.shape[1], numbers(x), numbers(f), x.dtype);
  },
  differs: [
    dotOverflow((c) => c.inputs[1].shape[0] * c.inputs[1].shape[1]),
    skipsPaddedTaps("WEBGPU"),
  ],
});

/**
 * FusedDepthwiseConv2dNative in one program where the epilogue fits (nn/epilogue.ts's
 * `perChannel`); undefined otherwise (nn/fused.ts then maps over a temporary).
 */
export function fusedDepthwiseInstance(
  c: GpuConstruction,
  epilogue: Epilogue,
): GpuInstance | undefined {
  if (!perChannel(c.outputs[0], c.inputs.slice(2))) return undefined;
  if (c.inputs.slice(0, 2).some((s) => s.dtype !== "float32")) return undefined;
  const f = c.inputs[1].shape;
  return windowInstance(c, "depthwise", "depthwise", f?.[3] ?? -1, f?.[1] ?? -1, epilogue);
}

export const maxPoolKernel = defineGpuKernel(MaxPool, {
  dtypes: ARITHMETIC,
  create: (c) => windowInstance(c, "max", "pool", 1, c.attrs.ksize[2]),
});

export const avgPoolKernel = defineGpuKernel(AvgPool, {
  dtypes: FLOATS,
  create: (c) => windowInstance(c, "avg", "pool", 1, c.attrs.ksize[2]),
  tolerance: (c): Tolerance => {
    const [kh, kw] = c.attrs.ksize.slice(1, 3);
    const x = numbers(c.inputs[0]);
    return dotTolerance(kh * kw, x, [1], c.inputs[0].dtype);
  },
  differs: [dotOverflow((c) => c.attrs.ksize[1] * c.attrs.ksize[2], true)],
});

export const WINDOW_KERNELS = [depthwiseKernel, maxPoolKernel, avgPoolKernel];
