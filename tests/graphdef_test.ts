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
    /node 'a' \(Const\): attr 'value': tensor.tensorContent has 3 bytes, a float32\[3\] needs 12/,
  );
  assert.throws(
    () =>
      fromGraphDef({
        node: [{ name: "p", op: "Placeholder", attr: { dtype: { type: "DT_COMPLEX64" } } }],
      }),
    /node 'p' \(Placeholder\): attr 'dtype': type is an unsupported TensorFlow data type "DT_COMPLEX64"/,
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

/** Asserts fromGraphDef refuses `def` with an EdgeflowError naming node `node` and matching `re`. */
function refusedAt(def: unknown, node: string, op: string, re: RegExp) {
  assert.throws(() => fromGraphDef(def as GraphDefJson), (e: unknown) => {
    assert.ok(e instanceof ef.EdgeflowError, `not an EdgeflowError: ${e}`);
    assert.equal(e.node, node, e.message);
    assert.equal(e.op, op, e.message);
    assert.match(e.message, re);
    assert.equal(e.cause, undefined, `wraps a raw error: ${e.message}`);
    return true;
  });
}

const constNode = (tensor: unknown, dtype = "DT_FLOAT") => ({
  node: [{ name: "c", op: "Const", attr: { dtype: { type: dtype }, value: { tensor } } }],
});
const shape1 = (n: number) => ({ dim: [{ size: String(n) }] });

Deno.test("GraphDef: an input that is not a tensor name is refused, naming the node", () => {
  refusedAt(
    { node: [{ name: "a", op: "Neg", input: [42] }] },
    "a",
    "Neg",
    /field 'input'\[0\] must be a tensor name, got 42 \(a number\)/,
  );
  refusedAt(
    { node: [{ name: "a", op: "NoOp", input: "x" }] },
    "a",
    "NoOp",
    /'input' must be a list/,
  );
  refusedAt(
    { node: [{ name: "a", op: "NoOp", device: 5 }] },
    "a",
    "NoOp",
    /'device' must be a string/,
  );
  refusedAt(
    { node: [{ name: "a", op: "NoOp", attr: [] }] },
    "a",
    "NoOp",
    /'attr' must be an object/,
  );
});

Deno.test("GraphDef: attributes named after Object's members are unknown attributes", () => {
  for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    // JSON.parse makes "__proto__" an own key, as a file read from disk would.
    const def = JSON.parse(
      `{"node": [{"name": "n", "op": "NoOp", "attr": {"${name}": {"i": "1"}}}]}`,
    );
    refusedAt(def, "n", "NoOp", new RegExp(`has attribute '${name}', which NoOp does not define`));
  }
  const g = new ef.Graph();
  assert.throws(() => ef.noOp(g, { constructor: 1 } as never), /has no attribute 'constructor'/);
});

Deno.test("GraphDef: a Const whose dtype attr disagrees with its tensor is refused", () => {
  refusedAt(
    constNode({ dtype: "DT_FLOAT", tensorShape: shape1(1), floatVal: [1.5] }, "DT_INT32"),
    "c",
    "Const",
    /attr 'dtype' says int32 but attr 'value' holds a float32 tensor/,
  );
  refusedAt(
    constNode({ dtype: "DT_INT32", tensorShape: shape1(1), floatVal: [1.5] }, "DT_INT32"),
    "c",
    "Const",
    /int32 tensor, whose values go in intVal, but has floatVal/,
  );
});

