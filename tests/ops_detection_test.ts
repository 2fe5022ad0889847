// The post-processing ops of detection models against TensorFlow's meaning on hand-worked cases:
// TopKV2 (ties, NaN, k = 0, errors), Where (row-major coordinates, NaN is true), Unique (first
// occurrence, ±0 one value, each NaN its own), NonMaxSuppressionV3/V4/V5 (thresholds, padding,
// soft-NMS, flipped corners, NaN scores), through sessions on the default device.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { apply } from "../core/ops/build.ts";

async function run(build: (g: ef.Graph) => ef.Output | ef.Output[]) {
  const g = new ef.Graph();
  const out = g.asDefault(() => build(g));
  await using s = new ef.Session(g);
  const fetched = await s.run(Array.isArray(out) ? out : [out]);
  return fetched.map((t) => t.toArray());
}

Deno.test("TopKV2: largest first, ties to the lower index, NaN above +Inf", async () => {
  const x = ef.tensor([[1, 3, 3, 2, 3], [NaN, Infinity, -1, NaN, 0]], [2, 5], "float32");
  const [v, i] = await run(() => ef.topK(x, 3));
  assert.deepEqual(i, [[1, 2, 4], [0, 3, 1]]);
  assert.deepEqual(v, [[3, 3, 3], [NaN, NaN, Infinity]]);
  const [v0, i0] = await run(() => ef.topK(x, 0));
  assert.deepEqual([v0, i0], [[[], []], [[], []]]);
  // int64 past 2^53 compares exactly.
  const big = new ef.Tensor(
    "int64",
    [3],
    BigInt64Array.of(2n ** 60n + 1n, 2n ** 60n, 2n ** 60n + 2n),
  );
  assert.deepEqual((await run(() => ef.topK(big, 3)))[1], [2, 0, 1]);
});

Deno.test("TopKV2 refuses k outside [0, last dim] and a scalar input", async () => {
  const g = new ef.Graph();
  assert.throws(
    () => ef.topK(ef.tensor([1, 2], [2], "float32"), 3, { graph: g }),
    /at least k columns. Had 2, needed 3/,
  );
  assert.throws(
    () => ef.topK(ef.tensor([1, 2], [2], "float32"), -1, { graph: g }),
    /Need k >= 0, got -1/,
  );
  assert.throws(() => ef.topK(ef.tensor(1, [], "float32"), 0, { graph: g }), /must be >= 1-D/);
  const k = ef.placeholder(g, "int32", [], { name: "k" });
  const x = ef.placeholder(g, "float32", null, { name: "x" });
  const [v] = ef.topK(x, k, { name: "top" });
  await using s = new ef.Session(g);
  await assert.rejects(s.run(v, [[x, [1, 2]], [k, 5]]), (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.match(
      e.message,
      /node 'top' \(TopKV2\): input must have at least k columns. Had 2, needed 5/,
    );
    return true;
  });
});

Deno.test("TopKV2's gradient reaches exactly the selected entries", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2, 4], { name: "x" });
  const [v] = ef.topK(x, 2);
  const [dx] = ef.gradients(
    ef.sum(ef.mul(v, ef.tensor([[1, 10], [100, 1000]], [2, 2], "float32"))),
    [x],
  );
  await using s = new ef.Session(g);
  const out = await s.run(dx!, [[x, [[5, 1, 7, 7], [0, -1, -2, 3]]]]);
  assert.deepEqual(out.toArray(), [[0, 0, 1, 10], [1000, 0, 0, 100]]);
});

Deno.test("Where: coordinates of nonzero elements in row-major order, as int64", async () => {
  const x = ef.tensor([[0, 1, NaN], [-0, 0, 2]], [2, 3], "float32");
  const [w] = await run(() => ef.whereIndices(x));
  assert.deepEqual(w, [[0n, 1n], [0n, 2n], [1n, 2n]]);
  const [none] = await run(() => ef.whereIndices(ef.tensor([false, false], [2], "bool")));
  assert.deepEqual(none, []);
  const [scalar] = await run(() => ef.whereIndices(ef.tensor(true, [], "bool")));
  assert.deepEqual(scalar, [[]]);
});

