/** The REF plugin: one kernel per op, generated from the op registry, running its reference. */
import { type DevicePlugin, type Kernel } from "../../core/kernel.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import { ALL_OPS } from "../../core/ops/registry.ts";
import { memoryLimitOf } from "../../core/memory_limit.ts";
import { RefDevice } from "./device.ts";
import { QUEUE_OPS } from "../../core/ops/queue.ts";
import { QUEUE_KERNELS } from "../../core/queues/kernels.ts";
import { CONTROL_FLOW_KERNELS } from "../../core/control_flow_kernels.ts";
import { STACK_OPS } from "../../core/ops/stack.ts";

/** Ops with no kernel anywhere: the session feeds Placeholders itself. */
const FED_BY_SESSION = new Set(["Placeholder"]);
/**
 * Ops with kernels of their own, not the reference: queues (their kernels wait) and stacks (their
 * generic kernels, in CONTROL_FLOW_KERNELS, keep the step's buffers).
 */
const OWN_KERNELS = new Set<string>([...QUEUE_OPS, ...STACK_OPS].map((op) => op.name));

export function referenceKernel(op: OpDef): Kernel<Attrs, RefDevice> {
  return {
    op,
    // The reference defines every mode of the op.
    modes: "all",
    run(ctx) {
      const inputs = ctx.inputs.map((b) => b.tensor);
      const outputs = op.reference(inputs, ctx.attrs, ctx);
      for (let i = 0; i < outputs.length; i++) ctx.setOutput(i, ctx.device.wrap(outputs[i]));
    },
  };
}

export const refPlugin: DevicePlugin<RefDevice> = {
  type: "REF",
  create: (options) =>
    Promise.resolve(new RefDevice(options?.index ?? 0, memoryLimitOf(options, "REF"))),
  // Control-flow ops take and give dead (absent) values: their generic kernels forward buffers.
  kernels: [
    ...ALL_OPS.filter((op) =>
      !FED_BY_SESSION.has(op.name) && !OWN_KERNELS.has(op.name) && !op.controlFlow
    ).map(referenceKernel),
    ...QUEUE_KERNELS,
    ...CONTROL_FLOW_KERNELS,
  ],
};
