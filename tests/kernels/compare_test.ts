// Tolerances of 16-bit float outputs are stated in units in the last place of the output's dtype.
import assert from "node:assert/strict";
import type { DType } from "../../core/dtype.ts";
import { tensor } from "../../core/tensor.ts";
import { mismatch, ulp16 } from "./compare.ts";

const t = (dtype: DType, v: number) => tensor([v], [1], dtype);

Deno.test("ulp16: the unit in the last place of bfloat16 and float16 values", () => {
  assert.equal(ulp16(1, "bfloat16"), 2 ** -7);
  assert.equal(ulp16(0.2422, "bfloat16"), 2 ** -10);
  assert.equal(ulp16(-3, "bfloat16"), 2 ** -6);
  assert.equal(ulp16(1, "float16"), 2 ** -10);
  assert.equal(ulp16(65504, "float16"), 32);
  // Subnormals and zero share the smallest normal exponent's unit.
  assert.equal(ulp16(0, "float16"), 2 ** -24);
  assert.equal(ulp16(2 ** -20, "float16"), 2 ** -24);
  assert.equal(ulp16(0, "bfloat16"), 2 ** -133);
});

Deno.test("ulps16: one 16-bit ULP is accepted, two are not", () => {
  // The WEBGPU SoftmaxCrossEntropyWithLogits loss that missed a relative 2^-8 by one bfloat16 ULP.
  const [got, want] = [t("bfloat16", -0.2412), t("bfloat16", -0.2422)];
  assert.equal(mismatch(got, want, { ulps16: 1, reason: "test" }), undefined);
  assert.match(mismatch(got, want, { rtol: 2 ** -8, reason: "test" })!, /element 0/);
  assert.match(mismatch(t("bfloat16", -0.2402), want, { ulps16: 1, reason: "test" })!, /element 0/);
  // float16: 1 + 2^-10 is one ULP from 1; 1 + 2^-9 is two.
  assert.equal(
    mismatch(t("float16", 1 + 2 ** -10), t("float16", 1), { ulps16: 1, reason: "" }),
    undefined,
  );
  assert.ok(mismatch(t("float16", 1 + 2 ** -9), t("float16", 1), { ulps16: 1, reason: "" }));
  // ulps16 does not apply to float32 outputs.
  assert.ok(mismatch(t("float32", 1 + 2 ** -10), t("float32", 1), { ulps16: 1, reason: "" }));
});
