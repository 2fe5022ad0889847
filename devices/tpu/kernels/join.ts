/**
 * Joining, splitting and gathering by DMA: ConcatV2, Pack, Unpack and GatherV2, planned by the
 * ops' own resolvers (core/ops/join.ts, gather.ts). Storage moves unread; timing is the bytes
 * read and written in HBM.
 */
import type { Attrs } from "../../../core/op.ts";
import { type GatherPlan, GatherV2, resolveGather } from "../../../core/ops/gather.ts";
import {
  ConcatV2,
  Pack,
  resolveConcat,
  resolvePackOf,
  resolveUnpack,
  Unpack,
} from "../../../core/ops/join.ts";
import { constIntList, ShapeMemo } from "../../../core/shape_memo.ts";
import { intList } from "../../../core/tensor.ts";
import type { TpuBuffer } from "../hbm.ts";
import { input, output, TPU_MOVABLE, type TpuContext, type TpuKernel, tpuKernel } from "./util.ts";

type Elements = { [i: number]: unknown };
const elements = (b: TpuBuffer) => b.data as unknown as Elements;

/** Output rows are the sources' rows side by side: row o is row o of each source in turn. */
function joinRows(out: TpuBuffer, sources: readonly TpuBuffer[], outer: number, widths: number[]) {
  const o = elements(out);
  let k = 0;
  for (let r = 0; r < outer; r++) {
    sources.forEach((src, i) => {
      const s = elements(src);
      for (let j = r * widths[i], end = j + widths[i]; j < end; j++) o[k++] = s[j];
    });
  }
}

const concat = tpuKernel(ConcatV2, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const n = c.attrs.N;
    // The plan by the values' shapes and the axis, seeded where all are static.
    const plans = new ShapeMemo((...key) => resolveConcat(key.slice(0, n), key[n][0]))
      .seed([...c.inputs.slice(0, n).map((s) => s.shape), constIntList(c.node, n)]);
    return {
      run(ctx) {
        const values = Array.from({ length: n }, (_, i) => input(ctx, i));
        // The axis (after the N values) is in host memory, as the op declares for every device.
        const plan = plans.get(...values.map((v) => v.shape), intList(ctx.hostInput(n)));
        const out = output(ctx, 0, plan.outShape);
        joinRows(out, values, plan.outer, plan.widths);
        ctx.device.charge(ctx, { hbmBytes: 2 * out.bytes });
      },
    };
  },
});

const pack = tpuKernel(Pack, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const { N: n, axis } = c.attrs;
    const plans = new ShapeMemo((...shapes) => {
      const plan = resolvePackOf(shapes, axis);
      return { plan, widths: shapes.map(() => plan.inner) };
    }).seed(c.inputs.map((s) => s.shape));
    return {
      run(ctx) {
        const values = Array.from({ length: n }, (_, i) => input(ctx, i));
        const { plan, widths } = plans.get(...values.map((v) => v.shape));
        const out = output(ctx, 0, plan.packedShape);
        joinRows(out, values, plan.outer, widths);
        ctx.device.charge(ctx, { hbmBytes: 2 * out.bytes });
      },
    };
  },
});

const unpack = tpuKernel(Unpack, {
  dtypes: TPU_MOVABLE,
  create(c) {
    const { num, axis } = c.attrs;
    const plans = new ShapeMemo((shape) => resolveUnpack(shape, num, axis)).seed([
      c.inputs[0].shape,
    ]);
    return {
      run(ctx) {
        const x = input(ctx, 0);
        const { pieceShape, outer, inner } = plans.get(x.shape);
        const s = elements(x);
        for (let i = 0; i < num; i++) {
          const o = elements(output(ctx, i, pieceShape));
          for (let r = 0, k = 0; r < outer; r++) {
            const from = (r * num + i) * inner;
            for (let j = 0; j < inner; j++) o[k++] = s[from + j];
          }
        }
        ctx.device.charge(ctx, { hbmBytes: 2 * x.bytes });
      },
    };
  },
});

const gather = tpuKernel(GatherV2, {
  dtypes: TPU_MOVABLE,
  create(c) {
    // The plan by the params' and indices' shapes and the axis, seeded where all are static.
    const batchDims = c.attrs.batch_dims;
    const plans = new ShapeMemo((ps, is, axis) => resolveGather(ps, is, axis[0], batchDims))
      .seed([c.inputs[0].shape, c.inputs[1].shape, constIntList(c.node, 2)]);
    return { run: (ctx) => gatherRun(ctx, plans) };
  },
});

/** One GatherV2 run: rows of the params picked by the indices, storage copied unread. */
function gatherRun<A extends Attrs>(ctx: TpuContext<A>, plans: ShapeMemo<GatherPlan>): void {
  const params = input(ctx, 0), indices = input(ctx, 1);
  const plan = plans.get(params.shape, indices.shape, intList(ctx.hostInput(2)));
  const { batch, outer, axisDim, count, inner } = plan;
  const idx = indexValues(indices);
  const out = output(ctx, 0, plan.outShape);
  const o = elements(out), s = elements(params);
  let k = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outer; r++) {
      for (let j = 0; j < count; j++) {
        const i = idx[b * count + j]; // in range: the op's check ran first
        const from = ((b * outer + r) * axisDim + i) * inner;
        for (let n = 0; n < inner; n++) o[k++] = s[from + n];
      }
    }
  }
  ctx.device.charge(ctx, { hbmBytes: indices.bytes + 2 * out.bytes });
}

/** Integer index values (int32, or int64 held as pairs of 32-bit words) as numbers. */
function indexValues(b: TpuBuffer): ArrayLike<number> {
  return b.dtype === "int64"
    ? Float64Array.from(b.data as BigInt64Array, Number)
    : b.data as Int32Array | Uint8Array | Int8Array;
}

export const JOIN_KERNELS: readonly TpuKernel[] = [concat, pack, unpack, gather];
