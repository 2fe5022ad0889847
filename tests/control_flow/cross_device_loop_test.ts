// While loops whose nodes sit on several devices (core/control_flow/control_loops.ts): every
// device a loop frame touches gets a copy of the loop's control skeleton, values cross inside the
// loop through Send/Recv keyed by frame and iteration, and the results equal the one-device run.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { NullDevice } from "../../devices/null/device.ts";
import { partition } from "../../core/partition.ts";
import { topologicalOrder } from "../../core/passes/topo.ts";
import { colocateLoops } from "../../core/control_flow/colocate_loops.ts";

const W0 = "/device:WASM:0", W1 = "/device:WASM:1";
const int = (v: number) => ef.constant(v, { dtype: "int32" });

/** Where each node of a plan went: node name → "WASM:1". */
async function devicesOf(s: ef.Session, fetches: ef.Output[], feeds: string[]) {
  const ex = await s.explainPlacement(fetches, feeds, [], false);
  const at = new Map<string, string>();
  for (const line of ex.text.split("\n")) {
    const m = line.match(/^(\S+)\s+\S+\s+\/device:(\S+)/);
    if (m) at.set(m[1], m[2]);
  }
  return { at, sends: ex.sends };
}

/** acc ← 2·acc + x for n iterations; the body's arithmetic on `body`, the loop elsewhere. */
function doubling(body: string, loop: string, parallelIterations: number) {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const x = ef.placeholder(g, "float32", [4], { name: "x" });
  const [i, acc] = g.withDevice(loop, () =>
    ef.whileLoop(
      (i) => ef.less(i, n),
      (i, a) => [
        ef.add(i, 1),
        g.withDevice(body, () => ef.add(ef.mul(a, 2, { name: "twice" }), x, { name: "plus_x" })),
      ],
      g.asDefault(() => [int(0), ef.constant([0, 0, 0, 0])]),
      { parallelIterations },
    ));
  return { g, i, acc };
}

for (const parallel of [1, 10]) {
  Deno.test(`a loop body split over WASM:0 and WASM:1 equals one device (parallel_iterations ${parallel})`, async () => {
    const one = doubling("", "", parallel);
    const two = doubling(W1, W0, parallel);
    await using s1 = new ef.Session(one.g);
    await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
    for (const n of [0, 1, 5, 12]) {
      const feed = { n, x: [1, -2, 0.5, 3] };
      const [i1, a1] = await s1.run([one.i, one.acc], feed);
      const [i2, a2] = await s2.run([two.i, two.acc], feed);
      assert.equal(i2.toArray(), i1.toArray());
      assert.deepEqual(a2.toArray(), a1.toArray(), `n=${n}`);
    }
    const { at, sends } = await devicesOf(s2, [two.i, two.acc], ["n", "x"]);
    assert.equal(at.get("while/twice"), "WASM:1");
    assert.equal(at.get("while/plus_x"), "WASM:1");
    assert.equal(at.get("while/loop_cond"), "WASM:0");
    assert.equal(at.get("while/merge_1"), "WASM:0");
    // Values cross both ways inside the frame.
    assert.ok(Object.keys(sends).length === 2, JSON.stringify(sends));
  });
}

Deno.test("a loop with an op only REF has a kernel for runs that op on REF and the rest on WASM", async () => {
  const build = () => {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const x = ef.placeholder(g, "float32", [6], { name: "x" });
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, a) => {
        // Unique has a REF kernel only.
        const [u] = ef.unique(x, { name: "uniq" });
        return [ef.add(i, 1), ef.add(ef.mul(a, 0.5), ef.sum(u, [0]), { name: "acc_next" })];
      },
      g.asDefault(() => [int(0), ef.constant(0)]),
    );
    return { g, acc };
  };
  const split = build();
  await using s = new ef.Session(split.g);
  const feed = { n: 4, x: [1, 2, 2, 3, 3, 3] };
  const got = (await s.run(split.acc, feed)).toNumbers()[0];
  // 6 each iteration, halved before: 6, 9, 10.5, 11.25.
  assert.equal(got, 11.25);
  const { at, sends } = await devicesOf(s, [split.acc], ["n", "x"]);
  assert.equal(at.get("while/uniq"), "REF:0");
  assert.equal(at.get("while/acc_next"), "WASM:0");
  assert.equal(at.get("while/loop_cond"), "WASM:0");
  assert.ok(Object.keys(sends).some((d) => d.endsWith("REF:0")), JSON.stringify(sends));
});

