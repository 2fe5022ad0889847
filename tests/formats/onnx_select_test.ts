// ONNX NonZero, Compress, CumSum, NonMaxSuppression and Unique import: each single-node model gives
// onnxruntime-web's outputs (the version deno.lock pins) on WASM and REF, boundary cases of
// NonMaxSuppression's thresholds included (Debian's node tests have few, and CumSum's are float64,
// which Edgeflow does not have).
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { loadOnnxModel } from "../../formats.ts";
import {
  bool,
  type Case,
  compareWithOrt,
  f32,
  type Feed,
  i64,
  modelOf,
  type Node,
  viaEdgeflow,
} from "./onnx_vs_ort.ts";

const nms = (attrs: Record<string, number>, inputs = ["b", "s", "m", "iou", "st"]): Node => ({
  op: "NonMaxSuppression",
  name: "nms",
  inputs,
  outputs: ["sel"],
  attrs,
});
/** Two batches of four boxes [y1, x1, y2, x2] (one with flipped corners) and two classes. */
const BOXES = f32([2, 4, 4], [
  ...[0, 0, 1, 1, 0, 0.1, 1, 1.1, 1, 1, 0, 0, 0, 0.5, 1, 1.5],
  ...[0, 0, 2, 2, 0, 0, 2, 1, 5, 5, 6, 6, 0, 1, 2, 3],
]);
/** Batch 0: boxes 1 and 2 are box 0 again (IOU 1) and half of it (IOU 1/2); box 3 is apart. */
const EDGE_BOXES = f32([2, 4, 4], [
  ...[0, 0, 2, 2, 0, 0, 2, 2, 0, 0, 2, 1, 3, 3, 4, 4],
  ...[0, 0, 1, 1, 0, 1, 1, 2, 0, 0, 1, 0.5, 0, 0, 0, 0],
]);
const SCORES = f32([2, 2, 4], [
  ...[0.9, 0.8, 0.7, 0.6, 0.1, 0.5, 0.3, 0.9],
  ...[0.4, 0.6, 0.6, 0.2, 0.3, 0.3, 0.8, 0.5],
]);
const nmsFeeds = (max: number, iou: number, minScore: number, boxes = BOXES): Feed[] => [
  ["b", boxes],
  ["s", SCORES],
  ["m", i64([1], [max])],
  ["iou", f32([1], [iou])],
  ["st", f32([1], [minScore])],
];
const NMS_OUT = { dtype: "int64" as const, rank: 2 };

const CASES: Case[] = [
  {
    name: "NonZero of a [2, 3] float tensor (NaN and -0 included)",
    node: { op: "NonZero", name: "nz", inputs: ["x"], outputs: ["y"] },
    feeds: [["x", f32([2, 3], [0, 1, NaN, -0, 0, -2])]],
    out: { dtype: "int64", rank: 2 },
  },
  {
    name: "NonZero of nothing true",
    node: { op: "NonZero", name: "nz", inputs: ["x"], outputs: ["y"] },
    feeds: [["x", bool([false, false])]],
    out: { dtype: "int64", rank: 2 },
  },
  ...([0, 1, -1, undefined] as const).map((axis): Case => ({
    name: `Compress along axis ${axis ?? "none (flattened)"}, a condition shorter than the axis`,
    node: {
      op: "Compress",
      name: "cp",
      inputs: ["x", "c"],
      outputs: ["y"],
      attrs: axis === undefined ? {} : { axis },
    },
    feeds: [["x", f32([3, 2], [1, 2, 3, 4, 5, 6])], ["c", bool([false, true])]],
    out: { dtype: "float32", rank: axis === undefined ? 1 : 2 },
  })),
  ...[[0, 0], [1, 0], [0, 1], [1, 1]].flatMap(([exclusive, reverse]) =>
    [1, -2].map((axis): Case => ({
      name: `CumSum exclusive ${exclusive} reverse ${reverse} along axis ${axis}`,
      node: {
        op: "CumSum",
        name: "cs",
        inputs: ["x", "a"],
        outputs: ["y"],
        attrs: { exclusive, reverse },
      },
      feeds: [["x", f32([2, 3], [1, 2, 3, 4, 5, 6])], ["a", i64([], [axis])]],
      out: { dtype: "float32", rank: 2 },
    }))
  ),
  {
    name: "NonMaxSuppression: two batches, two classes, flipped corners",
    node: nms({}),
    feeds: nmsFeeds(3, 0.4, 0.2),
    out: NMS_OUT,
  },
  {
    name: "NonMaxSuppression: an IOU equal to the threshold",
    node: nms({}),
    // Boxes 0 and 3 of batch 0 overlap by exactly 1/3 (0.5 / 1.5 in float32): 3 stays.
    feeds: nmsFeeds(4, 1 / 3, 0),
    out: NMS_OUT,
  },
  ...[0, 0.5, 1].map((iou): Case => ({
    name: `NonMaxSuppression: IOU threshold ${iou} (IOUs of 0, 1/2 and 1 among the boxes)`,
    node: nms({}),
    feeds: nmsFeeds(4, iou, 0, EDGE_BOXES),
    out: NMS_OUT,
  })),
  {
    name: "NonMaxSuppression: a score equal to the threshold",
    node: nms({}),
    // Scores of 0.6 are dropped: kept are those above the threshold.
    feeds: nmsFeeds(4, 0.9, 0.6),
    out: NMS_OUT,
  },
  {
    name: "NonMaxSuppression: center_point_box 1",
    node: nms({ center_point_box: 1 }),
    feeds: nmsFeeds(2, 0.3, 0),
    out: NMS_OUT,
  },
  {
    name: "NonMaxSuppression: no score threshold given",
    node: nms({}, ["b", "s", "m", "iou"]),
    feeds: nmsFeeds(2, 0.5, 0).slice(0, 4),
    out: NMS_OUT,
  },
  {
    name: "NonMaxSuppression: no max_output_boxes_per_class given selects nothing",
    node: nms({}, ["b", "s"]),
    feeds: nmsFeeds(2, 0.5, 0).slice(0, 2),
    out: NMS_OUT,
  },
];

