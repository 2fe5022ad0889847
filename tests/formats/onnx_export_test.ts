// ONNX export: graphs written by toOnnx run in onnxruntime-web (the version deno.lock pins) and
// give Edgeflow's outputs: an MLP, a conv net with pooling, elementwise ops and reductions. The
// same bytes also load back through Edgeflow's own importer.
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-web@1";
import * as ef from "../../mod.ts";
import { numbers } from "../../core/tensor.ts";
import { loadOnnxModel, toOnnx } from "../../formats.ts";
import { apply } from "../../core/ops/build.ts";
import { ScatterNd } from "../../core/ops/gather_nd.ts";
import { NonMaxSuppressionV4 } from "../../core/ops/nms.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}
const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const constant = (shape: number[], seed: number) =>
  ef.constant(new ef.Tensor("float32", shape, values(size(shape), seed)));

interface Case {
  graph: ef.Graph;
  feeds: Record<string, ef.Tensor>;
  outputs: string[];
}

function mlp(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [null, 8], { name: "x" });
    const h = ef.relu(ef.biasAdd(ef.matMul(x, constant([8, 16], 1)), constant([16], 2)));
    const logits = ef.add(
      ef.matMul(h, constant([10, 16], 3), { transpose_b: true }),
      constant([10], 4),
    );
    ef.softmax(logits, { name: "probs" });
    return {
      graph: g,
      feeds: { x: new ef.Tensor("float32", [3, 8], values(24, 5)) },
      outputs: ["probs"],
    };
  });
}

function convNet(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [1, 12, 12, 3], { name: "x" });
    const c1 = ef.relu(ef.biasAdd(
      ef.conv2d(x, constant([3, 3, 3, 8], 1), { strides: [1, 1, 1, 1], padding: "SAME" }),
      constant([8], 2),
    ));
    const p1 = ef.maxPool(c1, { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" });
    const d = ef.depthwiseConv2d(p1, constant([3, 3, 8, 2], 3), {
      strides: [1, 2, 2, 1],
      padding: "EXPLICIT",
      explicit_paddings: [0, 0, 1, 1, 1, 0, 0, 0],
    });
    const p2 = ef.avgPool(ef.relu6(d), {
      ksize: [1, 3, 3, 1],
      strides: [1, 1, 1, 1],
      padding: "SAME",
    });
    const flat = ef.reshape(p2, [1, -1]);
    ef.matMul(flat, constant([3 * 3 * 16, 4], 4), { name: "logits" });
    return {
      graph: g,
      feeds: { x: new ef.Tensor("float32", [1, 12, 12, 3], values(432, 6)) },
      outputs: ["logits"],
    };
  });
}

function elementwise(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const a = ef.placeholder(g, "float32", [2, 3, 4], { name: "a" });
    const b = ef.placeholder(g, "float32", [4], { name: "b" });
    const e = ef.exp(ef.sub(a, b));
    const s = ef.sum(e, [1, 2], { keep_dims: true, name: "s" });
    const m = ef.mean(ef.square(a), [0], { name: "m" });
    const mx = ef.max(ef.maximum(a, ef.mul(b, 0.5)), [2], { name: "mx" });
    ef.sqrt(ef.div(e, s), { name: "q" });
    const scale = ef.rsqrt(ef.add(ef.mean(mx, [0, 1]), 5));
    ef.tanh(ef.squaredDifference(ef.sigmoid(ef.neg(ef.abs(m))), scale), { name: "t" });
    return {
      graph: g,
      feeds: {
        a: new ef.Tensor("float32", [2, 3, 4], values(24, 7)),
        b: new ef.Tensor("float32", [4], values(4, 8)),
      },
      outputs: ["s", "m", "mx", "q", "t"],
    };
  });
}

