// TensorFlow's TensorList ops: value semantics (an op that changes a list leaves its input as it
// was), each op's results and TensorFlow's errors, lists as while-loop variables on WASM and REF,
// a list crossing devices, random op sequences against a plain-array model on both devices, and a
// TensorFlow 2 GraphDef whose While accumulates into a TensorList.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";
import type { GraphDefJson } from "../../core/formats/graphdef_json.ts";
import {
  CONTAINER_DEVICES as DEVICES,
  F32,
  I32,
  N_AND_X_PLACEHOLDERS,
  rejectsWith,
} from "./container_test_helpers.ts";
import { deviceFor } from "../kernels/devices.ts";

Deno.test("SetItem returns a new list; the list it was given is unchanged", async () => {
  for (const device of DEVICES) {
    const g = new ef.Graph();
    const [before, after, length] = g.asDefault(() => {
      const l0 = ef.tensorListFromTensor(ef.constant([[1, 2], [3, 4], [5, 6]]), [2]);
      const l1 = ef.tensorListSetItem(l0, 1, ef.constant([9, 9]));
      return [
        ef.tensorListStack(l0, "float32", { elementShape: [2] }),
        ef.tensorListStack(l1, "float32", { elementShape: [2] }),
        ef.tensorListLength(l1),
      ];
    });
    await using s = new ef.Session(g, { device });
    const [b, a, n] = await s.run([before, after, length]);
    assert.deepEqual(b.toArray(), [[1, 2], [3, 4], [5, 6]], device);
    assert.deepEqual(a.toArray(), [[1, 2], [9, 9], [5, 6]], device);
    assert.equal(n.toArray(), 3);
  }
});

Deno.test("a while loop accumulates into a reserved list on WASM and REF", async () => {
  for (const device of DEVICES) {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const stacked = g.asDefault(() => {
      const l0 = ef.tensorListReserve([2], n, "float32");
      const [, acc] = ef.whileLoop(
        (i) => ef.less(i, n),
        (i, l) => {
          const v = ef.mul(ef.cast(ef.fill([2], i), "float32"), ef.constant([1, -0.5]));
          return [ef.add(i, 1), ef.tensorListSetItem(l, i, v)];
        },
        [ef.constant(0, { dtype: "int32" }), l0],
      );
      return ef.tensorListStack(acc, "float32", { elementShape: [2] });
    });
    await using s = new ef.Session(g, { device });
    // 70 elements span three of the list's chunks of 32.
    for (const k of [0, 1, 5, 70]) {
      const out = await s.run(stacked, { n: k });
      assert.deepEqual(out.shape, [k, 2]);
      assert.deepEqual(out.toArray(), Array.from({ length: k }, (_, i) => [i, -0.5 * i]));
    }
    // Nothing left the default device: the list ops have host kernels there.
    const placement = await s.explainPlacement(stacked, ["n"], [], false);
    const where = JSON.stringify(placement);
    if (device === "WASM") assert.ok(!where.includes("device:REF"), "the loop stays on WASM");
  }
});

Deno.test("PushBack in a loop, then PopBack, Gather, ElementShape and unset elements", async () => {
  const g = new ef.Graph();
  const out = g.asDefault(() => {
    const empty = ef.emptyTensorList([-1], "int32", 10);
    const [, l] = ef.whileLoop(
      (i) => ef.less(i, 4),
      (i, l) => [ef.add(i, 1), ef.tensorListPushBack(l, ef.fill([2], ef.mul(i, 10)))],
      [ef.constant(0, { dtype: "int32" }), empty],
      { shapeInvariants: [null, null] },
    );
    const [rest, last] = ef.tensorListPopBack(l, "int32");
    const reserved = ef.tensorListReserve([3], 3, "float32");
    const withOne = ef.tensorListSetItem(reserved, 1, ef.constant([1, 2, 3]));
    return [
      last,
      ef.tensorListLength(rest),
      ef.tensorListGather(l, [3, 0], "int32"),
      ef.tensorListElementShape(l),
      ef.tensorListStack(withOne, "float32"),
      ef.tensorListGetItem(withOne, 2, "float32"),
    ];
  });
  await using s = new ef.Session(g);
  const [last, n, gathered, shape, stacked, unset] = await s.run(out);
  assert.deepEqual(last.toArray(), [30, 30]);
  assert.equal(n.toArray(), 3);
  assert.deepEqual(gathered.toArray(), [[30, 30], [0, 0]]);
  assert.deepEqual(shape.toArray(), [-1]);
  assert.deepEqual(stacked.toArray(), [[0, 0, 0], [1, 2, 3], [0, 0, 0]]);
  assert.deepEqual(unset.toArray(), [0, 0, 0]);
});

