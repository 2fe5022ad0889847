/**
 * The optimizer ops on WASM (task_apply in src/optim.c): the variable and its slots are updated
 * in place in WASM memory when the resource table holds their only reference, so a training step
 * moves no weights and allocates nothing; a slot or variable still held by a reader (a
 * ReadVariableOp output the step uses later) gets a new buffer, as AssignAdd does.
 */
import type { Kernel } from "../../core/kernel.ts";
import {
  APPLY_SPECS,
  applyLayout,
  checkApply,
  TRAINING_OPS,
  type TrainingAttrs,
} from "../../core/ops/training_ops.ts";
import { handleOf } from "../../core/ops/state.ts";
import type { OpDef } from "../../core/op.ts";
import type { WasmBuffer } from "../../devices/wasm/buffer.ts";
import { APPLY_CODES } from "../codes.ts";
import { Task } from "../tasks.ts";
import { sizeOfBuffer, U32, wasmBuffer, wasmKernel } from "./util.ts";

/** Elements per task: enough work per task to amortize a thread's wake-up. */
const CHUNK = 1 << 14;

function applyKernel(op: OpDef<TrainingAttrs>): Kernel {
  const spec = APPLY_SPECS[op.name];
  const layout = applyLayout(spec);
  const kind = APPLY_CODES.indexOf(op.name.replace("ResourceApply", "") as never);
  return wasmKernel(op, {
    dtypes: ["float32"],
    run(ctx) {
      const handles = layout.resources.map((at) => handleOf(ctx.hostInput(at)));
      const state = handles.map((h) => wasmBuffer(ctx.resources.get(h)));
      const grad = wasmBuffer(ctx.inputs[layout.grad]);
      const scalars = layout.scalars.map((at) => wasmBuffer(ctx.inputs[at]));
      checkApply(
        spec,
        ctx.attrs.T,
        handles,
        state,
        scalars.map((s) => s.shape),
        grad.shape,
      );
      const d = ctx.device;
      const outs: WasmBuffer[] = state.map((b) => (b.exclusive ? b : d.allocate(b)));
      const n = sizeOfBuffer(grad);
      const pairs: number[] = [];
      for (let j = 0; j < 3; j++) pairs.push(state[j]?.ptr ?? 0, outs[j]?.ptr ?? 0);
      const ptrs = [0, 1, 2, 3, 4, 5].map((j) => scalars[j]?.ptr ?? 0);
      const flags = (ctx.attrs.use_nesterov ? 1 : 0) | (ctx.attrs.update_slots ? 2 : 0);
      if (n > 0) {
        d.launch(
          Task.task_apply,
          Math.ceil(n / CHUNK),
          [kind, flags, n, CHUNK, grad.ptr, ...pairs, ...ptrs],
          n * 4 * state.length,
        );
      }
      outs.forEach((b, i) => {
        if (b !== state[i]) ctx.resources.set(handles[i], b);
      });
    },
    // float32 operations in the reference's order, each rounded once: equal up to the last bit
    // of libm-free WebAssembly arithmetic; one ULP admits a denormal flushed differently.
    tolerance: {
      ulps: 1,
      atol: 4 * U32 * 2 ** -126,
      reason: "float32 steps in TensorFlow's order",
    },
  });
}

export const OPTIM_KERNELS: readonly Kernel[] = TRAINING_OPS.map(applyKernel);
