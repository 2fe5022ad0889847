/**
 * StridedSliceGrad as DMA: zeros of `shape`, then dy's elements written to the places
 * StridedSlice reads (core's resolveStridedSlice and stridedIndex place them), in the storage
 * type: exact for every dtype. Timing: the output written once plus dy read and scattered.
 */
import { intVector, stridedIndex } from "../../../core/ops/array_util.ts";
import { checkSliceGradDy, StridedSliceGrad } from "../../../core/ops/grad_array.ts";
import { resolveStridedSlice } from "../../../core/ops/slice_spec.ts";
import { stridesOf } from "../../../core/shape.ts";
import { input, output, TPU_MOVABLE, type TpuKernel, tpuKernel } from "./util.ts";

type Elements = { [i: number]: number | bigint; fill(v: number | bigint): unknown };

const stridedSliceGrad = tpuKernel(StridedSliceGrad, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const dy = input(ctx, 4);
    const [dims, begin, end, strides] = ["shape", "begin", "end", "strides"].map((w, i) =>
      intVector(ctx.hostInput(i), w)
    );
    const spec = resolveStridedSlice(dims, begin, end, strides, ctx.attrs);
    checkSliceGradDy(dy.shape, dims, spec.finalShape);
    const out = output(ctx, 0, dims);
    const o = out.data as unknown as Elements, s = dy.data as unknown as Elements;
    o.fill(out.dtype === "int64" ? 0n : 0);
    const inStrides = stridesOf(dims);
    const empty = spec.processingShape.some((d) => d === 0);
    if (!empty) {
      const offset = spec.begin.reduce((a, b, d) => a + b * inStrides[d], 0);
      const dest = stridedIndex(
        spec.processingShape,
        spec.strides.map((st, d) => st * inStrides[d]),
        offset,
      );
      for (let i = 0; i < dest.length; i++) o[dest[i]] = s[i];
    }
    ctx.device.charge(ctx, { hbmBytes: out.bytes + 2 * dy.bytes });
  },
});

export const GRAD_SLICE_KERNELS: readonly TpuKernel[] = [stridedSliceGrad];
