// ONNX If, Loop and Scan on hand-built models, on REF and WASM: captures of outer values (two
// levels up, too), a subgraph's names shadowing outer ones, each way to bound a Loop, scan outputs
// (none, one row, reversed, moved to another axis, of a loop that ran no iteration), a
// loop-carried value that grows, an If inside a Loop, untyped subgraph outputs; the errors a
// bad model gets, each naming the node and its op; and mutated models (an EdgeflowError or a graph).
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";
import { fcParams } from "../op_cases.ts";
import { loadOnnxModel } from "../../formats.ts";
import {
  encodeOnnxModel,
  type OnnxNodeOut,
  type OnnxSubgraphOut,
  type OnnxValueOut,
} from "../../core/formats/onnx/onnx_encode.ts";
import { numbers } from "../../core/tensor.ts";

const DEVICES = ["REF", "WASM"] as const;
const FLOAT = 1, INT64 = 7;

const f32 = (shape: number[], v: number[]) => ef.Tensor.fromNumbers("float32", shape, v);
const i64 = (v: number) => new ef.Tensor("int64", [], BigInt64Array.of(BigInt(v)));
const bool = (v: boolean) => ef.Tensor.fromNumbers("bool", [], [v ? 1 : 0]);

function model(
  nodes: OnnxNodeOut[],
  inputs: OnnxValueOut[],
  outputs: OnnxValueOut[],
  initializers: { name: string; value: ef.Tensor }[] = [],
  opset = 17,
): Uint8Array {
  return encodeOnnxModel({ name: "main", opset, nodes, inputs, outputs, initializers });
}

function sub(
  nodes: readonly OnnxNodeOut[],
  inputs: readonly OnnxValueOut[],
  outputs: readonly OnnxValueOut[],
  initializers: { name: string; value: ef.Tensor }[] = [],
): { graph: OnnxSubgraphOut } {
  return { graph: { name: "sub", nodes, inputs, outputs, initializers } };
}

interface Got {
  shape: number[];
  values: number[];
}

/** Loads `bytes` and runs it on `device`, returning each output (by ONNX name). */
async function run(
  bytes: Uint8Array,
  feeds: Record<string, ef.Tensor>,
  device: string,
): Promise<Record<string, Got>> {
  const m = await loadOnnxModel(bytes, { file: "cf.onnx" });
  await using s = new ef.Session(m.graph, { device });
  const fed = m.inputs.map((i) => [i.name, feeds[i.key]] as [string, ef.Tensor]);
  const got = await s.run(m.outputs.map((o) => o.name), fed) as ef.Tensor[];
  return Object.fromEntries(
    m.outputs.map((
      o,
      i,
    ) => [o.key, { shape: [...got[i].shape], values: Array.from(numbers(got[i])) }]),
  );
}

/** An error naming `node` and `op` whose message matches `pattern`. */
function naming(node: string, op: string, pattern: RegExp) {
  return (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError, `${e}`);
    assert.equal(e.node, node, e.message);
    assert.equal(e.op, op, e.message);
    assert.match(e.message, pattern);
    return true;
  };
}

// ---- If ---------------------------------------------------------------------------------------

/** y = p ? x + w (w: the main graph's) : x * k (k: the else branch's own initializer). */
const IF_ATTRS: OnnxNodeOut["attrs"] = {
  then_branch: sub(
    [{ op: "Add", name: "plus", inputs: ["x", "w"], outputs: ["t"] }],
    [],
    [{ name: "t", dtype: "float32", shape: [2] }],
  ),
  else_branch: sub(
    [{ op: "Mul", name: "times", inputs: ["x", "k"], outputs: ["e"] }],
    [],
    [{ name: "e", dtype: "float32", shape: [2] }],
    [{ name: "k", value: f32([], [3]) }],
  ),
};
const IF_MODEL = model(
  [{
    op: "If",
    name: "choose",
    inputs: ["p"],
    outputs: ["y"],
    attrs: IF_ATTRS,
  }],
  [{ name: "p", dtype: "bool", shape: [] }, { name: "x", dtype: "float32", shape: [2] }],
  [{ name: "y", dtype: "float32", shape: [2] }],
  [{ name: "w", value: f32([2], [10, 20]) }],
);

