// Reading int64 values back: toArray() gives bigints (exact, as numpy's int64; tfjs has no int64),
// toNumbers() and numberAt() give numbers only where a number holds the value exactly and refuse
// with an EdgeflowError past ±2^53 instead of silently dropping low bits.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const P53 = 2n ** 53n;
const big = new ef.Tensor("int64", [2, 2], BigInt64Array.of(P53 + 1n, -1n, 2n ** 63n - 1n, 0n));
const small = new ef.Tensor("int64", [3], BigInt64Array.of(-P53, 7n, P53));

Deno.test("int64 toArray() gives every bit as bigints, nested by shape", () => {
  assert.deepEqual(big.toArray(), [[P53 + 1n, -1n], [2n ** 63n - 1n, 0n]]);
  assert.deepEqual(
    new ef.Tensor("int64", [], BigInt64Array.of(-(2n ** 63n))).toArray(),
    -(2n ** 63n),
  );
  // A round trip through tensor() keeps dtype and value.
  const back = ef.tensor(big.toArray());
  assert.equal(back.dtype, "int64");
  assert.deepEqual(Array.from(back.data as BigInt64Array), Array.from(big.data as BigInt64Array));
});

Deno.test("int64 toNumbers() and numberAt() are exact up to ±2^53", () => {
  assert.deepEqual(small.toNumbers(), [-(2 ** 53), 7, 2 ** 53]);
  assert.equal(ef.numberAt(small, 2), 2 ** 53);
  assert.equal(ef.numberAt(big, 1), -1);
});

Deno.test("int64 toNumbers() and numberAt() refuse a value past ±2^53", () => {
  const refused = (e: unknown) =>
    e instanceof ef.EdgeflowError && /9007199254740993 is not exactly a JavaScript number/.test(
      e.message,
    );
  assert.throws(() => big.toNumbers(), refused);
  assert.throws(() => ef.numberAt(big, 0), refused);
  const low = new ef.Tensor("int64", [1], BigInt64Array.of(-P53 - 1n));
  assert.throws(() => low.toNumbers(), ef.EdgeflowError);
});

Deno.test("a fetched int64 result past 2^53 reads back exactly", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "int64", [2], { name: "x" });
  const y = ef.add(x, new ef.Tensor("int64", [], BigInt64Array.of(1n)));
  await using s = new ef.Session(g, { device: "REF" });
  const out = await s.run(y, { x: new ef.Tensor("int64", [2], BigInt64Array.of(P53, 1n)) });
  assert.deepEqual(out.toArray(), [P53 + 1n, 2n]);
});
