/**
 * Conv2D (NHWC) as an implicit GEMM on the shared GEMM (matmul/gemm.ts): C[m, n] with
 * m = (batch, oh, ow) the output pixels, n the output channel and k = (fh, fw, ic) the taps.
 * A's loader gathers the input pixel a tap reads (im2col on the fly, zero in the padding);
 * B is the HWIO filter, already a row-major [K, N] matrix. The geometry comes from convGeometry
 * and reaches the shader as uniforms.
 */
import type { Tolerance } from "../../core/kernel.ts";
import { Conv2D, type Conv2DAttrs, skipsPaddedTaps } from "../../core/ops/conv.ts";
import { convGeometry, type WindowGeometry } from "../../core/ops/conv_geometry.ts";
import { numbers } from "../../core/tensor.ts";
import type { GpuInstance } from "../../devices/webgpu/device.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import {
  defineGpuKernel,
  FLOATS,
  type GpuConstruction,
  NodePrograms,
  staticBinding,
} from "../kernel.ts";
import { dotTolerance } from "../matmul/matmul.ts";
import { dotOverflow } from "../overflow.ts";
import { gemmGrid, gemmProgram, gemmStrategy, vec4Rows } from "../matmul/gemm.ts";
import { type Binding, load } from "../wgsl.ts";
import { type ConvPanel, convPanelFor, convPanelGrid, panelConvProgram } from "./conv_panel.ts";
import { type Epilogue, perChannel } from "../nn/epilogue.ts";

const GEOMETRY = ["OH", "OW", "H", "W", "C", "FW", "sh", "sw", "dh", "dw"];

export const CONV_UNIFORMS = [
  ...GEOMETRY.map((name) => ({ name, type: "u32" as const })),
  { name: "padTop", type: "i32" as const },
  { name: "padLeft", type: "i32" as const },
];

/** The tiled GEMM's Conv2D (GPUs): im2col in the A loader. */
function tiledConvProgram(x: Binding, f: Binding, out: Binding, n: number) {
  const bRows4 = n > 0 && n % 4 === 0;
  return gemmProgram("tiled", {
    name: "Conv2D",
    key: [],
    inputs: [x, f],
    out,
    type: "f32",
    uniforms: CONV_UNIFORMS,
    loaders: `
fn baseA(batch: u32) -> u32 { return 0u; }
fn loadA(base: u32, m: u32, k: u32) -> f32 {
  if (m >= u.M || k >= u.K) { return 0.0; }
  let ow = m % u.OW;
  let rest = m / u.OW;
  let oh = rest % u.OH;
  let b = rest / u.OH;
  let c = k % u.C;
  let tap = k / u.C;
  let ih = i32(oh * u.sh + (tap / u.FW) * u.dh) - u.padTop;
  let iw = i32(ow * u.sw + (tap % u.FW) * u.dw) - u.padLeft;
  if (ih < 0 || iw < 0 || ih >= i32(u.H) || iw >= i32(u.W)) { return 0.0; }
  return ${load("in0", "((b * u.H + u32(ih)) * u.W + u32(iw)) * u.C + c", x)};
}
fn baseB(batch: u32) -> u32 { return 0u; }
fn loadB(base: u32, k: u32, n: u32) -> f32 {
  if (k >= u.K || n >= u.N) { return 0.0; }
  return ${load("in1", "k * u.N + n", f)};
}
`,
    bRows4,
    cRows4: vec4Rows(out, n),
    n,
  }) as Program;
}

function geometryUniforms(g: WindowGeometry): number[] {
  return [
    g.outHeight,
    g.outWidth,
    g.inHeight,
    g.inWidth,
    g.inChannels,
    g.filterWidth,
    g.strideHeight,
    g.strideWidth,
    g.dilationHeight,
    g.dilationWidth,
    g.padTop,
    g.padLeft,
  ];
}

/**
 * A Conv2D node's instance. With an `epilogue` (a fused op's, on CPU adapters only: see
 * fusedConv2dInstance) the panel program applies it in its stores and reads its vectors, the
 * inputs after x and the filter.
 */