Deno.test("Unique: first-occurrence order, -0 and +0 merged, every NaN its own value", async () => {
  const x = ef.tensor([3, -0, 1, 3, 0, NaN, 1, NaN], [8], "float32");
  const [y, idx] = await run(() => ef.unique(x));
  assert.deepEqual(y, [3, -0, 1, NaN, NaN]);
  assert.ok(Object.is((y as number[])[1], -0), "the first occurrence's bits are kept");
  assert.deepEqual(idx, [0, 1, 2, 0, 1, 3, 2, 4]);
  const [ys, is] = await run(() =>
    ef.unique(new ef.Tensor("string", [4], ["b", "a", "b", "c"]), { out_idx: "int64" })
  );
  assert.deepEqual([ys, is], [["b", "a", "c"], [0n, 1n, 0n, 2n]]);
  assert.throws(
    () => ef.unique(ef.tensor([[1]], [1, 1], "int32"), { graph: new ef.Graph() }),
    /unique expects a 1D vector/,
  );
});

// Four boxes: 0 and 1 overlap by IOU 0.5 (1 has its corners swapped), 2 apart, 3 empty.
const BOXES = ef.tensor(
  [[0, 0, 2, 2], [3, 2, 1, 0], [5, 5, 6, 6], [7, 7, 7, 9]],
  [4, 4],
  "float32",
);

Deno.test("NonMaxSuppressionV3: IOU ≥ threshold suppresses; score_threshold is strict", async () => {
  const scores = ef.tensor([0.9, 0.8, 0.7, 0.95], [4], "float32");
  const pick = async (iou: number, scoreT = -Infinity, max = 10) =>
    (await run(() =>
      ef.nonMaxSuppressionV3(BOXES, scores, max, { iouThreshold: iou, scoreThreshold: scoreT })
    ))[0];
  // Box 1 against box 0: intersection 2, union 4 + 4 - 2 = 6, IOU 1/3.
  assert.deepEqual(await pick(0.5), [3, 0, 1, 2]);
  assert.deepEqual(await pick(1 / 3), [3, 0, 2], "IOU equal to the threshold suppresses");
  assert.deepEqual(await pick(0.5, 0.8), [3, 0], "score_threshold keeps only scores above it");
  assert.deepEqual(await pick(0.5, -Infinity, 2), [3, 0]);
  // A NaN score is never a candidate; equal scores go to the lower index first.
  const [tied] = await run(() =>
    ef.nonMaxSuppressionV3(BOXES, ef.tensor([0.5, NaN, 0.5, 0.5], [4], "float32"), 10)
  );
  assert.deepEqual(tied, [0, 2, 3]);
});

Deno.test("NonMaxSuppressionV3/V5 refuse an IOU threshold outside [0, 1] and bad shapes", async () => {
  const g = new ef.Graph();
  const scores = ef.tensor([1, 1, 1, 1], [4], "float32");
  const t = ef.placeholder(g, "float32", [], { name: "t" });
  const out = ef.nonMaxSuppressionV3(BOXES, scores, 3, { iouThreshold: t, name: "nms" });
  await using s = new ef.Session(g);
  await assert.rejects(
    s.run(out, [[t, 1.5]]),
    /node 'nms' \(NonMaxSuppressionV3\): iou_threshold must be in \[0, 1\], got 1.5/,
  );
  await assert.rejects(s.run(out, [[t, NaN]]), /iou_threshold must be in \[0, 1\]/);
  assert.throws(
    () =>
      ef.nonMaxSuppressionV3(
        ef.tensor([1, 2, 3], [1, 3], "float32"),
        ef.tensor([1], [1], "float32"),
        1,
        { graph: g },
      ),
    /boxes must have 4 columns/,
  );
  assert.throws(
    () => ef.nonMaxSuppressionV3(BOXES, ef.tensor([1, 2], [2], "float32"), 1, { graph: g }),
    /incompatible shape/,
  );
  const sigma = ef.placeholder(g, "float32", [], { name: "sigma" });
  const [i5] = ef.nonMaxSuppressionV5(BOXES, scores, 3, { softNmsSigma: sigma });
  await assert.rejects(s.run(i5, [[sigma, -1]]), /soft_nms_sigma must be non-negative/);
});

