// Integer sums of the gradient ops wrap as TensorFlow's do: int64 in 64 bits (exactly, where a
// float64 accumulator would round), int32 in 32, on REF and on WASM.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

const BIG = 2n ** 62n;

async function fetch(device: string, build: (g: ef.Graph) => ef.Output): Promise<ef.Tensor> {
  const g = new ef.Graph();
  const y = build(g);
  await using s = new ef.Session(g, { device, passes: { constantFolding: false } });
  const [t] = await s.run([y]);
  return t;
}

for (const device of ["REF", "WASM"]) {
  Deno.test(`${device} BiasAddGrad int64 wraps in 64 bits`, async () => {
    const t = await fetch(device, (g) => {
      const dy = ef.constant(new ef.Tensor("int64", [3, 1], BigInt64Array.from([BIG, BIG, 3n])), {
        graph: g,
      });
      return ef.biasAddGrad(dy);
    });
    // 2^62 + 2^62 + 3 = 2^63 + 3, which wraps to -2^63 + 3 (float64 would give -2^63).
    assert.deepEqual(Array.from(t.data as BigInt64Array), [-(2n ** 63n) + 3n]);
  });

  Deno.test(`${device} BiasAddGrad int32 wraps in 32 bits`, async () => {
    const t = await fetch(device, (g) => {
      const dy = ef.constant(
        new ef.Tensor("int32", [2, 1], Int32Array.from([2 ** 31 - 1, 2])),
        { graph: g },
      );
      return ef.biasAddGrad(dy);
    });
    assert.deepEqual(Array.from(t.data as Int32Array), [-(2 ** 31) + 1]);
  });

  Deno.test(`${device} UnsortedSegmentSum int64 wraps in 64 bits`, async () => {
    const t = await fetch(device, (g) => {
      const data = ef.constant(
        new ef.Tensor("int64", [3], BigInt64Array.from([BIG, 5n, BIG + 1n])),
        { graph: g },
      );
      const ids = ef.constant(new ef.Tensor("int32", [3], Int32Array.from([1, -1, 1])), {
        graph: g,
      });
      const n = ef.constant(new ef.Tensor("int32", [], Int32Array.from([2])), { graph: g });
      return ef.unsortedSegmentSum(data, ids, n);
    });
    assert.deepEqual(Array.from(t.data as BigInt64Array), [0n, -(2n ** 63n) + 1n]);
  });
}
