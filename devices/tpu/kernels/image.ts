/**
 * ResizeBilinear and ResizeNearestNeighbor on the vector unit and by DMA, GatherNd by DMA and
 * ScatterNd on the vector unit,
 * from the ops' own plans (core/ops/resize.ts's tables, core/ops/gather_nd.ts's strides).
 * Bilinear interpolation is TensorFlow's compute_lerp in float32, each step rounded as the
 * reference rounds it: exact (tolerance 0). Nearest and GatherNd move storage unread.
 */
import { GatherNd, gatherNdPlan, ScatterNd } from "../../../core/ops/gather_nd.ts";
import { intVector } from "../../../core/ops/array_util.ts";
import { ResizeBilinear, ResizeNearestNeighbor, resizePlan } from "../../../core/ops/resize.ts";
import type { TpuBuffer } from "../hbm.ts";
import { loadF32 } from "../numerics.ts";
import { input, output, TPU_MOVABLE, type TpuKernel, tpuKernel } from "./util.ts";

const f = Math.fround;
type Elements = { [i: number]: unknown };
const elements = (b: TpuBuffer) => b.data as unknown as Elements;

const resizeBilinear = tpuKernel(ResizeBilinear, {
  dtypes: ["float32", "bfloat16"],
  run(ctx) {
    const x = input(ctx, 0);
    const { outShape, rows, cols } = resizePlan("bilinear", x.shape, ctx.hostInput(1), ctx.attrs);
    const out = output(ctx, 0, outShape);
    const [b, oh, ow, c] = outShape, [, h, w] = x.shape;
    const xs = loadF32(x), ys = out.data as Float32Array;
    let o = 0;
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < oh; y++) {
        const top = (n * h + rows.lower[y]) * w, bottom = (n * h + rows.upper[y]) * w;
        const dy = rows.lerp[y];
        for (let j = 0; j < ow; j++) {
          const l = cols.lower[j], r = cols.upper[j], dx = cols.lerp[j];
          for (let k = 0; k < c; k++, o++) {
            const tl = xs[(top + l) * c + k], tr = xs[(top + r) * c + k];
            const bl = xs[(bottom + l) * c + k], br = xs[(bottom + r) * c + k];
            const t = f(tl + f(f(tr - tl) * dx)), bo = f(bl + f(f(br - bl) * dx));
            ys[o] = f(t + f(f(bo - t) * dy));
          }
        }
      }
    }
    ctx.device.charge(ctx, {
      vpuOps: 9 * ys.length,
      hbmBytes: 4 * x.bytes + out.bytes,
      flops: 9 * ys.length,
    });
  },
  tolerance: { atol: 0, reason: "the reference's float32 operations in its order" },
});

const resizeNearest = tpuKernel(ResizeNearestNeighbor, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const x = input(ctx, 0);
    const { outShape, rows, cols } = resizePlan("nearest", x.shape, ctx.hostInput(1), ctx.attrs);
    const out = output(ctx, 0, outShape);
    const [b, oh, ow, c] = outShape, [, h, w] = x.shape;
    const s = elements(x), o = elements(out);
    let k = 0;
    for (let n = 0; n < b; n++) {
      for (let y = 0; y < oh; y++) {
        for (let j = 0; j < ow; j++) {
          const from = ((n * h + rows.lower[y]) * w + cols.lower[j]) * c;
          for (let i = 0; i < c; i++) o[k++] = s[from + i];
        }
      }
    }
    ctx.device.charge(ctx, { hbmBytes: 2 * out.bytes });
  },
});

const gatherNd = tpuKernel(GatherNd, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const params = input(ctx, 0), indices = input(ctx, 1);
    const plan = gatherNdPlan(params.shape, indices.shape);
    const out = output(ctx, 0, plan.outShape);
    const idx = indices.dtype === "int64"
      ? Float64Array.from(indices.data as BigInt64Array, Number)
      : indices.data as Int32Array;
    const s = elements(params), o = elements(out);
    let k = 0;
    for (let r = 0; r < plan.count; r++) {
      let from = 0; // in range: the op's check ran first
      for (let d = 0; d < plan.depth; d++) from += idx[r * plan.depth + d] * plan.strides[d];
      for (let n = 0; n < plan.inner; n++) o[k++] = s[from + n];
    }
    ctx.device.charge(ctx, { hbmBytes: indices.bytes + 2 * out.bytes });
  },
});

/** ScatterNd: zeros, then each update row added in index order on the vector unit (float32). */
const scatterNd = tpuKernel(ScatterNd, {
  dtypes: ["float32", "int32"],
  run(ctx) {
    const indices = input(ctx, 0), updates = input(ctx, 1);
    const target = intVector(ctx.hostInput(2), "shape");
    const plan = gatherNdPlan(target, indices.shape);
    const out = output(ctx, 0, target);
    const idx = indices.dtype === "int64"
      ? Float64Array.from(indices.data as BigInt64Array, Number)
      : indices.data as Int32Array;
    const o = out.data as Float32Array | Int32Array, u = updates.data as Float32Array | Int32Array;
    o.fill(0);
    for (let r = 0; r < plan.count; r++) {
      let to = 0; // in range: the op's check ran first
      for (let d = 0; d < plan.depth; d++) to += idx[r * plan.depth + d] * plan.strides[d];
      // Typed-array stores round each float32 sum and wrap each int32 one, as TensorFlow adds.
      for (let n = 0; n < plan.inner; n++) o[to + n] += u[r * plan.inner + n];
    }
    const n = plan.count * plan.inner;
    ctx.device.charge(ctx, { vpuOps: n, hbmBytes: indices.bytes + updates.bytes + 2 * out.bytes });
  },
  tolerance: { atol: 0, reason: "the reference's additions in its order" },
});

export const IMAGE_KERNELS: readonly TpuKernel[] = [
  resizeBilinear,
  resizeNearest,
  gatherNd,
  scatterNd,
];
