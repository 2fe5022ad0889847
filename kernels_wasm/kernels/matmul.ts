/**
 * MatMul and BatchMatMulV2. float32 runs the packed GEMM (gemm.ts); the integer types run a
 * plain loop (task_imatmul), since nothing hot multiplies integer matrices. Transposes are
 * strides, never copies; broadcast batch dims become per-matrix index tables.
 */
import type { DType } from "../../core/dtype.ts";
import type {
  Kernel,
  KernelCase,
  KernelConstruction,
  KernelInstance,
  Tolerance,
} from "../../core/kernel.ts";
import type { Attrs } from "../../core/op.ts";
import { broadcastIndex } from "../../core/ops/elementwise.ts";
import { BatchMatMulV2, MatMul } from "../../core/ops/matmul.ts";
import { type Shape, sizeOf } from "../../core/shape.ts";
import { ShapeMemo } from "../../core/shape_memo.ts";
import type { WasmBuffer } from "../../devices/wasm/buffer.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";
import { sgemm } from "./gemm.ts";
import { dotTolerance, maxAbs, wasmKernel } from "./util.ts";

/**
 * What a product derives from its operands' shapes and transposes (sizes, strides, broadcast
 * batch tables): made once per node and shapes, so a run adds only the pointers.
 */
function geometry(xs: Shape, ys: Shape, os: Shape, tx: boolean, ty: boolean) {
  const xr = xs[xs.length - 2], xc = xs[xs.length - 1];
  const yr = ys[ys.length - 2], yc = ys[ys.length - 1];
  const [m, k] = tx ? [xc, xr] : [xr, xc];
  const n = ty ? yr : yc;
  const batchShape = os.slice(0, -2);
  const batch = sizeOf(batchShape);
  const needTables = xs.length > 2 || ys.length > 2;
  return {
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
}

type Geometry = ReturnType<typeof geometry>;

/** Runs x @ y into out over broadcast batch dims (rank-2 operands are one batch). */
function multiply(
  d: WasmDevice,
  x: WasmBuffer,
  y: WasmBuffer,
  out: WasmBuffer,
  g: Geometry,
): void {
  const { m, n, k, batch } = g;
  const needTables = g.aIndex !== undefined;
  const p = { ...g, a: x.ptr, b: y.ptr, c: out.ptr };
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

/** A product's instance: the geometry by shapes, seeded from the static ones. */
function productInstance<A extends Attrs>(
  c: KernelConstruction<A, WasmDevice>,
  tx: boolean,
  ty: boolean,
): KernelInstance<A, WasmDevice> {
  const [x, y] = c.inputs;
  const geometries = new ShapeMemo((xs, ys, os) => geometry(xs, ys, os, tx, ty))
    .seed([x.shape, y.shape, c.outputs[0].shape]);
  return {
    run(ctx) {
      const [x, y] = ctx.inputs;
      const out = ctx.output(0);
      multiply(ctx.device, x, y, out, geometries.get(x.shape, y.shape, out.shape));
    },
  };
}

export const matMulKernel = wasmKernel(MatMul, {
  dtypes: ["float32", "int32", "int64"],
  create: (c) => productInstance(c, c.attrs.transpose_a, c.attrs.transpose_b),
  tolerance: (c) => productTolerance(c, innerDim(c.inputs[0].shape, c.attrs.transpose_a)),
});

export const batchMatMulKernel = wasmKernel(BatchMatMulV2, {
  dtypes: ["float32", "int32", "int64"],
  create: (c) => productInstance(c, c.attrs.adj_x, c.attrs.adj_y),
  tolerance: (c) => productTolerance(c, innerDim(c.inputs[0].shape, c.attrs.adj_x)),
});

export const MATMUL_KERNELS: readonly Kernel[] = [matMulKernel, batchMatMulKernel];
