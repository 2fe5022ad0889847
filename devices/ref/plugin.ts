/** The REF plugin: one kernel per op, generated from the op registry, running its reference. */
import { type DevicePlugin, type Kernel } from "../../core/kernel.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import { ALL_OPS } from "../../core/ops/registry.ts";
import { memoryLimitOf } from "../../core/memory_limit.ts";
import { RefDevice } from "./device.ts";

/** Ops with no kernel anywhere: the session feeds Placeholders itself. */
const FED_BY_SESSION = new Set(["Placeholder"]);

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
  kernels: ALL_OPS.filter((op) => !FED_BY_SESSION.has(op.name)).map(referenceKernel),
};
