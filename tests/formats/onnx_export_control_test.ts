// ONNX export of conds and while loops as If and Loop: the exported models run in
// onnxruntime-web (deno.lock's version) with Edgeflow's outputs, and load back through Edgeflow's
// own importer with the same outputs. Covers captured outer values, branches that give constants,
// maximumIterations, loop invariants, a cond inside a loop and a loop inside a loop. Also: an
// imported Loop's scan output of dynamic shape agrees with onnxruntime-web's, after 0 iterations too.
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-web@1";
import * as ef from "../../mod.ts";
import { numbers } from "../../core/tensor.ts";
import { loadOnnxModel, toOnnx } from "../../formats.ts";
import { encodeOnnxModel } from "../../core/formats/onnx/onnx_encode.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

interface Case {
  graph: ef.Graph;
  feeds: Record<string, ef.Tensor>[];
  outputs: string[];
}

const f32 = (shape: number[], v: number[]) => ef.Tensor.fromNumbers("float32", shape, v);
const bool = (v: boolean) => ef.Tensor.fromNumbers("bool", [], [v ? 1 : 0]);

/** y = p ? x * w + 1 : [5, 6] (a branch of constants); z = p ? 2 : 3; q = p ? x : -x. */
function condCase(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const p = ef.placeholder(g, "bool", [], { name: "p" });
    const x = ef.placeholder(g, "float32", [2], { name: "x" });
    const w = ef.constant(f32([2], [3, -4]));
    const [y, z, q] = ef.cond(
      p,
      () => [ef.add(ef.mul(x, w), 1), ef.constant(2), x],
      () => [ef.constant(f32([2], [5, 6])), ef.constant(3), ef.neg(x)],
    );
    ef.identity(y, { name: "y" });
    ef.identity(z, { name: "z" });
    ef.identity(q, { name: "q" });
    const x1 = f32([2], [1.5, -2]);
    return {
      graph: g,
      feeds: [{ p: bool(true), x: x1 }, { p: bool(false), x: x1 }],
      outputs: ["y", "z", "q"],
    };
  });
}

/** acc = sum of x * k over i < n (capped at maximumIterations 5), with the invariant k. */
function loopCase(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const x = ef.placeholder(g, "float32", [3], { name: "x" });
    const k = ef.constant(f32([3], [1, 10, 100]));
    const [i, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, acc) => [ef.add(i, 1), ef.add(acc, ef.mul(x, k))],
      [ef.constant(0, { dtype: "int32" }), ef.zerosLike(x)],
      { maximumIterations: 5 },
    );
    ef.identity(i, { name: "i" });
    ef.identity(acc, { name: "acc" });
    const xv = f32([3], [0.5, 1, -2]);
    return {
      graph: g,
      feeds: [{ n: ef.Tensor.fromNumbers("int32", [], [3]), x: xv }, {
        n: ef.Tensor.fromNumbers("int32", [], [9]),
        x: xv,
      }, { n: ef.Tensor.fromNumbers("int32", [], [0]), x: xv }],
      outputs: ["i", "acc"],
    };
  });
}

/** A cond on i's parity inside a loop, and a loop inside the loop (sum of 0..i). */
function nestedCase(): Case {
  const g = new ef.Graph();
  return g.asDefault(() => {
    const v0 = ef.placeholder(g, "float32", [], { name: "v0" });
    const step = ef.placeholder(g, "float32", [], { name: "step" });
    const [, v, t] = ef.whileLoop(
      (i) => ef.less(i, 4),
      (i, v, t) => {
        const [next] = ef.cond(
          ef.equal(ef.floorMod(i, 2), 0),
          () => ef.add(v, step),
          () => ef.mul(v, 2),
        );
        const [, inner] = ef.whileLoop(
          (j) => ef.lessEqual(j, i),
          (j, s) => [ef.add(j, 1), ef.add(s, ef.cast(j, "float32"))],
          [ef.constant(0, { dtype: "int32" }), ef.constant(0)],
        );
        return [ef.add(i, 1), next, ef.add(t, inner)];
      },
      [ef.constant(0, { dtype: "int32" }), v0, ef.constant(0)],
    );
    ef.identity(v, { name: "v" });
    ef.identity(t, { name: "t" });
    return {
      graph: g,
      feeds: [{ v0: f32([], [1]), step: f32([], [0.5]) }],
      outputs: ["v", "t"],
    };
  });
}

async function edgeflow(c: Case, feeds: Record<string, ef.Tensor>): Promise<ef.Tensor[]> {
  await using s = new ef.Session(c.graph);
  return await s.run(
    c.outputs.map((o) => `${o}:0`),
    Object.fromEntries(Object.entries(feeds).map(([k, v]) => [`${k}:0`, v])),
  ) as ef.Tensor[];
}

