/**
 * MatMul and BatchMatMulV2 on the shared GEMM (gemm.ts). Transposes are loaders reading the
 * other way; BatchMatMulV2's batch dims broadcast through per-dimension strides counted in
 * matrices (0 along a stretched dim), with the batch rank unrolled (part of the key).
 */
import type { DType } from "../../core/dtype.ts";
import type { KernelCase, Tolerance } from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { BatchMatMulV2, MatMul } from "../../core/ops/matmul.ts";
import { broadcastShapes, type Shape, sizeOf } from "../../core/shape.ts";
import { numbers } from "../../core/tensor.ts";
import type { GpuInstance, WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import {
  ARITHMETIC,
  defineGpuKernel,
  type GpuConstruction,
  NodePrograms,
  staticBinding,
  widenFor16,
} from "../kernel.ts";
import { broadcastStrides } from "../elementwise/map.ts";
import { dotOverflow } from "../overflow.ts";
import { type Binding, computeType, dimFields, load } from "../wgsl.ts";
import { gemmGrid, gemmProgram, gemmStrategy, vec4Rows } from "./gemm.ts";

interface MatMulForm {
  ta: boolean;
  tb: boolean;
  /** Rank of the (broadcast) batch dims; 0 for MatMul. */
  batchRank: number;
  /** Columns of the product; -1 when unknown before the run. */
  n: number;
}

function matmulProgram(
  device: WebGpuDevice,
  f: MatMulForm,
  a: Binding,
  b: Binding,
  out: Binding,
): Program {
  const type = computeType(out.dtype);
  const rb = f.batchRank;
  return gemmProgram(gemmStrategy(device), {
    name: rb === 0 ? "MatMul" : "BatchMatMul",
    key: [f.ta, f.tb, rb],
    inputs: [a, b],
    out,
    type,
    uniforms: [...dimFields("bd", rb), ...dimFields("sa", rb), ...dimFields("sb", rb)],
    loaders: loaders(f, a, b, type),
    bRows4: !f.tb && f.n > 0 && f.n % 4 === 0,
    cRows4: vec4Rows(out, f.n),
    n: f.n,
  });
}

function loaders(f: MatMulForm, a: Binding, b: Binding, type: "f32" | "i32"): string {
  const base = (name: string, strides: string, size: string) => {
    if (f.batchRank === 0) return `fn ${name}(batch: u32) -> u32 { return 0u; }`;
    const lines = [`fn ${name}(batch: u32) -> u32 {`, "  var rest = batch;", "  var o = 0u;"];
    for (let d = f.batchRank - 1; d >= 0; d--) {
      lines.push(`  o += (rest % u.bd${d}) * u.${strides}${d};`, `  rest = rest / u.bd${d};`);
    }
    lines.push(`  return o * ${size};`, "}");
    return lines.join("\n");
  };
  const zero = type === "f32" ? "0.0" : "0";
  return `
${base("baseA", "sa", "u.M * u.K")}
${base("baseB", "sb", "u.K * u.N")}
fn loadA(base: u32, m: u32, k: u32) -> ${type} {
  if (m >= u.M || k >= u.K) { return ${zero}; }
  return ${load("in0", `base + ${f.ta ? "k * u.M + m" : "m * u.K + k"}`, a)};
}
fn loadB(base: u32, k: u32, n: u32) -> ${type} {
  if (k >= u.K || n >= u.N) { return ${zero}; }
  return ${load("in1", `base + ${f.tb ? "n * u.K + k" : "k * u.N + n"}`, b)};
}
`;
}

/** What a product's dispatch derives from its shapes: program, uniforms and grid. */
interface MatMulLaunch {
  readonly program: Program;
  readonly uniforms: readonly number[];
  readonly workgroups: readonly [number, number?, number?];
}

/** The launch of x @ y over broadcast batches into an output of `outShape`. */
function matmulLaunch(
  device: WebGpuDevice,
  program: (batchRank: number, n: number) => Program,
  xShape: Shape,
  yShape: Shape,
  outShape: Shape,
  ta: boolean,
): MatMulLaunch {
  const rx = xShape.length;
  const m = outShape[outShape.length - 2], n = outShape[outShape.length - 1];
  const k = ta ? xShape[rx - 2] : xShape[rx - 1];
  const batch = outShape.slice(0, -2);
  return {
    program: program(batch.length, n),
    uniforms: [
      m,
      n,
      k,
      ...batch,
      ...broadcastStrides(xShape.slice(0, -2), batch),
      ...broadcastStrides(yShape.slice(0, -2), batch),
    ],
    workgroups: gemmGrid(gemmStrategy(device), m, n, sizeOf(batch)),
  };
}

/**
 * A product's instance: programs by batch rank and column count, and the launch by shapes,
 * derived once (seeded from static shapes where they are known).
 */
function matmulInstance(c: GpuConstruction, ta: boolean, tb: boolean): GpuInstance {
  const [x, y] = c.inputs, o = c.outputs[0];
  const bindings = [x, y, o].map((s) => staticBinding(c.device, s));
  const programs = new NodePrograms();
  const make = (batchRank: number, n: number) => () =>
    matmulProgram(c.device, { ta, tb, batchRank, n }, bindings[0], bindings[1], bindings[2]);
  const program = (batchRank: number, n: number) =>
    programs.get(`${batchRank},${n}`, make(batchRank, n));
  if (x.shape !== null && y.shape !== null) {
    const batch = broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2));
    const n = staticColumns(y.shape, tb);
    if (batch !== null) programs.seed(`${batch.length},${n}`, make(batch.length, n));
  }
  const launches = new ShapeMemo((xs, ys, os) => matmulLaunch(c.device, program, xs, ys, os, ta))
    .seed([x.shape, y.shape, o.shape]);
  return {
    programs: programs.programs,
    run(ctx) {
      const [x, y] = ctx.inputs;
      const out = ctx.output(0);
      const l = launches.get(x.shape, y.shape, out.shape);
      return ctx.device.encode(ctx.node, [{ ...l, inputs: [x, y], outputs: [out] }]);
    },
  };
}

