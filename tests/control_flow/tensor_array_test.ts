// TensorFlow 1's TensorArrayV3 family: writes ordered by the flow, reads, gather/scatter,
// concat/split, size, close, dynamic_size, clear_after_read and element shapes, TensorFlow's
// errors naming node and op, arrays living for one step, a TensorArray in a while loop on WASM and
// REF, and a hand-written TensorFlow 1 GraphDef with a TensorArrayV3 in a loop.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import type { GraphDefJson } from "../../core/formats/graphdef_json.ts";
import {
  CONTAINER_DEVICES as DEVICES,
  F32,
  I32,
  N_AND_X_PLACEHOLDERS,
  rejectsWith,
} from "./container_test_helpers.ts";

Deno.test("write, read, gather, scatter, concat, split and size", async () => {
  for (const device of DEVICES) {
    const g = new ef.Graph();
    const out = g.asDefault(() => {
      let ta = ef.TensorArray.create("float32", 3, { elementShape: [2], clearAfterRead: false });
      ta = ta.write(0, ef.constant([1, 2])).write(2, ef.constant([5, 6]));
      ta = ta.scatter([1], ef.constant([[3, 4]]));
      const parts = ef.TensorArray.create("int32", 2, { clearAfterRead: false })
        .split(ef.constant([1, 2, 3, 4, 5], { dtype: "int32" }), [3n, 2n]);
      return [
        ta.read(1),
        ta.stack(),
        ta.gather([2, 0]),
        ta.size(),
        ...parts.concat(),
        parts.read(1),
      ];
    });
    await using s = new ef.Session(g, { device });
    const [r1, stacked, gathered, size, concat, lengths, piece] = await s.run(out);
    assert.deepEqual(r1.toArray(), [3, 4], device);
    assert.deepEqual(stacked.toArray(), [[1, 2], [3, 4], [5, 6]]);
    assert.deepEqual(gathered.toArray(), [[5, 6], [1, 2]]);
    assert.equal(size.toArray(), 3);
    assert.deepEqual(concat.toArray(), [1, 2, 3, 4, 5]);
    assert.deepEqual(lengths.toArray(), [3n, 2n]);
    assert.deepEqual(piece.toArray(), [4, 5]);
  }
});

Deno.test("a TensorArray written in a while loop (its flow a loop variable) stacks after it", async () => {
  for (const device of DEVICES) {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const x = ef.placeholder(g, "float32", [2], { name: "x" });
    const stacked = g.asDefault(() => {
      const ta = ef.TensorArray.create("float32", n, { elementShape: [2] });
      const [, flow] = ef.whileLoop(
        (i) => ef.less(i, n),
        (i, flow) => {
          const w = ta.withFlow(flow).write(i, ef.mul(x, ef.cast(i, "float32")));
          return [ef.add(i, 1), w.flow];
        },
        [ef.constant(0, { dtype: "int32" }), ta.flow],
      );
      return ta.withFlow(flow).stack();
    });
    await using s = new ef.Session(g, { device });
    for (const k of [1, 4]) {
      const out = await s.run(stacked, { n: k, x: [1, -2] });
      assert.deepEqual(out.toArray(), Array.from({ length: k }, (_, i) => [i, -2 * i]), device);
    }
    // Zero iterations: an empty array of a known element shape stacks to [0, 2].
    assert.deepEqual((await s.run(stacked, { n: 0, x: [1, 1] })).shape, [0, 2]);
  }
});

Deno.test("dynamic_size grows, clear_after_read clears, unwritten elements of a known shape are zeros", async () => {
  const g = new ef.Graph();
  const out = g.asDefault(() => {
    const grown = ef.TensorArray.create("int32", 0, { dynamicSize: true }).write(3, 7);
    const known = ef.TensorArray.create("float32", 2, { elementShape: [3] }).write(1, [1, 2, 3]);
    return [grown.size(), grown.read(3), known.stack()];
  });
  await using s = new ef.Session(g);
  const [size, r, stacked] = await s.run(out);
  assert.equal(size.toArray(), 4);
  assert.equal(r.toArray(), 7);
  assert.deepEqual(stacked.toArray(), [[0, 0, 0], [1, 2, 3]]);
});

