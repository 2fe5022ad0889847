import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { fromGraphDef, type GraphDefJson, toGraphDef } from "../core/formats/graphdef_json.ts";

function sampleGraph() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 4], { name: "x" });
  const w = new ef.Variable(ef.tensor([[1, 2], [3, 4], [5, 6], [7, 8]]), {
    graph: g,
    name: "dense/kernel",
  });
  const logits = g.withNameScope("dense", () => ef.matMul(x, w.read(), { transpose_b: false }));
  const flags = ef.constant([true, false], { graph: g });
  const ids = ef.constant(ef.tensor([3n, -4n], undefined, "int64"), { graph: g });
  const half = ef.constant(ef.tensor([0.5, 1.5], undefined, "bfloat16"), { graph: g });
  const act = g.withDevice("/device:CPU:0", () => ef.leakyRelu(logits, { alpha: 0.1 }));
  const guarded = g.withControlDependencies(
    [w.initializer],
    () => ef.identity(act, { name: "out" }),
  );
  return { g, x, w, guarded, extra: [flags, ids, half] };
}

Deno.test("GraphDef JSON round trip: export, import, export again", () => {
  const { g } = sampleGraph();
  const def = JSON.parse(JSON.stringify(toGraphDef(g))) as GraphDefJson;
  const back = fromGraphDef(def);
  assert.deepEqual(toGraphDef(back), def);
  const out = back.node("out");
  assert.equal(out.controlInputs[0].name, "dense/kernel/Assign");
  assert.equal(back.node("LeakyRelu").requestedDevice, "/device:WASM:0");
  const read = back.nodes.find((n) => n.op.name === "ReadVariableOp")!;
  assert.deepEqual(read.colocation, ["dense/kernel"]);
  assert.deepEqual(back.tensor("x:0").shape, [-1, 4]);
});

Deno.test("an imported graph computes what the original does", async () => {
  const { g, guarded } = sampleGraph();
  const back = fromGraphDef(toGraphDef(g));
  const feed = { x: [[1, 0, 0, 1], [-1, -1, 0, 0]] };
  await using a = new ef.Session(g);
  await using b = new ef.Session(back);
  assert.deepEqual((await b.run("out:0", feed)).toArray(), (await a.run(guarded, feed)).toArray());
});

Deno.test("imports TensorFlow's JSON: base64 strings, int64 as strings, splat values, nodes out of order", async () => {
  const def: GraphDefJson = {
    node: [
      {
        name: "y",
        op: "Conv2D",
        input: ["x", "w"],
        attr: {
          T: { type: "DT_FLOAT" },
          strides: { list: { i: ["1", "1", "1", "1"] } },
          padding: { s: btoa("SAME") },
          data_format: { s: btoa("NHWC") },
          _output_shapes: { list: { shape: [{ dim: [{ size: "1" }] }] } },
        },
      },
      {
        name: "w",
        op: "Const",
        attr: {
          dtype: { type: "DT_FLOAT" },
          value: {
            tensor: {
              dtype: "DT_FLOAT",
              tensorShape: { dim: [{ size: "1" }, { size: "1" }, { size: "1" }, { size: "2" }] },
              floatVal: [2],
            },
          },
        },
      },
      {
        name: "x",
        op: "Placeholder",
        attr: { dtype: { type: 1 }, shape: { shape: { unknownRank: true } } },
      },
    ],
    versions: { producer: 1645 },
  };
  const g = fromGraphDef(def);
  assert.equal(g.node("y").attrs.padding, "SAME");
  assert.deepEqual(g.node("y").attrs.dilations, [1, 1, 1, 1]);
  await using s = new ef.Session(g);
  const y = await s.run("y", { x: ef.tensor([[[[1], [2]]]]) });
  assert.deepEqual(y.toArray(), [[[[2, 2], [4, 4]]]]);
});

Deno.test("a value that is not a GraphDef is refused", () => {
  for (const bad of ["{not json", null, [], { node: 5 }]) {
    assert.throws(() => fromGraphDef(bad as never), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match((e as Error).message, /a GraphDef/);
      return true;
    });
  }
});

Deno.test("corrupt GraphDefs give EdgeflowErrors naming the node", () => {
  assert.throws(
    () => fromGraphDef({ node: [{ name: "a", op: "Neg", input: ["missing"] }] }),
    /node 'a' \(Neg\): input 'missing' is not a node/,
  );
  assert.throws(
    () =>
      fromGraphDef({
        node: [{
          name: "a",
          op: "Const",
          attr: {
            dtype: { type: "DT_FLOAT" },
            value: {
              tensor: {
                dtype: "DT_FLOAT",
                tensorShape: { dim: [{ size: "3" }] },
                tensorContent: "AAAA",
              },
            },
          },
        }],
      }),
    /node 'a' \(Const\): tensor content has 3 bytes/,
  );
  assert.throws(
    () =>
      fromGraphDef({
        node: [{ name: "p", op: "Placeholder", attr: { dtype: { type: "DT_COMPLEX64" } } }],
      }),
    /node 'p' \(Placeholder\): unsupported TensorFlow data type "DT_COMPLEX64"/,
  );
  assert.throws(
    () =>
      fromGraphDef({
        node: [{
          name: "p",
          op: "Placeholder",
          attr: { dtype: { type: "DT_FLOAT" }, color: { s: "" } },
        }],
      }),
    /has attribute 'color', which Placeholder does not define/,
  );
  assert.throws(
    () => fromGraphDef({ node: [{ name: "a", op: "NoOp" }, { name: "a", op: "NoOp" }] }),
    /two GraphDef nodes are named 'a'/,
  );
});
