// Indices past 2^31: slicing a uint8 tensor of 2^31 + 8 elements near its end reads the right
// bytes on REF (core/ops' references) and the TPU (its strided DMA), which built flat indices in
// 32-bit integers and read zeros. One 2 GiB host tensor, fed (never folded), shared by both devices.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const N = 2 ** 31 + 8;
const i64 = (values: number[]) =>
  new ef.Tensor("int64", [values.length], BigInt64Array.from(values.map(BigInt)));

Deno.test("Slice and StridedSlice past 2^31 elements are right on REF and TPU", async () => {
  const data = new Uint8Array(N);
  data.set([1, 2, 3, 4], N - 4);
  data.set([9, 8], 2 ** 31 - 1); // straddles the 32-bit boundary
  const x = new ef.Tensor("uint8", [N], data);
  const g = new ef.Graph();
  const xp = ef.placeholder(g, "uint8", [N], { name: "x" });
  const tail = ef.slice(xp, i64([N - 4]), i64([4]), { name: "tail" });
  const across = ef.stridedSlice(xp, i64([2 ** 31 - 2]), i64([2 ** 31 + 2]), i64([1]), {
    name: "across",
  });
  const reversed = ef.stridedSlice(xp, i64([N - 1]), i64([N - 5]), i64([-1]), { name: "reversed" });
  for (const device of ["REF", "TPU"]) {
    await using s = new ef.Session(g, {
      device,
      deviceOptions: { [device]: { memoryLimit: 2 ** 33 } },
    });
    const [a, b, c] = await s.run([tail, across, reversed], { x });
    assert.deepEqual(a.toArray(), [1, 2, 3, 4], `${device} Slice`);
    assert.deepEqual(b.toArray(), [0, 9, 8, 0], `${device} StridedSlice across 2^31`);
    assert.deepEqual(c.toArray(), [4, 3, 2, 1], `${device} reversed StridedSlice`);
  }
});