for (const device of DEVICES) {
  Deno.test(`ONNX If: the taken branch runs, reading outer values (${device})`, async () => {
    const x = f32([2], [1, 2]);
    assert.deepEqual((await run(IF_MODEL, { p: bool(true), x }, device)).y.values, [11, 22]);
    assert.deepEqual((await run(IF_MODEL, { p: bool(false), x }, device)).y.values, [3, 6]);
  });
}

Deno.test("ONNX If: a predicate fixed at load time maps its branch alone", async () => {
  const bytes = model(
    [{ op: "If", name: "choose", inputs: ["p"], outputs: ["y"], attrs: IF_ATTRS }],
    [{ name: "x", dtype: "float32", shape: [2] }],
    [{ name: "y", dtype: "float32", shape: [2] }],
    [{ name: "w", value: f32([2], [10, 20]) }, { name: "p", value: bool(false) }],
  );
  const m = await loadOnnxModel(bytes);
  assert.ok(!m.graph.nodes.some((n) => n.op.name === "Switch" || n.op.name === "Add"));
  assert.deepEqual((await run(bytes, { x: f32([2], [1, 2]) }, "REF")).y.values, [3, 6]);
});

// ---- Loop -------------------------------------------------------------------------------------

/**
 * Loop(M?, cond?, v): v += float(i) per iteration; cond_out = v < limit (an outer input); the
 * scan output is v * 2 and the iteration number.
 */
function loopModel(withTrip: boolean, withCond: boolean): Uint8Array {
  const body = sub(
    [
      { op: "Cast", name: "fi", inputs: ["i"], outputs: ["fi"], attrs: { to: FLOAT } },
      { op: "Add", name: "step", inputs: ["v", "fi"], outputs: ["v_out"] },
      { op: "Less", name: "going", inputs: ["v_out", "limit"], outputs: ["c_out"] },
      { op: "Mul", name: "twice", inputs: ["v_out", "two"], outputs: ["doubled"] },
      { op: "Identity", name: "iter", inputs: ["i"], outputs: ["iter"] },
    ],
    [
      { name: "i", dtype: "int64", shape: [] },
      { name: "c", dtype: "bool", shape: [] },
      { name: "v", dtype: "float32", shape: [] },
    ],
    [
      { name: "c_out", dtype: "bool", shape: [] },
      { name: "v_out", dtype: "float32", shape: [] },
      { name: "doubled", dtype: "float32", shape: [] },
      { name: "iter", dtype: "int64", shape: [] },
    ],
    [{ name: "two", value: f32([], [2]) }],
  );
  const inputs: OnnxValueOut[] = [
    { name: "v0", dtype: "float32", shape: [] },
    { name: "limit", dtype: "float32", shape: [] },
  ];
  if (withTrip) inputs.push({ name: "M", dtype: "int64", shape: [] });
  if (withCond) inputs.push({ name: "cond", dtype: "bool", shape: [] });
  return model(
    [{
      op: "Loop",
      name: "loop",
      inputs: [withTrip ? "M" : "", withCond ? "cond" : "", "v0"],
      outputs: ["v_final", "doubles", "iters"],
      attrs: { body },
    }],
    inputs,
    [
      { name: "v_final", dtype: "float32", shape: [] },
      { name: "doubles", dtype: "float32", shape: [-1] },
      { name: "iters", dtype: "int64", shape: [-1] },
    ],
  );
}

