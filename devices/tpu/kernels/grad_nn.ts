/**
 * BiasAddGrad, MaxPoolGrad, AvgPoolGrad and UnsortedSegmentSum on the vector unit. Floats
 * accumulate in float32 in the reference's visiting order; int32 sums wrap as the hardware's.
 *
 * Tolerance (u = 2^-24): a float32 sum of ≤ n terms, each |t| ≤ m, is within γ_n·n·m of the
 * exact sum; the reference rounds its float64 sum once (2u relative); bfloat16 outputs add their
 * own rounding (tolerance.ts `withBf16`). Sums past float32's range overflow, as TensorFlow's
 * float32 kernels do (admittingOverflow).
 */
import type { DType } from "../../../core/dtype.ts";
import { admittingOverflow, type Tolerance } from "../../../core/kernel.ts";
import { convGeometry, type WindowGeometry } from "../../../core/ops/conv_geometry.ts";
import { UnsortedSegmentSum } from "../../../core/ops/grad_array.ts";
import { AvgPoolGrad, BiasAddGrad, MaxPoolGrad } from "../../../core/ops/grad_nn.ts";
import { forEachWindow } from "../../../core/ops/pool.ts";
import { sizeOf } from "../../../core/shape.ts";
import { constIntList, ShapeMemo } from "../../../core/shape_memo.ts";
import { intScalar } from "../../../core/ops/array_util.ts";
import { intList } from "../../../core/tensor.ts";
import { maxAbs, withBf16 } from "../tolerance.ts";
import { finish, operand, target } from "./engine.ts";
import { input, output, TPU_FLOATS, TPU_REALS, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

/** The tolerance of float32 sums of ≤ n terms of magnitude ≤ m. */
export function sumTolerance(dtype: DType, n: number, m: number, why: string): Tolerance {
  if (dtype === "int32") return { reason: "exact: int32 sums wrap as the reference's do" };
  const gamma = (n * U) / (1 - n * U);
  const atol = gamma * n * m + n * 2 ** -150;
  return admittingOverflow(withBf16(dtype, { atol, rtol: 2 * U, reason: why }), n * m);
}

/** Adds `v` to element i of a float32 or int32 accumulator, rounding as the dtype's ALU does. */
function adder(dtype: DType): (acc: number, v: number) => number {
  return dtype === "int32" ? (a, v) => (a + v) | 0 : (a, v) => f(a + v);
}

const biasAddGrad = tpuKernel(BiasAddGrad, {
  dtypes: TPU_REALS,
  run(ctx) {
    const dy = input(ctx, 0);
    const axis = ctx.attrs.data_format === "NCHW" ? 1 : dy.shape.length - 1;
    const C = dy.shape[axis], inner = sizeOf(dy.shape.slice(axis + 1));
    const out = output(ctx, 0, [C]);
    const ds = operand(dy), ys = target(out), add = adder(dy.dtype);
    for (let c = 0; c < C; c++) ys[c] = 0;
    for (let i = 0; i < ds.length; i++) {
      const c = Math.floor(i / inner) % C;
      ys[c] = add(ys[c], ds[i]);
    }
    finish(out, ys);
    ctx.device.charge(ctx, {
      vpuOps: ds.length,
      hbmBytes: dy.bytes + out.bytes,
      flops: ds.length,
    });
  },
  tolerance: ({ inputs: [dy], attrs }) => {
    const axis = attrs.data_format === "NCHW" ? 1 : dy.rank - 1;
    const n = dy.size / Math.max(1, dy.shape[axis]);
    return sumTolerance(attrs.T, n, maxAbs(dy), "float32 sums in element order");
  },
});

/** The most windows one input pixel lies in. */
function overlaps(g: WindowGeometry): number {
  return Math.ceil(g.filterHeight / g.strideHeight) * Math.ceil(g.filterWidth / g.strideWidth);
}

const maxPoolGrad = tpuKernel(MaxPoolGrad, {
  dtypes: TPU_FLOATS,
  create({ inputs: [xSpec], attrs }) {
    const memo = new ShapeMemo((xs) => convGeometry("pool", xs, null, attrs)).seed([xSpec.shape]);
    return {
      run(ctx) {
        const x = input(ctx, 0), y = input(ctx, 1), grad = input(ctx, 2);
        const g = memo.get(x.shape);
        const out = output(ctx, 0, x.shape);
        const xs = operand(x), gs = operand(grad), dx = target(out);
        for (let i = 0; i < dx.length; i++) dx[i] = 0;
        // The first maximum of each window in row-major order, as the reference and
        // TensorFlow's CPU kernel pick it (NaN never compares greater).
        forEachWindow(g, (o, taps) => {
          let best = -1;
          for (const i of taps) if (best < 0 || xs[i] > xs[best]) best = i;
          if (best >= 0) dx[best] = f(dx[best] + gs[o]);
        });
        finish(out, dx);
        const windows = grad.data.length, taps = g.filterHeight * g.filterWidth;
        ctx.device.charge(ctx, {
          vpuOps: windows * (taps + 1),
          hbmBytes: x.bytes + y.bytes + grad.bytes + out.bytes,
          flops: windows,
        });
      },
    };
  },
  tolerance: ({ inputs: [x, , grad], attrs }) => {
    const g = convGeometry("pool", x.shape, null, attrs);
    return sumTolerance(attrs.T, overlaps(g), maxAbs(grad), "float32 sums of overlapping windows");
  },
});

const avgPoolGrad = tpuKernel(AvgPoolGrad, {
  dtypes: TPU_FLOATS,
  create({ attrs, node }) {
    const memo = new ShapeMemo((xs) => convGeometry("pool", xs, null, attrs))
      .seed([constIntList(node, 0) ?? null]);
    return {
      run(ctx) {
        const grad = input(ctx, 1);
        const shape = intList(ctx.hostInput(0));
        const g = memo.get(shape);
        const out = output(ctx, 0, shape);
        const gs = operand(grad), dx = target(out);
        for (let i = 0; i < dx.length; i++) dx[i] = 0;
        forEachWindow(g, (o, taps) => {
          const share = f(gs[o] / taps.length);
          for (const i of taps) dx[i] = f(dx[i] + share);
        });
        finish(out, dx);
        const windows = grad.data.length, taps = g.filterHeight * g.filterWidth;
        ctx.device.charge(ctx, {
          vpuOps: windows * taps,
          eupOps: windows,
          hbmBytes: grad.bytes + out.bytes,
          flops: windows * (taps + 1),
        });
      },
    };
  },
  // One division per window (u relative) before the sums.
  tolerance: ({ inputs: [sizes, grad], attrs }) => {
    const g = convGeometry("pool", [...intList(sizes)], null, attrs);
    const n = overlaps(g) + 1;
    return sumTolerance(attrs.T, n, maxAbs(grad), "a float32 share per window, then float32 sums");
  },
});

const unsortedSegmentSum = tpuKernel(UnsortedSegmentSum, {
  dtypes: TPU_REALS,
  run(ctx) {
    const data = input(ctx, 0), ids = input(ctx, 1);
    const count = intScalar(ctx.hostInput(2), "num_segments");
    const shape = [count, ...data.shape.slice(ids.shape.length)];
    const out = output(ctx, 0, shape);
    const inner = sizeOf(data.shape.slice(ids.shape.length));
    const ds = operand(data), ys = target(out), add = adder(data.dtype);
    for (let i = 0; i < ys.length; i++) ys[i] = 0;
    const is = ids.data, n = ids.data.length;
    // Ids were checked against num_segments before the kernel (the op's checks); negative ones
    // are dropped.
    for (let j = 0; j < n; j++) {
      const id = Number(is[j]);
      if (id < 0) continue;
      for (let k = 0; k < inner; k++) {
        ys[id * inner + k] = add(ys[id * inner + k], ds[j * inner + k]);
      }
    }
    finish(out, ys);
    ctx.device.charge(ctx, {
      vpuOps: data.data.length,
      hbmBytes: data.bytes + ids.bytes + out.bytes,
      flops: data.data.length,
    });
  },
  tolerance: ({ inputs: [data, ids], attrs }) =>
    sumTolerance(attrs.T, Math.max(1, ids.size), maxAbs(data), "float32 sums in id order"),
});

export const GRAD_NN_KERNELS: readonly TpuKernel[] = [
  biasAddGrad,
  maxPoolGrad,
  avgPoolGrad,
  unsortedSegmentSum,
];
