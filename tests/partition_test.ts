// core/partition.ts, core/rendezvous.ts and the step coordinator on NULL devices (which count
// bytes and compute nothing): Send/Recv counts, one Recv per (tensor, destination), control edges,
// host-memory values, Recvs as late as possible, and an error in one partition aborting the step.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { NullDevice } from "../devices/null/device.ts";
import { partition } from "../core/partition.ts";
import { topologicalOrder } from "../core/passes/topo.ts";
import { LocalRendezvous } from "../core/rendezvous.ts";
import { HostBuffer } from "../core/buffer.ts";

const devs = [new NullDevice(0), new NullDevice(1), new NullDevice(2)];

function split(g: ef.Graph, where: Record<string, number>, fetches: ef.Output[] = []) {
  const nodes = topologicalOrder(g.nodes);
  return partition({
    nodes,
    feeds: [],
    fetches,
    deviceOf: (n) => devs[where[n.name] ?? 0],
    hostRead: (n, i) => n.op.name === "Reshape" && i === 1,
  });
}

Deno.test("partition: one Send/Recv pair per (tensor, destination), however many readers", () => {
  const g = new ef.Graph();
  const x = ef.constant([1, 2, 3, 4], { graph: g, name: "x" });
  const a = ef.neg(x, { name: "a" });
  ef.add(a, a, { name: "b1" }); // two reads on device 1: one Recv
  ef.mul(a, a, { name: "b2" });
  ef.exp(a, { name: "c" }); // device 2: a second pair
  ef.abs(a, { name: "d" }); // device 0: no pair
  const parts = split(g, { b1: 1, b2: 1, c: 2 });
  const on = (i: number) => parts.find((p) => p.device === devs[i])!;
  assert.equal(on(0).sends.length, 2);
  assert.equal(on(1).recvs.length, 1);
  assert.equal(on(2).recvs.length, 1);
  const b1 = on(1).nodes.find((n) => n.name === "b1")!;
  assert.equal(b1.inputs[0].node, on(1).recvs[0]);
  assert.equal(b1.inputs[1].node, on(1).recvs[0]);
  assert.equal(on(1).nodes.find((n) => n.name === "b2")!.inputs[0].node, on(1).recvs[0]);
  assert.equal(on(1).recvs[0].attrs.tensor_name, "a:0");
  assert.match(on(1).recvs[0].attrs.send_device as string, /NULL:0$/);
  // Recvs come before their readers, Sends after their producer.
  for (const p of parts) {
    const at = new Map(p.nodes.map((n, i) => [n, i]));
    for (const n of p.nodes) for (const o of n.inputs) assert.ok(at.get(o.node)! < at.get(n)!);
  }
  // The unchanged node is the placed graph's own; a reader of a Recv is a copy.
  assert.equal(on(0).nodes.find((n) => n.name === "d"), g.node("d"));
  assert.notEqual(b1, g.node("b1"));
});

Deno.test("partition: control edges cross as a token pair; host-memory readers get a host Recv", () => {
  const g = new ef.Graph();
  const x = ef.constant([1, 2, 3, 4], { graph: g, name: "x" });
  const a = ef.neg(x, { name: "a" });
  const shape = ef.constant([2, 2], { graph: g, name: "shape", dtype: "int32" });
  g.withControlDependencies([a.node], () => ef.reshape(x, shape, { name: "r" }));
  const parts = split(g, { r: 1 });
  const one = parts.find((p) => p.device === devs[1])!;
  const r = one.nodes.find((n) => n.name === "r")!;
  assert.equal(r.controlInputs.length, 1);
  const token = r.controlInputs[0];
  assert.equal(token.op.name, "_Recv");
  assert.equal(token.outputs.length, 0);
  assert.equal(token.attrs.tensor_name, "^a");
  const shapeRecv = r.inputs[1].node;
  assert.equal(shapeRecv.attrs.host, true, "the shape is read in host memory");
  assert.equal(r.inputs[0].node.attrs.host, false);
  assert.equal(one.recvs.length, 3);
});

Deno.test("rendezvous: send before or after recv, abort fails waiters and releases values", async () => {
  const r = new LocalRendezvous();
  const key = (t: string) => ({ src: "a", dst: "b", tensor: t, frame: "", iteration: 0 });
  const v = new HostBuffer(ef.tensor([1]));
  v.refs = 1;
  r.send(key("x"), v);
  assert.equal(await r.recv(key("x")), v);
  const later = r.recv(key("y"));
  r.send(key("y"), v);
  assert.equal(await later, v);
  const dev = new NullDevice();
  const held = dev.allocate({ dtype: "float32", shape: [100] });
  held.refs = 1;
  r.send(key("z"), held);
  const waiting = r.recv(key("w"));
  const error = new ef.EdgeflowError("boom", { node: "n" });
  r.abort(error);
  await assert.rejects(waiting, /boom/);
  await assert.rejects(r.recv(key("q")), /boom/);
  assert.throws(() => r.send(key("q"), v), /boom/);
  assert.equal(dev.memory().inUse, 0, "the value in flight was released");
  assert.equal(r.pending, 0);
  // A key has one frame and iteration: the same tensor in another iteration is another value.
  const r2 = new LocalRendezvous();
  r2.send({ ...key("x"), iteration: 1 }, v);
  r2.send(key("x"), v);
  assert.equal(r2.pending, 2);
});

