// What the TensorArray and TensorList tests share: the devices both run on, the check that an op's
// failure is TensorFlow's error naming its node and op, and the pieces of the hand-written GraphDefs
// both import (the dtype attrs and the `n`/`x` placeholders of the loops they trace).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";

/** The devices with TensorArray and TensorList kernels. */
export const CONTAINER_DEVICES = ["WASM", "REF"] as const;

/** `p` rejects with an EdgeflowError naming `node` and `op` whose message matches `re`. */
export async function rejectsWith(p: Promise<unknown>, node: string, op: string, re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError, `an EdgeflowError, got ${e}`);
    assert.equal(e.node, node);
    assert.equal(e.op, op);
    assert.match(e.message, re);
    return true;
  });
}

export const I32 = { type: "DT_INT32" };
export const F32 = { type: "DT_FLOAT" };

/** The GraphDef placeholders `n` (int32 scalar, the trip count) and `x` (float32 [2]). */
export const N_AND_X_PLACEHOLDERS = [
  { name: "n", op: "Placeholder", attr: { dtype: I32, shape: { shape: {} } } },
  {
    name: "x",
    op: "Placeholder",
    attr: { dtype: F32, shape: { shape: { dim: [{ size: "2" }] } } },
  },
];
