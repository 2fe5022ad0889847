// ONNX import: inputs become Placeholders, initializers Consts, outputs named Identities; every
// unmapped op is listed at once; external data is read only from the model's directory and
// within the file's bytes; truncated files give errors naming the file and field.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { loadOnnxModel } from "../../formats.ts";
import { encodeOnnxModel, type OnnxGraphOut } from "../../core/formats/onnx/onnx_encode.ts";
import { BinaryWriter, LEN, VARINT } from "../../core/formats/protobuf/wire.ts";
import {
  GRAPH_PROTO,
  MODEL_PROTO,
  ONNX_DTYPE,
  STRING_STRING_ENTRY,
  TENSOR_PROTO,
} from "../../core/formats/onnx/onnx_schema.ts";

const W = new ef.Tensor("float32", [2, 2], Float32Array.of(1, 2, 3, 4));

function model(nodes: OnnxGraphOut["nodes"], initializers = [{ name: "w", value: W }]): Uint8Array {
  return encodeOnnxModel({
    name: "t",
    opset: 17,
    nodes,
    initializers,
    inputs: [{ name: "x:in", dtype: "float32", shape: [-1, 2] }],
    outputs: [{ name: "y", dtype: "float32", shape: [-1, 2] }],
  });
}

const GEMM_RELU: OnnxGraphOut["nodes"] = [
  { op: "MatMul", name: "mm", inputs: ["x:in", "w"], outputs: ["h"] },
  { op: "Relu", name: "act", inputs: ["h"], outputs: ["y"] },
];

Deno.test("an ONNX model loads: placeholders, initializers as Consts, named outputs", async () => {
  const m = await loadOnnxModel(model(GEMM_RELU));
  assert.equal(m.opset, 17);
  assert.deepEqual(m.inputs, [{ key: "x:in", name: "x_in:0", dtype: "float32", shape: [-1, 2] }]);
  assert.equal(m.outputs[0].key, "y");
  assert.equal(m.graph.node("w").op.name, "Const");
  await using s = new ef.Session(m.graph);
  const y = await s.run(m.outputs[0].name, { [m.inputs[0].name]: [[1, -1], [0, 1]] });
  assert.deepEqual(y.toArray(), [[0, 0], [3, 4]]);
});

Deno.test("every unmapped ONNX op is listed at once, with its nodes and the nearest mapped op", async () => {
  const bytes = model([
    { op: "Atan", name: "a1", inputs: ["x:in"], outputs: ["a"] },
    { op: "Atan", name: "a2", inputs: ["a"], outputs: ["b"] },
    { op: "Relux", name: "r", inputs: ["b"], outputs: ["y"] },
  ]);
  await assert.rejects(() => loadOnnxModel(bytes, { file: "m.onnx" }), (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.match(e.message, /m\.onnx uses 2 ONNX ops Edgeflow does not map/);
    assert.match(e.message, /Atan \(nodes 'a1', 'a2'\); nearest: Tan/);
    assert.match(e.message, /Relux \(node 'r'\); nearest: Relu/);
    return true;
  });
});

Deno.test("a truncated ONNX model's error names the file and the field", async () => {
  const bytes = model(GEMM_RELU);
  await assert.rejects(
    () => loadOnnxModel(bytes.subarray(0, bytes.length - 30), { file: "m.onnx" }),
    (e: Error) => {
      assert.ok(e instanceof ef.EdgeflowError);
      assert.match(e.message, /^m\.onnx: graph.*truncated or corrupt/);
      return true;
    },
  );
});

