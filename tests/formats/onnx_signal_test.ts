// ONNX HannWindow, HammingWindow and BlackmanWindow (a fed size, periodic and symmetric), MaxUnpool
// (with and without output_shape), ReverseSequence (either axis order, a rank-3 input) and
// BatchNormalization in training mode (Y and both running statistics) give onnxruntime-web's
// outputs on WASM and REF.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import {
  type Case,
  compareWithOrt,
  f32,
  type Feed,
  i64,
  modelOf,
  type Node,
  viaEdgeflow,
} from "./onnx_vs_ort.ts";

const int32 = (v: number) => new ef.Tensor("int32", [], Int32Array.of(v));
const windows = ["HannWindow", "HammingWindow", "BlackmanWindow"].flatMap((op) =>
  [1, 0].flatMap((periodic) =>
    [1, 7].map((size): Case => ({
      name: `${op} of size ${size}, periodic ${periodic}`,
      node: { op, name: "w", inputs: ["n"], outputs: ["y"], attrs: { periodic } },
      feeds: [["n", int32(size)]],
      out: { dtype: "float32", rank: 1 },
    }))
  )
);

const unpool = (inputs: string[]): Node => ({
  op: "MaxUnpool",
  name: "up",
  inputs,
  outputs: ["y"],
  attrs: { kernel_shape: [2, 2], strides: [2, 2] },
});
const pooled = f32([1, 2, 2, 2], [5, 6, 7, 8, -1, -2, -3, -4]);
const argmax = i64([1, 2, 2, 2], [5, 7, 13, 15, 16, 19, 28, 31]);

const reverse = (batchAxis: number, timeAxis: number): Node => ({
  op: "ReverseSequence",
  name: "rs",
  inputs: ["x", "lens"],
  outputs: ["y"],
  attrs: { batch_axis: batchAxis, time_axis: timeAxis },
});
const x = f32([3, 4, 2], Array.from({ length: 24 }, (_, i) => i));

compareWithOrt([
  ...windows,
  {
    name: "MaxUnpool without output_shape",
    node: unpool(["x", "i"]),
    feeds: [["x", pooled], ["i", argmax]],
    out: { dtype: "float32", rank: 4 },
  },
  {
    name: "BatchNormalization in training mode, momentum 0.8",
    node: {
      op: "BatchNormalization",
      name: "bn",
      inputs: ["x", "s", "b", "m", "v"],
      outputs: ["y", "rm", "rv"],
      attrs: { training_mode: 1, momentum: { float: 0.8 }, epsilon: { float: 0.01 } },
    },
    feeds: [
      ["x", f32([2, 2, 1, 3], [1, 2, 3, 4, 5, 6, 7, 9, -1, 0.5, 2, 8])],
      ["s", f32([2], [1, 2])],
      ["b", f32([2], [0, 1])],
      ["m", f32([2], [0.5, -1])],
      ["v", f32([2], [2, 3])],
    ],
    out: [{ dtype: "float32", rank: 4 }, { dtype: "float32", rank: 1 }, {
      dtype: "float32",
      rank: 1,
    }],
    opset: 15,
  },
  {
    name: "ReverseSequence, batch axis 0, time axis 1",
    node: reverse(0, 1),
    feeds: [["x", x], ["lens", i64([3], [4, 1, 3])]],
    out: { dtype: "float32", rank: 3 },
  },
  {
    name: "ReverseSequence, batch axis 1, time axis 0",
    node: reverse(1, 0),
    feeds: [["x", x], ["lens", i64([4], [3, 2, 1, 3])]],
    out: { dtype: "float32", rank: 3 },
  },
]);

// With an output_shape, ONNX's reference (libonnx-testdata's test_maxunpool_export_with_output_shape)
// reads the indices in the default output and pads it at the end to output_shape; onnxruntime and
// PyTorch read them in output_shape's planes. Edgeflow follows ONNX's test data.
Deno.test("ONNX MaxUnpool with an output_shape pads the default output at the end", async () => {
  const feeds: Feed[] = [["x", pooled], ["i", argmax], ["s", i64([4], [1, 2, 5, 5])]];
  const bytes = modelOf(unpool(["x", "i", "s"]), feeds, { dtype: "float32", rank: 4 });
  const plane = (a: number, b: number, c: number, d: number) => [
    [0, 0, 0, 0, 0],
    [0, a, 0, b, 0],
    [0, 0, 0, 0, 0],
    [0, c, 0, d, 0],
    [0, 0, 0, 0, 0],
  ];
  // Channel 1's indices 16, 19, 28, 31 are (0, 0), (0, 3), (3, 0), (3, 3) of its 4×4 plane.
  const second = plane(0, 0, 0, 0).map((r) => r.slice());
  [[0, 0, -1], [0, 3, -2], [3, 0, -3], [3, 3, -4]].forEach(([r, k, v]) => (second[r][k] = v));
  for (const device of ["WASM", "REF"]) {
    const got = await viaEdgeflow(bytes, feeds, device);
    assert.deepEqual(got, {
      shape: [1, 2, 5, 5],
      data: [...plane(5, 6, 7, 8).flat(), ...second.flat()],
    }, device);
  }
});