function integerAndStacking(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const i = ef.placeholder(g, "int32", [6], { name: "i" });
    const f = ef.placeholder(g, "float32", [2, 3], { name: "f" });
    const d = ef.constant(new ef.Tensor("int32", [6], Int32Array.of(4, -4, 3, -3, 5, -2)));
    ef.floorDiv(i, d, { name: "q" });
    ef.floorMod(i, d, { name: "r" });
    ef.floorMod(f, -0.75, { name: "fr" });
    const rows = ef.unstack(f, { axis: 1 });
    ef.stack([rows[2], rows[0]], { axis: 0, name: "st" });
    return {
      graph: g,
      feeds: {
        i: new ef.Tensor("int32", [6], Int32Array.of(7, 7, -7, -7, 0, 9)),
        f: new ef.Tensor("float32", [2, 3], values(6, 9)),
      },
      outputs: ["q", "r", "fr", "st"],
    };
  });
}

function slicingAndFilling(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [4, 5], { name: "x" });
    ef.slice(x, [1, 2], [-1, 2], { name: "sl" });
    ef.stridedSlice(x, [3, 0], [0, 5], [-1, 2], { end_mask: 1, name: "ss" });
    ef.stridedSlice(x, [-1, 1], [0, 4], [1, 1], { shrink_axis_mask: 1, name: "row" });
    ef.tile(ef.add(ef.zerosLike(x), ef.onesLike(x)), [2, 1], { name: "ti" });
    ef.fill([2, 3], 1.5, { name: "fi" });
    ef.range(0.5, 3, 0.75, { name: "ra" });
    return {
      graph: g,
      feeds: { x: new ef.Tensor("float32", [4, 5], values(20, 11)) },
      outputs: ["sl", "ss", "row", "ti", "fi", "ra"],
    };
  });
}

function scansAndSelections(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [3, 4], { name: "x" });
    ef.cumsum(x, 1, { name: "cs" });
    ef.cumsum(x, 0, { exclusive: true, reverse: true, name: "csx" });
    ef.cumsum(ef.cast(x, "int32"), -1, { reverse: true, name: "csi" });
    ef.whereIndices(ef.greater(x, 0), { name: "nz" });
    return {
      graph: g,
      feeds: { x: new ef.Tensor("float32", [3, 4], values(12, 13).map((v) => 4 * v)) },
      outputs: ["cs", "csx", "csi", "nz"],
    };
  });
}

function selectionsAndScatters(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [2, 5], { name: "x" });
    const ids = ef.placeholder(g, "int32", [4], { name: "ids" });
    ef.notEqual(x, ef.stopGradient(ef.relu(x)), { name: "ne" });
    ef.log1p(x, { name: "l1p" });
    ef.oneHot(ids, 4, 2.5, -1, { name: "oh" });
    const [values, indices] = ef.topK(x, 3, { name: "tk" });
    ef.identity(values, { name: "tkv" });
    ef.identity(indices, { name: "tki" });
    // Row 1's segment id is negative: dropped.
    const rows = ef.constant(new ef.Tensor("int32", [2], Int32Array.of(1, -1)));
    ef.unsortedSegmentSum(x, rows, 3, { name: "uss" });
    const [y, idx] = ef.unique(ids, { name: "u" });
    ef.identity(y, { name: "uy" });
    ef.identity(idx, { name: "ui" });
    // Index 1 twice: summed.
    const at = ef.constant(new ef.Tensor("int32", [3, 1], Int32Array.of(1, 3, 1)));
    apply(ScatterNd, [at, ef.reshape(ef.slice(x, [0, 0], [1, 3]), [3]), [5]], { name: "snd" });
    return {
      graph: g,
      feeds: {
        x: new ef.Tensor(
          "float32",
          [2, 5],
          Float32Array.of(1e-8, -1e-7, 0.5, -0.75, 3, 2, 1e-30, -0.5, 0, 7),
        ),
        ids: new ef.Tensor("int32", [4], Int32Array.of(2, -1, 2, 0)),
      },
      outputs: ["ne", "l1p", "oh", "tkv", "tki", "uss", "uy", "ui", "snd"],
    };
  });
}

