// ControlTrigger: a NoOp that runs live whatever its control inputs carry (TensorFlow's executor
// never marks it dead), in a cond's untaken branch and in a loop's exiting iteration, as
// TensorFlow 1's while-loop gradients use it ("f_sync", "b_sync"); and through GraphDef.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import type { GraphDefJson } from "../../core/formats/graphdef_json.ts";
import { INT32, int32Const, loopEnter, tf1CountingLoop } from "./tf1_loop_def.ts";

const DEVICES = ["REF", "WASM"] as const;

/** pred ? x + 1 : x, with a trigger (or a NoOp, to compare) hanging on the true branch. */
function branchGraph(hang: "trigger" | "noop") {
  const g = new ef.Graph();
  const pred = ef.placeholder(g, "bool", [], { name: "pred" });
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  let inTrue: ef.Output | undefined;
  ef.cond(pred, () => (inTrue = ef.add(x, 1)), () => x);
  const sync = hang === "trigger"
    ? ef.controlTrigger([inTrue!], { name: "sync" })
    : ef.group([inTrue!], { name: "sync" });
  ef.constant(5, { name: "after", graph: g, controlInputs: [sync] });
  return g;
}

for (const device of DEVICES) {
  Deno.test(`${device}: a ControlTrigger after an untaken branch runs live, a NoOp stays dead`, async () => {
    await using s = new ef.Session(branchGraph("trigger"), { device });
    for (const pred of [true, false]) {
      assert.equal((await s.run("after", { pred, x: 2 })).toArray(), 5);
    }
    await using n = new ef.Session(branchGraph("noop"), { device });
    assert.equal((await n.run("after", { pred: true, x: 2 })).toArray(), 5);
    await assert.rejects(
      () => n.run("after", { pred: false, x: 2 }),
      (e: Error) => e instanceof ef.EdgeflowError && /dead/.test(e.message),
    );
  });
}

/**
 * TensorFlow 1's counting loop with a sync node hanging on the body's pivot, as "b_sync" does,
 * and a variable incremented after it every iteration it runs.
 */
function loopDef(sync: "ControlTrigger" | "NoOp"): GraphDefJson {
  return tf1CountingLoop(1, [
    {
      name: "ticks",
      op: "VarHandleOp",
      attr: { dtype: INT32, shape: { shape: {} }, shared_name: { s: btoa("ticks") } },
    },
    int32Const("zero", 0),
    {
      name: "ticks/init",
      op: "AssignVariableOp",
      input: ["ticks", "zero"],
      attr: { dtype: INT32 },
    },
    { name: "ticks/read", op: "ReadVariableOp", input: ["ticks"], attr: { dtype: INT32 } },
    loopEnter("while/Enter_ticks", "ticks", { type: "DT_RESOURCE" }, true, 1),
    { name: "while/sync", op: sync, input: ["^while/Identity"] },
    int32Const("while/tick_by", 1, ["^while/sync"]),
    {
      name: "while/tick",
      op: "AssignAddVariableOp",
      input: ["while/Enter_ticks", "while/tick_by"],
      attr: { dtype: INT32 },
    },
  ]);
}

for (const device of DEVICES) {
  Deno.test(`${device}: a ControlTrigger on a loop's pivot also runs in the exiting iteration`, async () => {
    for (const [sync, extra] of [["ControlTrigger", 1], ["NoOp", 0]] as const) {
      const g = ef.fromGraphDef(loopDef(sync));
      await using s = new ef.Session(g, { device });
      for (const limit of [0, 1, 4]) {
        await s.run([], {}, ["ticks/init"]);
        const [i] = await s.run(["while/Exit"], { limit }, ["while/tick"]);
        assert.equal(i.toArray(), limit);
        // The body's pivot is live `limit` times and dead once, when the loop exits.
        assert.equal((await s.run("ticks/read")).toArray(), limit + extra, `${sync}, ${limit}`);
      }
    }
  });
}

Deno.test("a ControlTrigger survives GraphDef JSON and binary round trips", async () => {
  const g = ef.fromGraphDef(loopDef("ControlTrigger"));
  const json = ef.toGraphDef(g);
  assert.ok(
    json.node!.some((n) => n.op === "ControlTrigger" && n.input?.[0] === "^while/Identity"),
  );
  const { fromGraphDefBinary, toGraphDefBinary } = await import("../../formats.ts");
  for (const back of [ef.fromGraphDef(json), fromGraphDefBinary(toGraphDefBinary(g))]) {
    await using s = new ef.Session(back, { device: "WASM" });
    await s.run([], {}, ["ticks/init"]);
    await s.run(["while/Exit"], { limit: 3 }, ["while/tick"]);
    assert.equal((await s.run("ticks/read")).toArray(), 4);
  }
});

Deno.test("a ControlTrigger with an input or an attribute is refused by name", () => {
  assert.throws(
    () =>
      ef.fromGraphDef(
        {
          node: [{ name: "x", op: "NoOp" }, { name: "t", op: "ControlTrigger", input: ["x:0"] }],
        } as unknown as GraphDefJson,
      ),
    (e: Error) =>
      e instanceof ef.EdgeflowError && /t/.test(e.message) && /ControlTrigger/.test(e.message),
  );
});