Deno.test("the predicate on one device, the body on another", async () => {
  const build = (condOn: string, bodyOn: string) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [], { name: "x" });
    const [v] = ef.whileLoop(
      (v) => g.withDevice(condOn, () => ef.less(v, 100)),
      (v) => [g.withDevice(bodyOn, () => ef.add(ef.mul(v, 3), x))],
      [x],
    );
    return { g, v };
  };
  const one = build("", "");
  const two = build(W1, W0);
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  for (const x of [1, 2, 50, 200]) {
    const a = (await s1.run(one.v, { x })).toNumbers()[0];
    const b = (await s2.run(two.v, { x })).toNumbers()[0];
    assert.equal(b, a, `x=${x}`);
  }
  const { at } = await devicesOf(s2, [two.v], ["x"]);
  assert.equal(at.get("while/Less"), "WASM:1");
  assert.equal(at.get("while/Mul"), "WASM:0");
});

Deno.test("a cond inside the loop whose branch runs on another device", async () => {
  const build = (branchOn: string) => {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, a) => {
        const even = ef.equal(ef.sub(i, ef.mul(ef.floorDiv(i, 2), 2)), 0);
        const [next] = ef.cond(
          even,
          () => [g.withDevice(branchOn, () => ef.add(a, ef.cast(i, "float32"), { name: "odd" }))],
          () => [ef.sub(a, 1)],
        );
        return [ef.add(i, 1), next];
      },
      g.asDefault(() => [int(0), ef.constant(0)]),
      { parallelIterations: 3 },
    );
    return { g, acc };
  };
  const one = build("");
  const two = build(W1);
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  for (const n of [0, 1, 2, 7]) {
    const a = (await s1.run(one.acc, { n })).toNumbers()[0];
    const b = (await s2.run(two.acc, { n })).toNumbers()[0];
    assert.equal(b, a, `n=${n}`);
  }
  const { at } = await devicesOf(s2, [two.acc], ["n"]);
  assert.equal(at.get("while/cond/odd"), "WASM:1");
});

Deno.test("nested loops: the inner loop's body on another device", async () => {
  const build = (innerOn: string) => {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const [, total] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, t) => {
        // Inner: t ← t + j for j < i.
        const [, inner] = ef.whileLoop(
          (j) => ef.less(j, i),
          (j, u) => [ef.add(j, 1), g.withDevice(innerOn, () => ef.add(u, j, { name: "acc" }))],
          [int(0), t],
          { name: "inner" },
        );
        return [ef.add(i, 1), inner];
      },
      g.asDefault(() => [int(0), int(0)]),
    );
    return { g, total };
  };
  const one = build("");
  const two = build(W1);
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  for (const n of [0, 1, 4]) {
    const a = (await s1.run(one.total, { n })).toArray();
    const b = (await s2.run(two.total, { n })).toArray();
    assert.equal(b, a, `n=${n}`);
  }
  const { at } = await devicesOf(s2, [two.total], ["n"]);
  assert.equal(at.get("while/inner/acc"), "WASM:1");
});

Deno.test("a split loop inside a cond branch not taken ends dead on both devices", async () => {
  const g = new ef.Graph();
  const p = ef.placeholder(g, "bool", [], { name: "p" });
  const x = ef.placeholder(g, "float32", [], { name: "x" });
  const [y] = ef.cond(
    p,
    () =>
      g.withDevice(W0, () =>
        ef.whileLoop(
          (v) => ef.less(v, 50),
          (v) => [g.withDevice(W1, () => ef.mul(v, 2, { name: "twice" }))],
          [x],
        )),
    () => [ef.neg(x)],
  );
  await using s = new ef.Session(g, { deviceCount: { WASM: 2 } });
  for (let k = 0; k < 2; k++) {
    assert.equal((await s.run(y, { p: true, x: 3 })).toNumbers()[0], 96);
    assert.equal((await s.run(y, { p: false, x: 3 })).toNumbers()[0], -3);
  }
  const { at } = await devicesOf(s, [y], ["p", "x"]);
  assert.equal(at.get("cond/while/twice"), "WASM:1");
});

Deno.test("a loop invariant used on another device reaches every iteration there", async () => {
  const build = (on: string) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [2], { name: "x" });
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      // exp(x) reads only the invariant x: on WASM:1 it runs once per iteration there.
      (i, a) => [ef.add(i, 1), ef.add(a, g.withDevice(on, () => ef.exp(x, { name: "e" })))],
      g.asDefault(() => [int(0), ef.constant([0, 0])]),
      { parallelIterations: 2 },
    );
    return { g, acc };
  };
  const one = build(""), two = build(W1);
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  for (const n of [0, 3]) {
    const feed = { x: [0, 1], n };
    assert.deepEqual(
      (await s2.run(two.acc, feed)).toArray(),
      (await s1.run(one.acc, feed)).toArray(),
    );
  }
  const { at } = await devicesOf(s2, [two.acc], ["x", "n"]);
  assert.equal(at.get("while/e"), "WASM:1");
});

