/**
 * Conv2D and DepthwiseConv2dNative on the matrix units, placed by core's convGeometry.
 *
 * Conv2D is a matmul of the window patches [batch·oh·ow, kh·kw·in] (gathered on chip, as the
 * compiler's convolution emitter does, so HBM sees the input once) by the filter [kh·kw·in,
 * out]: the reduction index is (fh, fw, ic) in the filter's own order.
 *
 * A depthwise convolution maps onto the MXU as a block-diagonal matmul: channels go in groups
 * of G = min(in, C / multiplier) so a group's G·multiplier outputs fill the array's C columns,
 * and the reduction index of tap t and channel c is t·G + (c mod G), so K-tiles of R rows split
 * the taps as the hardware would. Only the diagonal is nonzero, and adding an exact zero never
 * changes a float32 sum, so the kernel sums the real products in that order and starts a new
 * tile partial wherever t·G + (c mod G) crosses a multiple of R: the same bits as the block
 * matmul (tests check this) without multiplying by the zeros on the host.
 */
import { byteSize } from "../../../core/dtype.ts";
import { Conv2D, DepthwiseConv2dNative, skipsPaddedTaps } from "../../../core/ops/conv.ts";
import { convGeometry, type WindowGeometry } from "../../../core/ops/conv_geometry.ts";
import type { TensorSpec } from "../../../core/op.ts";
import { ShapeMemo } from "../../../core/shape_memo.ts";
import type { TpuDevice } from "../device.ts";
import type { TpuBuffer } from "../hbm.ts";
import { mxuMatmul } from "../mxu.ts";
import { loadF32, roundToBf16, storeF32 } from "../numerics.ts";
import type { Work } from "../timing.ts";
import { maxAbs, mxuBf16Overflow, mxuTolerance } from "../tolerance.ts";
import { input, output, TPU_FLOATS, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;

/** The window patches as rows: [batch·oh·ow, kh·kw·in], zeros where a tap is in the padding. */
export function im2col(g: WindowGeometry, xs: Float32Array): Float32Array {
  const K = g.filterHeight * g.filterWidth * g.inChannels;
  const out = new Float32Array(g.batch * g.outHeight * g.outWidth * K);
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
            const from = ((b * g.inHeight + ih) * g.inWidth + iw) * g.inChannels;
            const to = row + (fh * g.filterWidth + fw) * g.inChannels;
            out.set(xs.subarray(from, from + g.inChannels), to);
          }
        }
      }
    }
  }
  return out;
}

/** Channels per block-diagonal group of a depthwise convolution on C MXU columns. */
export function depthwiseGroup(inChannels: number, multiplier: number, cols: number): number {
  return Math.max(1, Math.min(inChannels, Math.floor(cols / multiplier)));
}

/** Work of a convolution: its matmuls, the VPU's conversions and accumulations, and HBM. */
function convWork(
  device: TpuDevice,
  g: WindowGeometry,
  depthwise: boolean,
  x: TpuBuffer,
  w: TpuBuffer,
  out: TpuBuffer,
): Work {
  const p = device.params, rows = g.batch * g.outHeight * g.outWidth;
  const taps = g.filterHeight * g.filterWidth, m = g.channelMultiplier;
  const G = depthwise ? depthwiseGroup(g.inChannels, m, p.mxuCols) : g.inChannels;
  const shape = depthwise
    ? { batch: Math.ceil(g.inChannels / G), m: rows, k: taps * G, n: G * m }
    : { batch: 1, m: rows, k: taps * g.inChannels, n: g.outChannels };
  const narrow = x.dtype === "float32" ? x.data.length + w.data.length : 0;
  const accumulate = out.data.length * Math.ceil(shape.k / p.mxuRows);
  return {
    matmuls: [shape],
    vpuOps: narrow + accumulate + (out.dtype === "bfloat16" ? out.data.length : 0),
    hbmBytes: x.bytes + w.bytes + out.bytes,
    flops: 2 * out.data.length * taps * (depthwise ? 1 : g.inChannels),
  };
}

/** Flops and bytes from (partial) specs, for the placer: `depthwise` sums kh·kw per output. */
function convCost([x, w]: readonly TensorSpec[], depthwise: boolean) {
  const dims = (s: TensorSpec) => (s.shape ?? [1, 1, 1, 1]).map((d) => Math.max(d, 1));
  const [[n, h, wd, c], [kh, kw, ic, last]] = [dims(x), dims(w)];
  const outSize = n * h * wd * (depthwise ? ic * last : last);
  const bytes = (n * h * wd * c + kh * kw * ic * last + outSize) * byteSize(x.dtype);
  return { flops: 2 * outSize * kh * kw * (depthwise ? 1 : ic), bytes };
}