function convInstance(
  { inputs, outputs: [os], attrs, device }: GpuConstruction<Conv2DAttrs>,
  epilogue?: Epilogue,
): GpuInstance {
  const [xs, fs] = inputs;
  const [x, f, o] = [xs, fs, os].map((s) => staticBinding(device, s));
  const panel = gemmStrategy(device) === "panel";
  const make = (n: number, p: ConvPanel) => () =>
    panel
      ? panelConvProgram(
        CONV_UNIFORMS,
        x,
        f,
        o,
        n > 0 && n % 4 === 0,
        vec4Rows(o, n),
        p,
        epilogue,
      )
      : tiledConvProgram(x, f, o, n);
  // Programs by column count and panel shape (the panel's only on CPU adapters).
  const programs = new NodePrograms();
  let seeding = true;
  const program = (m: number, n: number) => {
    const p = convPanelFor(m, n);
    const key = panel ? `${n > 0 && n % 4 === 0},${p.rm}x${p.q}` : `${n}`;
    // While the memo is seeded from static shapes, the program joins `programs`.
    if (seeding) programs.seed(key, make(n, p));
    return programs.get(key, make(n, p));
  };
  // The geometry, program, uniforms and grid by input shapes (seeded where static).
  const launches = new ShapeMemo((xShape, fShape) => {
    const g = convGeometry("conv2d", xShape, fShape, attrs);
    const m = g.batch * g.outHeight * g.outWidth, n = g.outChannels;
    const k = g.filterHeight * g.filterWidth * g.inChannels;
    return {
      outShape: g.outShape,
      program: program(m, n),
      uniforms: [m, n, k, ...geometryUniforms(g), ...(epilogue?.uniforms ?? [])],
      workgroups: panel ? convPanelGrid(m, n, convPanelFor(m, n)) : gemmGrid("tiled", m, n, 1),
    };
  }).seed([xs.shape, fs.shape]);
  // Where the input's shape is not static, a guess from the filter's (compiled with the plan).
  if (programs.programs.length === 0) program(-1, fs.shape?.[3] ?? -1);
  seeding = false;
  return {
    programs: programs.programs,
    run(ctx) {
      // (Inside nn/fused.ts's fallback, ctx.inputs also holds the args its map reads.)
      const inputs = ctx.inputs.slice(0, 2 + (epilogue?.vectors ?? 0));
      const { outShape, ...launch } = launches.get(inputs[0].shape, inputs[1].shape);
      const out = ctx.output(0, outShape);
      return ctx.device.encode(ctx.node, [{ ...launch, inputs, outputs: [out] }]);
    },
  };
}

/**
 * _FusedConv2D in one program where the panel strategy runs it and the epilogue fits
 * (nn/epilogue.ts's `perChannel`); undefined otherwise (nn/fused.ts then maps over a temporary).
 */
export function fusedConv2dInstance(
  c: GpuConstruction<Conv2DAttrs>,
  epilogue: Epilogue,
): GpuInstance | undefined {
  if (gemmStrategy(c.device) !== "panel") return undefined;
  if (!perChannel(c.outputs[0], c.inputs.slice(2))) return undefined;
  if (c.inputs.slice(0, 2).some((s) => s.dtype !== "float32")) return undefined;
  return convInstance(c, epilogue);
}

export const conv2dKernel = defineGpuKernel(Conv2D, {
  dtypes: FLOATS,
  create: (c) => convInstance(c),
  cost([x, f], attrs) {
    const g = convGeometry("conv2d", x.shape, f.shape, attrs);
    const dims = (ds: readonly number[]) => ds.reduce((a, d) => a * Math.max(d, 1), 1);
    const out = dims(g.outShape);
    const taps = dims([g.filterHeight, g.filterWidth, g.inChannels]);
    return { flops: 2 * out * taps, bytes: 4 * (dims(x.shape ?? []) + dims(f.shape ?? []) + out) };
  },
  tolerance: (c): Tolerance => {
    const [x, f] = c.inputs;
    return dotTolerance(f.shape[0] * f.shape[1] * f.shape[2], numbers(x), numbers(f), x.dtype);
  },
  differs: [
    dotOverflow((c) => c.inputs[1].shape[0] * c.inputs[1].shape[1] * c.inputs[1].shape[2]),
    skipsPaddedTaps("WEBGPU"),
  ],
});