Deno.test("a loop variable wholly on another device than the predicate, its Exit on a third", async () => {
  const build = (moved: boolean) => {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const [i, a, b] = g.withDevice(moved ? W0 : "", () =>
      ef.whileLoop(
        (i) => ef.less(i, n),
        (i, a, b) => [ef.add(i, 1), ef.add(a, b), ef.mul(b, 2, { name: "b2" })],
        g.asDefault(() => [int(0), ef.constant(0), ef.constant(1)]),
        { parallelIterations: 4 },
      ));
    if (moved) {
      // Loop variable 2 (its Enter, Merge, Switch, NextIteration and body) on WASM:1, its Exit on
      // REF: its Switch reads the predicate through a Recv it shares with the control loop there.
      for (const name of ["enter_2", "merge_2", "switch_2", "body_2", "b2", "next_iteration_2"]) {
        g.node(`while/${name}`).requestedDevice = W1;
      }
      g.node("while/exit_2").requestedDevice = "/device:REF:0";
    }
    return { g, out: [i, a, b] };
  };
  const one = build(false), two = build(true);
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  for (const n of [0, 1, 6]) {
    const r1 = (await s1.run(one.out, { n })).map((t) => t.toArray());
    const r2 = (await s2.run(two.out, { n })).map((t) => t.toArray());
    assert.deepEqual(r2, r1, `n=${n}`);
  }
  const { at } = await devicesOf(s2, two.out, ["n"]);
  assert.equal(at.get("while/merge_2"), "WASM:1");
  assert.equal(at.get("while/exit_2"), "REF:0");
  assert.equal(at.get("while/loop_cond"), "WASM:0");
});

Deno.test("a loop inside a cond inside a loop, the inner predicate and body on other devices", async () => {
  const build = (split: boolean) => {
    const g = new ef.Graph();
    const n = ef.placeholder(g, "int32", [], { name: "n" });
    const on = (d: string) => (split ? d : "");
    const [, total] = g.withDevice(on(W0), () =>
      ef.whileLoop(
        (i) => ef.less(i, n),
        (i, t) => {
          // On odd i: t ← t·2 repeated i times in an inner loop; on even i: t ← t + 1.
          const odd = ef.equal(ef.sub(i, ef.mul(ef.floorDiv(i, 2), 2)), 1);
          const [next] = ef.cond(
            odd,
            () => [
              ef.whileLoop(
                (j) => g.withDevice(on(W1), () => ef.less(j, i, { name: "inner_less" })),
                (j, u) => [
                  ef.add(j, 1),
                  g.withDevice(on("/device:REF:0"), () => ef.mul(u, 2, { name: "double" })),
                ],
                [int(0), t],
                { name: "inner", parallelIterations: 2 },
              )[1],
            ],
            () => [ef.add(t, 1)],
          );
          return [ef.add(i, 1), next];
        },
        g.asDefault(() => [int(0), int(1)]),
        { parallelIterations: 3 },
      ));
    return { g, total };
  };
  const one = build(false), two = build(true);
  await using s1 = new ef.Session(one.g);
  await using s2 = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  for (const n of [0, 1, 2, 5]) {
    const a = (await s1.run(one.total, { n })).toArray();
    const b = (await s2.run(two.total, { n })).toArray();
    assert.equal(b, a, `n=${n}`);
  }
  const { at } = await devicesOf(s2, [two.total], ["n"]);
  assert.equal(at.get("while/cond/inner/inner_less"), "WASM:1");
  assert.equal(at.get("while/cond/inner/double"), "REF:0");
  assert.equal(at.get("while/loop_cond"), "WASM:0");
});

Deno.test("a loop's node whose request soft placement cannot meet stays with its loop", async () => {
  const two = doubling("/device:WASM:7", W1, 10);
  await using s = new ef.Session(two.g, { deviceCount: { WASM: 2 } });
  const [, acc] = await s.run([two.i, two.acc], { n: 3, x: [1, 1, 1, 1] });
  assert.deepEqual(acc.toArray(), [7, 7, 7, 7]);
  const { at, sends } = await devicesOf(s, [two.i, two.acc], ["n", "x"]);
  assert.equal(at.get("while/twice"), "WASM:1");
  assert.equal(at.get("while/loop_cond"), "WASM:1");
  // Only the feeds' Recvs cross (outside the loop): nothing crosses per iteration.
  assert.ok(Object.keys(sends).every((d) => d.endsWith("WASM:0")), JSON.stringify(sends));
});

