/**
 * GatherV2, SelectV2 and OneHot (kernels_wasm/src/gather.c). Gather's indices are checked by the
 * op (core/ops/gather.ts) before the task runs: a bad index is an EdgeflowError, never a read
 * outside params.
 */
import { byteSize } from "../../core/dtype.ts";
import type { Kernel } from "../../core/kernel.ts";
import { intScalar } from "../../core/ops/array_util.ts";
import { GatherV2, resolveGather } from "../../core/ops/gather.ts";
import { OneHot, resolveOneHot, SelectV2 } from "../../core/ops/select.ts";
import { Task } from "../tasks.ts";
import { broadcastPlan, dtypeCode, outerWords } from "./elementwise.ts";
import { BYTE_DTYPES, sizeOfBuffer, wasmBuffer, wasmKernel } from "./util.ts";

const TASK_BYTES = 1 << 16;

export const gatherKernel = wasmKernel(GatherV2, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const params = wasmBuffer(ctx.inputs[0]), indices = wasmBuffer(ctx.inputs[1]);
    const axis = intScalar(ctx.hostInput(2), "axis");
    const plan = resolveGather(params.shape, indices.shape, axis, ctx.attrs.batch_dims);
    // Indices outside [0, axisDim) were refused by the op's check before the kernel ran.
    const out = wasmBuffer(ctx.output(0, plan.outShape));
    const size = byteSize(params.dtype), rows = plan.batch * plan.outer * plan.count;
    const chunk = Math.max(1, Math.floor(TASK_BYTES / Math.max(1, plan.inner * size)));
    ctx.device.launch(Task.task_gather, Math.ceil(rows / chunk), [
      out.ptr,
      params.ptr,
      indices.ptr,
      byteSize(indices.dtype),
      size,
      plan.batch,
      plan.outer,
      plan.axisDim,
      plan.count,
      plan.inner,
      chunk,
    ], rows * plan.inner);
  },
});

export const selectKernel = wasmKernel(SelectV2, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const [c, t, e] = ctx.inputs.map(wasmBuffer);
    const out = wasmBuffer(ctx.output(0));
    const n = sizeOfBuffer(out);
    if (n === 0) return;
    const p = broadcastPlan([c.shape, t.shape, e.shape], out.shape);
    const size = byteSize(t.dtype);
    const rows = n / p.inner, chunk = Math.max(1, Math.floor(TASK_BYTES / (p.inner * size)));
    ctx.device.launch(Task.task_select, Math.ceil(rows / chunk), [
      out.ptr,
      c.ptr,
      t.ptr,
      e.ptr,
      size,
      p.dims.length,
      p.inner,
      ...p.steps,
      chunk,
      ...outerWords(p.dims),
      ...p.strides.flatMap(outerWords),
    ], n);
  },
});

export const oneHotKernel = wasmKernel(OneHot, {
  dtypes: BYTE_DTYPES,
  run(ctx) {
    const [indices, on, off] = [0, 2, 3].map((i) => wasmBuffer(ctx.inputs[i]));
    const plan = resolveOneHot(indices.shape, intScalar(ctx.hostInput(1), "depth"), ctx.attrs.axis);
    // The default shape runs inference, which checks that on and off are scalars.
    const out = wasmBuffer(ctx.output(0));
    const size = byteSize(on.dtype);
    // on and off are device scalars: their bytes become argument words.
    const words = new Int32Array(4);
    const bytes = new Uint8Array(words.buffer);
    bytes.set(ctx.device.u8.subarray(on.ptr, on.ptr + size), 0);
    bytes.set(ctx.device.u8.subarray(off.ptr, off.ptr + size), 8);
    ctx.device.launch(Task.task_one_hot, plan.outer, [
      out.ptr,
      indices.ptr,
      dtypeCode(indices.dtype),
      size,
      plan.outer,
      plan.depth,
      plan.inner,
      ...words,
    ], plan.outer * plan.depth * plan.inner);
  },
});

export const GATHER_KERNELS: readonly Kernel[] = [gatherKernel, selectKernel, oneHotKernel];
