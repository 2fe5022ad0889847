/**
 * Resource-variable kernels: the generic VarHandle/Read/Assign kernels (a variable's value is a
 * buffer in WASM memory, kept in the session's ResourceTable across runs) and AssignAdd/AssignSub,
 * which update the value in place when nothing else holds it, so a training step moves no
 * weights between host and device and allocates nothing for its updates.
 */
import type { DType } from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Kernel } from "../../core/kernel.ts";
import type { OpDef } from "../../core/op.ts";
import { AssignAddVariableOp, AssignSubVariableOp, handleOf } from "../../core/ops/state.ts";
import { formatShape } from "../../core/shape.ts";
import { GENERIC_VARIABLE_KERNELS } from "../../core/variable_kernels.ts";
import type { BinaryCode } from "../codes.ts";
import { launchBinary } from "./elementwise.ts";
import { wasmBuffer, wasmKernel } from "./util.ts";

function updateKernel(op: OpDef<{ dtype: DType }>, code: BinaryCode): Kernel {
  return wasmKernel(op, {
    dtypes: ["float32", "int32", "int64"],
    run(ctx) {
      const handle = handleOf(ctx.hostInput(0));
      const old = wasmBuffer(ctx.resources.get(handle));
      const delta = wasmBuffer(ctx.inputs[1]);
      for (const [what, b] of [["variable", old], ["value", delta]] as const) {
        if (b.dtype !== ctx.attrs.dtype) {
          throw new EdgeflowError(
            `${what} of '${handle}' is ${b.dtype}, the op updates ${ctx.attrs.dtype}`,
          );
        }
      }
      if (old.shape.join() !== delta.shape.join()) {
        throw new EdgeflowError(
          `updates variable '${handle}' of shape ${formatShape(old.shape)} with shape ${
            formatShape(delta.shape)
          }`,
        );
      }
      // In place when the table holds the only reference and no view shares the storage;
      // binary.c allows out == x (each element is read before it is written).
      if (old.exclusive) {
        launchBinary(ctx.device, code, old, delta, old);
        return;
      }
      const out = ctx.device.allocate(old);
      launchBinary(ctx.device, code, old, delta, out);
      ctx.resources.set(handle, out);
    },
  });
}

export const VARIABLE_KERNELS: readonly Kernel[] = [
  ...GENERIC_VARIABLE_KERNELS,
  updateKernel(AssignAddVariableOp, "AddV2"),
  updateKernel(AssignSubVariableOp, "Sub"),
];
