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
