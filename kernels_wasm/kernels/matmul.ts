/**
 * MatMul and BatchMatMulV2. float32 runs the packed GEMM (gemm.ts); the integer types run a
 * plain loop (task_imatmul), since nothing hot multiplies integer matrices. Transposes are
 * strides, never copies; broadcast batch dims become per-matrix index tables.
 */
import type { DeviceBuffer } from "../../core/device.ts";
import type { DType } from "../../core/dtype.ts";
import type { Kernel, KernelCase, Tolerance } from "../../core/kernel.ts";
import { broadcastIndex } from "../../core/ops/elementwise.ts";
import { BatchMatMulV2, MatMul } from "../../core/ops/matmul.ts";
import { sizeOf } from "../../core/shape.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";
import { sgemm } from "./gemm.ts";
import { dotTolerance, maxAbs, wasmBuffer, wasmKernel } from "./util.ts";

interface Product {
  x: DeviceBuffer;
  y: DeviceBuffer;
  out: DeviceBuffer;
  tx: boolean;
  ty: boolean;
}

/** Runs x @ y into out over broadcast batch dims (rank-2 operands are one batch). */
function multiply(d: WasmDevice, { x, y, out, tx, ty }: Product): void {
  const xs = x.shape, ys = y.shape, os = out.shape;
  const xr = xs[xs.length - 2], xc = xs[xs.length - 1];
  const yr = ys[ys.length - 2], yc = ys[ys.length - 1];
  const [m, k] = tx ? [xc, xr] : [xr, xc];
  const n = ty ? yr : yc;
  const batchShape = os.slice(0, -2);
  const batch = sizeOf(batchShape);
  const needTables = xs.length > 2 || ys.length > 2;
  const p = {
    a: wasmBuffer(x).ptr,
    b: wasmBuffer(y).ptr,
    c: wasmBuffer(out).ptr,
    m,
    n,
    k,
    rsa: tx ? 1 : k,
    csa: tx ? m : 1,
    rsb: ty ? 1 : n,
    csb: ty ? k : 1,
    batch,
    aIndex: needTables ? broadcastIndex(xs.slice(0, -2), batchShape) : undefined,
    bIndex: needTables ? broadcastIndex(ys.slice(0, -2), batchShape) : undefined,
    nb: sizeOf(ys.slice(0, -2)),
    aStride: m * k,
    bStride: k * n,
  };
  if (x.dtype === "float32") {
    sgemm(d, p);
    return;
  }
  const words = [
    p.a,
    p.b,
    p.c,
    m,
    n,
    k,
    p.rsa,
    p.csa,
    p.rsb,
    p.csb,
    p.aStride,
    p.bStride,
  ];
  const task = x.dtype === "int64" ? Task.task_imatmul_i64 : Task.task_imatmul_i32;
  const tables = needTables ? d.scratch(batch * 8) : undefined;
  try {
    let ai = 0, bi = 0;
    if (tables) {
      ai = tables.ptr;
      bi = tables.ptr + batch * 4;
      d.i32.set(p.aIndex!, ai >>> 2);
      d.i32.set(p.bIndex!, bi >>> 2);
    }
    d.launch(task, batch * m, [...words, ai, bi], m * n * k * batch);
  } finally {
    if (tables) d.releaseScratch(tables);
  }
}

const REASON =
  "float32 sums of products in blocks of 256, with relaxed multiply-add (fused or not)";

function productTolerance(c: KernelCase<{ T: DType }>, k: number): Tolerance {
  if (c.attrs.T !== "float32") return { reason: "exact integer products" };
  return dotTolerance(k, maxAbs(c.inputs[0]), maxAbs(c.inputs[1]), REASON);
}

/** The inner dimension of a case. */
function innerDim(x: readonly number[], transposed: boolean): number {
  return transposed ? x[x.length - 2] : x[x.length - 1];
}

export const matMulKernel = wasmKernel(MatMul, {
  dtypes: ["float32", "int32", "int64"],
  run(ctx) {
    const [x, y] = ctx.inputs;
    const out = ctx.output(0);
    multiply(ctx.device, { x, y, out, tx: ctx.attrs.transpose_a, ty: ctx.attrs.transpose_b });
  },
  tolerance: (c) => productTolerance(c, innerDim(c.inputs[0].shape, c.attrs.transpose_a)),
});

export const batchMatMulKernel = wasmKernel(BatchMatMulV2, {
  dtypes: ["float32", "int32", "int64"],
  run(ctx) {
    const [x, y] = ctx.inputs;
    const out = ctx.output(0);
    multiply(ctx.device, { x, y, out, tx: ctx.attrs.adj_x, ty: ctx.attrs.adj_y });
  },
  tolerance: (c) => productTolerance(c, innerDim(c.inputs[0].shape, c.attrs.adj_x)),
});

export const MATMUL_KERNELS: readonly Kernel[] = [matMulKernel, batchMatMulKernel];
