// Binary GraphDef (frozen .pb): round trips, a hand-checked byte vector, decoding what other
// writers emit (unpacked repeated fields, unknown fields), and errors for corrupt files.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import * as pb from "../formats.ts";
import { type GraphDefJson, toGraphDef } from "../core/formats/graphdef_json.ts";
import { decodeGraphDef } from "../core/formats/protobuf/graphdef_decode.ts";
import { encodeGraphDef } from "../core/formats/protobuf/graphdef_encode.ts";
import type { TensorJson } from "../core/formats/tensor_proto.ts";
import { BinaryWriter, WireType } from "../core/formats/protobuf/wire.ts";
import fc from "npm:fast-check@4";
import { fcParams } from "./op_cases.ts";

function sampleGraph() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 4], { name: "x" });
  const w = ef.constant(ef.tensor([[1, 2], [3, 4], [5, 6], [7, 8]]), { graph: g, name: "w" });
  const logits = g.withNameScope("dense", () => ef.matMul(x, w));
  ef.constant(ef.tensor([3n, -4n], undefined, "int64"), { graph: g, name: "ids" });
  ef.constant(ef.tensor([0.5, 1.5], undefined, "bfloat16"), { graph: g, name: "half" });
  ef.constant(ef.tensor(["a", "héllo"]), { graph: g, name: "words" });
  ef.constant([true, false], { graph: g, name: "flags" });
  // TensorFlow's float attrs are float32: 0.25 survives the binary form exactly (0.1 would not).
  const act = g.withDevice("/device:CPU:0", () => ef.leakyRelu(logits, { alpha: 0.25 }));
  const noop = ef.noOp(g, { name: "barrier" });
  g.withControlDependencies([noop], () => ef.identity(act, { name: "out" }));
  return g;
}

Deno.test("binary GraphDef round trip: the same GraphDef, the same bytes", () => {
  const g = sampleGraph();
  const bytes = pb.toGraphDefBinary(g);
  const back = pb.fromGraphDefBinary(bytes);
  assert.deepEqual(toGraphDef(back), toGraphDef(g));
  assert.deepEqual(pb.toGraphDefBinary(back), bytes);
  assert.deepEqual(decodeGraphDef(bytes), JSON.parse(JSON.stringify(toGraphDef(g))));
  assert.equal(back.node("out").controlInputs[0].name, "barrier");
  assert.deepEqual(back.node("words").attrs.value.toArray(), ["a", "héllo"]);
});

Deno.test("float attrs are float32 in the binary form, as in TensorFlow", () => {
  const g = new ef.Graph();
  ef.leakyRelu(ef.placeholder(g, "float32", [2], { name: "x" }), { alpha: 0.1, name: "y" });
  const back = pb.fromGraphDefBinary(pb.toGraphDefBinary(g));
  assert.equal(back.node("y").attrs.alpha, Math.fround(0.1));
});

Deno.test("an imported binary GraphDef computes what the original does", async () => {
  const g = sampleGraph();
  const back = pb.fromGraphDefBinary(pb.toGraphDefBinary(g));
  const feed = { x: [[1, 0, 0, 1], [-1, -1, 0, 0]] };
  await using a = new ef.Session(g);
  await using b = new ef.Session(back);
  assert.deepEqual((await b.run("out", feed)).toArray(), (await a.run("out", feed)).toArray());
});

Deno.test("the bytes of a small GraphDef, checked by hand against the proto schema", () => {
  const def: GraphDefJson = {
    node: [{ name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } }],
    versions: { producer: 1645, minConsumer: 12 },
  };
  const expected = [
    // GraphDef.node (1, length-delimited): 29 bytes
    0x0a,
    0x1d,
    // NodeDef.name (1) "x"
    0x0a,
    0x01,
    0x78,
    // NodeDef.op (2) "Placeholder"
    0x12,
    0x0b,
    ...new TextEncoder().encode("Placeholder"),
    // NodeDef.attr (5): map entry { key (1) "dtype", value (2) AttrValue { type (6) = DT_FLOAT (1) } }
    0x2a,
    0x0b,
    0x0a,
    0x05,
    ...new TextEncoder().encode("dtype"),
    0x12,
    0x02,
    0x30,
    0x01,
    // GraphDef.versions (4): { producer (1) = 1645 = varint ed 0c, min_consumer (2) = 12 }
    0x22,
    0x05,
    0x08,
    0xed,
    0x0c,
    0x10,
    0x0c,
  ];
  assert.deepEqual([...encodeGraphDef(def)], expected);
  assert.deepEqual(decodeGraphDef(new Uint8Array(expected)), def);
});

