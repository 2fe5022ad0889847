import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { HostBuffer } from "../core/buffer.ts";
import type { RefDevice } from "../devices/ref/device.ts";
import { NullDevice } from "../devices/null/device.ts";

Deno.test("peak memory follows the live set, not the graph", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [256, 256], { name: "x" });
  let y = x;
  for (let i = 0; i < 50; i++) y = ef.neg(y);
  await using s = new ef.Session(g, { device: "REF" });
  const ref = await s.device("REF") as RefDevice;
  ref.resetPeak();
  const bytes = 256 * 256 * 4;
  const out = await s.run(y, { x: ef.Tensor.zeros("float32", [256, 256]) });
  assert.equal(out.size, 256 * 256);
  // The feed, the value being read and the one being written: never more than three at once.
  assert.ok(ref.memory().peak <= 3 * bytes, `peak ${ref.memory().peak} > ${3 * bytes}`);
  assert.equal(ref.memory().inUse, 0);
});

Deno.test("a value with several readers lives until the last one ran", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [64], { name: "x" });
  const shared = ef.exp(x);
  let chain = ef.neg(shared);
  for (let i = 0; i < 5; i++) chain = ef.neg(chain);
  const y = ef.add(chain, shared);
  await using s = new ef.Session(g, { device: "REF" });
  const out = await s.run(y, { x: new Array(64).fill(0) });
  assert.deepEqual(out.toNumbers(), new Array(64).fill(2)); // exp(0) negated six times, plus exp(0)
});

Deno.test("NULL device: counts bytes and frees them, computing nothing", async () => {
  const registry = new ef.KernelRegistry().install(ef.nullPlugin);
  const g = new ef.Graph();
  const c = ef.constant(ef.Tensor.zeros("float32", [1000]), { graph: g });
  let y = c;
  for (let i = 0; i < 20; i++) y = ef.neg(y);
  const done = ef.group([y.node]);
  await using s = new ef.Session(g, {
    registry,
    device: "NULL",
    passes: { constantFolding: false },
  });
  await s.run([], {}, [done]);
  const dev = await s.device("NULL") as NullDevice;
  assert.equal(dev.launches, 22); // Const, 20 Neg, NoOp
  assert.ok(dev.memory().peak <= 2 * 4000);
  assert.equal(dev.memory().inUse, 0);
  await assert.rejects(s.run(y), /NULL device computes no values/);
});

/** A device whose Identity kernel finishes only once two kernels are in flight at the same time. */
function overlapPlugin(): ef.DevicePlugin {
  let started = 0;
  let bothStarted!: () => void;
  const gate = new Promise<void>((resolve) => (bothStarted = resolve));
  class AsyncDevice extends NullDevice {
    override upload(t: ef.Tensor) {
      return new HostBuffer(t, this);
    }
    override download(b: ef.DeviceBuffer) {
      return Promise.resolve((b as HostBuffer).tensor);
    }
  }
  const identity = ef.getOp("Identity");
  return {
    type: "NULL",
    create: () => Promise.resolve(new AsyncDevice()),
    kernels: [{
      op: identity,
      async run(ctx: ef.KernelContext) {
        if (++started === 2) bothStarted();
        await gate;
        ctx.setOutput(0, ctx.inputs[0]);
      },
    }],
  };
}

Deno.test("independent asynchronous kernels overlap", async () => {
  const registry = new ef.KernelRegistry().install(overlapPlugin());
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const a = ef.identity(x), b = ef.identity(x);
  // CSE would merge the two identical nodes into one.
  await using s = new ef.Session(g, { registry, device: "NULL", passes: { cse: false } });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("kernels ran one after the other: deadlock")), 5000);
  });
  const [ra, rb] = await Promise.race([s.run([a, b], { x: [1, 2] }), timeout]);
  clearTimeout(timer);
  assert.deepEqual(ra.toNumbers(), [1, 2]);
  assert.deepEqual(rb.toNumbers(), [1, 2]);
});

Deno.test("a kernel error stops the run, names the node and releases buffers", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "int32", [3], { name: "x" });
  const big = ef.exp(ef.placeholder(g, "float32", [1000], { name: "f" }));
  const q = ef.floorDiv(x, ef.sub(x, x), { name: "divide" });
  await using s = new ef.Session(g, { device: "REF" });
  await assert.rejects(
    s.run([q, big], { x: [1, 2, 3], f: new Array(1000).fill(1) }),
    /node 'divide' \(FloorDiv\): integer division by zero/,
  );
  const ref = await s.device("REF") as RefDevice;
  assert.equal(ref.memory().inUse, 0);
});
