/**
 * Conv2DBackpropInput/Filter, the depthwise pair, MaxPoolGrad and AvgPoolGrad on WebGPU: one
 * program per node (window_programs.ts), geometry as uniforms from a ShapeMemo seeded with the
 * static shapes and Const sizes, so a static plan's runs derive nothing.
 *
 * Tolerance (u = 2^-24): each output is a float32 sum of ≤ n products (or shares), within
 * γ_n·n·max|a|·max|b| of the exact sum; the reference rounds its float64 sum once (2u relative);
 * 16-bit outputs round once more (widenFor16). Sums past float32's range overflow as TensorFlow's
 * float32 kernels do (admittingOverflow).
 */
import { admittingOverflow, type Tolerance } from "../../core/kernel.ts";
import type { DType } from "../../core/dtype.ts";
import {
  convGeometry,
  type WindowGeometry,
  type WindowKind,
} from "../../core/ops/conv_geometry.ts";
import {
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
} from "../../core/ops/grad_conv.ts";
import { AvgPoolGrad, MaxPoolGrad } from "../../core/ops/grad_nn.ts";
import type { OpDef } from "../../core/op.ts";
import { constIntList, ShapeMemo } from "../../core/shape_memo.ts";
import { intList, type Tensor } from "../../core/tensor.ts";
import type { GpuKernel } from "../../devices/webgpu/device.ts";
import { defineGpuKernel, FLOATS, NodePrograms, staticBinding, widenFor16 } from "../kernel.ts";
import { linearGrid } from "../wgsl.ts";
import { maxAbsOf } from "./util.ts";
import {
  gradVec4,
  WG,
  type WindowGradKind,
  windowGradProgram,
  windowUniforms,
} from "./window_programs.ts";

const U = 2 ** -24;

type ConvAttrs = Parameters<typeof convGeometry>[3];
type GradAttrs = ConvAttrs & { T: DType };

/** Float32 sums of ≤ n terms, each ≤ m in magnitude. */
export function sumTolerance(dtype: DType, n: number, m: number, why: string): Tolerance {
  // n + 4: the vec4 programs add four partial sums at the end.
  const gamma = ((n + 4) * U) / (1 - (n + 4) * U);
  const atol = gamma * n * m + (n + 1) * 2 ** -149;
  return admittingOverflow(widenFor16(dtype, { atol, rtol: 2 * U, reason: why }), n * m);
}

/** The most windows one input pixel lies in. */
function overlaps(g: WindowGeometry): number {
  return Math.ceil(g.effectiveFilterHeight / g.strideHeight) *
    Math.ceil(g.effectiveFilterWidth / g.strideWidth);
}

interface WindowGradSpec {
  op: OpDef;
  kind: WindowGradKind;
  geometry: WindowKind;
  /** Which input holds the int32 sizes (host memory), or -1. */
  sizesAt: number;
  /** Inputs the program binds, in order. */
  bound: number[];
  /** The geometry's (input shape, filter shape) from the run's inputs or sizes. */
  shapes(inputs: readonly { shape: readonly number[] }[], sizes: number[]): [
    readonly number[],
    readonly number[] | null,
  ];
  /** The output's shape from the geometry. */
  outShape(g: WindowGeometry): number[];
  tolerance(c: { inputs: readonly Tensor[]; attrs: GradAttrs }): Tolerance;
}

const pixelShape = (g: WindowGeometry) => [g.batch, g.inHeight, g.inWidth, g.inChannels];
const sizesOf = (t: Tensor) => [...intList(t)];
const PRODUCTS = "float32 sums of products, one invocation per output (window_kernels.ts)";

