/**
 * Kernels of the TensorList and TensorArray ops on devices other than REF (which runs the
 * references itself): every argument of these ops is in host memory (their OpDefs say so), so the
 * executor hands the kernel host tensors and takes host tensors back, and the kernel is the
 * reference run on them. A device listing them keeps a loop that accumulates into a list on that
 * device (without them each list op would run alone on REF, its list and elements crossing
 * devices every iteration); the elements cross to and from the device as any host-memory value
 * does.
 */
import { HostBuffer } from "../buffer.ts";
import { identityKernel } from "../basic_kernels.ts";
import { defineKernel, type Kernel } from "../kernel.ts";
import type { Attrs, OpDef } from "../op.ts";
import { TENSOR_ARRAY_OPS } from "../ops/tensor_array.ts";
import { TENSOR_LIST_OPS } from "../ops/tensor_list.ts";

function hostKernel<A extends Attrs>(op: OpDef<A>): Kernel<A> {
  return defineKernel(op, {
    run(ctx) {
      const values = ctx.inputs.map((_, i) => ctx.hostInput(i));
      op.reference(values, ctx.attrs, ctx).forEach((t, i) => ctx.setOutput(i, new HostBuffer(t)));
    },
  });
}

/**
 * Identity of a variant (while bodies read loop variables through one): the list stays the host
 * value it is, read in host memory so nothing uploads it.
 */
const variantIdentity: Kernel = {
  ...identityKernel,
  dtypes: ["variant"],
  hostInputs: [0],
  hostReason: "a variant (a TensorList) is a host object; Identity forwards it as it is",
};

export const TENSOR_LIST_KERNELS: readonly Kernel[] = [
  variantIdentity,
  ...(TENSOR_LIST_OPS as readonly OpDef[]).map(hostKernel),
  ...(TENSOR_ARRAY_OPS as readonly OpDef[]).map(hostKernel),
];