/**
 * A sum of k products in float32 is within about k·2^-24·sum|a·b| of the float64 sum, plus the
 * final rounding; bounded here by the inputs' largest magnitudes.
 */
export function dotTolerance(
  k: number,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dtype: DType,
): Tolerance {
  // Finite values only: a NaN or ±Inf term makes its output NaN or ±Inf, compared exactly, and
  // must not turn every other output's bound into NaN.
  const maxAbs = (v: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < v.length; i++) {
      const a = Math.abs(v[i]);
      if (a > m && a !== Infinity) m = a;
    }
    return m;
  };
  return widenFor16(dtype, {
    atol: (k + 2) * 2 ** -23 * maxAbs(a) * maxAbs(b),
    ulps: 2,
    reason: "float32 accumulation in another order than the float64 reference",
  });
}

/** The length of a product's dot products. */
function innerDim(transposeAttr: string) {
  return (c: KernelCase<Attrs>): number => {
    const x = c.inputs[0];
    return c.attrs[transposeAttr] ? x.shape[x.rank - 2] : x.shape[x.rank - 1];
  };
}

function matmulTolerance(transposeAttr: string) {
  return (c: KernelCase<Attrs>): Tolerance => {
    const [x, y] = c.inputs;
    return dotTolerance(innerDim(transposeAttr)(c), numbers(x), numbers(y), x.dtype);
  };
}

/** Static columns of a product (for `programs`), -1 when unknown. */
function staticColumns(shape: readonly number[] | null, tb: boolean): number {
  if (shape === null) return -1;
  return shape[shape.length - (tb ? 2 : 1)];
}

export const matMulKernel = defineGpuKernel(MatMul, {
  dtypes: ARITHMETIC,
  create: (c) => matmulInstance(c, c.attrs.transpose_a, c.attrs.transpose_b),
  tolerance: matmulTolerance("transpose_a"),
  differs: [dotOverflow(innerDim("transpose_a"))],
});

export const batchMatMulKernel = defineGpuKernel(BatchMatMulV2, {
  dtypes: ARITHMETIC,
  create: (c) => matmulInstance(c, c.attrs.adj_x, c.attrs.adj_y),
  tolerance: matmulTolerance("adj_x"),
  differs: [dotOverflow(innerDim("adj_x"))],
});

export const MATMUL_KERNELS = [matMulKernel, batchMatMulKernel];