function ortTensor(t: ef.Tensor): ort.Tensor {
  const data = t.dtype === "bool" ? Uint8Array.from(numbers(t)) : t.data;
  return new ort.Tensor(t.dtype as "float32", data as Float32Array, t.shape as number[]);
}

for (
  const [name, make] of [
    ["a cond as an If", condCase],
    ["a while loop as a Loop", loopCase],
    ["a cond and a loop inside a loop", nestedCase],
  ] as const
) {
  Deno.test(`ONNX export: ${name} runs in onnxruntime-web and loads back`, async () => {
    const c = make();
    const bytes = toOnnx(c.graph, { outputs: c.outputs });
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const back = await loadOnnxModel(bytes);
    try {
      for (const feeds of c.feeds) {
        const want = await edgeflow(c, feeds);
        const got = await session.run(
          Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, ortTensor(v)])),
        );
        await using s = new ef.Session(back.graph);
        const again = await s.run(
          back.outputs.map((o) => o.name),
          back.inputs.map((i) => [i.name, feeds[i.key]] as [string, ef.Tensor]),
        ) as ef.Tensor[];
        c.outputs.forEach((o, i) => {
          const w = Array.from(numbers(want[i]));
          assert.deepEqual(Array.from(got[o].data as ArrayLike<number>, Number), w, `${o} (ort)`);
          assert.deepEqual(Array.from(numbers(again[i])), w, `${o} (loaded back)`);
        });
      }
    } finally {
      await session.release();
    }
  });
}

Deno.test("ONNX export: without outputs named, a graph with control flow exports its results", async () => {
  for (const make of [condCase, loopCase, nestedCase]) {
    const c = make();
    const m = await loadOnnxModel(toOnnx(c.graph));
    assert.deepEqual(m.outputs.map((o) => o.key).sort(), [...c.outputs].sort());
  }
});

Deno.test("ONNX export: a value of a cond's Merge index has no ONNX form", () => {
  const g = new ef.Graph();
  g.asDefault(() => {
    const p = ef.placeholder(g, "bool", [], { name: "p" });
    const [y] = ef.cond(p, () => ef.constant(1), () => ef.constant(2));
    ef.identity(y.node.outputs[1], { name: "which" });
  });
  assert.throws(() => toOnnx(g, { outputs: ["which"] }), (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.match(e.message, /Merge.*output 1 has no ONNX form/);
    return true;
  });
});

Deno.test("ONNX Loop import: a dynamic scan output's shape agrees with onnxruntime-web", async () => {
  const bytes = encodeOnnxModel({
    name: "m",
    opset: 17,
    initializers: [],
    nodes: [{
      op: "Loop",
      name: "lp",
      inputs: ["M", "", "x"],
      outputs: ["xf", "rows"],
      attrs: {
        body: {
          graph: {
            name: "body",
            initializers: [],
            nodes: [
              { op: "Identity", name: "c_out", inputs: ["c"], outputs: ["c_out"] },
              {
                op: "Concat",
                name: "cat",
                inputs: ["v", "v"],
                outputs: ["row"],
                attrs: { axis: 1 },
              },
              { op: "Neg", name: "v_out", inputs: ["v"], outputs: ["v_out"] },
            ],
            inputs: [
              { name: "i", dtype: "int64", shape: [] },
              { name: "c", dtype: "bool", shape: [] },
              { name: "v", dtype: "float32", shape: [-1, -1] },
            ],
            outputs: [
              { name: "c_out", dtype: "bool", shape: [] },
              { name: "v_out", dtype: "float32", shape: [-1, -1] },
              { name: "row", dtype: "float32", shape: [-1, -1] },
            ],
          },
        },
      },
    }],
    inputs: [
      { name: "M", dtype: "int64", shape: [] },
      { name: "x", dtype: "float32", shape: [-1, -1] },
    ],
    outputs: [
      { name: "xf", dtype: "float32", shape: [-1, -1] },
      { name: "rows", dtype: "float32", shape: [-1, -1, -1] },
    ],
  });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  const m = await loadOnnxModel(bytes);
  await using s = new ef.Session(m.graph);
  try {
    for (const trips of [0, 2]) {
      const x = f32([2, 3], [1, 2, 3, 4, 5, 6]);
      const count = new ef.Tensor("int64", [], BigInt64Array.of(BigInt(trips)));
      const want = await session.run({ M: ortTensor(count), x: ortTensor(x) });
      const feeds = { M: count, x };
      const got = await s.run(
        m.outputs.map((o) => o.name),
        m.inputs.map((i) => [i.name, feeds[i.key as "M" | "x"]] as [string, ef.Tensor]),
      ) as ef.Tensor[];
      ["xf", "rows"].forEach((name, i) => {
        assert.deepEqual(got[i].shape, want[name].dims, `${name} after ${trips}`);
        assert.deepEqual(
          Array.from(numbers(got[i])),
          Array.from(want[name].data as Float32Array),
          `${name} after ${trips}`,
        );
      });
    }
  } finally {
    await session.release();
  }
});