for (const device of DEVICES) {
  Deno.test(`ONNX Loop: a trip count only, cond ignored (${device})`, async () => {
    const r = await run(loopModel(true, false), {
      v0: f32([], [1]),
      limit: f32([], [0]),
      M: i64(4),
    }, device);
    // v: 1, 1, 2, 4, 7 (the body's cond_out is false throughout and ignored).
    assert.deepEqual(r.v_final.values, [7]);
    assert.deepEqual(r.doubles, { shape: [4], values: [2, 4, 8, 14] });
    assert.deepEqual(r.iters, { shape: [4], values: [0, 1, 2, 3] });
  });

  Deno.test(`ONNX Loop: a trip count of 0 gives empty scan outputs (${device})`, async () => {
    const r = await run(loopModel(true, false), {
      v0: f32([], [1]),
      limit: f32([], [0]),
      M: i64(0),
    }, device);
    assert.deepEqual(r.v_final.values, [1]);
    assert.deepEqual(r.doubles, { shape: [0], values: [] });
    assert.deepEqual(r.iters, { shape: [0], values: [] });
  });

  Deno.test(`ONNX Loop: cond only, as a while loop (${device})`, async () => {
    const bytes = loopModel(false, true);
    const r = await run(bytes, { v0: f32([], [1]), limit: f32([], [5]), cond: bool(true) }, device);
    // v: 1 → 1 (i 0) → 2 → 4 → 7: stops once v_out >= 5.
    assert.deepEqual(r.v_final.values, [7]);
    assert.deepEqual(r.iters.values, [0, 1, 2, 3]);
    const none = await run(
      bytes,
      { v0: f32([], [1]), limit: f32([], [5]), cond: bool(false) },
      device,
    );
    assert.deepEqual(none.v_final.values, [1]);
    assert.deepEqual(none.iters.shape, [0]);
  });

  Deno.test(`ONNX Loop: trip count and cond, whichever ends first (${device})`, async () => {
    const bytes = loopModel(true, true);
    const byTrip = await run(bytes, {
      v0: f32([], [1]),
      limit: f32([], [100]),
      M: i64(2),
      cond: bool(true),
    }, device);
    assert.deepEqual(byTrip.v_final.values, [2]);
    assert.deepEqual(byTrip.doubles.values, [2, 4]);
    const byCond = await run(bytes, {
      v0: f32([], [1]),
      limit: f32([], [3]),
      M: i64(10),
      cond: bool(true),
    }, device);
    assert.deepEqual(byCond.v_final.values, [4]);
    assert.deepEqual(byCond.iters.values, [0, 1, 2]);
  });
}

/**
 * A loop-carried value that grows by a row per iteration (its shape invariant found by tracing),
 * with a body that names 'k' itself (shadowing the main graph's 'k') and untyped outputs; after
 * the loop the main graph's 'k' is read again.
 */
const GROWING = model(
  [
    {
      op: "Loop",
      name: "grow",
      inputs: ["M", "", "acc0"],
      outputs: ["acc", "rows"],
      attrs: {
        body: sub(
          [
            {
              op: "Constant",
              name: "k",
              inputs: [],
              outputs: ["k"],
              attrs: { value: { tensor: f32([1, 2], [1, 1]) } },
            },
            { op: "Cast", name: "fi", inputs: ["i"], outputs: ["fi"], attrs: { to: FLOAT } },
            { op: "Add", name: "row", inputs: ["k", "fi"], outputs: ["row"] },
            {
              op: "Concat",
              name: "cat",
              inputs: ["a", "row"],
              outputs: ["a_out"],
              attrs: { axis: 0 },
            },
            { op: "Identity", name: "c_out", inputs: ["c"], outputs: ["c_out"] },
          ],
          [
            { name: "i", dtype: "int64", shape: [] },
            { name: "c", dtype: "bool", shape: [] },
            { name: "a" },
          ],
          [{ name: "c_out" }, { name: "a_out" }, { name: "row" }],
        ),
      },
    },
    { op: "Add", name: "after", inputs: ["acc", "k"], outputs: ["shifted"] },
  ],
  [{ name: "M", dtype: "int64", shape: [] }],
  [
    { name: "shifted", dtype: "float32", shape: [-1, 2] },
    { name: "rows", dtype: "float32", shape: [-1, 1, 2] },
  ],
  [{ name: "acc0", value: f32([1, 2], [0, 0]) }, { name: "k", value: f32([], [100]) }],
);

