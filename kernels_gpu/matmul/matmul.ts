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
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program } from "../../devices/webgpu/program.ts";
import { ARITHMETIC, bindingOf, defineGpuKernel, staticBinding, widenFor16 } from "../kernel.ts";
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

/** The dispatch of x @ y over broadcast batches into `out`. */
function matmulDispatch(
  device: WebGpuDevice,
  x: GpuBuffer,
  y: GpuBuffer,
  out: GpuBuffer,
  ta: boolean,
  tb: boolean,
): Dispatch {
  const rx = x.shape.length;
  const m = out.shape[out.shape.length - 2], n = out.shape[out.shape.length - 1];
  const k = ta ? x.shape[rx - 2] : x.shape[rx - 1];
  const batch = out.shape.slice(0, -2);
  const f = { ta, tb, batchRank: batch.length, n };
  return {
    program: matmulProgram(device, f, bindingOf(x), bindingOf(y), bindingOf(out)),
    inputs: [x, y],
    outputs: [out],
    uniforms: [
      m,
      n,
      k,
      ...batch,
      ...broadcastStrides(x.shape.slice(0, -2), batch),
      ...broadcastStrides(y.shape.slice(0, -2), batch),
    ],
    workgroups: gemmGrid(gemmStrategy(device), m, n, sizeOf(batch)),
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
  run(ctx) {
    const [a, b] = ctx.inputs as GpuBuffer[];
    const out = ctx.output(0) as GpuBuffer;
    const { transpose_a: ta, transpose_b: tb } = ctx.attrs;
    return ctx.device.encode(ctx.node, [matmulDispatch(ctx.device, a, b, out, ta, tb)]);
  },
  programs(node, device) {
    const [a, b] = node.inputs;
    const { transpose_a: ta, transpose_b: tb } = node.attrs;
    const f = { ta, tb, batchRank: 0, n: staticColumns(b.shape, tb) };
    const out = staticBinding(device, node.outputs[0]);
    return [matmulProgram(device, f, staticBinding(device, a), staticBinding(device, b), out)];
  },
  tolerance: matmulTolerance("transpose_a"),
  differs: [dotOverflow(innerDim("transpose_a"))],
});

export const batchMatMulKernel = defineGpuKernel(BatchMatMulV2, {
  dtypes: ARITHMETIC,
  run(ctx) {
    const [x, y] = ctx.inputs as GpuBuffer[];
    const out = ctx.output(0) as GpuBuffer;
    const { adj_x, adj_y } = ctx.attrs;
    return ctx.device.encode(ctx.node, [matmulDispatch(ctx.device, x, y, out, adj_x, adj_y)]);
  },
  programs(node, device) {
    const [x, y] = node.inputs;
    if (x.shape === null || y.shape === null) return [];
    const batch = broadcastShapes(x.shape.slice(0, -2), y.shape.slice(0, -2)) as Shape;
    const { adj_x: ta, adj_y: tb } = node.attrs;
    const f = { ta, tb, batchRank: batch.length, n: staticColumns(y.shape, tb) };
    const out = staticBinding(device, node.outputs[0]);
    return [matmulProgram(device, f, staticBinding(device, x), staticBinding(device, y), out)];
  },
  tolerance: matmulTolerance("adj_x"),
  differs: [dotOverflow(innerDim("adj_x"))],
});

export const MATMUL_KERNELS = [matMulKernel, batchMatMulKernel];