const UNIQUE_OUTS = [
  { dtype: "float32" as const, rank: 1 },
  { dtype: "int64" as const, rank: 1 },
  { dtype: "int64" as const, rank: 1 },
  { dtype: "int64" as const, rank: 1 },
];
const unique = (attrs: Record<string, number>): Node => ({
  op: "Unique",
  name: "u",
  inputs: ["x"],
  outputs: ["y", "indices", "inverse", "counts"],
  attrs,
});
const GRID = f32([3, 4, 2], [
  ...[1, 2, -0, 5, 1, 2, 3, 3],
  ...[0, 5, -1, 2, 1, 2, 0, 5],
  ...[1, 2, -0, 5, 1, 2, 3, 3],
]);
const UNIQUE_CASES: Case[] = [0, 1].flatMap((sorted) => [
  {
    name: `Unique of a flattened input, sorted ${sorted}`,
    node: unique({ sorted }),
    feeds: [["x", f32([8], [3, -1, 0, 3, -0, 2.5, -1, 7])]],
    out: UNIQUE_OUTS,
  },
  ...[0, 1, -1].map((axis): Case => ({
    name: `Unique along axis ${axis} of a [3, 4, 2] input, sorted ${sorted}`,
    node: unique({ sorted, axis }),
    feeds: [["x", GRID]],
    out: [{ dtype: "float32", rank: 3 }, ...UNIQUE_OUTS.slice(1)],
  })),
]);

const gatherNd = (batchDims: number, indices: ef.Tensor, rank: number): Case => ({
  name: `GatherND with batch_dims ${batchDims}, indices [${indices.shape}] (negative ones too)`,
  node: {
    op: "GatherND",
    name: "g",
    inputs: ["x", "i"],
    outputs: ["y"],
    attrs: { batch_dims: batchDims },
  },
  feeds: [["x", f32([2, 3, 4], Array.from({ length: 24 }, (_, i) => i))], ["i", indices]],
  out: { dtype: "float32", rank },
});
const GATHER_ND_CASES = [
  gatherNd(0, i64([2, 2], [1, -1, 0, 2]), 2),
  gatherNd(1, i64([2, 2, 1], [2, -3, 0, 1]), 3),
  gatherNd(1, i64([2, 3, 2], [0, 3, 2, -1, 1, 1, 2, 0, 0, 0, -3, 3]), 2),
  gatherNd(2, i64([2, 3, 1], [3, 0, -1, 1, 2, 0]), 2),
];

