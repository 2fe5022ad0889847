/**
 * The backward convolutions, placed by core's convGeometry as the forward ones are.
 *
 * Conv2D's two gradients are matmuls on the MXUs, from the same window patches [rows, K]
 * (rows = batch·oh·ow, K = kh·kw·in, gathered on chip as conv.ts does):
 * - the filter's: patchesᵀ [K, rows] @ out_backprop [rows, out], reduced over the rows;
 * - the input's: out_backprop [rows, out] @ filterᵀ [out, K] gives each patch's gradient, which
 *   the vector unit adds back onto the input pixels the patch read (col2im, float32 additions in
 *   window order).
 * Operands round to bfloat16 as every MXU operand does; accumulation is float32.
 *
 * The depthwise gradients correlate one channel at a time: with a single input channel per
 * output there is no matmul to fill the array, so they run on the vector unit in float32
 * (products and sums in window order).
 */
import {
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
} from "../../../core/ops/grad_conv.ts";
import { admittingOverflow, type Tolerance } from "../../../core/kernel.ts";
import {
  convGeometry,
  type WindowGeometry,
  type WindowKind,
} from "../../../core/ops/conv_geometry.ts";
import type { DType } from "../../../core/dtype.ts";
import type { Attrs } from "../../../core/op.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { constIntList, ShapeMemo } from "../../../core/shape_memo.ts";
import { intList } from "../../../core/tensor.ts";
import { mxuMatmul } from "../mxu.ts";
import { loadF32, roundToBf16, storeF32 } from "../numerics.ts";
import { maxAbs, mxuBf16Overflow, mxuTolerance, withBf16 } from "../tolerance.ts";
import { im2col } from "./conv.ts";
import { input, output, TPU_FLOATS, type TpuContext, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
const U = 2 ** -24;

type ConvAttrs = Parameters<typeof convGeometry>[3];

/** Per-node geometry by (input shape, filter shape), seeded from static shapes and Const sizes. */
function geometries(
  kind: WindowKind,
  attrs: ConvAttrs,
  inputShape: readonly number[] | null | undefined,
  filterShape: readonly number[] | null | undefined,
): ShapeMemo<WindowGeometry> {
  return new ShapeMemo((xs, ws) => convGeometry(kind, xs, ws, attrs))
    .seed([inputShape ?? null, filterShape ?? null]);
}

/** The most windows one input pixel lies in: ceil(eff / stride) per axis. */
function overlaps(g: WindowGeometry): number {
  return Math.ceil(g.effectiveFilterHeight / g.strideHeight) *
    Math.ceil(g.effectiveFilterWidth / g.strideWidth);
}

/** Adds each patch row's gradient back onto the pixels its window read (col2im). */
function col2im(g: WindowGeometry, dpatches: Float32Array, dx: Float32Array): void {
  const K = g.filterHeight * g.filterWidth * g.inChannels, C = g.inChannels;
  let row = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, row += K) {
        for (let fh = 0; fh < g.filterHeight; fh++) {
          const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let fw = 0; fw < g.filterWidth; fw++) {
            const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
            if (iw < 0 || iw >= g.inWidth) continue;
            const to = ((b * g.inHeight + ih) * g.inWidth + iw) * C;
            const from = row + (fh * g.filterWidth + fw) * C;
            for (let c = 0; c < C; c++) dx[to + c] = f(dx[to + c] + dpatches[from + c]);
          }
        }
      }
    }
  }
}