Deno.test("NonMaxSuppressionV4/V5 pad to max_output_size; V5's soft-NMS decays overlapping scores", async () => {
  const scores = ef.tensor([0.9, 0.8, 0.7, 0.95], [4], "float32");
  const [idx, valid] = await run(() => {
    const node = apply(ef.NonMaxSuppressionV4, [BOXES, scores, 6, 0.3, -Infinity], {
      pad_to_max_output_size: true,
    });
    return [...node.outputs];
  });
  // Padded to min(max_output_size, num_boxes) = 4, as TensorFlow's kernel pads.
  assert.deepEqual([idx, valid], [[3, 0, 2, 0], 3]);
  // Soft-NMS with σ = 0.5: box 1's score decays by exp(-(1/3)² / (2·0.5)) and stays selected.
  const [i5, s5, v5] = await run(() =>
    ef.nonMaxSuppressionV5(BOXES, scores, 5, {
      iouThreshold: 1,
      softNmsSigma: 0.5,
      padToMaxOutputSize: true,
    })
  );
  const decayed = Math.fround(
    Math.fround(0.8) *
      Math.fround(Math.exp(Math.fround(Math.fround(-1 * (1 / 3)) * Math.fround(1 / 3)))),
  );
  // 0.8 · exp(-1/9) ≈ 0.716 still beats box 2's 0.7: box 1 re-enters the queue and comes first.
  // Box 3 is empty (IOU 0 with everything) and selected first; all four fit, so no padding.
  assert.deepEqual(i5, [3, 0, 1, 2]);
  assert.deepEqual(v5, 4);
  const got = s5 as number[];
  assert.deepEqual(got, [0.949999988079071, 0.8999999761581421, got[2], 0.699999988079071]);
  assert.ok(Math.abs(got[2] - decayed) < 1e-6, `decayed score ${got[2]} vs ${decayed}`);
});

Deno.test("TopKV2 on WASM equals REF on NaN, ties, int64 and long rows", async () => {
  const rows = 6, n = 300;
  const values = new Float32Array(rows * n);
  for (let i = 0; i < values.length; i++) {
    values[i] = i % 17 === 0 ? NaN : i % 5 === 0 ? Infinity : ((i * 7919) % 23) - 11;
  }
  const cases: [ef.Tensor, number][] = [
    [new ef.Tensor("float32", [2, 3, n], values), 37],
    [new ef.Tensor("float32", [rows, n], values), n],
    [new ef.Tensor("int32", [rows, n], Int32Array.from(values, (v) => (v === v ? v % 4 : 0))), 9],
    [new ef.Tensor("int64", [3], BigInt64Array.of(2n ** 60n + 1n, -5n, 2n ** 60n + 1n)), 2],
    [new ef.Tensor("float32", [4, 0], new Float32Array(0)), 0],
  ];
  for (const [x, k] of cases) {
    const results = [];
    for (const device of ["REF", "WASM"] as const) {
      const g = new ef.Graph();
      const p = ef.placeholder(g, x.dtype, x.shape, { name: "x" });
      const [v, i] = ef.topK(p, k);
      await using s = new ef.Session(g, { device });
      results.push((await s.run([v, i], [[p, x]])).map((t) => t.toArray()));
    }
    assert.deepEqual(results[1], results[0], `${x.dtype} [${x.shape}] k=${k}`);
  }
});
