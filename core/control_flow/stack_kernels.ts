/**
 * The stack ops' kernels, valid on every device: a stack keeps the device buffers pushed on it
 * (one reference each), so no value moves; a pop hands its buffer over, copied to the popping
 * node's device only if it was pushed on another one. The stacks are the step's
 * (`ctx.stacks`, core/step.ts), released when the step ends.
 */
import { HostBuffer, release } from "../buffer.ts";
import { EdgeflowError } from "../errors.ts";
import { defineKernel, type Kernel, type KernelContext } from "../kernel.ts";
import {
  checkElemType,
  maxSizeOf,
  StackCloseV2,
  StackPopV2,
  StackPushV2,
  StackV2,
} from "../ops/stack.ts";
import { handleOf } from "../ops/state.ts";
import { Tensor } from "../tensor.ts";
import { transfer } from "../transfer.ts";
import type { StackTable } from "./stacks.ts";

function stacksOf(ctx: KernelContext): StackTable {
  if (!ctx.stacks) throw new EdgeflowError("stack kernels need a session's step");
  return ctx.stacks;
}

export const STACK_KERNELS: readonly Kernel[] = [
  defineKernel(StackV2, {
    run(ctx) {
      const s = stacksOf(ctx).create(
        ctx.attrs.stack_name || ctx.node.name,
        ctx.attrs.elem_type,
        maxSizeOf(ctx.hostInput(0)),
      );
      ctx.setOutput(0, new HostBuffer(new Tensor("resource", [], [s.name])));
    },
  }),
  defineKernel(StackPushV2, {
    run(ctx) {
      stacksOf(ctx).get(handleOf(ctx.hostInput(0))).push(ctx.inputs[1]);
      ctx.setOutput(0, ctx.inputs[1]);
    },
  }),
  defineKernel(StackPopV2, {
    run(ctx) {
      const s = stacksOf(ctx).get(handleOf(ctx.hostInput(0)));
      checkElemType(s.elemType, ctx.attrs.elem_type, s.name);
      const b = s.pop();
      // A host-memory value (a TensorList) goes on as it is: its readers take it from the host.
      if (b.device === ctx.device || (b instanceof HostBuffer && b.device === null)) {
        ctx.setOutput(0, b);
        release(b);
        return;
      }
      // Pushed on another device (or a host value): the pop's readers expect its own device.
      const moved = transfer(b, ctx.device);
      const done = (m: typeof b) => {
        release(b);
        ctx.setOutput(0, m);
        release(m);
      };
      if (moved instanceof Promise) {
        return moved.then(done, (e) => {
          release(b);
          throw e;
        });
      }
      done(moved);
    },
  }),
  defineKernel(StackCloseV2, {
    run(ctx) {
      stacksOf(ctx).close(handleOf(ctx.hostInput(0)));
    },
  }),
];
