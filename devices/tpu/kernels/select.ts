/**
 * SelectV2, OneHot and Cast on the vector unit. Select and one-hot pick stored values unread
 * (every dtype moves bit for bit); Cast converts with the C-cast rules of core's castTensor,
 * the meaning of Cast, applied to the buffer's storage in place of a host tensor.
 */
import { numberAt, numbers, Tensor } from "../../../core/tensor.ts";
import { Cast, castTensor } from "../../../core/ops/cast.ts";
import { ShapeMemo } from "../../../core/shape_memo.ts";
import { OneHot, resolveOneHot, SelectV2 } from "../../../core/ops/select.ts";
import type { TpuBuffer } from "../hbm.ts";
import { indexFor } from "./engine.ts";
import { copyStorage, input, output, TPU_MOVABLE, type TpuKernel, tpuKernel } from "./util.ts";

type Elements = { [i: number]: unknown };
const elements = (b: TpuBuffer) => b.data as unknown as Elements;

/** A buffer's storage as a host tensor, without copying. */
function asTensor(b: TpuBuffer): Tensor {
  return new Tensor(b.dtype, b.shape, b.data);
}

const select = tpuKernel(SelectV2, {
  dtypes: TPU_MOVABLE,
  create(k) {
    // The three broadcast plans by the operands' and output's shapes, seeded from static ones.
    const plans = new ShapeMemo((cs, ts, es, outs) => [cs, ts, es].map((s) => indexFor(s, outs)))
      .seed([...k.inputs.map((s) => s.shape), k.outputs[0].shape]);
    return {
      run(ctx) {
        const c = input(ctx, 0), t = input(ctx, 1), e = input(ctx, 2);
        const out = output(ctx, 0);
        const [ic, it, ie] = plans.get(c.shape, t.shape, e.shape, out.shape);
        const cs = c.data as Uint8Array, ts = elements(t), es = elements(e), o = elements(out);
        const n = out.data.length;
        for (let i = 0; i < n; i++) {
          o[i] = cs[ic ? ic[i] : i] ? ts[it ? it[i] : i] : es[ie ? ie[i] : i];
        }
        ctx.device.charge(ctx, {
          vpuOps: n,
          hbmBytes: c.bytes + t.bytes + e.bytes + out.bytes,
        });
      },
    };
  },
});

const oneHot = tpuKernel(OneHot, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const indices = input(ctx, 0), on = input(ctx, 2), off = input(ctx, 3);
    const depth = numberAt(ctx.hostInput(1), 0);
    const plan = resolveOneHot(indices.shape, depth, ctx.attrs.axis);
    const out = output(ctx, 0, plan.outShape);
    // Indices as numbers: an int64 index past 2^53 is out of range whatever its low bits.
    const idx = numbers(asTensor(indices));
    const onV = elements(on)[0], offV = elements(off)[0], o = elements(out);
    let k = 0;
    for (let r = 0; r < plan.outer; r++) {
      for (let d = 0; d < plan.depth; d++) {
        for (let i = 0; i < plan.inner; i++) {
          o[k++] = idx[r * plan.inner + i] === d ? onV : offV;
        }
      }
    }
    ctx.device.charge(ctx, { vpuOps: out.data.length, hbmBytes: indices.bytes + out.bytes });
  },
});

const cast = tpuKernel(Cast, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0), out = output(ctx, 0);
    copyStorage(out.data, castTensor(asTensor(x), ctx.attrs.DstT, ctx.attrs.Truncate).data);
    ctx.device.charge(ctx, { vpuOps: out.data.length, hbmBytes: x.bytes + out.bytes });
  },
});

export const SELECT_KERNELS: readonly TpuKernel[] = [select, oneHot, cast];