Deno.test("Scatter, ScatterIntoExistingList, Concat, Split and Resize", async () => {
  const g = new ef.Graph();
  const out = g.asDefault(() => {
    const rows = ef.constant([[1, 2], [3, 4]]);
    const scattered = ef.tensorListScatter(rows, [2, 0], { elementShape: [2], numElements: 4 });
    const grown = ef.tensorListScatterIntoExistingList(scattered, ef.constant([[7, 7]]), [5]);
    const split = ef.tensorListSplit(ef.constant([1, 2, 3, 4, 5]), [-1], [2n, 0n, 3n]);
    const resized = g.addNode(ef.TensorListResize, [split, ef.constant(2, { dtype: "int32" })], {})
      .outputs[0];
    return [
      ef.tensorListStack(scattered, "float32", { elementShape: [2] }),
      ef.tensorListLength(grown),
      ef.tensorListGetItem(grown, 5, "float32"),
      ...ef.tensorListConcat(split, "float32"),
      ef.tensorListLength(resized),
    ];
  });
  await using s = new ef.Session(g);
  const [stacked, grownLength, item5, concat, lengths, resized] = await s.run(out);
  assert.deepEqual(stacked.toArray(), [[3, 4], [0, 0], [1, 2], [0, 0]]);
  assert.equal(grownLength.toArray(), 6);
  assert.deepEqual(item5.toArray(), [7, 7]);
  assert.deepEqual(concat.toArray(), [1, 2, 3, 4, 5]);
  assert.deepEqual(lengths.toArray(), [2n, 0n, 3n]);
  assert.equal(resized.toArray(), 2);
});

