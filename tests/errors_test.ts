// Bad input gets an EdgeflowError that names the node, the op and what was expected.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { fromGraphDef } from "../core/formats/graphdef_json.ts";

function rejectsWith(
  e: unknown,
  node: string | undefined,
  op: string | undefined,
  message: RegExp,
): boolean {
  assert.ok(e instanceof ef.EdgeflowError, `not an EdgeflowError: ${e}`);
  assert.equal(e.node, node);
  assert.equal(e.op, op);
  assert.match(e.message, message);
  return true;
}

Deno.test("wrong dtype at graph construction", () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const b = ef.placeholder(g, "bool", [2], { name: "b" });
  assert.throws(
    () => ef.matMul(x, b, { name: "mm" }),
    (e) => rejectsWith(e, "mm", "MatMul", /dtype bool, expected float32/),
  );
  assert.throws(
    () => ef.exp(b, { name: "e" }),
    (e) => rejectsWith(e, "e", "Exp", /attribute 'T' = "bool" must be one of/),
  );
});

Deno.test("wrong and incompatible shapes at graph construction", () => {
  const g = new ef.Graph();
  const a = ef.placeholder(g, "float32", [3, 4], { name: "a" });
  const b = ef.placeholder(g, "float32", [5, 6], { name: "b" });
  assert.throws(
    () => ef.matMul(a, b, { name: "mm" }),
    (e) => rejectsWith(e, "mm", "MatMul", /4.*5|5.*4/),
  );
  assert.throws(
    () => ef.add(a, b, { name: "sum" }),
    (e) => rejectsWith(e, "sum", "AddV2", /cannot be broadcast/),
  );
});

Deno.test("feeding a value of the wrong shape or dtype", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [null, 3], { name: "x" });
  const y = ef.neg(x);
  await using s = new ef.Session(g);
  await assert.rejects(
    s.run(y, { x: [[1, 2]] }),
    (e) => rejectsWith(e, "x", "Placeholder", /shape \[1,2\].*expected \[\?,3\]/),
  );
  await assert.rejects(
    s.run(y, { x: ef.tensor([[1, 2, 3]], undefined, "int32") }),
    (e) => rejectsWith(e, "x", "Placeholder", /fed a int32 value for x:0, expected float32/),
  );
});

Deno.test("a missing feed names the placeholder", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "input" });
  await using s = new ef.Session(g);
  await assert.rejects(
    s.run(ef.neg(x)),
    (e) => rejectsWith(e, "input", "Placeholder", /must be fed/),
  );
});

Deno.test("an unknown op names the node", () => {
  assert.throws(
    () => ef.getOp("FancyOp", "layer/fancy"),
    (e) => rejectsWith(e, "layer/fancy", "FancyOp", /unknown op 'FancyOp'/),
  );
  assert.throws(
    () => fromGraphDef({ node: [{ name: "n", op: "FancyOp" }] }),
    (e) => rejectsWith(e, "n", "FancyOp", /unknown op/),
  );
});

Deno.test("a graph cycle is reported with its path", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const a = ef.neg(x, { name: "a" });
  const b = ef.neg(a, { name: "b" });
  g.addControlInput(a.node, b);
  await using s = new ef.Session(g);
  await assert.rejects(s.run(b, { x: 1 }), /cycle: (a → b → a|b → a → b)/);
  assert.throws(
    () =>
      fromGraphDef({
        node: [
          { name: "p", op: "Neg", input: ["q"], attr: { T: { type: "DT_FLOAT" } } },
          { name: "q", op: "Neg", input: ["p"], attr: { T: { type: "DT_FLOAT" } } },
        ],
      }),
    /cycle through/,
  );
});

Deno.test("fetching or feeding a tensor that does not exist", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  await using s = new ef.Session(g);
  await assert.rejects(s.run("nope:0"), /no tensor named 'nope:0'/);
  await assert.rejects(s.run("x:1", { x: 1 }), /no tensor named 'x:1' \(the node has 1 outputs\)/);
  await assert.rejects(s.run(ef.neg(x), { ghost: 1 }), /no tensor named 'ghost'/);
  const other = ef.placeholder(new ef.Graph(), "float32", [], { name: "x" });
  await assert.rejects(s.run(other, { x: 1 }), /belongs to another graph/);
});

Deno.test("a device without a kernel for the op", async () => {
  const registry = new ef.KernelRegistry().install({ ...ef.nullPlugin, kernels: [] });
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  await using s = new ef.Session(g, { registry, device: "NULL" });
  await assert.rejects(
    s.run(ef.neg(x, { name: "n" }), { x: 1 }),
    (e) => rejectsWith(e, "n", "Neg", /device type NULL has no kernel for dtype float32/),
  );
});

Deno.test("kernel registry refuses duplicates and answers device types", () => {
  const registry = new ef.KernelRegistry().install(ef.refPlugin);
  assert.throws(() => registry.install(ef.refPlugin), /REF plugin is installed already/);
  const neg = ef.getOp("Neg");
  const dup = {
    type: "NULL" as const,
    create: () => Promise.resolve(null),
    kernels: [{ op: neg, run() {} }, { op: neg, run() {} }],
  };
  assert.throws(() => new ef.KernelRegistry().install(dup), /duplicate NULL kernel for Neg/);
  assert.deepEqual(registry.deviceTypesFor("MatMul"), ["REF"]);
  assert.deepEqual(registry.deviceTypesFor("Placeholder"), []);
});
