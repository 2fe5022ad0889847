/**
 * Cumsum and Cumprod (kernels_wasm/src/scan.c): a task per block of up to 256 columns of one
 * outer index, walking the axis; float32 accumulates in double and rounds once per output, as
 * the reference, so results are exact.
 */
import type { Kernel } from "../../core/kernel.ts";
import type { OpDef } from "../../core/op.ts";
import { intScalar } from "../../core/ops/array_util.ts";
import { Cumprod, Cumsum, type ScanAttrs, scanLayout } from "../../core/ops/scan.ts";
import { Task } from "../tasks.ts";
import { dtypeCode } from "./elementwise.ts";
import { sizeOfBuffer, wasmKernel } from "./util.ts";

/** Columns per task (SCAN_COLUMNS in scan.c: the task's accumulators live on its stack). */
const COLUMNS = 256;

function scanKernel(op: OpDef<ScanAttrs>, prod: 0 | 1): Kernel {
  return wasmKernel(op, {
    dtypes: ["float32", "int32", "int64"],
    run(ctx) {
      const x = ctx.inputs[0];
      // Inference (run where the plan's shapes were partial) refused rank 0.
      const { outer, n, inner } = scanLayout(x.shape, intScalar(ctx.hostInput(1), "axis"));
      const out = ctx.output(0, x.shape);
      if (sizeOfBuffer(out) === 0) return;
      const columns = Math.min(COLUMNS, inner);
      const tasks = outer * Math.ceil(inner / columns);
      const { exclusive, reverse } = ctx.attrs;
      ctx.device.launch(Task.task_scan, tasks, [
        x.ptr,
        out.ptr,
        prod,
        dtypeCode(x.dtype),
        outer,
        n,
        inner,
        exclusive ? 1 : 0,
        reverse ? 1 : 0,
        columns,
      ], outer * n * inner);
    },
  });
}

export const SCAN_KERNELS: readonly Kernel[] = [scanKernel(Cumsum, 0), scanKernel(Cumprod, 1)];