Deno.test("bad list operations are EdgeflowErrors naming the node and op", async () => {
  const g = new ef.Graph();
  const i = ef.placeholder(g, "int32", [], { name: "i" });
  const k = ef.placeholder(g, "int32", [], { name: "k" });
  const item = ef.placeholder(g, "float32", null, { name: "item" });
  g.asDefault(() => {
    const l = ef.tensorListReserve(null, k, "float32", { name: "reserve" });
    ef.tensorListGetItem(l, i, "float32", { name: "get" });
    ef.tensorListSetItem(l, i, item, { name: "set" });
    ef.tensorListStack(l, "float32", { name: "stack" });
    ef.tensorListStack(l, "float32", { name: "stack3", numElements: 3, elementShape: [1] });
    const fixed = ef.tensorListReserve([2], 2, "float32");
    ef.tensorListSetItem(fixed, 0, item, { name: "set_shape" });
    ef.tensorListPopBack(ef.emptyTensorList([2], "float32"), "float32", { name: "pop" });
    ef.tensorListPushBack(ef.emptyTensorList([], "float32", 0), item, { name: "push" });
  });
  await using s = new ef.Session(g);
  await rejectsWith(
    s.run("get", { k: 2, i: 2 }),
    "get",
    "TensorListGetItem",
    /element 2 in a list with 2 elements/,
  );
  await rejectsWith(
    s.run("get", { k: 2, i: 0 }),
    "get",
    "TensorListGetItem",
    /uninitialized tensor but element_shape is not fully defined/,
  );
  await rejectsWith(
    s.run("set", { k: 2, i: -1, item: 1 }),
    "set",
    "TensorListSetItem",
    /modify element -1 in a list with 2 elements/,
  );
  await rejectsWith(s.run("reserve", { k: -1 }), "reserve", "TensorListReserve", /non negative/);
  await rejectsWith(
    s.run("stack", { k: 0 }),
    "stack",
    "TensorListStack",
    /empty list with non-fully-defined element_shape/,
  );
  await rejectsWith(
    s.run("stack3", { k: 2 }),
    "stack3",
    "TensorListStack",
    /expected a list with 3 elements but got a list with 2/,
  );
  await rejectsWith(
    s.run("set_shape", { item: [1, 2, 3] }),
    "set_shape",
    "TensorListSetItem",
    /shape \[3\].*element_shape is \[2\]/,
  );
  await rejectsWith(s.run("pop"), "pop", "TensorListPopBack", /pop from an empty list/);
  await rejectsWith(
    s.run("push", { item: 1 }),
    "push",
    "TensorListPushBack",
    /push item into a full list; list size: 0, max_num_elements: 0/,
  );
  // Graph-time checks: a wrong element dtype, a list input that is not a list.
  assert.throws(
    () => g.asDefault(() => ef.tensorListSetItem(ef.tensorListReserve([], 1, "int32"), 0, 1.5)),
    /list elements int32|element_dtype/,
  );
  assert.throws(
    () => g.asDefault(() => ef.tensorListLength(ef.constant(1) as ef.Output)),
    (e: unknown) => e instanceof ef.EdgeflowError && /variant/.test(e.message),
  );
});

// WASM holds numeric tensors only (an upload of a variant is refused), so the result shows the list
// crossed from REF as a host value.
Deno.test("a list made on one device is read on another as a host value (no device copy)", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3, 2], { name: "x" });
  const out = g.asDefault(() => {
    const l = g.withDevice("/device:REF:0", () => ef.tensorListFromTensor(ef.mul(x, 2), [2]));
    return g.withDevice("/device:WASM:0", () => ef.add(ef.tensorListGetItem(l, 1, "float32"), 1));
  });
  await using s = new ef.Session(g);
  assert.deepEqual((await s.run(out, { x: [[1, 2], [3, 4], [5, 6]] })).toArray(), [7, 9]);
});

// ---- random op sequences against a plain-array model ------------------------------------

type Step =
  | { kind: "push"; value: number }
  | { kind: "set"; index: number; value: number }
  | { kind: "pop" }
  | { kind: "resize"; size: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("push" as const), value: fc.integer({ min: -9, max: 9 }) }),
  fc.record({
    kind: fc.constant("set" as const),
    index: fc.integer({ min: -1, max: 5 }),
    value: fc.integer({ min: -9, max: 9 }),
  }),
  fc.record({ kind: fc.constant("pop" as const) }),
  fc.record({ kind: fc.constant("resize" as const), size: fc.integer({ min: 0, max: 5 }) }),
);

/** The model: an array of [value, value] rows, unset rows as null; undefined when TF refuses. */
function model(steps: readonly Step[]): (number | null)[] | string {
  let l: (number | null)[] = [];
  for (const s of steps) {
    if (s.kind === "push") l = [...l, s.value];
    else if (s.kind === "pop") {
      if (l.length === 0) return "pop from an empty list";
      l = l.slice(0, -1);
    } else if (s.kind === "set") {
      if (s.index < 0 || s.index >= l.length) return "trying to modify element";
      l = l.map((v, i) => (i === s.index ? s.value : v));
    } else l = Array.from({ length: s.size }, (_, i) => l[i] ?? null);
  }
  return l;
}

