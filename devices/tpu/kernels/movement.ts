/**
 * Data movement by strided DMA: Transpose, Slice, StridedSlice, Pad and Tile. Each resolves its
 * arguments with the op's own plan (core/ops: transpose, slice_spec, pad_tile), turns it into
 * the source index of every output element, and copies storage unread, so every dtype moves
 * bit for bit. Timing: the bytes read and written in HBM. Moves that keep the data's order
 * (an identity transpose or strided slice) are views.
 */
import type { Attrs } from "../../../core/op.ts";
import { type FlatIndex, stridedIndex } from "../../../core/ops/array_util.ts";
import { Pad, resolvePad, Tile, tileIndex, tileShape } from "../../../core/ops/pad_tile.ts";
import { Slice, StridedSlice } from "../../../core/ops/slice.ts";
import { resolveSlice, resolveStridedSlice } from "../../../core/ops/slice_spec.ts";
import { resolveTranspose, Transpose } from "../../../core/ops/transpose.ts";
import { type Shape, sizeOf, stridesOf } from "../../../core/shape.ts";
import { intList } from "../../../core/tensor.ts";
import type { TpuBuffer } from "../hbm.ts";
import { input, output, TPU_MOVABLE, type TpuContext, type TpuKernel, tpuKernel } from "./util.ts";

type Elements = { [i: number]: unknown };

/** out[i] = src[index[i]], storage copied verbatim. */
export function gatherInto(out: TpuBuffer, src: TpuBuffer, index: ArrayLike<number>): void {
  const o = out.data as unknown as Elements, s = src.data as unknown as Elements;
  for (let i = 0; i < index.length; i++) o[i] = s[index[i]];
}

/** Allocates output 0 of `shape`, fills it from `index` and charges the DMA. */
function gatherOutput<A extends Attrs>(ctx: TpuContext<A>, shape: Shape, index: ArrayLike<number>) {
  const x = input(ctx, 0), out = output(ctx, 0, shape);
  gatherInto(out, x, index);
  ctx.device.charge(ctx, { hbmBytes: out.bytes * 2 });
}

/** The block starting at `begin`, stepping `steps`, `size` elements per dim (Slice's copy). */
function blockIndex(shape: Shape, begin: number[], steps: number[], size: number[]): FlatIndex {
  const inStrides = stridesOf(shape);
  const empty = size.some((s) => s === 0);
  const offset = empty ? 0 : begin.reduce((o, b, d) => o + b * inStrides[d], 0);
  return stridedIndex(size, steps.map((s, d) => s * inStrides[d]), offset);
}

const transpose = tpuKernel(Transpose, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0);
    const plan = resolveTranspose(x.shape, intList(ctx.hostInput(1)));
    if (plan.isIdentity) {
      ctx.setOutput(0, ctx.device.view(x, plan.outShape));
      ctx.device.charge(ctx, {});
      return;
    }
    gatherOutput(ctx, plan.outShape, stridedIndex(plan.outShape, plan.inStrides, 0));
  },
});

const slice = tpuKernel(Slice, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0);
    const spec = resolveSlice(x.shape, intList(ctx.hostInput(1)), intList(ctx.hostInput(2)));
    const ones = spec.size.map(() => 1);
    gatherOutput(ctx, spec.size, blockIndex(x.shape, spec.begin, ones, spec.size));
  },
});

const stridedSlice = tpuKernel(StridedSlice, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0);
    const [begin, end, strides] = [1, 2, 3].map((i) => intList(ctx.hostInput(i)));
    const spec = resolveStridedSlice(x.shape, begin, end, strides, ctx.attrs);
    if (spec.isIdentity) {
      ctx.setOutput(0, ctx.device.view(x, spec.finalShape));
      ctx.device.charge(ctx, {});
      return;
    }
    const index = blockIndex(x.shape, spec.begin, spec.strides, spec.processingShape);
    gatherOutput(ctx, spec.finalShape, index);
  },
});

const pad = tpuKernel(Pad, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0);
    const plan = resolvePad(x.shape, intList(ctx.hostInput(1)));
    const out = output(ctx, 0, plan.outShape); // allocated zeroed: the padding
    const outStrides = stridesOf(plan.outShape);
    const offset = plan.before.reduce((o, b, d) => o + b * outStrides[d], 0);
    const dest = stridedIndex(x.shape, outStrides, offset);
    const o = out.data as unknown as Elements, s = x.data as unknown as Elements;
    for (let i = 0; i < dest.length; i++) o[dest[i]] = s[i];
    ctx.device.charge(ctx, { hbmBytes: x.bytes + out.bytes });
  },
});

const tile = tpuKernel(Tile, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0);
    const multiples = intList(ctx.hostInput(1));
    const shape = tileShape(x.shape, multiples);
    gatherOutput(ctx, shape, sizeOf(shape) === 0 ? [] : tileIndex(x.shape, multiples));
  },
});

export const MOVEMENT_KERNELS: readonly TpuKernel[] = [
  transpose,
  slice,
  stridedSlice,
  pad,
  tile,
];