Deno.test("decodes what other writers emit: unpacked repeated fields, unknown fields, zero values", () => {
  // Hand-assembled with the library's writer, the way an older or foreign encoder could order it.
  const w = new BinaryWriter();
  w.tag(3, WireType.Varint).int32(21); // GraphDef.version (deprecated): skipped
  w.tag(1, WireType.LengthDelimited).fork();
  w.tag(2, WireType.LengthDelimited).string("Const"); // op before name
  w.tag(1, WireType.LengthDelimited).string("c");
  w.tag(9, WireType.Varint).int32(7); // a field this schema does not know
  for (
    const [key, write] of [
      ["dtype", (w: BinaryWriter) => w.tag(6, WireType.Varint).int32(3)],
      ["value", (w: BinaryWriter) => {
        w.tag(8, WireType.LengthDelimited).fork();
        w.tag(1, WireType.Varint).int32(3); // DT_INT32
        w.tag(2, WireType.LengthDelimited).fork();
        w.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.Varint).int64(3).join();
        w.join();
        // int_val unpacked, one element per tag
        w.tag(7, WireType.Varint).int32(-5).tag(7, WireType.Varint).int32(6);
        w.join();
      }],
    ] as const
  ) {
    w.tag(5, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(key);
    w.tag(2, WireType.LengthDelimited).fork();
    write(w);
    w.join().join();
  }
  w.join();
  const g = pb.fromGraphDefBinary(w.finish());
  // Two values for three elements: TensorFlow repeats the last.
  assert.deepEqual(g.node("c").attrs.value.toArray(), [-5, 6, 6]);
});

Deno.test("every unsupported op is listed at once, with its nodes and the nearest op", () => {
  const def: GraphDefJson = {
    node: [
      { name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } },
      { name: "conv1", op: "DivNoNan", input: ["x", "x"] },
      { name: "conv2", op: "DivNoNan", input: ["conv1", "x"] },
      { name: "e", op: "Expp", input: ["conv2"] },
      { name: "q", op: "QuantizeAndDequantizeV4", input: ["e"] },
    ],
  };
  assert.throws(
    () => pb.fromGraphDefBinary(encodeGraphDef(def), { file: "frozen.pb" }),
    (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError);
      const m = e.message;
      assert.match(m, /^frozen\.pb uses 3 ops Edgeflow does not have/);
      assert.match(m, /DivNoNan \(nodes 'conv1', 'conv2'\); nearest: RealDiv \+ SelectV2/);
      assert.match(m, /Expp \(node 'e'\); nearest: Exp/);
      assert.match(m, /QuantizeAndDequantizeV4 \(node 'q'\)$/m);
      return true;
    },
  );
});

