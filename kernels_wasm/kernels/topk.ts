/**
 * TopKV2 on WASM (kernels_wasm/src/topk.c): one task per row, a heap of k indices in the row's
 * slice of the index output, then sorted; the reference's order exactly (larger first, NaN above
 * every number, ties to the lower index), so results are bit-identical to REF's.
 */
import type { Kernel } from "../../core/kernel.ts";
import { TopKV2 } from "../../core/ops/topk.ts";
import { numbers } from "../../core/tensor.ts";
import { Task } from "../tasks.ts";
import { dtypeCode } from "./elementwise.ts";
import { wasmKernel } from "./util.ts";

export const TOPK_KERNELS: readonly Kernel[] = [
  wasmKernel(TopKV2, {
    dtypes: ["float32", "int32", "int64"],
    create({ inputs: [x] }) {
      const dt = dtypeCode(x.dtype);
      return {
        run(ctx) {
          const x = ctx.inputs[0];
          // The op's checks ran already: k is a scalar in [0, last dim].
          const k = numbers(ctx.hostInput(1))[0];
          const n = x.shape[x.shape.length - 1];
          const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
          const values = ctx.output(0), indices = ctx.output(1);
          if (k === 0 || rows === 0) return;
          const words = [x.ptr, values.ptr, indices.ptr, dt, n, k];
          ctx.device.launch(Task.task_top_k, rows, words, rows * n * Math.max(1, Math.log2(k + 1)));
        },
      };
    },
  }),
];
