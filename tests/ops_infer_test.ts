// For every op with an arbitrary: the shape and dtype inferred from input specs equal those of
// the reference output, on random valid inputs.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import { ALL_OPS } from "../core/ops/registry.ts";
import { resolveAttrs } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import type { OpCase, OpDef } from "../core/op.ts";
import { formatShape, isCompatible } from "../core/shape.ts";
import { fcParams, groupInputs, opCases } from "./op_cases.ts";

for (const op of ALL_OPS) {
  for (const dtype of op.arbitrary ? op.testDTypes : []) {
    Deno.test(`infer matches reference: ${op.name} ${dtype}`, () => {
      fc.assert(fc.property(opCases(op, dtype), (c) => checkCase(op, c)), fcParams());
    });
  }
}

function checkCase(op: OpDef, { inputs, attrs, variables }: OpCase<never>) {
  const resolved = resolveAttrs(op, attrs, groupInputs(op, inputs));
  const ctx = new MapHostContext();
  ctx.node = { name: op.name, op };
  for (const [k, v] of Object.entries(variables ?? {})) ctx.assignVariable(k, v);
  const outs = op.reference(inputs, resolved, ctx);
  const withValues = op.infer(
    inputs.map((t) => ({ dtype: t.dtype, shape: t.shape, value: t })),
    resolved,
  );
  // Without constant values, inference must still be compatible with the result.
  const blind = op.infer(inputs.map((t) => ({ dtype: t.dtype, shape: t.shape })), resolved);
  assert.equal(withValues.length, outs.length, "output count");
  outs.forEach((t, i) => {
    assert.equal(withValues[i].dtype, t.dtype, `output ${i} dtype`);
    assert.ok(
      isCompatible(t.shape, withValues[i].shape),
      `output ${i}: inferred ${formatShape(withValues[i].shape)}, reference ${
        formatShape(t.shape)
      }`,
    );
    assert.ok(
      isCompatible(t.shape, blind[i].shape),
      `output ${i} without values: ${formatShape(blind[i].shape)}`,
    );
  });
}
