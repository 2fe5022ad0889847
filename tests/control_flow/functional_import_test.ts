// TensorFlow 2's functional control flow in GraphDefs: While/StatelessWhile and If/StatelessIf
// whose bodies, conditions and branches are library functions, inlined on import.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import type { GraphDefJson } from "../../core/formats/graphdef_json.ts";

const I32 = { type: "DT_INT32" };
const F32 = { type: "DT_FLOAT" };
const intConst = (name: string, v: number) => ({
  name,
  op: "Const",
  attr: { dtype: I32, value: { tensor: { dtype: "DT_INT32", tensorShape: {}, intVal: [v] } } },
});

// while i < n: i += 1; acc = acc * x + 1   (then: if acc > 10: acc * 2 else: -acc)
const def = {
  node: [
    { name: "n", op: "Placeholder", attr: { dtype: I32 } },
    { name: "x", op: "Placeholder", attr: { dtype: F32 } },
    intConst("zero", 0),
    { name: "acc0", op: "Cast", input: ["zero"], attr: { SrcT: I32, DstT: F32 } },
    {
      name: "loop",
      op: "StatelessWhile",
      input: ["zero", "acc0", "n", "x"],
      attr: {
        T: { list: { type: ["DT_INT32", "DT_FLOAT", "DT_INT32", "DT_FLOAT"] } },
        cond: { func: { name: "loop_cond" } },
        body: { func: { name: "loop_body" } },
        parallel_iterations: { i: "4" },
      },
    },
    {
      name: "ten",
      op: "Const",
      attr: {
        dtype: F32,
        value: { tensor: { dtype: "DT_FLOAT", tensorShape: {}, floatVal: [10] } },
      },
    },
    { name: "big", op: "Greater", input: ["loop:1", "ten"], attr: { T: F32 } },
    {
      name: "choose",
      op: "If",
      input: ["big", "loop:1"],
      attr: {
        Tcond: { type: "DT_BOOL" },
        Tin: { list: { type: ["DT_FLOAT"] } },
        Tout: { list: { type: ["DT_FLOAT"] } },
        then_branch: { func: { name: "double" } },
        else_branch: { func: { name: "negate" } },
      },
    },
    { name: "out", op: "Identity", input: ["choose:0"], attr: { T: F32 } },
    { name: "count", op: "Identity", input: ["loop:0"], attr: { T: I32 } },
  ],
  library: {
    function: [
      {
        signature: {
          name: "loop_cond",
          inputArg: [{ name: "i" }, { name: "acc" }, { name: "n" }, { name: "x" }],
          outputArg: [{ name: "ok" }],
        },
        nodeDef: [{ name: "less", op: "Less", input: ["i", "n"], attr: { T: I32 } }],
        ret: { ok: "less:z:0" },
      },
      {
        signature: {
          name: "loop_body",
          inputArg: [{ name: "i" }, { name: "acc" }, { name: "n" }, { name: "x" }],
          outputArg: [{ name: "i2" }, { name: "acc2" }, { name: "n2" }, { name: "x2" }],
        },
        nodeDef: [
          intConst("one", 1),
          { name: "inc", op: "AddV2", input: ["i", "one:output:0"], attr: { T: I32 } },
          { name: "mul", op: "Mul", input: ["acc", "x"], attr: { T: F32 } },
          { name: "onef", op: "Cast", input: ["one:output:0"], attr: { SrcT: I32, DstT: F32 } },
          { name: "add", op: "AddV2", input: ["mul:z:0", "onef:y:0"], attr: { T: F32 } },
        ],
        ret: { i2: "inc:z:0", acc2: "add:z:0", n2: "n", x2: "x" },
      },
      {
        signature: { name: "double", inputArg: [{ name: "v" }], outputArg: [{ name: "r" }] },
        nodeDef: [
          {
            name: "two",
            op: "Const",
            attr: {
              dtype: F32,
              value: { tensor: { dtype: "DT_FLOAT", tensorShape: {}, floatVal: [2] } },
            },
          },
          { name: "m", op: "Mul", input: ["v", "two:output:0"], attr: { T: F32 } },
        ],
        ret: { r: "m:z:0" },
      },
      {
        signature: { name: "negate", inputArg: [{ name: "v" }], outputArg: [{ name: "r" }] },
        nodeDef: [{ name: "neg", op: "Neg", input: ["v"], attr: { T: F32 } }],
        ret: { r: "neg:y:0" },
      },
    ],
  },
} as unknown as GraphDefJson;

function expected(n: number, x: number): number {
  let acc = 0;
  for (let i = 0; i < n; i++) acc = Math.fround(Math.fround(acc * x) + 1);
  return acc > 10 ? acc * 2 : -acc;
}

Deno.test("StatelessWhile and If from a function library import and run", async () => {
  const g = ef.fromGraphDef(def);
  await using s = new ef.Session(g);
  for (const [n, x] of [[0, 2], [3, 2], [5, 1.5], [2, 3]]) {
    const [out, count] = await s.run(["out", "count"], { n, x });
    assert.equal(count.toArray(), n);
    assert.equal(out.toArray(), Math.fround(expected(n, x))); // -0 for n = 0: Neg(0), as TensorFlow
  }
});

Deno.test("a functional op naming a function the library lacks is refused by name", () => {
  const bad = structuredClone(def) as unknown as {
    node: { name: string; attr: Record<string, unknown> }[];
  };
  bad.node.find((n) => n.name === "choose")!.attr.then_branch = { func: { name: "missing" } };
  assert.throws(
    () => ef.fromGraphDef(bad as unknown as GraphDefJson),
    (e: Error) =>
      e instanceof ef.EdgeflowError && /'missing' is not in the library/.test(e.message) &&
      /choose/.test(e.message),
  );
});
