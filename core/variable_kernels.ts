/**
 * Kernels for the resource-variable ops that need no arithmetic, valid on every device: a handle
 * is a host string, a variable's value is a buffer in the device's ResourceTable. Devices list
 * these in their plugins and add AssignAdd/AssignSub kernels of their own.
 */
import { HostBuffer, release, retain } from "./buffer.ts";
import { EdgeflowError } from "./errors.ts";
import { defineKernel, type Kernel } from "./kernel.ts";
import {
  AssignVariableOp,
  handleName,
  handleOf,
  ReadVariableOp,
  VarHandleOp,
} from "./ops/state.ts";
import { formatShape } from "./shape.ts";
import { Tensor } from "./tensor.ts";

export const varHandleKernel = defineKernel(VarHandleOp, {
  create({ node, attrs }) {
    // The handle is a constant of the node: made once per plan, handed out on every run.
    const handle = retain(
      new HostBuffer(new Tensor("resource", [], [handleName(attrs, node.name)])),
    );
    return {
      run: (ctx) => ctx.setOutput(0, handle),
      dispose: () => release(handle),
    };
  },
});

export const readVariableKernel = defineKernel(ReadVariableOp, {
  run(ctx) {
    const handle = handleOf(ctx.hostInput(0));
    const value = ctx.resources.get(handle);
    if (value.dtype !== ctx.attrs.dtype) {
      throw new EdgeflowError(
        `variable '${handle}' holds ${value.dtype}, read as ${ctx.attrs.dtype}`,
      );
    }
    // The value is shared, not copied: updates replace the table's buffer or run in place only
    // when nobody else holds it (ResourceTable.exclusive).
    ctx.setOutput(0, value);
  },
});

export const assignVariableKernel = defineKernel(AssignVariableOp, {
  run(ctx) {
    const handle = handleOf(ctx.hostInput(0));
    const value = ctx.inputs[1];
    if (ctx.attrs.validate_shape && ctx.resources.has(handle)) {
      const old = ctx.resources.get(handle);
      if (old.shape.join() !== value.shape.join()) {
        throw new EdgeflowError(
          `assigns shape ${formatShape(value.shape)} to variable '${handle}' of shape ${
            formatShape(old.shape)
          }`,
        );
      }
    }
    ctx.resources.set(handle, value);
  },
});

export const GENERIC_VARIABLE_KERNELS: readonly Kernel[] = [
  varHandleKernel,
  readVariableKernel,
  assignVariableKernel,
];
