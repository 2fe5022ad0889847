/**
 * GatherNd as task_gather (kernels_wasm/src/gather.c) over params viewed as [rows, inner]: each
 * index row [i0, ..., iK-1] becomes the flat row Σ i_d·stride_d / inner, computed here from the
 * indices (already read in WASM memory by the op's range check, which ran before the kernel).
 */
import { byteSize } from "../../core/dtype.ts";
import type { Kernel } from "../../core/kernel.ts";
import { GatherNd, gatherNdPlan } from "../../core/ops/gather_nd.ts";
import { Task } from "../tasks.ts";
import { BYTE_DTYPES, wasmBuffer, wasmKernel } from "./util.ts";

const TASK_BYTES = 1 << 16;

export const gatherNdKernel = wasmKernel(GatherNd, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const d = ctx.device;
    const params = wasmBuffer(ctx.inputs[0]), indices = wasmBuffer(ctx.inputs[1]);
    const plan = gatherNdPlan(params.shape, indices.shape);
    const out = wasmBuffer(ctx.output(0, plan.outShape));
    if (plan.count === 0 || plan.inner === 0) return;
    const idx = d.peek(indices).data as ArrayLike<number | bigint>;
    const rows = d.scratch(4 * plan.count);
    try {
      const table = d.i32.subarray(rows.ptr >>> 2, (rows.ptr >>> 2) + plan.count);
      for (let r = 0; r < plan.count; r++) {
        let at = 0;
        for (let k = 0; k < plan.depth; k++) {
          at += Number(idx[r * plan.depth + k]) * plan.strides[k];
        }
        table[r] = at / plan.inner;
      }
      const size = byteSize(params.dtype);
      const chunk = Math.max(1, Math.floor(TASK_BYTES / Math.max(1, plan.inner * size)));
      const paramRows = plan.inner === 0 ? 0 : params.shape.reduce((a, b) => a * b, 1) / plan.inner;
      d.launch(Task.task_gather, Math.ceil(plan.count / chunk), [
        out.ptr,
        params.ptr,
        rows.ptr,
        4,
        size,
        1,
        1,
        paramRows,
        plan.count,
        plan.inner,
        chunk,
      ], plan.count * plan.inner);
    } finally {
      d.releaseScratch(rows);
    }
  },
});

export const GATHER_ND_KERNELS: readonly Kernel[] = [gatherNdKernel];
