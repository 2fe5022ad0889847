/** The NULL plugin: a kernel for every op that allocates its outputs and computes nothing. */
import type { DevicePlugin, Kernel } from "../../core/kernel.ts";
import type { Attrs, OpDef } from "../../core/op.ts";
import { ALL_OPS } from "../../core/ops/registry.ts";
import { NullDevice } from "./device.ts";

function nullKernel(op: OpDef): Kernel<Attrs, NullDevice> {
  return {
    op,
    // NULL buffers hold no values: nothing could be read on the host or checked.
    hostInputs: [],
    hostReason: "NULL buffers hold no values to read on the host",
    uncheckedReason: "NULL buffers hold no values to check",
    // Allocating outputs is the same in every mode of an op.
    modes: "all",
    run(ctx) {
      // Static shapes: NULL buffers hold no values, so value-dependent shapes cannot be computed.
      ctx.node.outputSpecs.forEach((spec, i) =>
        ctx.output(i, (spec.shape ?? []).map((d) => Math.max(d, 0)))
      );
    },
  };
}

export const nullPlugin: DevicePlugin<NullDevice> = {
  type: "NULL",
  create: (options) => Promise.resolve(new NullDevice(options?.index ?? 0)),
  kernels: ALL_OPS.filter((op) => op.name !== "Placeholder").map(nullKernel),
};