Deno.test("GraphDef: values out of their dtype's range or of the wrong kind are refused", () => {
  const cases: [unknown, string, RegExp][] = [
    [{ dtype: "DT_INT32", intVal: [1e10] }, "DT_INT32", /intVal\[0\] 10000000000 is outside/],
    [{ dtype: "DT_UINT8", intVal: [256] }, "DT_UINT8", /intVal\[0\] 256 is outside \[0, 255\]/],
    [{ dtype: "DT_INT32", intVal: [1.5] }, "DT_INT32", /intVal\[0\] must be an integer/],
    [
      { dtype: "DT_FLOAT", floatVal: ["abc"] },
      "DT_FLOAT",
      /floatVal\[0\] must be a number, got 'abc'/,
    ],
    [
      { dtype: "DT_FLOAT", floatVal: [null] },
      "DT_FLOAT",
      /floatVal\[0\] must be a number, got null/,
    ],
    [{ dtype: "DT_FLOAT", floatVal: [{}] }, "DT_FLOAT", /floatVal\[0\] must be a number/],
    [{ dtype: "DT_INT64", int64Val: ["abc"] }, "DT_INT64", /int64Val\[0\] must be an int64/],
    [
      { dtype: "DT_INT64", int64Val: ["9223372036854775808"] },
      "DT_INT64",
      /outside int64's range/,
    ],
    [{ dtype: "DT_BOOL", boolVal: ["yes"] }, "DT_BOOL", /boolVal\[0\] must be true or false/],
    [{ dtype: "DT_FLOAT", tensorContent: "!!!" }, "DT_FLOAT", /tensorContent is not valid base64/],
    [{ dtype: "DT_FLOAT", floatVal: [1, 2, 3] }, "DT_FLOAT", /has 3 values for 1 elements/],
  ];
  for (const [tensor, dtype, re] of cases) {
    refusedAt(constNode({ tensorShape: shape1(1), ...tensor as object }, dtype), "c", "Const", re);
  }
  // What TensorFlow writes is still read: NaN and Infinity as strings, int64 as strings, splats.
  const ok = fromGraphDef(
    constNode({
      dtype: "DT_FLOAT",
      tensorShape: shape1(3),
      floatVal: ["NaN", "-Infinity"],
    }) as never,
  );
  assert.deepEqual((ok.node("c").attrs.value as ef.Tensor).toArray(), [NaN, -Infinity, -Infinity]);
});

Deno.test("GraphDef: malformed attribute fields name the attribute and field", () => {
  const placeholder = (attr: unknown) => ({ node: [{ name: "p", op: "Placeholder", attr }] });
  const cases: [unknown, RegExp][] = [
    [{ dtype: null }, /attr 'dtype' must be an object, got null/],
    [
      { dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: [{ size: "x" }] } } },
      /shape.dim\[0\].size must be an integer/,
    ],
    [{ dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: 3 } } }, /shape.dim must be a list/],
    [{ dtype: { type: "DT_FLOAT" }, shape: { shape: { dim: [{ size: "-2" }] } } }, /-2 is outside/],
    [{ dtype: { type: {} } }, /unsupported TensorFlow data type/],
    [
      { dtype: { type: "DT_FLOAT" }, _class: { list: { s: ["%%%"] } } },
      /attr '_class': list.s\[0\] is not valid base64/,
    ],
  ];
  for (const [attr, re] of cases) refusedAt(placeholder(attr), "p", "Placeholder", re);
  const conv = (attr: Record<string, unknown>) => ({
    node: [{ name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } }, {
      name: "y",
      op: "Conv2D",
      input: ["x", "x"],
      attr: { T: { type: "DT_FLOAT" }, padding: { s: btoa("SAME") }, ...attr },
    }],
  });
  refusedAt(
    conv({ strides: { list: { i: ["1", "a"] } } }),
    "y",
    "Conv2D",
    /list.i\[1\] must be an integer/,
  );
  refusedAt(conv({ strides: { list: { i: "1" } } }), "y", "Conv2D", /list.i must be a list/);
  refusedAt(conv({ padding: { s: 7 } }), "y", "Conv2D", /attr 'padding': s must be a string/);
  refusedAt(conv({ use_cudnn_on_gpu: { b: "true" } }), "y", "Conv2D", /b must be true or false/);
});

Deno.test("GraphDef: an attribute value of another kind is refused, not read as the default", () => {
  const conv = (attr: Record<string, unknown>) => ({
    node: [{ name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } }, {
      name: "y",
      op: "Conv2D",
      input: ["x", "x"],
      attr: {
        T: { type: "DT_FLOAT" },
        padding: { s: btoa("SAME") },
        strides: { list: { i: ["1", "1", "1", "1"] } },
        ...attr,
      },
    }],
  });
  // A string attribute holding an int used to read as "" and a bool holding a string as false.
  refusedAt(
    conv({ padding: { i: "1" } }),
    "y",
    "Conv2D",
    /attr 'padding' is a string attribute but holds 'i'/,
  );
  refusedAt(
    conv({ use_cudnn_on_gpu: { s: btoa("yes") } }),
    "y",
    "Conv2D",
    /attr 'use_cudnn_on_gpu' is a bool attribute but holds 's'/,
  );
  // A list of another kind used to read as the empty list; a scalar where a list belongs too.
  refusedAt(
    conv({ strides: { list: { f: [1, 1, 1, 1] } } }),
    "y",
    "Conv2D",
    /attr 'strides' is a list\(int\) attribute but holds 'list.f'/,
  );
  refusedAt(
    conv({ strides: { i: "1" } }),
    "y",
    "Conv2D",
    /attr 'strides' is a list\(int\) attribute but holds 'i'/,
  );
  refusedAt(
    {
      node: [{
        name: "p",
        op: "Placeholder",
        attr: { dtype: { type: "DT_FLOAT" }, shape: { f: 2 } },
      }],
    },
    "p",
    "Placeholder",
    /attr 'shape' is a shape attribute but holds 'f'/,
  );
  // Proto3 JSON omits defaults and may print empty lists of other kinds: both still read.
  const g = fromGraphDef(conv({ strides: { list: { i: ["1", "1", "1", "1"], f: [] } } }) as never);
  assert.deepEqual(g.node("y").attrs.strides, [1, 1, 1, 1]);
  const d = fromGraphDef(conv({ explicit_paddings: { list: {} } }) as never);
  assert.deepEqual(d.node("y").attrs.explicit_paddings, []);
});