export const conv2d = tpuKernel(Conv2D, {
  dtypes: TPU_FLOATS,
  create({ inputs: [xSpec, wSpec], attrs }) {
    // The window geometry by input and filter shapes, seeded from the static ones.
    const geometries = new ShapeMemo((xs, ws) => convGeometry("conv2d", xs, ws, attrs))
      .seed([xSpec.shape, wSpec.shape]);
    return {
      run(ctx) {
        const x = input(ctx, 0), w = input(ctx, 1);
        const g = geometries.get(x.shape, w.shape);
        const out = output(ctx, 0, g.outShape);
        const rows = g.batch * g.outHeight * g.outWidth;
        const K = g.filterHeight * g.filterWidth * g.inChannels;
        const patches = im2col(g, loadF32(x));
        roundToBf16(patches, patches);
        const filter = roundToBf16(loadF32(w));
        const R = ctx.device.params.mxuRows;
        storeF32(out, mxuMatmul(patches, filter, rows, K, g.outChannels, R));
        ctx.device.charge(ctx, convWork(ctx.device, g, false, x, w, out));
      },
    };
  },
  cost: (inputs) => convCost(inputs, false),
  differs: [mxuBf16Overflow()],
  tolerance: ({ inputs: [x, w], attrs }) => {
    const K = w.shape[0] * w.shape[1] * w.shape[2];
    return mxuTolerance(attrs.T, K, K + 1, maxAbs(x), maxAbs(w));
  },
});

export const depthwise = tpuKernel(DepthwiseConv2dNative, {
  dtypes: TPU_FLOATS,
  create({ inputs: [xSpec, wSpec], attrs }) {
    const geometries = new ShapeMemo((xs, ws) => convGeometry("depthwise", xs, ws, attrs))
      .seed([xSpec.shape, wSpec.shape]);
    return {
      run(ctx) {
        const x = input(ctx, 0), w = input(ctx, 1);
        const g = geometries.get(x.shape, w.shape);
        const out = output(ctx, 0, g.outShape);
        const p = ctx.device.params;
        const G = depthwiseGroup(g.inChannels, g.channelMultiplier, p.mxuCols);
        const xs = roundToBf16(loadF32(x)), ws = roundToBf16(loadF32(w));
        storeF32(out, depthwiseSums(g, xs, ws, G, p.mxuRows));
        ctx.device.charge(ctx, convWork(ctx.device, g, true, x, w, out));
      },
    };
  },
  cost: (inputs) => convCost(inputs, true),
  // Each output sums kh·kw products; a product passes at most kh·kw additions in its tile and
  // at most kh·kw + 1 tile additions.
  differs: [mxuBf16Overflow(), skipsPaddedTaps("TPU")],
  tolerance: ({ inputs: [x, w], attrs }) => {
    const taps = w.shape[0] * w.shape[1];
    return mxuTolerance(attrs.T, taps, 2 * taps + 1, maxAbs(x), maxAbs(w));
  },
});

/** The depthwise sums in the block-diagonal MXU order (see the file comment). */
export function depthwiseSums(
  g: WindowGeometry,
  xs: Float32Array,
  ws: Float32Array,
  G: number,
  R: number,
): Float32Array {
  const M = g.channelMultiplier, C = g.inChannels;
  const out = new Float32Array(g.outShape.reduce((a, b) => a * b, 1));
  let o = 0;
  for (let b = 0; b < g.batch; b++) {
    for (let oh = 0; oh < g.outHeight; oh++) {
      for (let ow = 0; ow < g.outWidth; ow++) {
        for (let c = 0; c < C; c++) {
          for (let j = 0; j < M; j++, o++) {
            let acc = 0, part = 0, tile = Math.floor((c % G) / R);
            for (let fh = 0, t = 0; fh < g.filterHeight; fh++) {
              const ih = oh * g.strideHeight - g.padTop + fh * g.dilationHeight;
              for (let fw = 0; fw < g.filterWidth; fw++, t++) {
                const k = Math.floor((t * G + (c % G)) / R);
                if (k !== tile) (acc = f(acc + part)), (part = 0), (tile = k);
                const iw = ow * g.strideWidth - g.padLeft + fw * g.dilationWidth;
                if (ih < 0 || ih >= g.inHeight || iw < 0 || iw >= g.inWidth) continue;
                const v = xs[((b * g.inHeight + ih) * g.inWidth + iw) * C + c];
                part = f(part + f(v * ws[(t * C + c) * M + j]));
              }
            }
            out[o] = f(acc + part);
          }
        }
      }
    }
  }
  return out;
}

export const CONV_KERNELS: readonly TpuKernel[] = [conv2d, depthwise];