Deno.test("corrupt binary GraphDefs: EdgeflowErrors naming the file and the field", () => {
  const bytes = pb.toGraphDefBinary(sampleGraph());
  const refuse = (b: Uint8Array, pattern: RegExp, options = {}) =>
    assert.throws(() => pb.fromGraphDefBinary(b, { file: "m.pb", ...options }), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  refuse(
    bytes.subarray(0, 40),
    /^m\.pb: node \(at byte 0\) is truncated or corrupt: premature EOF/,
  );
  refuse(bytes.subarray(0, bytes.length - 3), /^m\.pb: versions \(at byte \d+\) is truncated/);
  // A node whose name field has the wrong wire type.
  refuse(new Uint8Array([0x0a, 0x02, 0x08, 0x01]), /m\.pb: node\[0\]\.name is .*wire type varint/);
  /** A GraphDef of one float Const node holding `tensor`. */
  const constGraph = (name: string, tensor: Omit<TensorJson, "dtype">) =>
    encodeGraphDef({
      node: [{
        name,
        op: "Const",
        attr: { dtype: { type: "DT_FLOAT" }, value: { tensor: { dtype: "DT_FLOAT", ...tensor } } },
      }],
    });
  // tensor_content shorter than the shape needs: refused before allocating.
  const short = constGraph("c", {
    tensorShape: { dim: [{ size: "4" }] },
    tensorContent: "AAAAAA==",
  });
  refuse(short, /node 'c' attr 'value': tensor_content has 4 bytes, .* needs 16/);
  // A splat constant of 2^40 elements from a file of a few bytes.
  const huge = constGraph("z", {
    tensorShape: { dim: [{ size: String(2 ** 20) }, { size: String(2 ** 20) }] },
    floatVal: [0],
  });
  refuse(huge, /node 'z' attr 'value': a tensor of 1099511627776 elements is larger/);
  // Not a GraphDef at all.
  refuse(new TextEncoder().encode('{"node": []}'), /m\.pb: .*truncated or corrupt/);
});

Deno.test("loadGraphDef reads a .pb file by path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = pb.toGraphDefBinary(sampleGraph());
    await Deno.writeFile(`${dir}/frozen.pb`, bytes);
    const g = await pb.loadGraphDef(`${dir}/frozen.pb`);
    assert.deepEqual(pb.toGraphDefBinary(g), bytes);
    await assert.rejects(pb.loadGraphDef(`${dir}/missing.pb`), /missing\.pb .*cannot be read/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("property: decoding what the encoder wrote gives back every attr case", () => {
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
  const float32 = fc.float({ noNaN: true }).filter((f) => !Object.is(f, -0));
  const base64 = fc.uint8Array({ maxLength: 12 }).map((b) => b.toBase64());
  const shape = fc.oneof(
    fc.record({ unknownRank: fc.constant(true) }),
    fc.record({ dim: fc.array(fc.record({ size: int64 }), { minLength: 1, maxLength: 4 }) }),
  );
  const dtype = fc.constantFrom("DT_FLOAT", "DT_INT32", "DT_HALF", "DT_DOUBLE", "DT_FLOAT_REF");
  const tensor = fc.record({
    dtype,
    tensorShape: fc.record({ dim: fc.array(fc.record({ size: int64 }), { minLength: 1 }) }),
    floatVal: fc.array(float32, { minLength: 1 }),
    intVal: fc.array(fc.integer(), { minLength: 1 }),
    int64Val: fc.array(int64, { minLength: 1 }),
    stringVal: fc.array(base64, { minLength: 1 }),
  });
  const attr = fc.oneof(
    fc.record({ s: base64 }),
    fc.record({ i: int64 }),
    fc.record({ f: float32 }),
    fc.record({ b: fc.boolean() }),
    fc.record({ type: dtype }),
    fc.record({ shape }),
    fc.record({ tensor }),
    fc.record({ placeholder: fc.string() }),
    fc.record({
      list: fc.record({
        s: fc.array(base64, { minLength: 1 }),
        i: fc.array(int64, { minLength: 1 }),
        f: fc.array(float32, { minLength: 1 }),
        b: fc.array(fc.boolean(), { minLength: 1 }),
        type: fc.array(dtype, { minLength: 1 }),
        shape: fc.array(shape, { minLength: 1 }),
      }, { requiredKeys: [] }),
    }),
  );
  const node = fc.record({
    name: fc.string({ minLength: 1 }),
    op: fc.string({ minLength: 1 }),
    input: fc.array(fc.string({ minLength: 1 }), { minLength: 1 }),
    device: fc.string({ minLength: 1 }),
    attr: fc.dictionary(fc.string({ minLength: 1 }), attr, { minKeys: 1 }),
  }, { requiredKeys: ["name", "op"] });
  fc.assert(
    fc.property(fc.array(node, { maxLength: 4 }), (nodes) => {
      // proto3's JSON mapping omits a dim's zero size; so does the decoder.
      const def = structuredClone({ node: nodes }) as GraphDefJson;
      const dropZeroSizes = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(dropZeroSizes);
        else if (typeof v === "object" && v !== null) {
          const o = v as Record<string, unknown>;
          if (o.size === "0" && Object.keys(o).length === 1) delete o.size;
          Object.values(o).forEach(dropZeroSizes);
        }
      };
      dropZeroSizes(def);
      // The encoder writes map entries in key order; compare key-sorted attrs.
      const sorted = (d: GraphDefJson) =>
        d.node!.map((n) => ({
          ...n,
          ...(n.attr ? { attr: Object.fromEntries(Object.entries(n.attr).sort()) } : {}),
        }));
      assert.deepEqual(sorted(decodeGraphDef(encodeGraphDef(def))), sorted(def));
    }),
    fcParams(200),
  );
});