/** Loop(M) whose body branches on i's parity: v + w (main graph's) or v - one (body's own). */
const NESTED = model(
  [{
    op: "Loop",
    name: "outer",
    inputs: ["M", "", "v0"],
    outputs: ["v"],
    attrs: {
      body: sub(
        [
          { op: "Mod", name: "parity", inputs: ["i", "two"], outputs: ["parity"] },
          { op: "Equal", name: "even", inputs: ["parity", "zero"], outputs: ["even"] },
          {
            op: "If",
            name: "branch",
            inputs: ["even"],
            outputs: ["v_out"],
            attrs: {
              then_branch: sub(
                [{ op: "Add", name: "up", inputs: ["v", "w"], outputs: ["up"] }],
                [],
                [{ name: "up", dtype: "float32", shape: [] }],
              ),
              else_branch: sub(
                [{ op: "Sub", name: "down", inputs: ["v", "one"], outputs: ["down"] }],
                [],
                [{ name: "down", dtype: "float32", shape: [] }],
              ),
            },
          },
          { op: "Identity", name: "c_out", inputs: ["c"], outputs: ["c_out"] },
        ],
        [
          { name: "i", dtype: "int64", shape: [] },
          { name: "c", dtype: "bool", shape: [] },
          { name: "v", dtype: "float32", shape: [] },
        ],
        [{ name: "c_out", dtype: "bool", shape: [] }, {
          name: "v_out",
          dtype: "float32",
          shape: [],
        }],
        [
          { name: "two", value: i64(2) },
          { name: "zero", value: i64(0) },
          { name: "one", value: f32([], [1]) },
        ],
      ),
    },
  }],
  [{ name: "M", dtype: "int64", shape: [] }],
  [{ name: "v", dtype: "float32", shape: [] }],
  [{ name: "v0", value: f32([], [0]) }, { name: "w", value: f32([], [10]) }],
);

for (const device of DEVICES) {
  Deno.test(`ONNX Loop: a growing loop-carried value, a shadowed name (${device})`, async () => {
    const r = await run(GROWING, { M: i64(3) }, device);
    assert.deepEqual(r.shifted, {
      shape: [4, 2],
      values: [100, 100, 101, 101, 102, 102, 103, 103],
    });
    assert.deepEqual(r.rows, { shape: [3, 1, 2], values: [1, 1, 2, 2, 3, 3] });
    const none = await run(GROWING, { M: i64(0) }, device);
    assert.deepEqual(none.shifted, { shape: [1, 2], values: [100, 100] });
    assert.deepEqual(none.rows, { shape: [0, 1, 2], values: [] });
  });

  Deno.test(`ONNX Loop: an If inside, reading values one and two levels out (${device})`, async () => {
    // i 0: +10, 1: -1, 2: +10, 3: -1, 4: +10.
    assert.deepEqual((await run(NESTED, { M: i64(5) }, device)).v.values, [28]);
    assert.deepEqual((await run(NESTED, { M: i64(0) }, device)).v.values, [0]);
  });
}

// ---- Scan -------------------------------------------------------------------------------------

/**
 * Scan over a [3, 2] (axis 0, forward) and b [2, 3] (axis 1, reversed): s += a_t * b_t;
 * scan outputs s (stacked in reverse) and a_t - b_t (stacked on axis 1).
 */
const SCAN = model(
  [{
    op: "Scan",
    name: "scan",
    inputs: ["s0", "a", "b"],
    outputs: ["s", "sums", "diffs"],
    attrs: {
      num_scan_inputs: 2,
      scan_input_axes: [0, -1],
      scan_input_directions: [0, 1],
      scan_output_directions: [1, 0],
      scan_output_axes: [0, 1],
      body: sub(
        [
          { op: "Mul", name: "prod", inputs: ["at", "bt"], outputs: ["prod"] },
          { op: "Add", name: "acc", inputs: ["st", "prod"], outputs: ["s_out"] },
          { op: "Identity", name: "sum", inputs: ["s_out"], outputs: ["sum"] },
          { op: "Sub", name: "diff", inputs: ["at", "bt"], outputs: ["diff"] },
        ],
        [
          { name: "st", dtype: "float32", shape: [2] },
          { name: "at", dtype: "float32", shape: [2] },
          { name: "bt", dtype: "float32", shape: [2] },
        ],
        [{ name: "s_out" }, { name: "sum" }, { name: "diff" }],
      ),
    },
  }],
  [
    { name: "s0", dtype: "float32", shape: [2] },
    { name: "a", dtype: "float32", shape: [-1, 2] },
    { name: "b", dtype: "float32", shape: [2, -1] },
  ],
  [
    { name: "s", dtype: "float32", shape: [2] },
    { name: "sums", dtype: "float32", shape: [-1, 2] },
    { name: "diffs", dtype: "float32", shape: [2, -1] },
  ],
);