compareWithOrt([...CASES, ...UNIQUE_CASES, ...GATHER_ND_CASES]);

Deno.test("ONNX NonMaxSuppression past its unrolling bound is refused by name", async () => {
  const bytes = modelOf(nms({}, ["b", "s"]), [
    ["b", f32([65, 1, 4], new Array(260).fill(0))],
    ["s", f32([65, 64, 1], new Array(65 * 64).fill(0))],
  ], NMS_OUT);
  await assert.rejects(() => loadOnnxModel(bytes, { file: "n.onnx" }), (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError, String(e));
    assert.match(e.message, /n\.onnx: .*selections \(4160\) is over the limit of 4096/);
    return true;
  });
});

// TensorFlow's NonMaxSuppression takes only scores above the threshold: with ONNX's "no score
// threshold" (-Infinity here) a box scored -Infinity or NaN is never selected. onnxruntime selects
// them ([[0,0,1],[0,0,3],[0,0,2],[1,0,2],[1,0,1],[1,0,3],[1,0,0]] here, NaN in its queue's order);
// ONNX's text leaves NaN open. Edgeflow keeps TensorFlow's meaning of the op it runs.
Deno.test("ONNX NonMaxSuppression with no score threshold skips -Infinity and NaN scores", async () => {
  const feeds: Feed[] = [
    ["b", EDGE_BOXES],
    ["s", f32([2, 1, 4], [-Infinity, 0.5, NaN, -1, NaN, -Infinity, 2, -Infinity])],
    ["m", i64([1], [4])],
    ["iou", f32([1], [0.9])],
  ];
  const bytes = modelOf(nms({}, ["b", "s", "m", "iou"]), feeds, NMS_OUT);
  for (const device of ["WASM", "REF"]) {
    const got = await viaEdgeflow(bytes, feeds, device);
    assert.deepEqual(got, { shape: [3, 3], data: [0, 0, 1, 0, 0, 3, 1, 0, 2] }, device);
  }
});

Deno.test("ONNX Compress and NonMaxSuppression of mismatched shapes are refused by node", async () => {
  const cases: [Node, Feed[], RegExp][] = [
    [
      { op: "Compress", name: "cp", inputs: ["x", "c"], outputs: ["y"], attrs: { axis: 0 } },
      [["x", f32([2, 2], [1, 2, 3, 4])], ["c", new ef.Tensor("bool", [2, 1], Uint8Array.of(1, 0))]],
      /condition has rank 2, not 1/,
    ],
    [
      nms({}, ["b", "s"]),
      [["b", f32([1, 2, 4], new Array(8).fill(0))], ["s", f32([2, 1, 2], [1, 2, 3, 4])]],
      /boxes \[1,2,4\] and scores \[2,1,2\] are not/,
    ],
    [
      nms({}, ["b", "s"]),
      [["b", f32([1, 2, 3], new Array(6).fill(0))], ["s", f32([1, 1, 2], [1, 2])]],
      /boxes \[1,2,3\] and scores \[1,1,2\] are not/,
    ],
  ];
  for (const [node, feeds, message] of cases) {
    const bytes = modelOf(node, feeds, { dtype: "float32", rank: 2 });
    await assert.rejects(() => loadOnnxModel(bytes, { file: "m.onnx" }), (e: Error) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match(e.message, message);
      assert.equal((e as ef.EdgeflowError).node, node.name);
      return true;
    });
  }
});

Deno.test("ONNX Unique and ReverseSequence with axes out of range are refused by node", async () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  const cases: [Node, Feed[]][] = [
    [unique({ axis: 2 }), [["x", x]]],
    [unique({ axis: -3 }), [["x", x]]],
    [
      {
        op: "ReverseSequence",
        name: "rs",
        inputs: ["x", "l"],
        outputs: ["y"],
        attrs: { batch_axis: 2 },
      },
      [["x", x], ["l", i64([3], [1, 2, 2])]],
    ],
  ];
  for (const [node, feeds] of cases) {
    const bytes = modelOf(node, feeds, { dtype: "float32", rank: 2 });
    await assert.rejects(() => loadOnnxModel(bytes, { file: "a.onnx" }), (e: Error) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match(e.message, /a\.onnx: .*(out of range|axis)/);
      assert.equal((e as ef.EdgeflowError).node, node.name);
      return true;
    });
  }
});
