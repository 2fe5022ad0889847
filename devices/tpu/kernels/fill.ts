/**
 * Fill, ZerosLike, OnesLike and Range: outputs written by the vector unit from a scalar or a
 * formula (Range's elements by core's rangeTensor, in the dtype's own arithmetic).
 */
import { Fill, OnesLike, Range, rangeTensor, ZerosLike } from "../../../core/ops/fill.ts";
import { Tensor } from "../../../core/tensor.ts";
import type { TpuBuffer } from "../hbm.ts";
import { copyStorage, input, output, TPU_MOVABLE, type TpuKernel, tpuKernel } from "./util.ts";

/** Sets every element of `out` to `value` (an element of its storage). */
function fillWith(out: TpuBuffer, value: unknown): void {
  (out.data as unknown as { fill(v: unknown): void }).fill(value);
}

const fill = tpuKernel(Fill, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const value = input(ctx, 1), out = output(ctx, 0);
    fillWith(out, (value.data as unknown as unknown[])[0]);
    ctx.device.charge(ctx, { hbmBytes: out.bytes });
  },
});

const zerosLike = tpuKernel(ZerosLike, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const out = output(ctx, 0); // allocated zeroed
    ctx.device.charge(ctx, { hbmBytes: out.bytes });
  },
});

const onesLike = tpuKernel(OnesLike, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const out = output(ctx, 0);
    fillWith(out, (Tensor.fromNumbers(out.dtype, [], [1]).data as unknown as unknown[])[0]);
    ctx.device.charge(ctx, { hbmBytes: out.bytes });
  },
});

const range = tpuKernel(Range, {
  dtypes: TPU_MOVABLE.filter((d) => Range.testDTypes.includes(d)),
  run(ctx) {
    // core's rangeTensor: int64 elements in BigInt, so none past 2^53 is rounded.
    const values = rangeTensor([0, 1, 2].map((i) => ctx.hostInput(i)), ctx.attrs.Tidx);
    const out = output(ctx, 0, values.shape);
    copyStorage(out.data, values.data);
    ctx.device.charge(ctx, { vpuOps: 2 * values.size, hbmBytes: out.bytes });
  },
});

export const FILL_KERNELS: readonly TpuKernel[] = [fill, zerosLike, onesLike, range];