Deno.test("random list op sequences equal a plain-array model on WASM and REF", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(arbStep, { maxLength: 8 }), async (steps) => {
      const g = new ef.Graph();
      const stacked = g.asDefault(() => {
        let l = ef.emptyTensorList([2], "int32");
        for (const s of steps) {
          const row = (v: number) => ef.fill([2], ef.constant(v, { dtype: "int32" }));
          if (s.kind === "push") l = ef.tensorListPushBack(l, row(s.value));
          else if (s.kind === "pop") l = ef.tensorListPopBack(l, "int32")[0];
          else if (s.kind === "set") l = ef.tensorListSetItem(l, s.index, row(s.value));
          else {l = g.addNode(ef.TensorListResize, [l, ef.constant(s.size, { dtype: "int32" })], {})
              .outputs[0];}
        }
        return ef.tensorListStack(l, "int32");
      });
      const want = model(steps);
      for (const device of DEVICES) {
        await using s = new ef.Session(g, { device });
        const got = await s.run(stacked).then((t) => t.toArray(), (e: Error) => e);
        if (typeof want === "string") {
          assert.ok(got instanceof ef.EdgeflowError, `${device} refuses: ${got}`);
          assert.match(got.message, new RegExp(want));
        } else {
          assert.deepEqual(got, want.map((v) => [v ?? 0, v ?? 0]), device);
        }
      }
    }),
    { numRuns: 15, seed: 7 },
  );
});

// ---- a TensorFlow 2 GraphDef -------------------------------------------------------------

const VARIANT = { type: "DT_VARIANT" };
const i32Const = (name: string, values: number[], shape: number[]) => ({
  name,
  op: "Const",
  attr: {
    dtype: I32,
    value: {
      tensor: {
        dtype: "DT_INT32",
        tensorShape: { dim: shape.map((d) => ({ size: String(d) })) },
        intVal: values,
      },
    },
  },
});

