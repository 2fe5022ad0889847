// Loops in GraphDefs: TensorFlow 1's Switch/Merge/Enter/Exit/NextIteration/LoopCond written
// and read back, in any node order, and the errors of loops that cannot be imported.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import type { GraphDefJson } from "../../core/formats/graphdef_json.ts";
import { tf1CountingLoop } from "./tf1_loop_def.ts";

function loopGraph() {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const [i, acc] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, a) => {
      const [d] = ef.cond(ef.equal(ef.floorMod(i, 2), 0), () => ef.mul(i, 2), () => i);
      return [ef.add(i, 1), ef.add(a, d)];
    },
    g.asDefault(() => [ef.constant(0, { dtype: "int32" }), ef.constant(0, { dtype: "int32" })]),
  );
  ef.identity(i, { name: "i_out" });
  ef.identity(acc, { name: "acc_out" });
  return g;
}

function expected(n: number): number {
  let a = 0;
  for (let i = 0; i < n; i++) a += i % 2 === 0 ? 2 * i : i;
  return a;
}

Deno.test("a while loop with a cond inside survives GraphDef export and import, nodes shuffled", async () => {
  const def = JSON.parse(JSON.stringify(ef.toGraphDef(loopGraph()))) as GraphDefJson;
  assert.ok(def.node!.some((n) => n.op === "NextIteration"));
  // Reversed: every consumer before its producers, back edges included.
  const shuffled = { ...def, node: [...def.node!].reverse() };
  for (const d of [def, shuffled]) {
    const g = ef.fromGraphDef(d);
    await using s = new ef.Session(g);
    for (const k of [0, 3, 10]) {
      const [ti, ta] = await s.run(["i_out", "acc_out"], { n: k });
      assert.equal(ti.toArray(), k);
      assert.equal(ta.toArray(), expected(k));
    }
  }
});

Deno.test("a TensorFlow 1 counting loop written by hand imports and runs", async () => {
  const g = ef.fromGraphDef(tf1CountingLoop(10));
  await using s = new ef.Session(g);
  assert.equal((await s.run("while/Exit", { limit: 7 })).toArray(), 7);
});

Deno.test("an imported loop whose values cross frames without an Enter is refused by name", async () => {
  const def = JSON.parse(JSON.stringify(ef.toGraphDef(loopGraph()))) as GraphDefJson;
  // The body reads the placeholder directly instead of through its Enter.
  const less = def.node!.find((n) => n.op === "Less")!;
  less.input = [less.input![0], "n"];
  const g = ef.fromGraphDef(def);
  await using s = new ef.Session(g);
  await assert.rejects(
    () => s.run("acc_out", { n: 3 }),
    (e: Error) => e instanceof ef.EdgeflowError && /two frames/.test(e.message),
  );
});
