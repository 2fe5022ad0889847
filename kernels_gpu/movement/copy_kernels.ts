/**
 * Transpose, Slice, StridedSlice, Pad, Tile and Unpack as strided copies (strided.ts). Their
 * shape arguments are host inputs (no readback) and their rules come from core's plans
 * (resolveTranspose, resolveSlice, resolveStridedSlice, resolvePad, tileShape, resolveUnpack).
 * A transpose that keeps the data's order and a StridedSlice that takes every element in order
 * forward their input under the new shape instead of copying.
 */
import type { Node } from "../../core/graph.ts";
import { intList, type Tensor } from "../../core/tensor.ts";
import { intVector } from "../../core/ops/array_util.ts";
import { Pad, resolvePad, Tile, tileShape } from "../../core/ops/pad_tile.ts";
import { resolveUnpack, Unpack } from "../../core/ops/join.ts";
import { Slice, StridedSlice } from "../../core/ops/slice.ts";
import { resolveSlice, resolveStridedSlice } from "../../core/ops/slice_spec.ts";
import { resolveTranspose, Transpose } from "../../core/ops/transpose.ts";
import { Const } from "../../core/ops/const.ts";
import { stridesOf } from "../../core/shape.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel, type GpuConstruction, staticRank } from "../kernel.ts";
import {
  blockView,
  NodeStrided,
  stridedDispatch,
  type StridedMode,
  type StridedView,
} from "./strided.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import type { KernelContext } from "../../core/kernel.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { GpuKernel, WebGpuDevice } from "../../devices/webgpu/device.ts";

/** A node input's value when it is a Const (shape arguments usually are), for `programs`. */
export function constInput(node: Node, i: number): Tensor | undefined {
  const src = node.inputs[i].node;
  return src.op === Const ? (src.attrs.value as Tensor) : undefined;
}

/** A node's strided-copy programs, predicted at the rank of its first input where known. */
function stridedFor<A extends Attrs>(
  c: GpuConstruction<A>,
  mode: StridedMode,
  rank = staticRank(c.inputs[0]),
): NodeStrided {
  return new NodeStrided(c.device.storageOf(c.inputs[0].dtype), mode, rank);
}

/** The rank a transpose copies at (its collapsed perm), where static shape and perm are known. */
function transposeRank<A extends Attrs>(c: GpuConstruction<A>): number | undefined {
  const x = c.inputs[0].shape, perm = constInput(c.node, 1);
  if (x === null || !x.every((d) => d >= 0) || !perm) return undefined;
  const plan = resolveTranspose(x, intList(perm));
  return plan.isIdentity ? undefined : plan.collapsed.perm.length;
}

/** A copy kernel's decision for one run: copy `view` of the input, or forward it reshaped. */
type CopyPlan = { outShape: number[]; view: StridedView } | { outShape: number[]; forward: true };

/**
 * A kernel that writes its one output as a strided copy of its first input; `plan` reads the
 * run's shape arguments, `rankOf` predicts the copy's rank for `programs` where the input's
 * static rank would not.
 */
function defineStridedCopy<A extends Attrs>(
  op: OpDef<A>,
  mode: StridedMode,
  plan: (ctx: KernelContext<A, WebGpuDevice>, x: GpuBuffer) => CopyPlan,
  rankOf: (c: GpuConstruction<A>) => number | undefined = (c) => staticRank(c.inputs[0]),
): GpuKernel<A> {
  return defineGpuKernel(op, {
    dtypes: GPU_DTYPES,
    create(c) {
      const copies = stridedFor(c, mode, rankOf(c));
      return {
        programs: copies.programs,
        run(ctx) {
          const x = ctx.inputs[0];
          const p = plan(ctx, x);
          if (!("view" in p)) {
            ctx.setOutput(0, ctx.device.view(x, p.outShape));
            return;
          }
          const out = ctx.output(0, p.outShape);
          return ctx.device.encode(ctx.node, [stridedDispatch(ctx.device, x, out, p.view, copies)]);
        },
      };
    },
  });
}

export const transposeKernel = defineStridedCopy(Transpose, "copy", (ctx, x) => {
  const plan = resolveTranspose(x.shape, intVector(ctx.hostInput(1), "perm"));
  if (plan.isIdentity) return { outShape: plan.outShape, forward: true };
  // The collapsed transpose moves the same data with fewer dims.
  const { shape, perm } = plan.collapsed;
  const strides = stridesOf(shape);
  return {
    outShape: plan.outShape,
    view: { mode: "copy", dims: perm.map((d) => shape[d]), strides: perm.map((d) => strides[d]) },
  };
}, transposeRank);

export const sliceKernel = defineStridedCopy(Slice, "copy", (ctx, x) => {
  const spec = resolveSlice(
    x.shape,
    intVector(ctx.hostInput(1), "begin"),
    intVector(ctx.hostInput(2), "size"),
  );
  return {
    outShape: spec.size,
    view: blockView(x.shape, spec.begin, spec.size.map(() => 1), spec.size),
  };
});

export const stridedSliceKernel = defineStridedCopy(StridedSlice, "copy", (ctx, x) => {
  const [begin, end, strides] = ["begin", "end", "strides"].map((what, i) =>
    intVector(ctx.hostInput(i + 1), what)
  );
  const spec = resolveStridedSlice(x.shape, begin, end, strides, ctx.attrs);
  if (spec.isIdentity) return { outShape: spec.finalShape, forward: true };
  return {
    outShape: spec.finalShape,
    view: blockView(x.shape, spec.begin, spec.strides, spec.processingShape),
  };
});

export const padKernel = defineStridedCopy(Pad, "pad", (ctx, x) => {
  const plan = resolvePad(x.shape, intList(ctx.hostInput(1)));
  return {
    outShape: plan.outShape,
    view: {
      mode: "pad",
      dims: plan.outShape,
      strides: stridesOf(x.shape),
      inDims: x.shape,
      before: plan.before,
    },
  };
});

export const tileKernel = defineStridedCopy(Tile, "tile", (ctx, x) => {
  const outShape = tileShape(x.shape, intVector(ctx.hostInput(1), "multiples"));
  return {
    outShape,
    view: { mode: "tile", dims: outShape, strides: stridesOf(x.shape), inDims: x.shape },
  };
});

/** Piece i of an unpack is rows [outer, inner] at stride num·inner, from offset i·inner. */
export const unpackKernel = defineGpuKernel(Unpack, {
  dtypes: GPU_DTYPES,
  create(c) {
    const { num, axis } = c.attrs;
    const copies = stridedFor(c, "copy", 2);
    return {
      programs: copies.programs,
      run(ctx) {
        const x = ctx.inputs[0];
        const plan = resolveUnpack(x.shape, num, axis);
        const dispatches = Array.from({ length: num }, (_, i) => {
          const out = ctx.output(i, plan.pieceShape);
          const view = {
            mode: "copy" as const,
            dims: [plan.outer, plan.inner],
            strides: [num * plan.inner, 1],
            base: i * plan.inner,
          };
          return stridedDispatch(ctx.device, x, out, view, copies);
        });
        return ctx.device.encode(ctx.node, dispatches);
      },
    };
  },
});

export const COPY_KERNELS = [
  transposeKernel,
  sliceKernel,
  stridedSliceKernel,
  padKernel,
  tileKernel,
  unpackKernel,
];