// What tf.function traces for
//   ta = tf.TensorArray(tf.float32, size=n, element_shape=[2])
//   for i in tf.range(n): ta = ta.write(i, x * tf.cast(i, tf.float32))
//   return ta.stack()
// (TensorFlow 2 lowers TensorArray to TensorList ops; while_v2 makes a While over a library.)
const tf2 = {
  node: [
    ...N_AND_X_PLACEHOLDERS,
    i32Const("TensorArrayV2/element_shape", [2], [1]),
    {
      name: "TensorArrayV2",
      op: "TensorListReserve",
      input: ["TensorArrayV2/element_shape", "n"],
      attr: { element_dtype: F32, shape_type: I32 },
    },
    i32Const("while/loop_counter", [0], []),
    i32Const("while/maximum_iterations", [-1], []),
    i32Const("Const", [0], []),
    {
      name: "while",
      op: "While",
      input: ["while/loop_counter", "while/maximum_iterations", "Const", "TensorArrayV2", "n", "x"],
      attr: {
        T: {
          list: {
            type: ["DT_INT32", "DT_INT32", "DT_INT32", "DT_VARIANT", "DT_INT32", "DT_FLOAT"],
          },
        },
        cond: { func: { name: "while_cond_5" } },
        body: { func: { name: "while_body_6" } },
        output_shapes: { list: { shape: [{}, {}, {}, {}, {}, { dim: [{ size: "2" }] }] } },
        parallel_iterations: { i: "10" },
        _lower_using_switch_merge: { b: true },
        _num_original_outputs: { i: "6" },
      },
    },
    i32Const("TensorArrayV2Stack/TensorListStack/element_shape", [2], [1]),
    {
      name: "TensorArrayV2Stack/TensorListStack",
      op: "TensorListStack",
      input: ["while:3", "TensorArrayV2Stack/TensorListStack/element_shape"],
      attr: { element_dtype: F32, num_elements: { i: "-1" } },
    },
    {
      name: "Identity",
      op: "Identity",
      input: ["TensorArrayV2Stack/TensorListStack"],
      attr: { T: F32 },
    },
  ],
  library: {
    function: [
      {
        signature: {
          name: "while_cond_5",
          inputArg: [
            { name: "while_loop_counter", type: "DT_INT32" },
            { name: "while_maximum_iterations", type: "DT_INT32" },
            { name: "placeholder", type: "DT_INT32" },
            { name: "placeholder_1", type: "DT_VARIANT" },
            { name: "less_n", type: "DT_INT32" },
            { name: "placeholder_2", type: "DT_FLOAT" },
          ],
          outputArg: [{ name: "identity", type: "DT_BOOL" }],
        },
        nodeDef: [
          { name: "Less", op: "Less", input: ["placeholder", "less_n"], attr: { T: I32 } },
          {
            name: "Identity",
            op: "Identity",
            input: ["Less:z:0"],
            attr: { T: { type: "DT_BOOL" } },
          },
        ],
        ret: { identity: "Identity:output:0" },
      },
      {
        signature: {
          name: "while_body_6",
          inputArg: [
            { name: "while_loop_counter", type: "DT_INT32" },
            { name: "while_maximum_iterations", type: "DT_INT32" },
            { name: "placeholder", type: "DT_INT32" },
            { name: "placeholder_1", type: "DT_VARIANT" },
            { name: "n_0", type: "DT_INT32" },
            { name: "mul_x_0", type: "DT_FLOAT" },
          ],
          outputArg: [
            { name: "identity", type: "DT_INT32" },
            { name: "identity_1", type: "DT_INT32" },
            { name: "identity_2", type: "DT_INT32" },
            { name: "identity_3", type: "DT_VARIANT" },
            { name: "n", type: "DT_INT32" },
            { name: "mul_x", type: "DT_FLOAT" },
          ],
        },
        nodeDef: [
          {
            name: "Cast",
            op: "Cast",
            input: ["placeholder"],
            attr: { SrcT: I32, DstT: F32, Truncate: { b: false } },
          },
          { name: "mul", op: "Mul", input: ["mul_x_0", "Cast:y:0"], attr: { T: F32 } },
          {
            name: "TensorArrayV2Write/TensorListSetItem",
            op: "TensorListSetItem",
            input: ["placeholder_1", "placeholder", "mul:z:0"],
            attr: { element_dtype: F32, resize_if_index_out_of_bounds: { b: false } },
          },
          i32Const("add/y", [1], []),
          { name: "add", op: "AddV2", input: ["placeholder", "add/y:output:0"], attr: { T: I32 } },
          i32Const("add_1/y", [1], []),
          {
            name: "add_1",
            op: "AddV2",
            input: ["while_loop_counter", "add_1/y:output:0"],
            attr: { T: I32 },
          },
          { name: "Identity", op: "Identity", input: ["add_1:z:0"], attr: { T: I32 } },
          {
            name: "Identity_1",
            op: "Identity",
            input: ["while_maximum_iterations"],
            attr: { T: I32 },
          },
          { name: "Identity_2", op: "Identity", input: ["add:z:0"], attr: { T: I32 } },
          {
            name: "Identity_3",
            op: "Identity",
            input: ["TensorArrayV2Write/TensorListSetItem:output_handle:0"],
            attr: { T: VARIANT },
          },
        ],
        ret: {
          identity: "Identity:output:0",
          identity_1: "Identity_1:output:0",
          identity_2: "Identity_2:output:0",
          identity_3: "Identity_3:output:0",
          n: "n_0",
          mul_x: "mul_x_0",
        },
      },
    ],
  },
  versions: { producer: 1645 },
} as unknown as GraphDefJson;