/** [r, c] row-major into [c, r]. */
function transpose(a: Float32Array, r: number, c: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

const conv2dBackpropInput = tpuKernel(Conv2DBackpropInput, {
  dtypes: TPU_FLOATS,
  create({ inputs: [, wSpec], attrs, node }) {
    const memo = geometries("conv2d", attrs, constIntList(node, 0), wSpec.shape);
    return {
      run(ctx) {
        const w = input(ctx, 1), dy = input(ctx, 2);
        const g = memo.get(intList(ctx.hostInput(0)), w.shape);
        const out = output(ctx, 0, [g.batch, g.inHeight, g.inWidth, g.inChannels]);
        const rows = g.batch * g.outHeight * g.outWidth;
        const K = g.filterHeight * g.filterWidth * g.inChannels, N = g.outChannels;
        const dys = roundToBf16(loadF32(dy));
        const wT = roundToBf16(transpose(loadF32(w), K, N));
        const dpatches = mxuMatmul(dys, wT, rows, N, K, ctx.device.params.mxuRows);
        const dx = new Float32Array(out.data.length);
        col2im(g, dpatches, dx);
        storeF32(out, dx);
        const p = ctx.device.params;
        ctx.device.charge(ctx, {
          matmuls: [{ batch: 1, m: rows, k: N, n: K }],
          vpuOps: (dy.dtype === "float32" ? dy.data.length + w.data.length : 0) +
            rows * K * Math.ceil(N / p.mxuRows) + rows * K +
            (out.dtype === "bfloat16" ? out.data.length : 0),
          hbmBytes: w.bytes + dy.bytes + out.bytes,
          flops: 2 * rows * K * N,
        });
      },
    };
  },
  differs: [mxuBf16Overflow()],
  // Each input pixel sums ≤ overlaps·out products: ≤ out + 1 additions in the MXU, then ≤
  // overlaps in col2im.
  tolerance: ({ inputs: [sizes, w, dy], attrs }) => {
    const g = convGeometry("conv2d", [...intList(sizes)], w.shape, attrs);
    const n = overlaps(g);
    return mxuTolerance(attrs.T, n * g.outChannels, g.outChannels + 1 + n, maxAbs(dy), maxAbs(w));
  },
});

const conv2dBackpropFilter = tpuKernel(Conv2DBackpropFilter, {
  dtypes: TPU_FLOATS,
  create({ inputs: [xSpec], attrs, node }) {
    const memo = geometries("conv2d", attrs, xSpec.shape, constIntList(node, 1));
    return {
      run(ctx) {
        const x = input(ctx, 0), dy = input(ctx, 2);
        const g = memo.get(x.shape, intList(ctx.hostInput(1)));
        const out = output(ctx, 0, [g.filterHeight, g.filterWidth, g.inChannels, g.outChannels]);
        const rows = g.batch * g.outHeight * g.outWidth;
        const K = g.filterHeight * g.filterWidth * g.inChannels, N = g.outChannels;
        const patchesT = transpose(im2col(g, loadF32(x)), rows, K);
        roundToBf16(patchesT, patchesT);
        const dys = roundToBf16(loadF32(dy));
        storeF32(out, mxuMatmul(patchesT, dys, K, rows, N, ctx.device.params.mxuRows));
        const p = ctx.device.params;
        ctx.device.charge(ctx, {
          matmuls: [{ batch: 1, m: K, k: rows, n: N }],
          vpuOps: (x.dtype === "float32" ? x.data.length + dy.data.length : 0) +
            K * N * Math.ceil(rows / p.mxuRows) + (out.dtype === "bfloat16" ? out.data.length : 0),
          hbmBytes: x.bytes + dy.bytes + out.bytes,
          flops: 2 * rows * K * N,
        });
      },
    };
  },
  differs: [mxuBf16Overflow()],
  tolerance: ({ inputs: [x, sizes, dy], attrs }) => {
    const g = convGeometry("conv2d", x.shape, [...intList(sizes)], attrs);
    const rows = g.batch * g.outHeight * g.outWidth;
    return mxuTolerance(attrs.T, rows, rows + 1, maxAbs(x), maxAbs(dy));
  },
});

/**
 * A float32 sum of ≤ n products on the vector unit: within γ_n·n·max|a|·max|b| of the exact
 * sum, plus the reference's rounding (2u relative); bfloat16 outputs add their own rounding.
 */
function vpuSumTolerance(dtype: DType, n: number, a: Tensor, b: Tensor): Tolerance {
  const S = n * maxAbs(a) * maxAbs(b);
  const gamma = ((n + 1) * U) / (1 - (n + 1) * U);
  // Products of subnormals: each product and sum may round by 2^-150 absolutely.
  const atol = gamma * S + 2 * (n + 1) * 2 ** -150;
  const reason = "float32 products and sums on the vector unit (grad_conv.ts derives it)";
  return admittingOverflow(withBf16(dtype, { atol, rtol: 2 * U, reason }), S);
}

/** dx[b, ih, iw, c] = Σ over windows and multipliers of dy · filter, in window order. */
function depthwiseInput(g: WindowGeometry, ws: Float32Array, ds: Float32Array): Float32Array {
  const C = g.inChannels, M = g.channelMultiplier;
  const dx = new Float32Array(g.batch * g.inHeight * g.inWidth * C);
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, o += C * M) {
        for (let fh = 0; fh < g.filterHeight; fh++) {
          const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let fw = 0; fw < g.filterWidth; fw++) {
            const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
            if (iw < 0 || iw >= g.inWidth) continue;
            const x = ((b * g.inHeight + ih) * g.inWidth + iw) * C;
            const t = (fh * g.filterWidth + fw) * C;
            for (let c = 0; c < C; c++) {
              let acc = 0;
              for (let m = 0; m < M; m++) acc = f(acc + f(ds[o + c * M + m] * ws[(t + c) * M + m]));
              dx[x + c] = f(dx[x + c] + acc);
            }
          }
        }
      }
    }
  }
  return dx;
}