/** A model whose initializer 'w' lives in `location` at offset/length. */
function externalModel(location: string, offset: number, length: number): Uint8Array {
  const w = new BinaryWriter();
  w.tag(MODEL_PROTO.irVersion, VARINT).int64(8);
  w.tag(MODEL_PROTO.opsetImport, LEN).fork().tag(2, VARINT).int64(17).join();
  const inner = model(GEMM_RELU, []);
  // The graph of `inner` plus an external initializer: decode order does not matter, so the
  // initializer is appended as a second graph field, which protobuf merges.
  w.raw(inner);
  w.tag(MODEL_PROTO.graph, LEN).fork();
  w.tag(GRAPH_PROTO.initializer, LEN).fork();
  w.tag(TENSOR_PROTO.dims, VARINT).int64(2).tag(TENSOR_PROTO.dims, VARINT).int64(2);
  w.tag(TENSOR_PROTO.dataType, VARINT).int32(ONNX_DTYPE.FLOAT);
  w.tag(TENSOR_PROTO.name, LEN).string("w");
  for (
    const [k, v] of [["location", location], ["offset", String(offset)], ["length", String(length)]]
  ) {
    w.tag(TENSOR_PROTO.externalData, LEN).fork();
    w.tag(STRING_STRING_ENTRY.key, LEN).string(k).tag(STRING_STRING_ENTRY.value, LEN).string(v);
    w.join();
  }
  w.tag(TENSOR_PROTO.dataLocation, VARINT).int32(1);
  w.join().join();
  return w.finish();
}

