// Running one op case on a device through a session, and on the reference directly.
import { Graph, type Output, resolveAttrs } from "../../core/graph.ts";
import type { Device } from "../../core/device.ts";
import { MapHostContext } from "../../core/host_context.ts";
import type { KernelRegistry } from "../../core/kernel.ts";
import type { Attrs, OpCase, OpDef } from "../../core/op.ts";
import { placeholder } from "../../core/ops/basic.ts";
import { AssignVariableOp, ReadVariableOp, VarHandleOp } from "../../core/ops/state.ts";
import { Session } from "../../core/session.ts";
import type { Tensor } from "../../core/tensor.ts";
import { groupInputs } from "../op_cases.ts";

export interface CaseResult {
  outputs: Tensor[];
  /** The case's variables after the op ran. */
  variables: Record<string, Tensor>;
}

export function resolvedAttrs(op: OpDef, c: OpCase<Attrs>): Attrs {
  return resolveAttrs(op, c.attrs, groupInputs(op, c.inputs));
}

export function runReference(op: OpDef, c: OpCase<Attrs>): CaseResult {
  const ctx = new MapHostContext();
  ctx.node = { name: op.name, op };
  for (const [k, v] of Object.entries(c.variables ?? {})) ctx.assignVariable(k, v);
  const outputs = op.reference(c.inputs, resolvedAttrs(op, c), ctx);
  const variables = Object.fromEntries(
    Object.keys(c.variables ?? {}).map((k) => [k, ctx.readVariable(k)]),
  );
  return { outputs, variables };
}

/** Runs the op on `device` alone: inputs are fed, folding and CSE are off, so the kernel runs. */
export async function runOnDevice(
  device: Device,
  registry: KernelRegistry,
  op: OpDef,
  c: OpCase<Attrs>,
): Promise<CaseResult> {
  const g = new Graph();
  const feeds: [Output, Tensor][] = c.inputs.map((
    t,
    i,
  ) => [placeholder(g, t.dtype, t.shape, { name: `in${i}` }), t]);
  const node = g.addNode(op, groupInputs(op, feeds.map(([o]) => o)), c.attrs, { name: "op" });
  const session = new Session(g, {
    registry,
    devices: [device],
    passes: { constantFolding: false, cse: false },
  });
  try {
    const handles = Object.entries(c.variables ?? {}).map(([name, value]) => {
      const handle =
        g.addNode(VarHandleOp, [], { dtype: value.dtype, shape: value.shape, shared_name: name })
          .outputs[0];
      const init = placeholder(g, value.dtype, value.shape);
      const assign = g.addNode(AssignVariableOp, [handle, init], {});
      return { name, handle, init, value, assign };
    });
    for (const h of handles) await session.run([], [[h.init, h.value]], [h.assign]);
    const outputs = node.outputs.length > 0 ? await session.run([...node.outputs], feeds) : [];
    if (node.outputs.length === 0) await session.run([], feeds, [node]);
    const reads = handles.map((h) =>
      g.addNode(ReadVariableOp, [h.handle], { dtype: h.value.dtype }).outputs[0]
    );
    const values = reads.length > 0 ? await session.run(reads) : [];
    return { outputs, variables: Object.fromEntries(handles.map((h, i) => [h.name, values[i]])) };
  } finally {
    await session.close();
  }
}