/** The same scan, step by step in TypeScript. */
function scanReference(s0: number[], a: number[][], b: number[][]) {
  const steps = a.length;
  let s = s0.slice();
  const sums: number[][] = [], diffs: number[][] = [];
  for (let t = 0; t < steps; t++) {
    const at = a[t], bt = b.map((row) => row[steps - 1 - t]);
    s = s.map((v, j) => v + at[j] * bt[j]);
    sums.unshift(s.slice());
    diffs.push(at.map((v, j) => v - bt[j]));
  }
  // diffs stacked on axis 1: [2, steps].
  const moved = [0, 1].map((j) => diffs.map((d) => d[j]));
  return { s, sums: sums.flat(), diffs: moved.flat() };
}

for (const device of DEVICES) {
  Deno.test(`ONNX Scan: axes, reversed inputs and outputs, an output on axis 1 (${device})`, async () => {
    const a = [[1, 2], [3, 4], [5, 6]], b = [[1, -1, 2], [0.5, 3, -2]];
    const r = await run(SCAN, {
      s0: f32([2], [10, 20]),
      a: f32([3, 2], a.flat()),
      b: f32([2, 3], b.flat()),
    }, device);
    const want = scanReference([10, 20], a, b);
    assert.deepEqual(r.s.values, want.s);
    assert.deepEqual(r.sums, { shape: [3, 2], values: want.sums });
    assert.deepEqual(r.diffs, { shape: [2, 3], values: want.diffs });
    const empty = await run(SCAN, {
      s0: f32([2], [10, 20]),
      a: f32([0, 2], []),
      b: f32([2, 0], []),
    }, device);
    assert.deepEqual(empty.s.values, [10, 20]);
    assert.deepEqual(empty.sums, { shape: [0, 2], values: [] });
    assert.deepEqual(empty.diffs, { shape: [2, 0], values: [] });
    // Scan inputs of different lengths have no answer: the run fails, naming the check.
    await assert.rejects(
      () =>
        run(
          SCAN,
          { s0: f32([2], [0, 0]), a: f32([3, 2], a.flat()), b: f32([2, 2], [1, 2, 3, 4]) },
          device,
        ),
      (e: Error) => {
        assert.ok(e instanceof ef.EdgeflowError, String(e));
        assert.match(e.message, /lengths_must_agree/);
        return true;
      },
    );
  });
}

// ---- Errors -----------------------------------------------------------------------------------

const PASS = sub(
  [{ op: "Identity", name: "c_out", inputs: ["c"], outputs: ["c_out"] }, {
    op: "Identity",
    name: "v_out",
    inputs: ["v"],
    outputs: ["v_out"],
  }],
  [
    { name: "i", dtype: "int64", shape: [] },
    { name: "c", dtype: "bool", shape: [] },
    { name: "v", dtype: "float32", shape: [] },
  ],
  [{ name: "c_out", dtype: "bool", shape: [] }, { name: "v_out", dtype: "float32", shape: [] }],
);
const SCALAR_IN: OnnxValueOut[] = [
  { name: "x", dtype: "float32", shape: [] },
  { name: "M", dtype: "int64", shape: [] },
  { name: "p", dtype: "bool", shape: [] },
];
const SCALAR_OUT: OnnxValueOut[] = [{ name: "y", dtype: "float32", shape: [] }];

