/**
 * Data movement as strided copies (strided.ts); the shape-only ops are core/basic_kernels.ts's
 * views. Argument rules (masks, permutations, paddings) come from the ops'
 * own plans in core/ops, never re-derived here.
 */
import { byteSize, type DType } from "../../core/dtype.ts";
import type { Kernel } from "../../core/kernel.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { intList } from "../../core/tensor.ts";
import { intScalar, intVector } from "../../core/ops/array_util.ts";
import {
  ConcatV2,
  Pack,
  resolveConcat,
  resolvePackOf,
  resolveUnpack,
  Unpack,
} from "../../core/ops/join.ts";
import { Pad, resolvePad, Tile, tileShape } from "../../core/ops/pad_tile.ts";
import { Slice, StridedSlice } from "../../core/ops/slice.ts";
import { resolveSlice, resolveStridedSlice } from "../../core/ops/slice_spec.ts";
import { resolveTranspose, Transpose } from "../../core/ops/transpose.ts";
import { shapesEqual, stridesOf } from "../../core/shape.ts";
import { Task } from "../tasks.ts";
import { contiguous, stridedCopy } from "./strided.ts";
import { BYTE_DTYPES, wasmBuffer, wasmKernel } from "./util.ts";

export const transposeKernel = wasmKernel(Transpose, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const plan = resolveTranspose(x.shape, intVector(ctx.hostInput(1), "perm"));
    if (plan.isIdentity) return ctx.setOutput(0, ctx.device.view(x, plan.outShape));
    const out = wasmBuffer(ctx.output(0, plan.outShape));
    const { shape, perm } = plan.collapsed;
    const strides = stridesOf(shape), dims = perm.map((p) => shape[p]);
    stridedCopy(ctx.device, {
      dtype: x.dtype,
      dst: out.ptr,
      src: x.ptr,
      dims,
      dstStrides: contiguous(dims),
      srcStrides: perm.map((p) => strides[p]),
    });
  },
});

export const sliceKernel = wasmKernel(Slice, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const spec = resolveSlice(
      x.shape,
      intVector(ctx.hostInput(1), "begin"),
      intVector(ctx.hostInput(2), "size"),
    );
    if (shapesEqual(spec.size, x.shape)) return ctx.setOutput(0, x);
    const out = wasmBuffer(ctx.output(0, spec.size));
    const strides = stridesOf(x.shape);
    const offset = spec.begin.reduce((o, b, i) => o + b * strides[i], 0);
    stridedCopy(ctx.device, {
      dtype: x.dtype,
      dst: out.ptr,
      src: x.ptr + offset * byteSize(x.dtype),
      dims: spec.size,
      dstStrides: contiguous(spec.size),
      srcStrides: strides,
    });
  },
});

export const stridedSliceKernel = wasmKernel(StridedSlice, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask } = ctx.attrs;
    const spec = resolveStridedSlice(
      x.shape,
      intVector(ctx.hostInput(1), "begin"),
      intVector(ctx.hostInput(2), "end"),
      intVector(ctx.hostInput(3), "strides"),
      { begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask },
    );
    if (spec.isIdentity) return ctx.setOutput(0, ctx.device.view(x, spec.finalShape));
    const out = wasmBuffer(ctx.output(0, spec.finalShape));
    if (spec.processingShape.some((d) => d === 0)) return;
    const strides = stridesOf(x.shape);
    const offset = spec.begin.reduce((o, b, i) => o + b * strides[i], 0);
    stridedCopy(ctx.device, {
      dtype: x.dtype,
      dst: out.ptr,
      src: x.ptr + offset * byteSize(x.dtype),
      dims: spec.processingShape,
      dstStrides: contiguous(spec.processingShape),
      srcStrides: spec.strides.map((s, i) => s * strides[i]),
    });
  },
});