Deno.test("GraphDef: every field of a real graph replaced by a bad value gives a named EdgeflowError", () => {
  const { g } = sampleGraph();
  const def = JSON.parse(JSON.stringify(toGraphDef(g))) as { node: Record<string, unknown>[] };
  const BAD: unknown[] = [42, null, "abc", {}, [], true, -1, 1e10, [42]];
  let tried = 0;
  // Every path inside each node (name and op excepted: they identify it) gets every bad value.
  const paths = (v: unknown, prefix: (string | number)[]): (string | number)[][] => {
    if (typeof v !== "object" || v === null) return [prefix];
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    return [
      prefix,
      ...keys.flatMap((k) => paths((v as Record<string, unknown>)[k], [...prefix, k])),
    ];
  };
  def.node.forEach((node, n) => {
    for (
      const path of paths(node, []).filter((p) => p.length > 0 && p[0] !== "name" && p[0] !== "op")
    ) {
      for (const bad of BAD) {
        const copy = structuredClone(def);
        let at: Record<string | number, unknown> = copy.node[n];
        for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
        at[path[path.length - 1]] = bad;
        tried++;
        try {
          fromGraphDef(copy as never);
        } catch (e) {
          const where = `${def.node[n].name} ${path.join(".")} = ${JSON.stringify(bad)}`;
          assert.ok(e instanceof ef.EdgeflowError, `${where}: ${e}`);
          assert.ok(
            e.node !== undefined && e.op !== undefined,
            `${where}: names no node: ${e.message}`,
          );
          const cause = e.cause;
          if (
            cause instanceof TypeError || cause instanceof RangeError ||
            cause instanceof SyntaxError
          ) {
            assert.fail(`${where}: wraps a raw ${cause.name}: ${e.message}`);
          }
        }
      }
    }
  });
  assert.ok(tried > 500, `only ${tried} mutations`);
});

Deno.test("GraphDef: attributes that change nothing are accepted where the op lacks them", () => {
  const pool = (attr: Record<string, unknown>): GraphDefJson => ({
    node: [
      { name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } },
      {
        name: "p",
        op: "AvgPool",
        input: ["x"],
        attr: {
          T: { type: "DT_FLOAT" },
          ksize: { list: { i: ["1", "2", "2", "1"] } },
          strides: { list: { i: ["1", "2", "2", "1"] } },
          padding: { s: btoa("VALID") },
          ...attr,
        },
      },
    ],
  } as GraphDefJson);
  // AvgPool has no explicit_paddings, dilations or use_cudnn_on_gpu: empty, ones and any bool
  // change nothing and are dropped.
  const g = fromGraphDef(pool({
    explicit_paddings: { list: {} },
    dilations: { list: { i: ["1", "1", "1", "1"] } },
    use_cudnn_on_gpu: { b: false },
  }));
  assert.equal("dilations" in g.node("p").attrs, false);
  refusedAt(
    pool({ explicit_paddings: { list: { i: ["0", "0", "1", "1", "1", "1", "0", "0"] } } }),
    "p",
    "AvgPool",
    /has attribute 'explicit_paddings', which AvgPool does not define and which Edgeflow accepts only where it changes nothing: only padding EXPLICIT reads it/,
  );
  refusedAt(
    pool({ dilations: { list: { i: ["1", "2", "2", "1"] } } }),
    "p",
    "AvgPool",
    /'dilations'.*must be all ones/,
  );
  // A malformed value is still a malformed value.
  refusedAt(pool({ use_cudnn_on_gpu: { b: "yes" } }), "p", "AvgPool", /use_cudnn_on_gpu/);
});
