/**
 * MatMul and BatchMatMulV2 on the matrix units: operands rounded to bfloat16, products summed in
 * float32 in the MXU's tile order (mxu.ts), the result rounded to the output dtype. Timing: the
 * MXU tile model, the VPU's conversions and tile accumulations, and the blocked HBM traffic,
 * overlapped (timing.ts).
 */
import { byteSize, type DType } from "../../../core/dtype.ts";
import type { Cost, KernelConstruction } from "../../../core/kernel.ts";
import type { TensorSpec } from "../../../core/op.ts";
import { broadcastIndex } from "../../../core/ops/elementwise.ts";
import { BatchMatMulV2, MatMul } from "../../../core/ops/matmul.ts";
import { type Shape, sizeOf } from "../../../core/shape.ts";
import { ShapeMemo } from "../../../core/shape_memo.ts";
import type { TpuDevice } from "../device.ts";
import type { TpuBuffer } from "../hbm.ts";
import { mxuMatmul } from "../mxu.ts";
import { loadF32, mxuOperand, storeF32 } from "../numerics.ts";
import { matmulHbmBytes, type Work } from "../timing.ts";
import { matmulTolerance, mxuBf16Overflow } from "../tolerance.ts";
import { input, output, TPU_FLOATS, type TpuKernel, tpuKernel } from "./util.ts";

/** The MXU work of `batch` products [m, k] @ [k, n] reading `ins` and writing `out`. */
export function mxuWork(
  device: TpuDevice,
  batch: number,
  m: number,
  k: number,
  n: number,
  inDType: DType,
  out: TpuBuffer,
): Work {
  const p = device.params;
  const shape = { batch, m, k, n };
  const inBytes = byteSize(inDType);
  // VPU: float32 operands narrowed to bfloat16, tile partial sums added into the accumulators,
  // and bfloat16 outputs narrowed; all overlap the MXU.
  const narrow = inDType === "float32" ? batch * (m * k + k * n) : 0;
  const accumulate = batch * m * n * Math.ceil(k / p.mxuRows);
  const pack = out.dtype === "bfloat16" ? out.data.length : 0;
  return {
    matmuls: [shape],
    vpuOps: narrow + accumulate + pack,
    hbmBytes: matmulHbmBytes(p, shape, inBytes, byteSize(out.dtype)),
    flops: 2 * batch * m * k * n,
  };
}

/** Flops and bytes of a matmul from (partial) specs, for the placer's cost model. */
function matmulCost(inputs: readonly TensorSpec[], m: number, k: number, n: number): Cost {
  const size = (s: TensorSpec) => (s.shape ?? []).reduce((x, d) => x * Math.max(d, 1), 1);
  const bytes = inputs.reduce((x, s) => x + size(s) * byteSize(s.dtype), 0);
  const batch = Math.max(1, size(inputs[0]) / Math.max(1, m * k));
  return { flops: 2 * batch * m * k * n, bytes: bytes + batch * m * n * byteSize(inputs[0].dtype) };
}

/** Rows and columns of the last two dims, after an optional transpose. */
function matrixDims(shape: Shape, transpose: boolean): [number, number] {
  const r = shape[shape.length - 2], c = shape[shape.length - 1];
  return transpose ? [c, r] : [r, c];
}

/** The sizes and batch broadcast of x @ y for one triple of shapes (x, y, output). */
interface MatmulPlan {
  m: number;
  k: number;
  n: number;
  /** Per output batch entry, the batch entry of x and of y it reads. */
  ix: ArrayLike<number>;
  iy: ArrayLike<number>;
  batch: number;
}

/** A node's matmul plans by shapes, seeded from its static shapes when the plan is built. */
function matmulPlans(c: KernelConstruction, tx: boolean, ty: boolean): ShapeMemo<MatmulPlan> {
  return new ShapeMemo((xs, ys, outs): MatmulPlan => {
    const [m, k] = matrixDims(xs, tx);
    const n = matrixDims(ys, ty)[1];
    const batch = outs.slice(0, -2);
    const ix = broadcastIndex(xs.slice(0, -2), batch), iy = broadcastIndex(ys.slice(0, -2), batch);
    return { m, k, n, ix, iy, batch: sizeOf(batch) };
  }).seed([c.inputs[0].shape, c.inputs[1].shape, c.outputs[0].shape]);
}

/** Runs x @ y over broadcast batch dims on the MXUs and stores the result in `out`. */
function batchedMatmul(
  device: TpuDevice,
  plans: ShapeMemo<MatmulPlan>,
  x: TpuBuffer,
  y: TpuBuffer,
  tx: boolean,
  ty: boolean,
  out: TpuBuffer,
): Work {
  const { m, k, n, ix, iy, batch } = plans.get(x.shape, y.shape, out.shape);
  const xs = loadF32(x), ys = loadF32(y);
  const result = new Float32Array(out.data.length);
  for (let b = 0; b < ix.length; b++) {
    const a = mxuOperand(xs, ix[b] * m * k, m, k, tx);
    const w = mxuOperand(ys, iy[b] * k * n, k, n, ty);
    result.set(mxuMatmul(a, w, m, k, n, device.params.mxuRows), b * m * n);
  }
  storeF32(out, result);
  return mxuWork(device, batch, m, k, n, x.dtype, out);
}

export const matMul = tpuKernel(MatMul, {
  dtypes: TPU_FLOATS,
  create(c) {
    const { transpose_a: ta, transpose_b: tb } = c.attrs;
    const plans = matmulPlans(c, ta, tb);
    return {
      run(ctx) {
        const out = output(ctx, 0);
        const work = batchedMatmul(ctx.device, plans, input(ctx, 0), input(ctx, 1), ta, tb, out);
        ctx.device.charge(ctx, work);
      },
    };
  },
  cost: ([a, b], { transpose_a, transpose_b }) => {
    const [m, k] = matrixDims((a.shape ?? [1, 1]).map((d) => Math.max(d, 1)), transpose_a);
    const n = matrixDims((b.shape ?? [1, 1]).map((d) => Math.max(d, 1)), transpose_b)[1];
    return matmulCost([a, b], m, k, n);
  },
  differs: [mxuBf16Overflow()],
  tolerance: ({ inputs: [a, b], attrs }) =>
    matmulTolerance(attrs.T, matrixDims(a.shape, attrs.transpose_a)[1], a, b),
});

const batchMatMul = tpuKernel(BatchMatMulV2, {
  dtypes: TPU_FLOATS,
  create(c) {
    const { adj_x, adj_y } = c.attrs;
    const plans = matmulPlans(c, adj_x, adj_y);
    return {
      run(ctx) {
        const out = output(ctx, 0);
        const x = input(ctx, 0), y = input(ctx, 1);
        const work = batchedMatmul(ctx.device, plans, x, y, adj_x, adj_y, out);
        ctx.device.charge(ctx, work);
      },
    };
  },
  cost: ([x, y], { adj_x, adj_y }) => {
    const known = (s: TensorSpec) => (s.shape ?? [1, 1]).map((d) => Math.max(d, 1));
    const [m, k] = matrixDims(known(x), adj_x);
    return matmulCost([x, y], m, k, matrixDims(known(y), adj_y)[1]);
  },
  differs: [mxuBf16Overflow()],
  tolerance: ({ inputs: [x, y], attrs }) =>
    matmulTolerance(attrs.T, matrixDims(x.shape, attrs.adj_x)[1], x, y),
});

export const MATMUL_KERNELS: readonly TpuKernel[] = [matMul, batchMatMul];