Deno.test("bad TensorArray use is an EdgeflowError naming the node and op", async () => {
  const g = new ef.Graph();
  const i = ef.placeholder(g, "int32", [], { name: "i" });
  const v = ef.placeholder(g, "float32", null, { name: "v" });
  g.asDefault(() => {
    const ta = ef.TensorArray.create("float32", 2, { name: "ta" });
    ta.write(i, v, { name: "write" });
    ta.write(0, 1).write(0, 2, { name: "write_twice" });
    ta.read(i, { name: "read_unwritten" });
    const once = ta.write(0, 1);
    const first = once.read(0, { name: "first_read" });
    g.withControlDependencies([first.node], () => once.read(0, { name: "second_read" }));
    const shaped = ef.TensorArray.create("float32", 2, { elementShape: [2] });
    shaped.write(0, v, { name: "write_shape" });
    const ints = ef.TensorArray.create("int32", 2);
    ints.write(0, v, { name: "write_dtype" });
    const closed = ef.TensorArray.create("float32", 1);
    const close = closed.close({ name: "close" });
    g.withControlDependencies([close], () => closed.size({ name: "size_closed" }));
    ef.TensorArray.create("float32", i, { name: "negative" });
    ef.TensorArray.create("float32", 3).scatter([0, 1], v, { name: "scatter_rows" });
  });
  await using s = new ef.Session(g);
  await rejectsWith(
    s.run("write", { i: 2, v: 1 }),
    "write",
    "TensorArrayWriteV3",
    /write to index 2 but array is not resizeable and size is: 2/,
  );
  await rejectsWith(
    s.run("write_twice"),
    "write_twice",
    "TensorArrayWriteV3",
    /index 0 because it has already been written to/,
  );
  await rejectsWith(
    s.run("read_unwritten", { i: 1 }),
    "read_unwritten",
    "TensorArrayReadV3",
    /index 1: it has not been written to, and the element shape is not fully defined/,
  );
  await rejectsWith(
    s.run("read_unwritten", { i: 5 }),
    "read_unwritten",
    "TensorArrayReadV3",
    /read from index 5 but array size is: 2/,
  );
  await rejectsWith(
    s.run("second_read"),
    "second_read",
    "TensorArrayReadV3",
    /read index 0 twice because it was cleared after a previous read/,
  );
  await rejectsWith(
    s.run("write_shape", { v: [1, 2, 3] }),
    "write_shape",
    "TensorArrayWriteV3",
    /value shape is \[3\] which is incompatible with the TensorArray's inferred element shape: \[2\]/,
  );
  await rejectsWith(
    s.run("write_dtype", { v: 1 }),
    "write_dtype",
    "TensorArrayWriteV3",
    /dtype is int32 but op is trying to write dtype float32/,
  );
  await rejectsWith(
    s.run("size_closed"),
    "size_closed",
    "TensorArraySizeV3",
    /already been closed/,
  );
  await rejectsWith(
    s.run("negative", { i: -1 }),
    "negative",
    "TensorArrayV3",
    /size should be >= 0/,
  );
  await rejectsWith(
    s.run("scatter_rows", { v: [[1], [2], [3]] }),
    "scatter_rows",
    "TensorArrayScatterV3",
    /len\(indices\) == values.shape\[0\], but saw: 2 vs. 3/,
  );
});

Deno.test("TensorArrays live for one step: each run and each concurrent run has its own", async () => {
  const g = new ef.Graph();
  const v = ef.placeholder(g, "float32", [], { name: "v" });
  const out = g.asDefault(() => {
    const ta = ef.TensorArray.create("float32", 1).write(0, v);
    return ta.read(0);
  });
  await using s = new ef.Session(g);
  // A second run writes index 0 again: a fresh array, not "already written".
  assert.equal((await s.run(out, { v: 1 })).toArray(), 1);
  const results = await Promise.all([2, 3, 4, 5].map((k) => s.run(out, { v: k })));
  assert.deepEqual(results.map((t) => t.toArray()), [2, 3, 4, 5]);
});

// ---- a TensorFlow 1 GraphDef -------------------------------------------------------------

const RES = { type: "DT_RESOURCE" };
const FRAME = { s: btoa("while/while_context") };
const i32 = (name: string, v: number, input?: string[]) => ({
  name,
  op: "Const",
  ...(input ? { input } : {}),
  attr: { dtype: I32, value: { tensor: { dtype: "DT_INT32", tensorShape: {}, intVal: [v] } } },
});
const enter = (name: string, input: string, T: unknown, constant = false) => ({
  name,
  op: "Enter",
  input: [input],
  attr: {
    T,
    frame_name: FRAME,
    is_constant: { b: constant },
    parallel_iterations: { i: "10" },
  },
});

