// Shared by the op property tests and the kernel equivalence suite: fast-check parameters and
// an op's arbitrary with fast-check's real module.
import fc from "npm:fast-check@4";
import type { DType } from "../core/dtype.ts";
import type { OpCase, OpDef } from "../core/op.ts";
import type { FastCheck } from "../core/testing/fast_check_types.ts";

/** CI runs with a fixed seed, a local run with a fresh one (fast-check prints it on failure). */
export function fcParams(numRuns = 25): { numRuns: number; seed?: number } {
  const fixed = Deno.env.get("FC_SEED") ?? (Deno.env.get("CI") ? "42" : undefined);
  return fixed === undefined ? { numRuns } : { numRuns, seed: Number(fixed) };
}

export function opCases(op: OpDef, dtype: DType): fc.Arbitrary<OpCase<never>> {
  if (!op.arbitrary) throw new Error(`${op.name} has no arbitrary`);
  return op.arbitrary(fc as unknown as FastCheck, dtype) as unknown as fc.Arbitrary<OpCase<never>>;
}

/** Invalid cases of an op (OpDef.invalidArbitrary), or undefined where it has none. */
export function invalidCases(op: OpDef, dtype: DType): fc.Arbitrary<OpCase<never>> | undefined {
  const arb = op.invalidArbitrary?.(fc as unknown as FastCheck, dtype);
  return arb as unknown as fc.Arbitrary<OpCase<never>> | undefined;
}

/** Regroups a case's flat inputs by the op's input specs (a list input takes the remainder). */
export function groupInputs<T>(op: OpDef, flat: readonly T[]): (T | T[])[] {
  const listLen = flat.length - op.inputs.filter((s) => !s.numberAttr).length;
  const grouped: (T | T[])[] = [];
  let i = 0;
  for (const spec of op.inputs) {
    if (spec.numberAttr) {
      grouped.push(flat.slice(i, i + listLen));
      i += listLen;
    } else grouped.push(flat[i++]);
  }
  return grouped;
}