Deno.test("a TensorFlow 2 While accumulating into a TensorList imports and runs", async () => {
  const g = ef.fromGraphDef(tf2);
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    for (const k of [0, 1, 4]) {
      const out = await s.run("Identity", { n: k, x: [2, -1] });
      assert.deepEqual(out.shape, [k, 2]);
      assert.deepEqual(out.toArray(), Array.from({ length: k }, (_, i) => [2 * i, -i]));
    }
  }
  // Exported (the While inlined as TensorFlow 1 loop ops over a variant) and imported again.
  const def = JSON.parse(JSON.stringify(ef.toGraphDef(g))) as GraphDefJson;
  assert.ok(
    def.node!.some((n) => n.op === "Enter" && JSON.stringify(n.attr).includes("DT_VARIANT")),
  );
  await using s = new ef.Session(ef.fromGraphDef(def));
  assert.deepEqual((await s.run("Identity", { n: 2, x: [1, 1] })).toArray(), [[0, 0], [1, 1]]);
});

Deno.test("variant tensors: no literals, no numbers, no constants", () => {
  const g = new ef.Graph();
  const l = g.asDefault(() => ef.emptyTensorList([2], "float32"));
  assert.equal(l.dtype, "variant");
  assert.throws(() => ef.tensor([1], [1], "variant"), /variant tensors come from ops/);
  const t = new ef.Tensor("variant", [], [new ef.TensorList("float32", [2], [])]);
  assert.throws(() => t.toArray(), /read its data/);
  assert.equal(String(t.data[0] as ef.TensorList), "TensorList<float32[2]>[0]");
  assert.throws(
    () => g.asDefault(() => ef.constant(t)),
    (e: unknown) => e instanceof ef.EdgeflowError && /variant/.test(e.message),
  );
});

// ---- gradients (TensorFlow's list_grad.py) -----------------------------------------------

Deno.test("gradients through FromTensor/GetItem, SetItem/Stack, PushBack/PopBack, Gather and Scatter", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3, 2], { name: "x" });
  const v = ef.placeholder(g, "float32", [2], { name: "v" });
  const [y1, y2, y3, y4, y5] = g.asDefault(() => {
    const w = ef.constant([[1, 2], [3, 4], [5, 6]]);
    const fromX = ef.tensorListFromTensor(x, [2]);
    // y1 = Σ item1 · [10, 20]
    const y1 = ef.sum(ef.mul(ef.tensorListGetItem(fromX, 1, "float32"), ef.constant([10, 20])));
    // y2 = Σ stack([2v, 3v, x[2]]) · w  (SetItem over a list made from x)
    const set = ef.tensorListSetItem(
      ef.tensorListSetItem(fromX, 0, ef.mul(v, 2)),
      1,
      ef.mul(v, 3),
    );
    const y2 = ef.sum(ef.mul(ef.tensorListStack(set, "float32", { elementShape: [2] }), w));
    // y3: push v twice, pop once, stack: [x0, x1, x2, v] · [w; [7, 8]]
    const pushed = ef.tensorListPushBack(ef.tensorListPushBack(fromX, v), ef.mul(v, 5));
    const [popped, last] = ef.tensorListPopBack(pushed, "float32", { elementShape: [2] });
    const stacked = ef.tensorListStack(popped, "float32", { elementShape: [2] });
    const y3 = ef.add(
      ef.sum(ef.mul(stacked, ef.constant([[1, 2], [3, 4], [5, 6], [7, 8]]))),
      ef.sum(last),
    );
    // y4 = Σ gather([2, 0]) · [[1, 1], [2, 2]]
    const gathered = ef.tensorListGather(fromX, [2, 0], "float32", { elementShape: [2] });
    const y4 = ef.sum(ef.mul(gathered, ef.constant([[1, 1], [2, 2]])));
    // y5 = Σ stack(scatter(x rows to [1, 0, 3])) · ones, element 2 unset
    const scattered = ef.tensorListScatter(x, [1, 0, 3], { elementShape: [2] });
    const y5 = ef.sum(ef.tensorListStack(scattered, "float32", { elementShape: [2] }));
    return [y1, y2, y3, y4, y5];
  });
  const grads = [
    ...ef.gradients(y1, [x]),
    ...ef.gradients(y2, [x, v]),
    ...ef.gradients(y3, [x, v]),
    ...ef.gradients(y4, [x]),
    ...ef.gradients(y5, [x]),
  ];
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    const out = await s.run(grads as ef.Output[], {
      x: [[1, 1], [1, 1], [1, 1]],
      v: [1, 1],
    });
    const got = out.map((t) => t.toArray());
    assert.deepEqual(got[0], [[0, 0], [10, 20], [0, 0]], `${device} GetItem`);
    assert.deepEqual(got[1], [[0, 0], [0, 0], [5, 6]], `${device} SetItem hides x0, x1`);
    assert.deepEqual(got[2], [2 * 1 + 3 * 3, 2 * 2 + 3 * 4]);
    assert.deepEqual(got[3], [[1, 2], [3, 4], [5, 6]], `${device} PushBack/PopBack`);
    assert.deepEqual(got[4], [7 + 5, 8 + 5]);
    assert.deepEqual(got[5], [[2, 2], [0, 0], [1, 1]], `${device} Gather`);
    assert.deepEqual(got[6], [[1, 1], [1, 1], [1, 1]], `${device} Scatter`);
  }
});

