/**
 * GatherNd as task_gather (kernels_wasm/src/gather.c) over params viewed as [rows, inner]: each
 * index row [i0, ..., iK-1] becomes the flat row Σ i_d·stride_d / inner, computed here from the
 * indices (already read in WASM memory by the op's range check, which ran before the kernel).
 */
import { byteSize } from "../../core/dtype.ts";
import type { Kernel } from "../../core/kernel.ts";
import { GatherNd, type GatherNdPlan, gatherNdPlan, ScatterNd } from "../../core/ops/gather_nd.ts";
import { intVector } from "../../core/ops/array_util.ts";
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
    // Rows computed before allocating: a peek view is only valid until the device allocates.
    const idx = d.peek(indices).data as ArrayLike<number | bigint>;
    const flat = new Int32Array(plan.count);
    for (let r = 0; r < plan.count; r++) {
      let at = 0;
      for (let k = 0; k < plan.depth; k++) at += Number(idx[r * plan.depth + k]) * plan.strides[k];
      flat[r] = at / plan.inner;
    }
    const rows = d.scratch(4 * plan.count);
    try {
      d.i32.set(flat, rows.ptr >>> 2);
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

/** Flat output rows of ScatterNd's index rows (indices already checked in range). */
function scatterRows(idx: ArrayLike<number | bigint>, plan: GatherNdPlan): Int32Array {
  const flat = new Int32Array(plan.count);
  for (let r = 0; r < plan.count; r++) {
    let at = 0;
    for (let k = 0; k < plan.depth; k++) at += Number(idx[r * plan.depth + k]) * plan.strides[k];
    flat[r] = at / plan.inner;
  }
  return flat;
}

const SCATTER_COLUMNS = 4096;

/** ScatterNd: zeros, then task_scatter_add over the output rows the op's check admitted. */
export const scatterNdKernel = wasmKernel(ScatterNd, {
  dtypes: ["float32", "int32"],
  run(ctx) {
    const d = ctx.device;
    const indices = wasmBuffer(ctx.inputs[0]), updates = wasmBuffer(ctx.inputs[1]);
    const target = intVector(ctx.hostInput(2), "shape");
    const plan = gatherNdPlan(target, indices.shape);
    // Rows computed before allocating: a peek view is only valid until the device allocates.
    const flat = scatterRows(d.peek(indices).data as ArrayLike<number | bigint>, plan);
    const out = wasmBuffer(ctx.output(0, target));
    const bytes = 4 * target.reduce((a, b) => a * b, 1);
    if (bytes === 0) return;
    d.launch(Task.task_fill, 1, [out.ptr, bytes, 4, 0, 0]);
    if (plan.count === 0 || plan.inner === 0) return;
    const rows = d.scratch(4 * plan.count);
    try {
      d.i32.set(flat, rows.ptr >>> 2);
      const tasks = Math.ceil(plan.inner / SCATTER_COLUMNS);
      d.launch(Task.task_scatter_add, tasks, [
        out.ptr,
        updates.ptr,
        rows.ptr,
        plan.count,
        plan.inner,
        updates.dtype === "int32" ? 1 : 0,
        SCATTER_COLUMNS,
      ], plan.count * plan.inner);
    } finally {
      d.releaseScratch(rows);
    }
  },
  tolerance: { atol: 0, reason: "the same additions in the same order as the reference" },
});

export const GATHER_ND_KERNELS: readonly Kernel[] = [gatherNdKernel, scatterNdKernel];
