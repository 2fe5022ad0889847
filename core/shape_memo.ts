/**
 * A kernel instance's memo of what it derives from its inputs' shapes and small host values (a
 * broadcast plan, a reduction's layout, a convolution's geometry). It is seeded when the plan is
 * built where the node's static shapes and constant arguments are fully known, and derived again
 * only when a run's key differs from the one it holds (partially known shapes, a fed axis): in a
 * plan whose shapes are static, runs do no shape work at all.
 */
import type { Node } from "./graph.ts";
import { Const } from "./ops/const.ts";
import { isFullyDefined, type PartialShape, type Shape } from "./shape.ts";
import { intList, type Tensor } from "./tensor.ts";

/** The values a derivation depends on: shapes and integer lists, compared element by element. */
export type MemoKey = readonly (readonly number[])[];

export class ShapeMemo<T> {
  private key: MemoKey | undefined;
  private value: T | undefined;

  constructor(private readonly derive: (...key: Shape[]) => T) {}

  /**
   * Seeds the memo with the static key where every part is known (shapes fully defined, constant
   * arguments present). A derivation that throws is left for the run, which raises the same error
   * with the run's context.
   */
  seed(key: readonly (PartialShape | undefined)[]): this {
    if (!key.every((k): k is readonly number[] => k != null && isFullyDefined(k))) return this;
    try {
      this.value = this.derive(...(key as Shape[]));
      this.key = key.map((k) => k.slice());
    } catch {
      this.key = undefined;
    }
    return this;
  }

  /** The value for this run's key: the memo's when the key is unchanged, else derived anew. */
  get(...key: Shape[]): T {
    if (this.key === undefined || !sameKey(this.key, key)) {
      this.value = this.derive(...key);
      // Kept as given: shapes are never mutated, and a static shape array seen again on the next
      // run is then recognised by identity.
      this.key = key;
    }
    return this.value!;
  }
}

function sameKey(a: MemoKey, b: MemoKey): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x === y) continue; // the plan hands out the same static shape arrays every run
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (x[j] !== y[j]) return false;
  }
  return true;
}

/**
 * Input i of a node as an integer list where it is a Const (shape arguments usually are), for
 * seeding; undefined otherwise.
 */
export function constIntList(node: Node, i: number): number[] | undefined {
  const src = node.inputs[i]?.node;
  if (src?.op !== Const) return undefined;
  const t = src.attrs.value as Tensor;
  return t.dtype === "int32" || t.dtype === "int64" ? intList(t) : undefined;
}