async function edgeflow(c: Case): Promise<ef.Tensor[]> {
  await using s = new ef.Session(c.graph);
  return await s.run(
    c.outputs.map((o) => `${o}:0`),
    Object.fromEntries(Object.entries(c.feeds).map(([k, v]) => [`${k}:0`, v])),
  ) as ef.Tensor[];
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(
      Math.abs(got[i] - want[i]) <= 1e-5 + 1e-4 * Math.abs(want[i]),
      `${what}[${i}]: ${got[i]} vs ${want[i]}`,
    );
  }
}

for (
  const [name, make] of [
    ["MLP", mlp],
    ["conv net with pooling", convNet],
    ["elementwise and reductions", elementwise],
    ["integer division, Pack and Unpack", integerAndStacking],
    ["slicing and filling", slicingAndFilling],
    ["Cumsum and Where", scansAndSelections],
    ["OneHot, TopKV2, Unique, segment sums and scatters, Log1p", selectionsAndScatters],
  ] as const
) {
  Deno.test(`ONNX export: ${name} runs in onnxruntime-web with Edgeflow's outputs`, async () => {
    const c = make();
    const want = await edgeflow(c);
    const bytes = toOnnx(c.graph, { outputs: c.outputs });
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    try {
      const feeds = Object.fromEntries(
        Object.entries(c.feeds).map((
          [k, v],
        ) => [
          k,
          new ort.Tensor(v.dtype as "float32", v.data as Float32Array, v.shape as number[]),
        ]),
      );
      const got = await session.run(feeds);
      c.outputs.forEach((o, i) => {
        assert.deepEqual([...got[o].dims], [...want[i].shape], `${o}: shape`);
        assertClose(Array.from(got[o].data as ArrayLike<number>, Number), numbers(want[i]), o);
      });
    } finally {
      await session.release();
    }
    // And back through Edgeflow's importer.
    const model = await loadOnnxModel(bytes);
    await using s = new ef.Session(model.graph);
    const back = await s.run(
      model.outputs.map((o) => o.name),
      model.inputs.map((i) => [i.name, c.feeds[i.key]] as [string, ef.Tensor]),
    ) as ef.Tensor[];
    c.outputs.forEach((o, i) =>
      assertClose(numbers(back[i]), numbers(want[i]), `${o} (reimported)`)
    );
  });
}

Deno.test("ONNX export lists every op without an ONNX form at once", () => {
  const g = new ef.Graph();
  g.asDefault(() => {
    const x = ef.placeholder(g, "float32", [3], { name: "x" });
    ef.cumprod(ef.invertPermutation(ef.cast(x, "int32")), 0, { name: "y" });
  });
  assert.throws(() => toOnnx(g), (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.match(
      e.message,
      /2 ops without an ONNX export: InvertPermutation \('InvertPermutation'\); Cumprod \('y'\)/,
    );
    return true;
  });
});

Deno.test("ONNX export of Log1p keeps its precision near 0 and its infinities", async () => {
  const g = new ef.Graph();
  g.asDefault(() => ef.log1p(ef.placeholder(g, "float32", [6], { name: "x" }), { name: "y" }));
  const x = new ef.Tensor("float32", [6], Float32Array.of(1e-8, -3e-9, 1e-30, Infinity, -1, 0.25));
  const want = await edgeflow({ graph: g, feeds: { x }, outputs: ["y"] });
  const session = await ort.InferenceSession.create(toOnnx(g), { executionProviders: ["wasm"] });
  try {
    const got =
      (await session.run({ x: new ort.Tensor("float32", x.data as Float32Array, [6]) })).y;
    Array.from(numbers(want[0])).forEach((w, i) => {
      const v = (got.data as Float32Array)[i];
      // log(1 + x) alone gives 0 for the first three.
      assert.ok(v === w || Math.abs(v - w) <= 4 * 2 ** -24 * Math.abs(w), `${i}: ${v} vs ${w}`);
    });
  } finally {
    await session.release();
  }
});