function kernelFor(s: WindowGradSpec): GpuKernel {
  return defineGpuKernel(s.op, {
    dtypes: FLOATS,
    create({ inputs, outputs: [out], attrs, node, device }) {
      const depthwise = s.geometry === "depthwise";
      const ins = s.bound.map((i) => staticBinding(device, inputs[i]));
      const ob = staticBinding(device, out);
      const programs = new NodePrograms();
      const programFor = (vec4: boolean) =>
        programs.get(`${vec4}`, () => windowGradProgram(s.kind, depthwise, ins, ob, vec4));
      const statics = s.sizesAt >= 0 ? constIntList(node, s.sizesAt) ?? null : null;
      const memo = new ShapeMemo((a, b) => {
        const g = convGeometry(
          s.geometry,
          a,
          s.kind === "maxpool" || s.kind === "avgpool" ? null : b,
          attrs as ConvAttrs,
        );
        const shape = s.outShape(g);
        const vec4 = gradVec4(s.kind, depthwise, g.outChannels, [...ins, ob]);
        const size = shape.reduce((x, y) => x * y, 1);
        // The vec4 filter program runs one invocation per four outputs.
        const n = vec4 && s.kind === "filter" ? size / 4 : size;
        return { shape, uniforms: windowUniforms(g, n), vec4 };
      });
      // Seeded where the static shapes (and Const sizes) are fully known; the program they
      // predict is compiled when the plan is built.
      const seed = s.shapes(inputs.map((i) => ({ shape: i.shape ?? [-1] })), statics ?? [-1]);
      memo.seed([seed[0], seed[1] ?? []]);
      const known = [seed[0], seed[1] ?? []].every((d) => d.every((v) => v >= 0));
      programs.seed(
        "predicted",
        () => programFor(known ? memo.get(seed[0], seed[1] ?? []).vec4 : false),
      );
      return {
        programs: programs.programs,
        run(ctx) {
          const sizes = s.sizesAt >= 0 ? sizesOf(ctx.hostInput(s.sizesAt)) : [];
          const [a, b] = s.shapes(ctx.inputs.map((x) => x ?? { shape: [] }), sizes);
          const { shape, uniforms, vec4 } = memo.get(a, b ?? []);
          const o = ctx.output(0, shape);
          const n = uniforms[0];
          return ctx.device.encode(ctx.node, [{
            program: programFor(vec4),
            inputs: s.bound.map((i) => ctx.inputs[i]),
            outputs: [o],
            uniforms,
            workgroups: n === 0 ? [0] : linearGrid(n, WG, ctx.device.maxWorkgroups),
          }]);
        },
      };
    },
    tolerance: (c) => s.tolerance(c as unknown as { inputs: readonly Tensor[]; attrs: GradAttrs }),
  });
}

function backpropInput(op: OpDef, geometry: WindowKind): WindowGradSpec {
  return {
    op,
    kind: "input",
    geometry,
    sizesAt: 0,
    bound: [1, 2],
    shapes: (inputs, sizes) => [sizes, inputs[1].shape],
    outShape: pixelShape,
    tolerance: ({ inputs: [sizes, w, dy], attrs }) => {
      const g = convGeometry(geometry, sizesOf(sizes), w.shape, attrs);
      const perWindow = geometry === "depthwise" ? g.channelMultiplier : g.outChannels;
      const n = overlaps(g) * perWindow;
      return sumTolerance(attrs.T, n, maxAbsOf(dy) * maxAbsOf(w), PRODUCTS);
    },
  };
}

function backpropFilter(op: OpDef, geometry: WindowKind): WindowGradSpec {
  return {
    op,
    kind: "filter",
    geometry,
    sizesAt: 1,
    bound: [0, 2],
    shapes: (inputs, sizes) => [inputs[0].shape, sizes],
    outShape: (g) => [
      g.filterHeight,
      g.filterWidth,
      g.inChannels,
      geometry === "depthwise" ? g.channelMultiplier : g.outChannels,
    ],
    tolerance: ({ inputs: [x, sizes, dy], attrs }) => {
      const g = convGeometry(geometry, x.shape, sizesOf(sizes), attrs);
      const n = g.batch * g.outHeight * g.outWidth;
      return sumTolerance(attrs.T, n, maxAbsOf(x) * maxAbsOf(dy), PRODUCTS);
    },
  };
}

export const WINDOW_GRAD_KERNELS: readonly GpuKernel[] = [
  kernelFor(backpropInput(Conv2DBackpropInput as unknown as OpDef, "conv2d")),
  kernelFor(backpropFilter(Conv2DBackpropFilter as unknown as OpDef, "conv2d")),
  kernelFor(backpropInput(DepthwiseConv2dNativeBackpropInput as unknown as OpDef, "depthwise")),
  kernelFor(backpropFilter(DepthwiseConv2dNativeBackpropFilter as unknown as OpDef, "depthwise")),
  kernelFor({
    op: MaxPoolGrad as unknown as OpDef,
    kind: "maxpool",
    geometry: "pool",
    sizesAt: -1,
    bound: [0, 1, 2],
    shapes: (inputs) => [inputs[0].shape, null],
    outShape: pixelShape,
    tolerance: ({ inputs: [x, , grad], attrs }) => {
      const g = convGeometry("pool", x.shape, null, attrs);
      return sumTolerance(attrs.T, overlaps(g), maxAbsOf(grad), PRODUCTS);
    },
  }),
  kernelFor({
    op: AvgPoolGrad as unknown as OpDef,
    kind: "avgpool",
    geometry: "pool",
    sizesAt: 0,
    bound: [1],
    shapes: (_, sizes) => [sizes, null],
    outShape: pixelShape,
    // Each share is a WGSL division (2.5 ULP) before the sums.
    tolerance: ({ inputs: [sizes, grad], attrs }) => {
      const g = convGeometry("pool", sizesOf(sizes), null, attrs);
      return sumTolerance(attrs.T, overlaps(g) + 3, maxAbsOf(grad), PRODUCTS);
    },
  }),
];
