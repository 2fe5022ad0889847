/**
 * Data movement by strided DMA: Transpose, Slice, StridedSlice, Pad and Tile. Each resolves its
 * arguments with the op's own plan (core/ops: transpose, slice_spec, pad_tile), turns it into
 * the source index of every output element, and copies storage unread, so every dtype moves
 * bit for bit. Timing: the bytes read and written in HBM. Moves that keep the data's order
 * (an identity transpose or strided slice) are views.
 */
import type { KernelConstruction } from "../../../core/kernel.ts";
import type { Attrs } from "../../../core/op.ts";
import { type FlatIndex, stridedIndex } from "../../../core/ops/array_util.ts";
import { Pad, resolvePad, Tile, tileIndex, tileShape } from "../../../core/ops/pad_tile.ts";
import { Slice, StridedSlice } from "../../../core/ops/slice.ts";
import { resolveSlice, resolveStridedSlice } from "../../../core/ops/slice_spec.ts";
import { resolveTranspose, Transpose } from "../../../core/ops/transpose.ts";
import { type Shape, sizeOf, stridesOf } from "../../../core/shape.ts";
import { constIntList, ShapeMemo } from "../../../core/shape_memo.ts";
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

/** A move's output shape and source index, or a view where the data keeps its order. */
interface Move {
  shape: Shape;
  /** Source element of each output element; undefined: the output is a view of the input. */
  index?: ArrayLike<number>;
}

/** Runs a move: a view of the input, or a gathered copy. */
function runMove<A extends Attrs>(ctx: TpuContext<A>, move: Move): void {
  if (!move.index) {
    ctx.setOutput(0, ctx.device.view(input(ctx, 0), move.shape));
    ctx.device.charge(ctx, {});
    return;
  }
  gatherOutput(ctx, move.shape, move.index);
}

/** The static key of a move: the input's shape and its Const host arguments `args`. */
function moveKey(c: KernelConstruction, args: readonly number[]) {
  return [c.inputs[0].shape, ...args.map((i) => constIntList(c.node, i))];
}

// Each kernel memoizes its plan and index by the input's shape and its host arguments, seeded
// when the plan is built where both are static (the arguments Consts): a run with the same
// shapes and arguments builds no index.

const transpose = tpuKernel(Transpose, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const moves = new ShapeMemo((shape, perm): Move => {
      const plan = resolveTranspose(shape, perm);
      return plan.isIdentity
        ? { shape: plan.outShape }
        : { shape: plan.outShape, index: stridedIndex(plan.outShape, plan.inStrides, 0) };
    }).seed(moveKey(c, [1]));
    return {
      run: (ctx) => runMove(ctx, moves.get(input(ctx, 0).shape, intList(ctx.hostInput(1)))),
    };
  },
});

const slice = tpuKernel(Slice, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const moves = new ShapeMemo((shape, begin, size): Move => {
      const spec = resolveSlice(shape, begin, size);
      const ones = spec.size.map(() => 1);
      return { shape: spec.size, index: blockIndex(shape, spec.begin, ones, spec.size) };
    }).seed(moveKey(c, [1, 2]));
    return {
      run(ctx) {
        const [begin, size] = [1, 2].map((i) => intList(ctx.hostInput(i)));
        runMove(ctx, moves.get(input(ctx, 0).shape, begin, size));
      },
    };
  },
});

const stridedSlice = tpuKernel(StridedSlice, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const attrs = c.attrs;
    const moves = new ShapeMemo((shape, begin, end, strides): Move => {
      const spec = resolveStridedSlice(shape, begin, end, strides, attrs);
      if (spec.isIdentity) return { shape: spec.finalShape };
      const index = blockIndex(shape, spec.begin, spec.strides, spec.processingShape);
      return { shape: spec.finalShape, index };
    }).seed(moveKey(c, [1, 2, 3]));
    return {
      run(ctx) {
        const [begin, end, strides] = [1, 2, 3].map((i) => intList(ctx.hostInput(i)));
        runMove(ctx, moves.get(input(ctx, 0).shape, begin, end, strides));
      },
    };
  },
});

const pad = tpuKernel(Pad, {
  dtypes: TPU_MOVABLE,
  create(c) {
    // The padded shape and where each input element lands in it.
    const plans = new ShapeMemo((shape, paddings) => {
      const plan = resolvePad(shape, paddings);
      const outStrides = stridesOf(plan.outShape);
      const offset = plan.before.reduce((o, b, d) => o + b * outStrides[d], 0);
      return { outShape: plan.outShape, dest: stridedIndex(shape, outStrides, offset) };
    }).seed(moveKey(c, [1]));
    return {
      run(ctx) {
        const x = input(ctx, 0);
        const { outShape, dest } = plans.get(x.shape, intList(ctx.hostInput(1)));
        const out = output(ctx, 0, outShape); // allocated zeroed: the padding
        const o = out.data as unknown as Elements, s = x.data as unknown as Elements;
        for (let i = 0; i < dest.length; i++) o[dest[i]] = s[i];
        ctx.device.charge(ctx, { hbmBytes: x.bytes + out.bytes });
      },
    };
  },
});

const tile = tpuKernel(Tile, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const moves = new ShapeMemo((shape, multiples): Move => {
      const out = tileShape(shape, multiples);
      return { shape: out, index: sizeOf(out) === 0 ? [] : tileIndex(shape, multiples) };
    }).seed(moveKey(c, [1]));
    return {
      run: (ctx) => runMove(ctx, moves.get(input(ctx, 0).shape, intList(ctx.hostInput(1)))),
    };
  },
});

export const MOVEMENT_KERNELS: readonly TpuKernel[] = [
  transpose,
  slice,
  stridedSlice,
  pad,
  tile,
];
