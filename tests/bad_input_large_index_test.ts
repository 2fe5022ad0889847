// Indices past 2^31: slicing or gathering a uint8 tensor of 2^31 + 8 elements near its end reads
// the right bytes on REF (core/ops' references) and the TPU (its strided DMA), which built flat
// indices in 32-bit integers and read zeros; Fill of 2^31 + 8 bytes needs no index array at all.
// 2 GiB host tensors, fed (never folded); run this file alone.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const N = 2 ** 31 + 8;
const i64 = (values: number[]) =>
  new ef.Tensor("int64", [values.length], BigInt64Array.from(values.map(BigInt)));

/** The shared 2 GiB input: zeros but for [1, 2, 3, 4] at the end and [9, 8] across 2^31. */
let big: ef.Tensor | undefined;
function bigInput(): ef.Tensor {
  if (big) return big;
  const data = new Uint8Array(N);
  data.set([1, 2, 3, 4], N - 4);
  data.set([9, 8], 2 ** 31 - 1); // straddles the 32-bit boundary
  return (big = new ef.Tensor("uint8", [N], data));
}

Deno.test("Slice and StridedSlice past 2^31 elements are right on REF and TPU", async () => {
  const x = bigInput();
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

Deno.test("GatherV2 past 2^31 elements is right on REF and TPU", async () => {
  const x = bigInput();
  const g = new ef.Graph();
  const xp = ef.placeholder(g, "uint8", [N], { name: "x" });
  const flat = ef.gather(xp, i64([N - 1, 2 ** 31, 2 ** 31 - 1, N - 4]), 0, { name: "flat" });
  // Rows of 2^30 + 4: row 1's elements lie past 2^31 in the flat input.
  const rows = ef.reshape(xp, [2, N / 2]);
  const lastCols = ef.gather(rows, i64([N / 2 - 1, N / 2 - 4]), 1, { name: "lastCols" });
  for (const device of ["REF", "TPU"]) {
    await using s = new ef.Session(g, {
      device,
      deviceOptions: { [device]: { memoryLimit: 2 ** 33 } },
    });
    const [a, b] = await s.run([flat, lastCols], { x });
    assert.deepEqual(a.toArray(), [4, 8, 9, 1], `${device} GatherV2 axis 0`);
    assert.deepEqual(b.toArray(), [[0, 0], [4, 1]], `${device} GatherV2 axis 1`);
  }
});

Deno.test("Fill of 2^31 + 8 bytes fills every element on REF and TPU", async () => {
  const g = new ef.Graph();
  const dims = ef.placeholder(g, "int64", [1], { name: "dims" });
  const filled = ef.fill(dims, new ef.Tensor("uint8", [], Uint8Array.of(7)), { name: "filled" });
  const tail = ef.slice(filled, i64([2 ** 31 - 2]), i64([4]));
  const end = ef.slice(filled, i64([N - 2]), i64([2]));
  for (const device of ["REF", "TPU"]) {
    await using s = new ef.Session(g, {
      device,
      deviceOptions: { [device]: { memoryLimit: 2 ** 32 } },
    });
    const [a, b] = await s.run([tail, end], { dims: i64([N]) });
    assert.deepEqual(a.toArray(), [7, 7, 7, 7], `${device} Fill across 2^31`);
    assert.deepEqual(b.toArray(), [7, 7], `${device} Fill at the end`);
  }
});