Deno.test("an error on one device mid-loop aborts the step everywhere and frees its memory", async () => {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const table = ef.placeholder(g, "float32", [3], { name: "table" });
  const [, acc] = g.withDevice(W0, () =>
    ef.whileLoop(
      (i) => ef.less(i, n),
      // Iteration 3 reads table[3]: out of range on WASM:1.
      (i, a) => [ef.add(i, 1), g.withDevice(W1, () => ef.add(a, ef.gather(table, i, 0)))],
      g.asDefault(() => [int(0), ef.constant(0)]),
    ));
  await using s = new ef.Session(g, { deviceCount: { WASM: 2 } });
  const table3 = [1, 2, 4];
  const d0 = await s.device(W0), d1 = await s.device(W1);
  const memory = () => [d0.memory().inUse, d1.memory().inUse];
  // Two good steps first: what a finished step leaves (kernels' cached uploads) is then known.
  for (let k = 0; k < 2; k++) {
    assert.equal((await s.run(acc, { n: 3, table: table3 })).toNumbers()[0], 7);
  }
  const settled = memory();
  for (let k = 0; k < 2; k++) {
    await assert.rejects(
      s.run(acc, { n: 6, table: table3 }),
      /node 'while\/GatherV2' \(GatherV2\): indices\[\] = [345] is not in \[0, 3\)/,
    );
    assert.deepEqual(memory(), settled, "a failed step leaves nothing behind");
  }
  // The session still runs the loop afterwards.
  assert.equal((await s.run(acc, { n: 2, table: table3 })).toNumbers()[0], 3);
  assert.deepEqual(memory(), settled);
});

// ---- partition structure on NULL devices (nothing runs) ------------------------------------

const nulls = [new NullDevice(0), new NullDevice(1), new NullDevice(2)];

/** Partitions `g` with the nodes named in `where` on those NULL devices, the rest on NULL:0. */
function split(g: ef.Graph, where: (name: string) => number) {
  const nodes = topologicalOrder(g.nodes);
  return partition({
    nodes,
    feeds: [],
    fetches: [],
    deviceOf: (n) => nulls[where(n.name)],
    hostRead: (n, i) => n.op.controlFlow === "Switch" && i === 1,
  });
}

function simpleLoop(g: ef.Graph) {
  return g.asDefault(() =>
    ef.whileLoop(
      (i) => ef.less(i, 5),
      (i, a) => [ef.add(i, 1), ef.mul(a, 2, { name: "twice" })],
      [int(0), ef.constant(1)],
    )
  );
}

Deno.test("partition: a loop on one device gets no control loop", () => {
  const g = new ef.Graph();
  simpleLoop(g);
  const parts = split(g, () => 0);
  assert.equal(parts.length, 1);
  assert.equal(parts[0].controlLoops.length, 0);
  assert.equal(parts[0].sends.length + parts[0].recvs.length, 0);
});