Deno.test("a list read by several ops gets the sum of their gradient lists", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [3, 2], { name: "x" });
  const [dx] = g.asDefault(() => {
    const l = ef.tensorListFromTensor(ef.mul(x, x), [2]);
    const a = ef.tensorListGetItem(l, 0, "float32");
    const b = ef.tensorListGetItem(l, 2, "float32");
    const c = ef.tensorListGetItem(l, 0, "float32");
    return ef.gradients(ef.sum(ef.add(ef.add(a, ef.mul(b, 3)), c)), [x]);
  });
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    const out = await s.run(dx!, { x: [[1, 2], [3, 4], [5, 6]] });
    // d/dx of x0² + 3·x2² + x0² = 4·x0 and 6·x2.
    assert.deepEqual(out.toArray(), [[4, 8], [0, 0], [30, 36]], device);
  }
});

Deno.test("list and TensorArray loops and a list gradient stay on the TPU and WEBGPU", async (t) => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const fetches = g.asDefault(() => {
    const l0 = ef.tensorListReserve([2], n, "float32");
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, l) => [ef.add(i, 1), ef.tensorListSetItem(l, i, ef.mul(x, ef.cast(i, "float32")))],
      [ef.constant(0, { dtype: "int32" }), l0],
    );
    const ta = ef.TensorArray.create("float32", n, { elementShape: [2] });
    const [, flow] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, f) => [ef.add(i, 1), ta.withFlow(f).write(i, ef.add(x, ef.cast(i, "float32"))).flow],
      [ef.constant(0, { dtype: "int32" }), ta.flow],
    );
    const l = ef.tensorListFromTensor(ef.mul(ef.stack([x, x]), 2), [2]);
    const y = ef.sum(ef.tensorListGetItem(l, 1, "float32"));
    return [
      ef.tensorListStack(acc, "float32", { elementShape: [2] }),
      ta.withFlow(flow).stack(),
      ef.gradients(y, [x])[0]!,
    ];
  });
  for (const type of ["TPU", "WEBGPU"] as const) {
    const device = await deviceFor(type, t);
    if (!device) continue;
    await using s = new ef.Session(g, { devices: [device] });
    const [stacked, arr, dx] = await s.run(fetches, { n: 3, x: [1, 2] });
    assert.deepEqual(stacked.toArray(), [[0, 0], [1, 2], [2, 4]], type);
    assert.deepEqual(arr.toArray(), [[1, 2], [2, 3], [3, 4]], type);
    assert.deepEqual(dx.toArray(), [2, 2], type);
    const placement = await s.explainPlacement(fetches, ["n", "x"], [], false);
    assert.ok(
      !JSON.stringify(placement).includes("device:REF"),
      `nothing falls back to REF on ${type}`,
    );
  }
});