// What Python TensorFlow 1 builds for
//   ta = tf.TensorArray(tf.float32, size=n)
//   _, ta = tf.while_loop(lambda i, ta: i < n,
//                         lambda i, ta: (i + 1, ta.write(i, x * tf.cast(i, tf.float32))), [0, ta])
//   out = ta.stack()
const tf1 = {
  node: [
    ...N_AND_X_PLACEHOLDERS,
    {
      name: "TensorArray",
      op: "TensorArrayV3",
      input: ["n"],
      attr: {
        dtype: F32,
        element_shape: { shape: { unknownRank: true } },
        dynamic_size: { b: false },
        clear_after_read: { b: true },
        identical_element_shapes: { b: true },
        tensor_array_name: { s: "" },
      },
    },
    i32("Const", 0),
    enter("while/Enter", "Const", I32),
    enter("while/Enter_1", "TensorArray:1", F32),
    {
      name: "while/Merge",
      op: "Merge",
      input: ["while/Enter", "while/NextIteration"],
      attr: { T: I32, N: { i: "2" } },
    },
    {
      name: "while/Merge_1",
      op: "Merge",
      input: ["while/Enter_1", "while/NextIteration_1"],
      attr: { T: F32, N: { i: "2" } },
    },
    enter("while/Less/Enter", "n", I32, true),
    {
      name: "while/Less",
      op: "Less",
      input: ["while/Merge", "while/Less/Enter"],
      attr: { T: I32 },
    },
    { name: "while/LoopCond", op: "LoopCond", input: ["while/Less"] },
    {
      name: "while/Switch",
      op: "Switch",
      input: ["while/Merge", "while/LoopCond"],
      attr: { T: I32, _class: { list: { s: [btoa("loc:@while/Merge")] } } },
    },
    {
      name: "while/Switch_1",
      op: "Switch",
      input: ["while/Merge_1", "while/LoopCond"],
      attr: { T: F32, _class: { list: { s: [btoa("loc:@while/Merge_1")] } } },
    },
    { name: "while/Identity", op: "Identity", input: ["while/Switch:1"], attr: { T: I32 } },
    { name: "while/Identity_1", op: "Identity", input: ["while/Switch_1:1"], attr: { T: F32 } },
    i32("while/add/y", 1, ["^while/Identity"]),
    { name: "while/add", op: "AddV2", input: ["while/Identity", "while/add/y"], attr: { T: I32 } },
    enter("while/TensorArrayWrite/TensorArrayWriteV3/Enter", "TensorArray", RES, true),
    enter("while/mul/Enter", "x", F32, true),
    {
      name: "while/Cast",
      op: "Cast",
      input: ["while/Identity"],
      attr: { SrcT: I32, DstT: F32, Truncate: { b: false } },
    },
    { name: "while/mul", op: "Mul", input: ["while/mul/Enter", "while/Cast"], attr: { T: F32 } },
    {
      name: "while/TensorArrayWrite/TensorArrayWriteV3",
      op: "TensorArrayWriteV3",
      input: [
        "while/TensorArrayWrite/TensorArrayWriteV3/Enter",
        "while/Identity",
        "while/mul",
        "while/Identity_1",
      ],
      attr: { T: F32, _class: { list: { s: [btoa("loc:@while/mul")] } } },
    },
    { name: "while/NextIteration", op: "NextIteration", input: ["while/add"], attr: { T: I32 } },
    {
      name: "while/NextIteration_1",
      op: "NextIteration",
      input: ["while/TensorArrayWrite/TensorArrayWriteV3"],
      attr: { T: F32 },
    },
    { name: "while/Exit", op: "Exit", input: ["while/Switch"], attr: { T: I32 } },
    { name: "while/Exit_1", op: "Exit", input: ["while/Switch_1"], attr: { T: F32 } },
    {
      name: "TensorArrayStack/TensorArraySizeV3",
      op: "TensorArraySizeV3",
      input: ["TensorArray", "while/Exit_1"],
      attr: { _class: { list: { s: [btoa("loc:@TensorArray")] } } },
    },
    i32("TensorArrayStack/range/start", 0),
    i32("TensorArrayStack/range/delta", 1),
    {
      name: "TensorArrayStack/range",
      op: "Range",
      input: [
        "TensorArrayStack/range/start",
        "TensorArrayStack/TensorArraySizeV3",
        "TensorArrayStack/range/delta",
      ],
      attr: { Tidx: I32, _class: { list: { s: [btoa("loc:@TensorArray")] } } },
    },
    {
      name: "TensorArrayStack/TensorArrayGatherV3",
      op: "TensorArrayGatherV3",
      input: ["TensorArray", "TensorArrayStack/range", "while/Exit_1"],
      attr: {
        dtype: F32,
        element_shape: { shape: { dim: [{ size: "2" }] } },
        _class: { list: { s: [btoa("loc:@TensorArray")] } },
      },
    },
  ],
  versions: { producer: 27 },
} as unknown as GraphDefJson;