/** A session over two NULL devices with some nodes requested on device 1. */
function nullSession(g: ef.Graph) {
  const registry = new ef.KernelRegistry().install(ef.nullPlugin);
  return new ef.Session(g, {
    registry,
    deviceCount: { NULL: 2 },
    allowSoftPlacement: false,
    passes: { constantFolding: false, cse: false },
  });
}

Deno.test("Recvs run as late as possible: peak memory on the receiver follows its live set", async () => {
  // Device 0 makes K tensors early; device 1 runs a long chain that reads tensor i at step i. If
  // every Recv started at once, device 1 would hold all K; started when needed, about two.
  const K = 8, bytes = 64 * 64 * 4;
  const g = new ef.Graph();
  const src = ef.constant(ef.Tensor.zeros("float32", [64, 64]), { graph: g, name: "src" });
  const made = g.withDevice(
    "/device:NULL:0",
    () => Array.from({ length: K }, (_, i) => ef.neg(src, { name: `made${i}` })),
  );
  let h = g.withDevice(
    "/device:NULL:1",
    () => ef.neg(ef.constant(ef.Tensor.zeros("float32", [64, 64]), { graph: g, name: "start" })),
  );
  g.withDevice("/device:NULL:1", () => {
    for (let i = 0; i < K; i++) {
      for (let j = 0; j < 3; j++) h = ef.neg(h);
      h = ef.add(h, made[i], { name: `use${i}` });
    }
  });
  const done = ef.group([h.node]);
  await using s = nullSession(g);
  await s.run([], {}, [done]);
  const d1 = await s.device("/device:NULL:1");
  const d0 = await s.device("/device:NULL:0");
  const ex = await s.explainPlacement([], [], [done], false);
  assert.equal(ex.sends[d0.name], K);
  assert.ok(d1.memory().peak <= 4 * bytes, `receiver peak ${d1.memory().peak} > ${4 * bytes}`);
  assert.equal(d1.memory().inUse, 0);
  assert.equal(d0.memory().inUse, 0);
});

Deno.test("an error in one partition aborts the step in every partition and releases their buffers", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4], { name: "x" });
  const bad = g.withDevice(
    "/device:REF:0",
    () => ef.gather(x, ef.constant([9], { graph: g, dtype: "int32" }), 0, { name: "bad" }),
  );
  // A WASM partition waits on the REF result, which fails its index check.
  const y = g.withDevice("/device:WASM:1", () => ef.add(ef.exp(x), bad, { name: "y" }));
  await using s = new ef.Session(g, { deviceCount: { WASM: 2, REF: 1 } });
  await assert.rejects(s.run(y, { x: [1, 2, 3, 4] }), /node 'bad' \(GatherV2\)/);
  for (const name of ["/device:WASM:0", "/device:WASM:1", "/device:REF:0"]) {
    assert.equal((await s.device(name)).memory().inUse, 0, name);
  }
  // The session still runs after the failed step.
  const fine = g.withDevice("/device:WASM:1", () => ef.exp(x, { name: "fine" }));
  assert.equal((await s.run(fine, { x: [0, 0, 0, 0] })).toNumbers()[0], 1);
});

Deno.test("partitions run concurrently: a kernel on each device is in flight at once", async () => {
  // Each Identity finishes only once both are running: one executor after the other deadlocks.
  let started = 0;
  let both!: () => void;
  const gate = new Promise<void>((resolve) => (both = resolve));
  class AsyncNull extends NullDevice {
    override upload(t: ef.Tensor) {
      return new HostBuffer(t, this);
    }
    override download(b: ef.DeviceBuffer) {
      return Promise.resolve((b as HostBuffer).tensor);
    }
  }
  const plugin: ef.DevicePlugin = {
    type: "NULL",
    create: (o) => Promise.resolve(new AsyncNull(o?.index ?? 0)),
    kernels: [{
      op: ef.getOp("Identity"),
      async run(ctx: ef.KernelContext) {
        if (++started === 2) both();
        await gate;
        ctx.setOutput(0, ctx.inputs[0]);
      },
    }],
  };
  const registry = new ef.KernelRegistry().install(plugin);
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const a = ef.identity(x, { name: "a", device: "/device:NULL:0" });
  const b = ef.identity(x, { name: "b", device: "/device:NULL:1" });
  await using s = new ef.Session(g, { registry, deviceCount: { NULL: 2 }, passes: { cse: false } });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("partitions ran one after the other")), 5000);
  });
  const [ra, rb] = await Promise.race([s.run([a, b], { x: [1, 2] }), timeout]);
  clearTimeout(timer);
  assert.deepEqual(ra.toNumbers(), [1, 2]);
  assert.deepEqual(rb.toNumbers(), [1, 2]);
  const ex = await s.explainPlacement([a, b], [], [], false);
  assert.deepEqual(ex.nodes.filter((r) => r.op === "Identity").map((r) => r.device.slice(-6)), [
    "NULL:0",
    "NULL:1",
  ]);
});