Deno.test("lists longer than a chunk: set, push, pop, gather and resize across chunk edges", async () => {
  const g = new ef.Graph();
  const out = g.asDefault(() => {
    let l = ef.tensorListFromTensor(ef.range(0, 40, 1), []);
    l = ef.tensorListSetItem(l, 31, ef.constant(-31, { dtype: "int32" }));
    l = ef.tensorListSetItem(l, 32, ef.constant(-32, { dtype: "int32" }));
    for (let k = 0; k < 30; k++) {
      l = ef.tensorListPushBack(l, ef.constant(100 + k, { dtype: "int32" }));
    }
    const [popped, last] = ef.tensorListPopBack(l, "int32");
    const resized =
      g.addNode(ef.TensorListResize, [popped, ef.constant(65, { dtype: "int32" })], {})
        .outputs[0];
    return [
      ef.tensorListStack(l, "int32"),
      last,
      ef.tensorListGather(popped, [68, 32, 31, 0], "int32"),
      ef.tensorListStack(resized, "int32"),
    ];
  });
  await using s = new ef.Session(g);
  const [all, last, gathered, resized] = await s.run(out);
  const want = [...Array.from({ length: 40 }, (_, i) => (i === 31 || i === 32 ? -i : i))];
  for (let k = 0; k < 30; k++) want.push(100 + k);
  assert.deepEqual(all.toArray(), want);
  assert.equal(last.toArray(), 129);
  assert.deepEqual(gathered.toArray(), [128, -32, -31, 0]);
  assert.deepEqual(resized.toArray(), want.slice(0, 65));
});

Deno.test("a list crosses devices inside a loop each iteration as a host value", async () => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const out = g.asDefault(() => {
    const l0 = ef.tensorListReserve([2], n, "float32");
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, l) => {
        const v = g.withDevice("/device:WASM:1", () => ef.mul(x, ef.cast(i, "float32")));
        // The SetItem on REF, the loop's variables on WASM: the list goes to REF and back.
        const set = g.withDevice("/device:REF:0", () => ef.tensorListSetItem(l, i, v));
        return [ef.add(i, 1), set];
      },
      [ef.constant(0, { dtype: "int32" }), l0],
    );
    return ef.tensorListStack(acc, "float32", { elementShape: [2] });
  });
  await using s = new ef.Session(g, { deviceCount: { WASM: 2 } });
  for (const k of [0, 4]) {
    const got = await s.run(out, { n: k, x: [1, -1] });
    assert.deepEqual(got.toArray(), Array.from({ length: k }, (_, i) => [i, -i]));
  }
  const placement = JSON.stringify(await s.explainPlacement(out, ["n", "x"], [], false));
  assert.ok(placement.includes("device:REF"), "the SetItem runs on REF");
});

Deno.test("map_fn's shape: FromTensor read by GetItem in a loop, results SetItem into a reserved list", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [-1, 3], { name: "x" });
  const out = g.asDefault(() => {
    const n = ef.stridedSlice(ef.shape(x), [0], [1], [1], { shrink_axis_mask: 1 });
    const elems = ef.tensorListFromTensor(x, [3]);
    const results = ef.tensorListReserve([3], n, "float32");
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, r) => {
        const row = ef.tensorListGetItem(elems, i, "float32", { elementShape: [3] });
        return [ef.add(i, 1), ef.tensorListSetItem(r, i, ef.mul(row, row))];
      },
      [ef.constant(0, { dtype: "int32" }), results],
    );
    return ef.tensorListStack(acc, "float32", { elementShape: [3] });
  });
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    const got = await s.run(out, { x: [[1, 2, 3], [-1, 0, 4]] });
    assert.deepEqual(got.toArray(), [[1, 4, 9], [1, 0, 16]], device);
  }
});