Deno.test("a TensorFlow 1 GraphDef with a TensorArrayV3 in a while loop imports and runs", async () => {
  const g = ef.fromGraphDef(tf1);
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    for (const k of [1, 3]) {
      const out = await s.run("TensorArrayStack/TensorArrayGatherV3", { n: k, x: [2, -1] });
      assert.deepEqual(out.toArray(), Array.from({ length: k }, (_, i) => [2 * i, -i]), device);
    }
    assert.deepEqual(
      (await s.run("TensorArrayStack/TensorArrayGatherV3", { n: 0, x: [1, 1] })).shape,
      [0, 2],
    );
  }
  // And it survives export and import.
  const again = ef.fromGraphDef(JSON.parse(JSON.stringify(ef.toGraphDef(g))));
  await using s = new ef.Session(again);
  assert.deepEqual(
    (await s.run("TensorArrayStack/TensorArrayGatherV3", { n: 2, x: [1, 1] })).toArray(),
    [[0, 0], [1, 1]],
  );
});

// ---- gradients (TensorFlow's tensor_array_grad.py, through TensorArrayGradV3) -------------

Deno.test("gradients through write/read, write/stack, scatter/gather and split/concat", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const m = ef.placeholder(g, "float32", [3, 2], { name: "m" });
  const [y1, y2, y3, y4] = g.asDefault(() => {
    // y1 = Σ read(0) · [3, 4] + Σ read(1), read(0) = 2x, read(1) = x·x
    const ta = ef.TensorArray.create("float32", 2).write(0, ef.mul(x, 2)).write(1, ef.mul(x, x));
    const y1 = ef.add(ef.sum(ef.mul(ta.read(0), ef.constant([3, 4]))), ef.sum(ta.read(1)));
    // y2 = Σ stack([2x, x·x]) · [[1, 2], [3, 4]]
    const tb = ef.TensorArray.create("float32", 2).write(0, ef.mul(x, 2)).write(1, ef.mul(x, x));
    const y2 = ef.sum(ef.mul(tb.stack(), ef.constant([[1, 2], [3, 4]])));
    // y3 = Σ gather([2, 0]) · [[1, 1], [5, 5]] over unstacked rows of m
    const tc = ef.TensorArray.create("float32", 3).unstack(m);
    const y3 = ef.sum(ef.mul(tc.gather([2, 0]), ef.constant([[1, 1], [5, 5]])));
    // y4 = Σ concat(split(m rows as [2, 1])) · weights
    const td = ef.TensorArray.create("float32", 2).split(m, [2n, 1n]);
    const y4 = ef.sum(ef.mul(td.concat()[0], ef.constant([[1, 2], [3, 4], [5, 6]])));
    return [y1, y2, y3, y4];
  });
  const grads = [
    ...ef.gradients(y1, [x]),
    ...ef.gradients(y2, [x]),
    ...ef.gradients(y3, [m]),
    ...ef.gradients(y4, [m]),
  ];
  for (const device of DEVICES) {
    await using s = new ef.Session(g, { device });
    const out = await s.run(grads as ef.Output[], { x: [1, 2], m: [[1, 1], [1, 1], [1, 1]] });
    const got = out.map((t) => t.toArray());
    assert.deepEqual(got[0], [2 * 3 + 2 * 1, 2 * 4 + 2 * 2], `${device} read`);
    assert.deepEqual(got[1], [2 * 1 + 2 * 1 * 3, 2 * 2 + 2 * 2 * 4], `${device} stack`);
    assert.deepEqual(got[2], [[5, 5], [0, 0], [1, 1]], `${device} gather`);
    assert.deepEqual(got[3], [[1, 2], [3, 4], [5, 6]], `${device} concat`);
  }
});

Deno.test("a dynamic_size TensorArray of size 0 grows inside a loop; size and concat after it", async () => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const out = g.asDefault(() => {
    const ta = ef.TensorArray.create("int32", 0, { dynamicSize: true });
    const [, flow] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, f) => [ef.add(i, 1), ta.withFlow(f).write(i, ef.fill([2], i)).flow],
      [ef.constant(0, { dtype: "int32" }), ta.flow],
    );
    const done = ta.withFlow(flow);
    return [done.size(), done.concat()[0]];
  });
  await using s = new ef.Session(g);
  const [size, joined] = await s.run(out, { n: 3 });
  assert.equal(size.toArray(), 3);
  assert.deepEqual(joined.toArray(), [0, 0, 1, 1, 2, 2]);
});
