import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { prune, type Pruned } from "../core/passes/prune.ts";
import { topologicalOrder } from "../core/passes/topo.ts";
import { runPasses } from "../core/passes/pipeline.ts";

/** Ops of the nodes a pruned graph's fetches reach (passes may leave dead nodes behind). */
function opsOf(p: Pruned): string[] {
  return topologicalOrder([...p.fetches.map((o) => o.node), ...p.feeds]).map((n) => n.op.name);
}

Deno.test("prune keeps only what fetches and targets need, fed tensors cut producers", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const a = ef.exp(x, { name: "a" });
  const b = ef.neg(a, { name: "b" });
  ef.sqrt(x, { name: "unused" });
  const p = prune(g, [b], [a], []);
  assert.deepEqual(p.graph.nodes.map((n) => n.name).sort(), ["_feed/a_0", "b"]);
  const all = prune(g, [b], [], []);
  assert.deepEqual(all.graph.nodes.map((n) => n.name).sort(), ["a", "b", "x"]);
});

Deno.test("constant folding replaces all-constant subgraphs by Consts; off leaves them", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const c = g.asDefault(() => ef.mul(ef.add(ef.constant([1, 2]), 3), 2));
  const y = ef.add(x, c, { name: "y" });
  const p = prune(g, [y], [x], []);
  const folded = runPasses(p, { cse: false });
  assert.deepEqual(opsOf(folded).sort(), ["AddV2", "Const", "Placeholder"]);
  const constant = folded.fetches[0].node.inputs[1].node;
  assert.deepEqual((constant.attrs.value as ef.Tensor).toNumbers(), [8, 10]);
  const kept = runPasses(p, { constantFolding: false, cse: false });
  assert.equal(opsOf(kept).filter((o) => o === "Const").length, 3);
});

Deno.test("CSE merges identical stateless nodes, never stateful ones or placeholders", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const x2 = ef.placeholder(g, "float32", [2], { name: "x2" });
  const y = ef.add(ef.exp(x), ef.exp(x));
  const z = ef.add(x, x2);
  const r1 = ef.randomUniform([2], { graph: g, seed: 1 });
  const r2 = ef.randomUniform([2], { graph: g, seed: 1 });
  const out = ef.add(ef.add(y, z), ef.add(r1, r2));
  const merged = runPasses(prune(g, [out], [x, x2], []), { constantFolding: false });
  const ops = opsOf(merged);
  assert.equal(ops.filter((o) => o === "Exp").length, 1);
  assert.equal(ops.filter((o) => o === "RandomUniform").length, 2);
  assert.equal(ops.filter((o) => o === "Placeholder").length, 2);
  const kept = runPasses(prune(g, [out], [x, x2], []), { constantFolding: false, cse: false });
  assert.equal(opsOf(kept).filter((o) => o === "Exp").length, 2);
});

Deno.test("passes do not change results", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const k = g.asDefault(() => ef.exp(ef.constant([0, 1, 2])));
  const y = ef.add(ef.mul(x, k), ef.mul(x, k));
  const feed = { x: [1, 2, 3] };
  await using on = new ef.Session(g);
  await using off = new ef.Session(g, { passes: { constantFolding: false, cse: false } });
  assert.deepEqual((await on.run(y, feed)).toNumbers(), (await off.run(y, feed)).toNumbers());
});

Deno.test("run metadata has a step per executed node", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3], { name: "x" });
  const y = ef.neg(ef.exp(x, { name: "e" }), { name: "n" });
  await using s = new ef.Session(g);
  const metadata = { steps: [] as ef.StepStats[] };
  await s.run(y, { x: [1, 2, 3] }, [], { metadata });
  assert.deepEqual(metadata.steps.map((st) => st.node).sort(), ["e", "n"]);
  for (const st of metadata.steps) assert.ok(st.end >= st.start);
});

Deno.test("a fed Placeholder's control edges leave from its feed (TensorFlow's FeedInputs)", async () => {
  // tfjs-converter writes `^input` on constants that follow the input (nsfwjs's mobilenet).
  const g = ef.fromGraphDef({
    node: [
      { name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } },
      {
        name: "c",
        op: "Const",
        input: ["^x"],
        attr: {
          dtype: { type: "DT_FLOAT" },
          value: { tensor: { dtype: "DT_FLOAT", tensorShape: {}, floatVal: [2] } },
        },
      },
      { name: "y", op: "Mul", input: ["x", "c"], attr: { T: { type: "DT_FLOAT" } } },
    ],
  });
  const p = prune(g, [g.node("y").outputs[0]], [g.node("x").outputs[0]], []);
  assert.deepEqual(p.graph.nodes.map((n) => n.name).sort(), ["c", "x", "y"]);
  assert.deepEqual(p.graph.node("c").controlInputs, [p.feeds[0]]);
  await using s = new ef.Session(g, { device: "REF" });
  assert.deepEqual((await s.run("y:0", { "x:0": [1.5] })).toArray(), [3]);
});
