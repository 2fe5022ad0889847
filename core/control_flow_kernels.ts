/**
 * The kernels of the control-flow ops, valid on every device: they forward buffers and read one
 * host-memory predicate, so no device computes anything. Each device plugin lists them (through
 * GENERIC_BASIC_KERNELS; REF lists them itself). The executor decides where the outputs go
 * (core/control_flow/frames.ts) and hands Merge only its chosen input.
 */
import { HostBuffer } from "./buffer.ts";
import type { DeviceBuffer } from "./device.ts";
import { defineKernel, forwardInput, type Kernel } from "./kernel.ts";
import {
  ControlTrigger,
  Enter,
  Exit,
  LoopCond,
  Merge,
  NextIteration,
  Switch,
} from "./ops/control_flow.ts";
import { Tensor } from "./tensor.ts";
import { STACK_KERNELS } from "./control_flow/stack_kernels.ts";

/** Switch: the data buffer goes to output_true or output_false; the other output stays dead. */
export const switchKernel = defineKernel(Switch, {
  run(ctx) {
    const taken = ctx.hostInput(1).data[0] ? 1 : 0;
    ctx.setOutput(taken, ctx.inputs[0]);
  },
});

/** value_index buffers, one per input index, shared by every run (host memory, immutable). */
const indexBuffers: HostBuffer[] = [];
function indexBuffer(i: number): HostBuffer {
  return indexBuffers[i] ??= new HostBuffer(Tensor.fromNumbers("int32", [], [i]));
}

/** Merge: the executor passes the chosen live input and leaves the others undefined. */
export const mergeKernel = defineKernel(Merge, {
  run(ctx) {
    const inputs = ctx.inputs as readonly (DeviceBuffer | undefined)[];
    const i = inputs.findIndex((b) => b !== undefined);
    ctx.setOutput(0, inputs[i]!);
    ctx.setOutput(1, indexBuffer(i));
  },
});

export const enterKernel = defineKernel(Enter, { run: forwardInput });
export const exitKernel = defineKernel(Exit, { run: forwardInput });
export const nextIterationKernel = defineKernel(NextIteration, { run: forwardInput });
export const loopCondKernel = defineKernel(LoopCond, { run: forwardInput });
/** Nothing to compute: the executor runs it live whatever its control inputs carry. */
export const controlTriggerKernel = defineKernel(ControlTrigger, { run() {} });

export const CONTROL_FLOW_KERNELS: readonly Kernel[] = [
  switchKernel,
  mergeKernel,
  enterKernel,
  exitKernel,
  nextIterationKernel,
  loopCondKernel,
  controlTriggerKernel,
  // A while loop's gradient keeps forward values on stacks inside the loop's frame, which runs
  // on one device: every device that runs loops runs the stack kernels (they hold its buffers).
  ...STACK_KERNELS,
];