Deno.test("external data: read beside the model, refused outside it or past the file's end", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/m`);
    const data = new Uint8Array(8 + 16);
    data.set(new Uint8Array(W.data.buffer as ArrayBuffer), 8);
    await Deno.writeFile(`${dir}/m/weights.bin`, data);
    await Deno.writeFile(`${dir}/secret.bin`, data);
    await Deno.writeFile(`${dir}/m/model.onnx`, externalModel("weights.bin", 8, 16));
    const m = await loadOnnxModel(`${dir}/m/model.onnx`);
    assert.deepEqual(m.graph.node("w").attrs.value.toArray(), [[1, 2], [3, 4]]);

    await Deno.writeFile(`${dir}/m/model.onnx`, externalModel("../secret.bin", 8, 16));
    await assert.rejects(
      () => loadOnnxModel(`${dir}/m/model.onnx`),
      /leaves the model's directory/,
    );
    await Deno.writeFile(`${dir}/m/model.onnx`, externalModel("weights.bin", 16, 16));
    await assert.rejects(() => loadOnnxModel(`${dir}/m/model.onnx`), /fall outside 'weights.bin'/);
    // From bytes there is no directory to read from.
    await assert.rejects(
      () => loadOnnxModel(externalModel("weights.bin", 8, 16)),
      /external data was not resolved/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("shape arguments computed from Shape fold at load time (Resize's sizes)", async () => {
  const bytes = encodeOnnxModel({
    name: "t",
    opset: 17,
    nodes: [
      { op: "Shape", name: "s", inputs: ["x"], outputs: ["s"] },
      { op: "Mul", name: "twice", inputs: ["s", "k"], outputs: ["sizes"] },
      {
        op: "Resize",
        name: "up",
        inputs: ["x", "", "", "sizes"],
        outputs: ["y"],
        attrs: {
          mode: "nearest",
          coordinate_transformation_mode: "asymmetric",
          nearest_mode: "floor",
        },
      },
    ],
    initializers: [{
      name: "k",
      value: new ef.Tensor("int64", [4], BigInt64Array.of(1n, 1n, 2n, 2n)),
    }],
    inputs: [{ name: "x", dtype: "float32", shape: [1, 1, 2, 2] }],
    outputs: [{ name: "y", dtype: "float32", shape: [1, 1, 4, 4] }],
  });
  const m = await loadOnnxModel(bytes);
  await using s = new ef.Session(m.graph);
  const y = await s.run(m.outputs[0].name, { [m.inputs[0].name]: [[[[1, 2], [3, 4]]]] });
  assert.deepEqual(y.toArray(), [[[[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]]]);
});

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed * 2654435761 >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

Deno.test("an NCHW conv net gives onnxruntime's outputs with one Transpose in and one out", async () => {
  const t = (shape: number[], seed: number) =>
    new ef.Tensor("float32", shape, values(shape.reduce((a, b) => a * b, 1), seed));
  const bytes = encodeOnnxModel({
    name: "net",
    opset: 17,
    nodes: [
      {
        op: "Conv",
        name: "c1",
        inputs: ["x", "w1", "b1"],
        outputs: ["a"],
        attrs: { pads: [1, 1, 1, 1] },
      },
      { op: "Relu", name: "r1", inputs: ["a"], outputs: ["ra"] },
      {
        op: "Conv",
        name: "c2",
        inputs: ["ra", "w2"],
        outputs: ["b"],
        attrs: { auto_pad: "SAME_UPPER" },
      },
      { op: "Add", name: "res", inputs: ["b", "ra"], outputs: ["s"] },
      {
        op: "BatchNormalization",
        name: "bn",
        inputs: ["s", "g", "be", "mu", "var"],
        outputs: ["n"],
      },
      { op: "Clip", name: "r6", inputs: ["n", "lo", "hi"], outputs: ["r"] },
      {
        op: "MaxPool",
        name: "mp",
        inputs: ["r"],
        outputs: ["p"],
        attrs: { kernel_shape: [2, 2], strides: [2, 2] },
      },
      { op: "GlobalAveragePool", name: "gap", inputs: ["p"], outputs: ["q"] },
      { op: "Flatten", name: "fl", inputs: ["q"], outputs: ["f"] },
      { op: "Gemm", name: "fc", inputs: ["f", "wf", "bf"], outputs: ["y"], attrs: { transB: 1 } },
    ],
    initializers: [
      { name: "w1", value: t([4, 3, 3, 3], 1) },
      { name: "b1", value: t([4], 2) },
      { name: "w2", value: t([4, 4, 3, 3], 3) },
      { name: "g", value: t([4], 4) },
      { name: "be", value: t([4], 5) },
      { name: "mu", value: t([4], 6) },
      { name: "var", value: new ef.Tensor("float32", [4], Float32Array.of(0.5, 1, 1.5, 2)) },
      { name: "lo", value: new ef.Tensor("float32", [], Float32Array.of(0)) },
      { name: "hi", value: new ef.Tensor("float32", [], Float32Array.of(6)) },
      { name: "wf", value: t([5, 4], 7) },
      { name: "bf", value: t([5], 8) },
    ],
    inputs: [{ name: "x", dtype: "float32", shape: [2, 3, 8, 8] }],
    outputs: [{ name: "y", dtype: "float32", shape: [2, 5] }],
  });
  const x = t([2, 3, 8, 8], 9);
  const m = await loadOnnxModel(bytes);
  await using s = new ef.Session(m.graph);
  const ours = await s.run(m.outputs[0].name, { [m.inputs[0].name]: x });

  // Transposes of activations the output needs (weights' are Consts the session folds).
  const needed = new Set<ef.Node>();
  const visit = (n: ef.Node) => {
    if (needed.has(n)) return;
    needed.add(n);
    n.inputs.forEach((i) => visit(i.node));
  };
  visit(m.graph.tensor(m.outputs[0].name).node);
  const transposes = [...needed].filter((n) =>
    n.op.name === "Transpose" && n.inputs[0].node.op.name !== "Const"
  );
  assert.equal(transposes.length, 2, transposes.map((n) => n.name).join(", "));

  const ort = await import("npm:onnxruntime-web@1");
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    const got = await session.run({
      x: new ort.Tensor("float32", x.data as Float32Array, [2, 3, 8, 8]),
    });
    const theirs = got.y.data as Float32Array, mine = ours.data as Float32Array;
    assert.equal(mine.length, theirs.length);
    mine.forEach((v, i) =>
      assert.ok(Math.abs(v - theirs[i]) <= 1e-5, `[${i}]: ${v} vs ${theirs[i]}`)
    );
  } finally {
    await session.release();
  }
});

Deno.test("sizes a model's numbers ask for at load time are bounded before anything is made", async () => {
  const one = (
    nodes: OnnxGraphOut["nodes"],
    initializers: OnnxGraphOut["initializers"],
    shape: number[],
  ) =>
    encodeOnnxModel({
      name: "t",
      opset: 17,
      nodes,
      initializers,
      inputs: [{ name: "x", dtype: "float32", shape }],
      outputs: [{ name: "y", dtype: "float32", shape: null }],
    });
  const i64 = (...v: number[]) => new ef.Tensor("int64", [v.length], BigInt64Array.from(v, BigInt));
  const cases: [string, Uint8Array, RegExp][] = [
    [
      "Resize to 10^12 elements",
      one(
        [{ op: "Resize", name: "r", inputs: ["x", "", "", "s"], outputs: ["y"] }],
        [{ name: "s", value: i64(1, 1, 1e6, 1e6) }],
        [1, 1, 2, 2],
      ),
      /the resized tensor's element count \(1000000000000\) is over the limit/,
    ],
    [
      "reflect-padding by 2^40",
      one(
        [{
          op: "Pad",
          name: "p",
          inputs: ["x", "pads"],
          outputs: ["y"],
          attrs: { mode: "reflect" },
        }],
        [{ name: "pads", value: i64(0, 2 ** 40, 0, 0) }],
        [2, 2],
      ),
      /the padded dim 1 .* is over the limit/,
    ],
    [
      "an LSTM of 10^6 steps",
      one(
        [{
          op: "LSTM",
          name: "l",
          inputs: ["x", "w", "r"],
          outputs: ["y"],
          attrs: { hidden_size: 1 },
        }],
        [
          { name: "w", value: new ef.Tensor("float32", [1, 4, 1], new Float32Array(4)) },
          { name: "r", value: new ef.Tensor("float32", [1, 4, 1], new Float32Array(4)) },
        ],
        [1e6, 1, 1],
      ),
      /the sequence length \(steps unrolled\) \(1000000\) is over the limit/,
    ],
    [
      "a Conv of 10^6 groups",
      one(
        [{ op: "Conv", name: "c", inputs: ["x", "w"], outputs: ["y"], attrs: { group: 1e6 } }],
        [{ name: "w", value: new ef.Tensor("float32", [1e6, 2, 1, 1], new Float32Array(2e6)) }],
        [1, 2e6, 1, 1],
      ),
      /group \(one convolution each\) \(1000000\) is over the limit/,
    ],
  ];
  for (const [what, bytes, message] of cases) {
    const start = performance.now();
    await assert.rejects(() => loadOnnxModel(bytes), (e: Error) => {
      assert.ok(e instanceof ef.EdgeflowError, `${what}: ${e}`);
      assert.match(e.message, message, what);
      return true;
    });
    assert.ok(performance.now() - start < 2000, what);
  }
});

Deno.test("an ONNX model and its external data load from a URL, confined to its prefix", async () => {
  const data = new Uint8Array(16);
  data.set(new Uint8Array(W.data.buffer as ArrayBuffer));
  const served = new Map<string, Uint8Array>([
    ["/m/model.onnx", externalModel("weights.bin", 0, 16)],
    ["/m/weights.bin", data],
    ["/m/escape.onnx", externalModel("../secret.bin", 0, 16)],
    ["/secret.bin", data],
  ]);
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const body = served.get(new URL(req.url).pathname);
    return body ? new Response(body.slice()) : new Response("not found", { status: 404 });
  });
  const base = `http://127.0.0.1:${server.addr.port}/m/`;
  const m = await loadOnnxModel(`${base}model.onnx`);
  assert.deepEqual(m.graph.node("w").attrs.value.toArray(), [[1, 2], [3, 4]]);
  await assert.rejects(
    () => loadOnnxModel(new URL(`${base}escape.onnx`)),
    /escape\.onnx: graph\.initializer\[0\]\.external_data location '\.\.\/secret\.bin' leaves the model's directory/,
  );
});