Deno.test("ONNX export of NonMaxSuppression V3, V4 and V5 gives Edgeflow's selections in onnxruntime-web", async () => {
  const g = new ef.Graph();
  const outputs = ["v3", "v3zero", "v4", "v4n", "v5", "v5s", "v5n"];
  g.asDefault(() => {
    const boxes = ef.placeholder(g, "float32", [6, 4], { name: "boxes" });
    const scores = ef.placeholder(g, "float32", [6], { name: "scores" });
    // IOUs of exactly 0.5 among the boxes: TensorFlow suppresses them (IOU ≥ threshold).
    ef.nonMaxSuppressionV3(boxes, scores, 4, {
      iouThreshold: 0.5,
      scoreThreshold: 0.1,
      name: "v3",
    });
    ef.nonMaxSuppressionV3(boxes, scores, 4, { iouThreshold: 0, name: "v3zero" });
    const v4 = apply(NonMaxSuppressionV4, [boxes, scores, 5, 0.6, -1], {
      pad_to_max_output_size: true,
      name: "v4",
    });
    ef.identity(v4.outputs[1], { name: "v4n" });
    const [i5, s5, n5] = ef.nonMaxSuppressionV5(boxes, scores, 6, {
      iouThreshold: 0.4,
      padToMaxOutputSize: true,
      name: "v5",
    });
    ef.identity(s5, { name: "v5s" });
    ef.identity(n5, { name: "v5n" });
    void i5;
  });
  const feeds = {
    boxes: new ef.Tensor(
      "float32",
      [6, 4],
      Float32Array.of(
        ...[0, 0, 2, 2, 0, 0, 2, 1, 3, 3, 4, 4],
        ...[2, 2, 0, 0, 0, 1, 2, 3, 3, 3, 4, 5],
      ),
    ),
    scores: new ef.Tensor("float32", [6], Float32Array.of(0.9, 0.8, 0.7, 0.6, 0.05, 0.75)),
  };
  const want = await edgeflow({ graph: g, feeds, outputs });
  const session = await ort.InferenceSession.create(toOnnx(g, { outputs }), {
    executionProviders: ["wasm"],
  });
  try {
    const got = await session.run(Object.fromEntries(
      Object.entries(feeds).map(([k, v]) => [
        k,
        new ort.Tensor("float32", v.data as Float32Array, v.shape.slice()),
      ]),
    ));
    outputs.forEach((o, i) => {
      assert.deepEqual([...got[o].dims], [...want[i].shape], `${o}: shape`);
      assertClose(Array.from(got[o].data as ArrayLike<number>, Number), numbers(want[i]), o);
    });
  } finally {
    await session.release();
  }
});

Deno.test("ONNX export refuses soft NMS and a fed IOU threshold by node", () => {
  const g = new ef.Graph();
  g.asDefault(() => {
    const boxes = ef.placeholder(g, "float32", [2, 4], { name: "b" });
    const scores = ef.placeholder(g, "float32", [2], { name: "s" });
    ef.nonMaxSuppressionV5(boxes, scores, 2, { softNmsSigma: 0.5, name: "soft" });
  });
  assert.throws(() => toOnnx(g), /soft NMS/);
  const h = new ef.Graph();
  h.asDefault(() => {
    const boxes = ef.placeholder(h, "float32", [2, 4], { name: "b" });
    const t = ef.placeholder(h, "float32", [], { name: "t" });
    ef.nonMaxSuppressionV3(boxes, ef.placeholder(h, "float32", [2], { name: "s" }), 2, {
      iouThreshold: t,
      name: "fed",
    });
  });
  assert.throws(() => toOnnx(h), /iou_threshold as a constant/);
});
