// The gradient ops refuse bad inputs with an EdgeflowError naming the node and what was expected,
// both when the graph is built (known shapes and constants) and when the reference runs.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";

function assertEdgeflowError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError, `expected an EdgeflowError, got ${e}`);
    for (const re of patterns) assert.match(e.message, re);
    return true;
  });
}

Deno.test("gradient ops: bad shapes are refused when the graph is built", () => {
  const g = new ef.Graph();
  const p = (shape: number[]) => ef.placeholder(g, "float32", shape);
  assertEdgeflowError(
    () => ef.reluGrad(p([2, 3]), p([3, 2]), { name: "rg" }),
    /node 'rg' \(ReluGrad\)/,
    /gradients \[2,3\] and features \[3,2\] must have the same shape/,
  );
  assertEdgeflowError(() => ef.addN([p([2]), p([3])]), /AddN/, /same shape/);
  assertEdgeflowError(
    () => ef.broadcastGradientArgsOp([2, 3], [4, 3], { graph: g }),
    /BroadcastGradientArgs/,
    /Incompatible shapes: \[2,3\] vs\. \[4,3\]/,
  );
  assertEdgeflowError(
    () =>
      ef.conv2dBackpropInput([1, 5, 5, 2], p([3, 3, 2, 4]), p([1, 4, 4, 4]), {
        strides: [1, 1, 1, 1],
        padding: "SAME",
      }),
    /Conv2DBackpropInput/,
    /out_backprop has shape \[1,4,4,4\], but the convolution's output has shape \[1,5,5,4\]/,
  );
  assertEdgeflowError(
    () =>
      ef.maxPoolGrad(p([1, 4, 4, 1]), p([1, 2, 2, 1]), p([1, 3, 3, 1]), {
        ksize: [1, 2, 2, 1],
        strides: [1, 2, 2, 1],
        padding: "VALID",
      }),
    /MaxPoolGrad/,
    /grad has shape \[1,3,3,1\], but the pool's output has shape \[1,2,2,1\]/,
  );
  assertEdgeflowError(
    () => ef.unsortedSegmentSum(p([3, 2]), ef.constant([0, 1], { graph: g, dtype: "int32" }), 2),
    /UnsortedSegmentSum/,
    /segment_ids shape \[2\] must be a prefix of data shape \[3,2\]/,
  );
});

Deno.test("gradient ops: bad values are refused when the reference runs", async () => {
  const g = new ef.Graph();
  const data = ef.placeholder(g, "float32", [3], { name: "data" });
  const ids = ef.placeholder(g, "int32", [3], { name: "ids" });
  const seg = ef.unsortedSegmentSum(data, ids, 2, { name: "seg" });
  const perm = ef.placeholder(g, "int32", [3], { name: "perm" });
  const inv = ef.invertPermutation(perm, { name: "inv" });
  const shapes = [0, 1].map((i) => ef.placeholder(g, "int32", [2], { name: `s${i}` }));
  const offsets = ef.concatOffset(1, shapes, { name: "offsets" });
  await using s = new ef.Session(g, { device: "REF" });
  await assert.rejects(
    () => s.run(seg, { data: [1, 2, 3], ids: [0, 2, -1] }),
    /node 'seg' \(UnsortedSegmentSum\): segment_ids\[1\] = 2 is out of range \[0, 2\)/,
  );
  // Negative ids are dropped, as in TensorFlow.
  assert.deepEqual((await s.run(seg, { data: [1, 2, 3], ids: [1, -1, 1] })).toArray(), [0, 4]);
  await assert.rejects(
    () => s.run(inv, { perm: [0, 2, 2] }),
    /node 'inv' \(InvertPermutation\): x = \[0,2,2\] is not a permutation of 0\.\.2/,
  );
  assert.deepEqual((await s.run(inv, { perm: [2, 0, 1] })).toArray(), [1, 2, 0]);
  await assert.rejects(
    () => s.run(offsets[1], { s0: [2, 3], s1: [3, 3] }),
    /ConcatOffset.*shape\[1\] = \[3,3\] does not match shape\[0\] = \[2,3\] outside dim 1/,
  );
  const [o0, o1] = await s.run([...offsets], { s0: [2, 3], s1: [2, 5] });
  assert.deepEqual([o0.toArray(), o1.toArray()], [[0, 0], [0, 3]]);
});
