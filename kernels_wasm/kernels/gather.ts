/**
 * GatherV2, SelectV2 and OneHot (kernels_wasm/src/gather.c). Gather's indices are checked here,
 * read straight from the WASM memory, before the task runs: a bad index is an EdgeflowError,
 * never a read outside params.
 */
import { byteSize } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Kernel } from "../../core/kernel.ts";
import { intScalar } from "../../core/ops/array_util.ts";
import { GatherV2, resolveGather } from "../../core/ops/gather.ts";
import { OneHot, resolveOneHot, SelectV2 } from "../../core/ops/select.ts";
import type { Shape } from "../../core/shape.ts";
import type { WasmBuffer } from "../../devices/wasm/buffer.ts";
import type { WasmDevice } from "../../devices/wasm/device.ts";
import { Task } from "../tasks.ts";
import { broadcastPlan, dtypeCode, outerWords } from "./elementwise.ts";
import { BYTE_DTYPES, sizeOfBuffer, wasmBuffer, wasmKernel } from "./util.ts";

const TASK_BYTES = 1 << 16;

/** The values of an int32 or int64 buffer, read from the device memory. */
function indexValues(d: WasmDevice, b: WasmBuffer): ArrayLike<number | bigint> {
  const n = sizeOfBuffer(b);
  const buffer = d.u8.buffer;
  return b.dtype === "int64"
    ? new BigInt64Array(buffer, b.ptr, n)
    : new Int32Array(buffer, b.ptr, n);
}

/** "[1,2]": TensorFlow's name for an element of `shape` by its coordinates. */
function coordinates(shape: Shape, flat: number): string {
  const c: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    c.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return `[${c}]`;
}

export const gatherKernel = wasmKernel(GatherV2, {
  dtypes: BYTE_DTYPES,
  hostInputs: [2],
  run(ctx) {
    const params = wasmBuffer(ctx.inputs[0]), indices = wasmBuffer(ctx.inputs[1]);
    const axis = intScalar(ctx.hostInput(2), "axis");
    const plan = resolveGather(params.shape, indices.shape, axis, ctx.attrs.batch_dims);
    const values = indexValues(ctx.device, indices);
    for (let i = 0; i < values.length; i++) {
      const v = Number(values[i]);
      if (!(v >= 0 && v < plan.axisDim)) {
        throw new EdgeflowError(
          `indices${coordinates(indices.shape, i)} = ${v} is not in [0, ${plan.axisDim})`,
        );
      }
    }
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
  hostInputs: [1],
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