/** df[fh, fw, c, m] = Σ over windows of input · dy, in window order. */
function depthwiseFilter(g: WindowGeometry, xs: Float32Array, ds: Float32Array): Float32Array {
  const C = g.inChannels, M = g.channelMultiplier;
  const df = new Float32Array(g.filterHeight * g.filterWidth * C * M);
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++, o += C * M) {
        for (let fh = 0; fh < g.filterHeight; fh++) {
          const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
          if (ih < 0 || ih >= g.inHeight) continue;
          for (let fw = 0; fw < g.filterWidth; fw++) {
            const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
            if (iw < 0 || iw >= g.inWidth) continue;
            const x = ((b * g.inHeight + ih) * g.inWidth + iw) * C;
            const t = (fh * g.filterWidth + fw) * C;
            for (let c = 0; c < C; c++) {
              const v = xs[x + c];
              for (let m = 0; m < M; m++) {
                const k = (t + c) * M + m;
                df[k] = f(df[k] + f(v * ds[o + c * M + m]));
              }
            }
          }
        }
      }
    }
  }
  return df;
}

function chargeDepthwise<A extends Attrs>(
  ctx: TpuContext<A>,
  g: WindowGeometry,
  bytes: number,
): void {
  const n = g.batch * g.outHeight * g.outWidth * g.inChannels * g.channelMultiplier *
    g.filterHeight * g.filterWidth;
  ctx.device.charge(ctx, { vpuOps: 2 * n, hbmBytes: bytes, flops: 2 * n });
}

const depthwiseBackpropInput = tpuKernel(DepthwiseConv2dNativeBackpropInput, {
  dtypes: TPU_FLOATS,
  create({ inputs: [, wSpec], attrs, node }) {
    const memo = geometries("depthwise", attrs, constIntList(node, 0), wSpec.shape);
    return {
      run(ctx) {
        const w = input(ctx, 1), dy = input(ctx, 2);
        const g = memo.get(intList(ctx.hostInput(0)), w.shape);
        const out = output(ctx, 0, [g.batch, g.inHeight, g.inWidth, g.inChannels]);
        storeF32(out, depthwiseInput(g, loadF32(w), loadF32(dy)));
        chargeDepthwise(ctx, g, w.bytes + dy.bytes + out.bytes);
      },
    };
  },
  tolerance: ({ inputs: [sizes, w, dy], attrs }) => {
    const g = convGeometry("depthwise", [...intList(sizes)], w.shape, attrs);
    return vpuSumTolerance(attrs.T, overlaps(g) * g.channelMultiplier, dy, w);
  },
});

const depthwiseBackpropFilter = tpuKernel(DepthwiseConv2dNativeBackpropFilter, {
  dtypes: TPU_FLOATS,
  create({ inputs: [xSpec], attrs, node }) {
    const memo = geometries("depthwise", attrs, xSpec.shape, constIntList(node, 1));
    return {
      run(ctx) {
        const x = input(ctx, 0), dy = input(ctx, 2);
        const g = memo.get(x.shape, intList(ctx.hostInput(1)));
        const out = output(ctx, 0, [
          g.filterHeight,
          g.filterWidth,
          g.inChannels,
          g.channelMultiplier,
        ]);
        storeF32(out, depthwiseFilter(g, loadF32(x), loadF32(dy)));
        chargeDepthwise(ctx, g, x.bytes + dy.bytes + out.bytes);
      },
    };
  },
  tolerance: ({ inputs: [x, sizes, dy], attrs }) => {
    const g = convGeometry("depthwise", x.shape, [...intList(sizes)], attrs);
    return vpuSumTolerance(attrs.T, g.batch * g.outHeight * g.outWidth, x, dy);
  },
});

export const GRAD_CONV_KERNELS: readonly TpuKernel[] = [
  conv2dBackpropInput,
  conv2dBackpropFilter,
  depthwiseBackpropInput,
  depthwiseBackpropFilter,
];