function one(node: OnnxNodeOut): Uint8Array {
  return model([node], SCALAR_IN, SCALAR_OUT);
}

Deno.test("ONNX control flow: bad models get errors naming the node and its op", async () => {
  const load = (bytes: Uint8Array) => loadOnnxModel(bytes, { file: "cf.onnx" });
  const branch = (outs: string[]) =>
    sub(
      outs.map((o) => ({ op: "Identity", name: o, inputs: ["x"], outputs: [o] })),
      [],
      outs.map((o) => ({ name: o, dtype: "float32" as const, shape: [] })),
    );
  await assert.rejects(
    () =>
      load(one({
        op: "If",
        name: "pick",
        inputs: ["p"],
        outputs: ["y"],
        attrs: { then_branch: branch(["a"]), else_branch: branch(["b", "b2"]) },
      })),
    naming("pick", "If", /then_branch gives 1 outputs and else_branch 2/),
  );
  await assert.rejects(
    () =>
      load(one({
        op: "If",
        name: "pick",
        inputs: ["p"],
        outputs: ["y"],
        attrs: {
          then_branch: branch(["a"]),
          else_branch: sub(
            [{ op: "Cast", name: "n", inputs: ["x"], outputs: ["n"], attrs: { to: INT64 } }],
            [],
            [{ name: "n", dtype: "int64", shape: [] }],
          ),
        },
      })),
    naming("pick", "If", /result 0 is float32 in the true branch and int64/),
  );
  await assert.rejects(
    () =>
      load(one({
        op: "If",
        name: "pick",
        inputs: ["x"],
        outputs: ["y"],
        attrs: { then_branch: branch(["a"]), else_branch: branch(["b"]) },
      })),
    naming("pick", "If", /cond must be bool, got float32/),
  );
  await assert.rejects(
    () =>
      load(
        one({ op: "If", name: "pick", inputs: ["p"], outputs: ["y"], attrs: { then_branch: 1 } }),
      ),
    naming("pick", "If", /attribute 'then_branch' must be a graph/),
  );
  // A name neither the subgraph nor any enclosing graph has.
  await assert.rejects(
    () =>
      load(one({
        op: "If",
        name: "pick",
        inputs: ["p"],
        outputs: ["y"],
        attrs: {
          then_branch: sub(
            [{ op: "Neg", name: "lost", inputs: ["nowhere"], outputs: ["t"] }],
            [],
            [{ name: "t", dtype: "float32", shape: [] }],
          ),
          else_branch: branch(["b"]),
        },
      })),
    naming("lost", "Neg", /'nowhere' is no graph input, initializer or earlier node's output/),
  );
  await assert.rejects(
    () =>
      load(
        one({
          op: "Loop",
          name: "forever",
          inputs: ["", "", "x"],
          outputs: ["y"],
          attrs: { body: PASS },
        }),
      ),
    naming("forever", "Loop", /neither a trip count M nor a cond/),
  );
  await assert.rejects(
    () =>
      load(
        one({
          op: "Loop",
          name: "lp",
          inputs: ["M", "", "x", "x"],
          outputs: ["y"],
          attrs: { body: PASS },
        }),
      ),
    naming("lp", "Loop", /body takes 3 inputs; it must take 2 \+ 2/),
  );
  await assert.rejects(
    () =>
      load(
        one({
          op: "Loop",
          name: "lp",
          inputs: ["M", "", "x"],
          outputs: ["y", "z"],
          attrs: { body: PASS },
        }),
      ),
    naming("lp", "Loop", /has 2 outputs; its body gives 1 loop-carried values and 0 scan outputs/),
  );
  await assert.rejects(
    () =>
      load(one({
        op: "Loop",
        name: "lp",
        inputs: ["M", "", "x"],
        outputs: ["y"],
        attrs: {
          body: sub(
            [
              { op: "Identity", name: "c_out", inputs: ["c"], outputs: ["c_out"] },
              {
                op: "Cast",
                name: "v_out",
                inputs: ["v"],
                outputs: ["v_out"],
                attrs: { to: INT64 },
              },
            ],
            PASS.graph.inputs,
            [{ name: "c_out" }, { name: "v_out" }],
          ),
        },
      })),
    naming("lp", "Loop", /loop variable 2 dtype int64; it entered as float32/),
  );
  const scan = (attrs: OnnxNodeOut["attrs"]) =>
    load(model(
      [{ op: "Scan", name: "sc", inputs: ["s", "xs"], outputs: ["y"], attrs }],
      [{ name: "s", dtype: "float32", shape: [] }, { name: "xs", dtype: "float32", shape: [3] }],
      SCALAR_OUT,
    ));
  const addBody = sub(
    [{ op: "Add", name: "add", inputs: ["st", "xt"], outputs: ["s_out"] }],
    [{ name: "st", dtype: "float32", shape: [] }, { name: "xt", dtype: "float32", shape: [] }],
    [{ name: "s_out", dtype: "float32", shape: [] }],
  );
  await assert.rejects(
    () => scan({ body: addBody }),
    naming("sc", "Scan", /'num_scan_inputs' must be given/),
  );
  await assert.rejects(
    () => scan({ body: addBody, num_scan_inputs: 1, scan_input_directions: [2] }),
    naming("sc", "Scan", /scan_input_directions\[0\] is 2; it must be 0 or 1/),
  );
  await assert.rejects(
    () => scan({ body: addBody, num_scan_inputs: 1, scan_input_axes: [1] }),
    naming("sc", "Scan", /scan_input_axes\[0\] is 1, out of range for rank 1/),
  );
  await assert.rejects(
    () =>
      scan({
        num_scan_inputs: 1,
        body: sub(addBody.graph.nodes, [...addBody.graph.inputs, { name: "extra" }], [{
          name: "s_out",
        }]),
      }),
    naming("sc", "Scan", /body takes 3 inputs; it must take 1 states and 1 scan slices/),
  );
});

Deno.test("ONNX control flow: an op a subgraph uses that Edgeflow does not map is listed", async () => {
  const bytes = one({
    op: "Loop",
    name: "lp",
    inputs: ["M", "", "x"],
    outputs: ["y"],
    attrs: {
      body: sub(
        [
          { op: "Identity", name: "c_out", inputs: ["c"], outputs: ["c_out"] },
          { op: "SequenceInsert", name: "ins", inputs: ["v"], outputs: ["v_out"] },
        ],
        PASS.graph.inputs,
        [{ name: "c_out" }, { name: "v_out" }],
      ),
    },
  });
  await assert.rejects(() => loadOnnxModel(bytes, { file: "cf.onnx" }), (e: Error) => {
    assert.ok(e instanceof ef.EdgeflowError);
    assert.match(
      e.message,
      /cf\.onnx uses 1 ONNX op Edgeflow does not map:\n {2}SequenceInsert \(node 'ins'\)/,
    );
    return true;
  });
});

// ---- Slice with run-time bounds (a loop's iteration number slices, as in test_loop11) ------

Deno.test("ONNX Slice: starts and ends fed at run time, clamped as ONNX clamps them", async () => {
  const bytes = model(
    [{
      op: "Slice",
      name: "cut",
      inputs: ["x", "starts", "ends", "axes", "steps"],
      outputs: ["y"],
    }],
    [
      { name: "x", dtype: "float32", shape: [2, 5] },
      { name: "starts", dtype: "int64", shape: [1] },
      { name: "ends", dtype: "int64", shape: [1] },
    ],
    [{ name: "y", dtype: "float32", shape: [2, -1] }],
    [
      { name: "axes", value: new ef.Tensor("int64", [1], BigInt64Array.of(-1n)) },
      { name: "steps", value: new ef.Tensor("int64", [1], BigInt64Array.of(-2n)) },
    ],
  );
  const x = f32([2, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const vec = (v: bigint) => new ef.Tensor("int64", [1], BigInt64Array.of(v));
  for (const device of DEVICES) {
    // From the end (start past the dim clamps to 4) down to before the start (INT64_MIN).
    const all = await run(bytes, {
      x,
      starts: vec(2n ** 63n - 1n),
      ends: vec(-(2n ** 63n)),
    }, device);
    assert.deepEqual(all.y, { shape: [2, 3], values: [4, 2, 0, 9, 7, 5] });
    const some = await run(bytes, { x, starts: vec(-2n), ends: vec(0n) }, device);
    assert.deepEqual(some.y, { shape: [2, 2], values: [3, 1, 8, 6] });
  }
});

// ---- Scan of opset 8: a batch axis, the sequence on axis 1 ---------------------------------

/** Scan-8 over x [batch, steps, 2], reversed: s += x_t; the scan output is s after each step. */
const SCAN8 = model(
  [{
    op: "Scan",
    name: "scan8",
    inputs: ["", "s0", "x"],
    outputs: ["s", "sums"],
    attrs: {
      num_scan_inputs: 1,
      directions: [1],
      body: sub(
        [
          { op: "Add", name: "acc", inputs: ["st", "xt"], outputs: ["s_out"] },
          { op: "Identity", name: "sum", inputs: ["s_out"], outputs: ["sum"] },
        ],
        [{ name: "st", dtype: "float32", shape: [2] }, {
          name: "xt",
          dtype: "float32",
          shape: [2],
        }],
        [{ name: "s_out" }, { name: "sum" }],
      ),
    },
  }],
  [
    { name: "s0", dtype: "float32", shape: [-1, 2] },
    { name: "x", dtype: "float32", shape: [-1, -1, 2] },
  ],
  [{ name: "s", dtype: "float32", shape: [-1, 2] }, {
    name: "sums",
    dtype: "float32",
    shape: [-1, -1, 2],
  }],
  [],
  8,
);

for (const device of DEVICES) {
  Deno.test(`ONNX Scan (opset 8): per batch entry, reversed (${device})`, async () => {
    // Entry 0: x rows [1,2], [3,4], [5,6] from the end; entry 1: [10,20] ×3, from s0 [100, 200].
    const r = await run(SCAN8, {
      s0: f32([2, 2], [0, 0, 100, 200]),
      x: f32([2, 3, 2], [1, 2, 3, 4, 5, 6, 10, 20, 10, 20, 10, 20]),
    }, device);
    assert.deepEqual(r.s, { shape: [2, 2], values: [9, 12, 130, 260] });
    assert.deepEqual(r.sums, {
      shape: [2, 3, 2],
      values: [5, 6, 8, 10, 9, 12, 110, 220, 120, 240, 130, 260],
    });
    const none = await run(SCAN8, { s0: f32([0, 2], []), x: f32([0, 3, 2], []) }, device);
    assert.deepEqual(none.s.shape, [0, 2]);
    // An empty batch: the entries' dims not known at load time (the sequence length) are 0.
    assert.deepEqual(none.sums, { shape: [0, 0, 2], values: [] });
  });
}

// ---- Mutated models: a graph or an EdgeflowError, never another error --------------------

Deno.test("mutated ONNX models with If, Loop and Scan give a graph or an EdgeflowError", async () => {
  const models = [NESTED, SCAN, SCAN8, GROWING];
  let loaded = 0, refused = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.nat(models.length - 1),
      fc.array(
        fc.record({
          at: fc.double({ min: 0, max: 1, noNaN: true }),
          bit: fc.nat(7),
          cut: fc.boolean(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      async (which, mutations) => {
        let bytes = models[which].slice();
        for (const m of mutations) {
          const at = Math.min(bytes.length - 1, Math.floor(m.at * bytes.length));
          if (m.cut) bytes = bytes.slice(0, at);
          else if (bytes.length > 0) bytes[at] ^= 1 << m.bit;
        }
        try {
          await loadOnnxModel(bytes, { maxTensorBytes: 2 ** 20 });
          loaded++;
        } catch (e) {
          if (!(e instanceof ef.EdgeflowError)) throw e;
          refused++;
        }
      },
    ),
    fcParams(300),
  );
  assert.ok(loaded > 0 && refused > 0, JSON.stringify({ loaded, refused }));
});
