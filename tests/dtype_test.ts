import assert from "node:assert/strict";
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
  roundTo,
} from "../core/dtype.ts";
import * as ef from "../mod.ts";

Deno.test("bfloat16 rounds to nearest even and keeps NaN and infinities", () => {
  assert.equal(float32ToBfloat16(1), 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
  assert.equal(bfloat16ToFloat32(float32ToBfloat16(1 + 2 ** -8)), 1);
  assert.equal(bfloat16ToFloat32(float32ToBfloat16(1 + 3 * 2 ** -8)), 1 + 2 ** -6);
  assert.ok(Number.isNaN(bfloat16ToFloat32(float32ToBfloat16(NaN))));
  assert.equal(bfloat16ToFloat32(float32ToBfloat16(-Infinity)), -Infinity);
});

Deno.test("float16 handles normals, subnormals, overflow and ties", () => {
  assert.equal(float32ToFloat16(1), 0x3c00);
  assert.equal(float32ToFloat16(65504), 0x7bff);
  assert.equal(float32ToFloat16(65520), 0x7c00); // rounds up to infinity
  assert.equal(float16ToFloat32(0x0001), 2 ** -24); // smallest subnormal
  assert.equal(float16ToFloat32(float32ToFloat16(2 ** -25)), 0); // tie to even (0)
  assert.equal(float16ToFloat32(float32ToFloat16(3 * 2 ** -25)), 2 ** -23);
  assert.equal(float16ToFloat32(float32ToFloat16(1 + 2 ** -11)), 1);
  for (let h = 0; h < 0x7c00; h += 37) assert.equal(float32ToFloat16(float16ToFloat32(h)), h);
});

Deno.test("integer casts truncate and wrap like C", () => {
  assert.equal(roundTo("int32", 2 ** 31 + 5), -(2 ** 31) + 5);
  assert.equal(roundTo("uint8", 300), 44);
  assert.equal(roundTo("int8", -129), 127);
  assert.equal(roundTo("int32", -2.7), -2);
  assert.equal(roundTo("bool", -0.5), 1);
});

Deno.test("tensors: construction, nesting and errors", () => {
  const t = ef.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.equal(t.dtype, "float32");
  assert.deepEqual(t.shape, [2, 3]);
  assert.deepEqual(t.reshape([3, 2]).toArray(), [[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(ef.tensor([true, false]).toArray(), [true, false]);
  assert.equal(ef.tensor([1n]).dtype, "int64");
  assert.deepEqual(ef.tensor([1.5, -2], undefined, "bfloat16").toNumbers(), [1.5, -2]);
  assert.throws(() => ef.tensor([[1, 2], [3]]), /ragged/);
  assert.throws(
    () => new ef.Tensor("float32", [2, 2], new Float32Array(3)),
    /needs 4 values, got 3/,
  );
  assert.equal(ef.scalar(3).rank, 0);
});
