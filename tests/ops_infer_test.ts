// For every op with an arbitrary: the shape and dtype inferred from input specs equal those of
// the reference output, on random valid inputs.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ALL_OPS } from "../core/ops/registry.ts";
import { resolveAttrs } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import type { FastCheck } from "../core/testing/fast_check_types.ts";
import { formatShape, isCompatible } from "../core/shape.ts";
import { fcParams } from "./fc_params.ts";

for (const op of ALL_OPS) {
  if (!op.arbitrary) continue;
  for (const dtype of op.testDTypes) {
    Deno.test(`infer matches reference: ${op.name} ${dtype}`, () => {
      fc.assert(
        fc.property(
          op.arbitrary!(fc as unknown as FastCheck, dtype) as unknown as fc.Arbitrary<
            { inputs: never[]; attrs: never }
          >,
          ({ inputs, attrs }) => {
            const grouped = groupInputs(op, inputs);
            const resolved = resolveAttrs(op, attrs, grouped);
            const specs = inputs.map((t: { dtype: string; shape: number[] }) => ({
              dtype: t.dtype,
              shape: t.shape,
              value: t,
            }));
            const inferred = op.infer(specs as never, resolved);
            const ctx = new MapHostContext();
            ctx.node = { name: op.name, op: op.name };
            const outs = op.reference(inputs, resolved, ctx);
            assert.equal(inferred.length, outs.length, "output count");
            outs.forEach((t, i) => {
              assert.equal(inferred[i].dtype, t.dtype, `output ${i} dtype`);
              assert.ok(
                isCompatible(t.shape, inferred[i].shape),
                `output ${i}: inferred ${formatShape(inferred[i].shape)}, reference ${
                  formatShape(t.shape)
                }`,
              );
            });
            // Without constant values, inference must still be compatible with the result.
            const blind = op.infer(
              inputs.map((t: { dtype: string; shape: number[] }) => ({
                dtype: t.dtype,
                shape: t.shape,
              })) as never,
              resolved,
            );
            outs.forEach((t, i) =>
              assert.ok(isCompatible(t.shape, blind[i].shape), `output ${i} without values`)
            );
          },
        ),
        fcParams(),
      );
    });
  }
}

function groupInputs(op: (typeof ALL_OPS)[number], flat: readonly unknown[]) {
  const grouped: unknown[] = [];
  let i = 0;
  const listArgs = op.inputs.filter((s) => s.numberAttr).length;
  const listLen = flat.length - (op.inputs.length - listArgs);
  for (const spec of op.inputs) {
    if (spec.numberAttr) {
      grouped.push(flat.slice(i, i + listLen));
      i += listLen;
    } else grouped.push(flat[i++]);
  }
  return grouped as never;
}