/** Copies [outer, width] blocks side by side: piece i's rows go to columns at offsets[i]. */
function joinBlocks(
  d: WasmDevice,
  dtype: DType,
  outer: number,
  rowWidth: number,
  pieces: readonly { ptr: number; width: number; column: number }[],
  base: number,
  scatter: boolean,
): void {
  const size = byteSize(dtype);
  for (const p of pieces) {
    const wide = { ptr: base + p.column * size, strides: [rowWidth, 1] };
    const narrow = { ptr: p.ptr, strides: [p.width, 1] };
    const [dst, src] = scatter ? [narrow, wide] : [wide, narrow];
    stridedCopy(d, {
      dtype,
      dst: dst.ptr,
      src: src.ptr,
      dims: [outer, p.width],
      dstStrides: dst.strides,
      srcStrides: src.strides,
    });
  }
}

export const concatKernel = wasmKernel(ConcatV2, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const values = ctx.inputs.slice(0, -1).map(wasmBuffer);
    const axis = intScalar(ctx.hostInput(ctx.inputs.length - 1), "axis");
    const plan = resolveConcat(values.map((v) => v.shape), axis);
    const out = wasmBuffer(ctx.output(0, plan.outShape));
    const rowWidth = plan.widths.reduce((a, b) => a + b, 0);
    let column = 0;
    const pieces = values.map((v, i) => {
      const piece = { ptr: v.ptr, width: plan.widths[i], column };
      column += plan.widths[i];
      return piece;
    });
    joinBlocks(ctx.device, out.dtype, plan.outer, rowWidth, pieces, out.ptr, false);
  },
});

export const packKernel = wasmKernel(Pack, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const values = ctx.inputs.map(wasmBuffer);
    const plan = resolvePackOf(values.map((v) => v.shape), ctx.attrs.axis);
    const out = wasmBuffer(ctx.output(0, plan.packedShape));
    const pieces = values.map((v, i) => ({
      ptr: v.ptr,
      width: plan.inner,
      column: i * plan.inner,
    }));
    joinBlocks(
      ctx.device,
      out.dtype,
      plan.outer,
      values.length * plan.inner,
      pieces,
      out.ptr,
      false,
    );
  },
});

export const unpackKernel = wasmKernel(Unpack, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const { num, axis } = ctx.attrs;
    const plan = resolveUnpack(x.shape, num, axis);
    const pieces = Array.from({ length: num }, (_, i) => ({
      ptr: wasmBuffer(ctx.output(i, plan.pieceShape)).ptr,
      width: plan.inner,
      column: i * plan.inner,
    }));
    joinBlocks(ctx.device, x.dtype, plan.outer, num * plan.inner, pieces, x.ptr, true);
  },
});

export const padKernel = wasmKernel(Pad, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const outShape = ctx.outputShape(0);
    const plan = resolvePad(x.shape, intList(ctx.hostInput(1)));
    const out = wasmBuffer(ctx.output(0, outShape));
    const size = byteSize(x.dtype), bytes = outShape.reduce((a, b) => a * b, 1) * size;
    ctx.device.launch(
      Task.task_fill,
      Math.ceil(bytes / (1 << 18)),
      [out.ptr, bytes, size, 0, 0],
      bytes / 8,
    );
    const outStrides = stridesOf(outShape);
    const offset = plan.before.reduce((o, b, i) => o + b * outStrides[i], 0);
    stridedCopy(ctx.device, {
      dtype: x.dtype,
      dst: out.ptr + offset * size,
      src: x.ptr,
      dims: x.shape,
      dstStrides: outStrides,
      srcStrides: contiguous(x.shape),
    });
  },
});

/** Tile: the output viewed as [m0, d0, m1, d1, ...] reads the input with stride 0 along each m. */
export const tileKernel = wasmKernel(Tile, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const x = wasmBuffer(ctx.inputs[0]);
    const multiples = intVector(ctx.hostInput(1), "multiples");
    const out = wasmBuffer(ctx.output(0, tileShape(x.shape, multiples)));
    const strides = stridesOf(x.shape);
    const dims = x.shape.flatMap((d, i) => [multiples[i], d]);
    stridedCopy(ctx.device, {
      dtype: x.dtype,
      dst: out.ptr,
      src: x.ptr,
      dims,
      dstStrides: contiguous(dims),
      srcStrides: strides.flatMap((s) => [0, s]),
    });
  },
});

export const MOVEMENT_KERNELS: readonly Kernel[] = [
  transposeKernel,
  sliceKernel,
  stridedSliceKernel,
  concatKernel,
  packKernel,
  unpackKernel,
  padKernel,
  tileKernel,
];