Deno.test("partition: a body op on another device gives both devices a control loop", () => {
  const g = new ef.Graph();
  simpleLoop(g);
  const parts = split(g, (name) => (name === "while/twice" ? 1 : 0));
  const [p0, p1] = [0, 1].map((i) => parts.find((p) => p.device === nulls[i])!);
  const kinds = (nodes: readonly ef.Node[]) => nodes.map((n) => n.op.name).sort();
  // Each device: Const → Enter → Merge ⇄ NextIteration, Switch on the predicate.
  const skeleton = ["Const", "Enter", "Merge", "NextIteration", "Switch"];
  assert.deepEqual(kinds(p0.controlLoops), skeleton);
  assert.deepEqual(kinds(p1.controlLoops), skeleton);
  // Device 0 sends the body's input (Switch:1 through Identity), the Const 2 (it hangs on the
  // body's pivot, in the frame) and the predicate; device 1 sends the product back.
  assert.deepEqual(p0.sends.map((s) => s.attrs.tensor_name).sort(), [
    "while/Const_2:0",
    "while/body_1:0",
    "while/loop_cond:0",
  ]);
  assert.deepEqual(p1.sends.map((s) => s.attrs.tensor_name), ["while/twice:0"]);
  // Every Recv inside the frame hangs on its device's skeleton Merge, so it runs per iteration.
  const merge = (p: typeof p0) => p.controlLoops.find((n) => n.op.name === "Merge")!;
  for (const p of [p0, p1]) {
    for (const r of p.recvs) assert.deepEqual(r.controlInputs, [merge(p)], r.name);
  }
  // Device 1's skeleton Switch reads the predicate's Recv; device 0's the LoopCond itself.
  const sw = (p: typeof p0) => p.controlLoops.find((n) => n.op.name === "Switch")!;
  assert.equal(sw(p1).inputs[1].node.op.name, "_Recv");
  assert.equal(sw(p1).inputs[1].node.attrs.host, true, "the predicate is read in host memory");
  assert.equal(sw(p0).inputs[1].node.name, "while/loop_cond");
  // The skeleton's back edge: Merge reads the NextIteration, which reads Switch:1.
  const next = p1.controlLoops.find((n) => n.op.name === "NextIteration")!;
  assert.equal(merge(p1).inputs[1].node, next);
  assert.equal(next.inputs[0].node, sw(p1));
  assert.equal(next.inputs[0].index, 1);
  // Partitions stay in topological order (back edges excepted).
  for (const p of parts) {
    const pos = new Map(p.nodes.map((n, i) => [n, i]));
    for (const n of p.nodes) {
      for (const o of n.inputs) {
        if (n.op.name === "Merge" && o.node.op.name === "NextIteration") continue;
        assert.ok(pos.get(o.node)! < pos.get(n)!, `${o.node.name} before ${n.name}`);
      }
      for (const c of n.controlInputs) assert.ok(pos.get(c)! < pos.get(n)!);
    }
  }
});

Deno.test("partition: a nested frame on a third device gets the outer frame's control loop too", () => {
  const g = new ef.Graph();
  g.asDefault(() =>
    ef.whileLoop(
      (i) => ef.less(i, 3),
      (i, t) => {
        const [, u] = ef.whileLoop(
          (j) => ef.less(j, i),
          (j, u) => [ef.add(j, 1), ef.add(u, 1, { name: "inc" })],
          [int(0), t],
          { name: "inner" },
        );
        return [ef.add(i, 1), u];
      },
      [int(0), ef.constant(0)],
    )
  );
  const parts = split(g, (name) => (name === "while/inner/inc" ? 2 : 0));
  const p2 = parts.find((p) => p.device === nulls[2])!;
  const p0 = parts.find((p) => p.device === nulls[0])!;
  // Device 2: a skeleton for the outer frame (from a Const) and one for the inner frame (entered
  // from the outer skeleton's Merge, once per outer iteration).
  const enters = p2.controlLoops.filter((n) => n.op.name === "Enter");
  assert.deepEqual(enters.map((e) => e.attrs.frame_name).sort(), ["while", "while/inner"]);
  const innerEnter = enters.find((e) => e.attrs.frame_name === "while/inner")!;
  assert.equal(innerEnter.inputs[0].node.op.name, "Merge");
  assert.equal(innerEnter.inputs[0].node.name, "_control_loop/while/NULL:2/merge");
  assert.equal(p2.controlLoops.filter((n) => n.op.name === "Const").length, 1);
  // Both predicates reach device 2; device 0 needs only the inner frame's skeleton.
  assert.deepEqual(
    p2.recvs.filter((r) => r.attrs.T === "bool").map((r) => r.attrs.tensor_name).sort(),
    ["while/inner/loop_cond:0", "while/loop_cond:0"],
  );
  assert.deepEqual(
    p0.controlLoops.filter((n) => n.op.name === "Enter").map((e) => e.attrs.frame_name).sort(),
    ["while", "while/inner"],
  );
});

Deno.test("partition: a loop variable's Enter, Merge and NextIteration cannot be split", () => {
  const g = new ef.Graph();
  simpleLoop(g);
  assert.throws(
    () => split(g, (name) => (name === "while/merge_1" ? 1 : 0)),
    /loop variable's Enter \(its value exists in iteration 0 only\) from while\/enter_1 .* crosses/,
  );
  // colocateLoops keeps them together: the three share a colocation group.
  const nodes = topologicalOrder(g.nodes).map((n) => n);
  colocateLoops(nodes);
  const merge = g.node("while/merge_1");
  assert.ok(g.node("while/enter_1").colocation.length > 0);
  assert.ok(
    g.node("while/next_iteration_1").colocation.includes(merge.name) ||
      merge.colocation.some((c) => g.node("while/next_iteration_1").colocation.includes(c)),
  );
});
