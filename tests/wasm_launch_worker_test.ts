// The WASM device launching from a worker (`launch: "worker"`, the default of a session with
// several WASM devices on a machine with a core per launcher besides the JS thread's): results
// equal the on-thread launch's, two devices compute at once (seen in the launcher's timestamps,
// not timed), kernel failures in the launcher are EdgeflowErrors naming the node and op, memory
// freed under a pending kernel waits for it, and closing ends what is in flight.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { wasmPlugin } from "../kernels_wasm/plugin.ts";
import { Task } from "../kernels_wasm/tasks.ts";
import type { WasmDevice } from "../devices/wasm/device.ts";
import type { KernelContext } from "../core/kernel.ts";

function values(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
}

/** MatMul, Conv2D, batch norm in training (its kernel reads statistics a launch wrote), a
 * reduction, a gather and elementwise ops: the launch paths kernels take. */
function mixed() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4, 8, 8, 3], { name: "x" });
  const f = ef.constant(ef.tensor(values(3 * 3 * 3 * 8, 1), [3, 3, 3, 8]), { graph: g });
  const conv = ef.conv2d(x, f, { strides: [1, 1, 1, 1], padding: "SAME" });
  const empty = ef.constant(ef.tensor(new Float32Array(0), [0]), { graph: g });
  const [bn] = ef.fusedBatchNorm(
    conv,
    ef.constant(ef.tensor(values(8, 2).map((v) => 1 + v), [8]), { graph: g }),
    ef.constant(ef.tensor(values(8, 3), [8]), { graph: g }),
    empty,
    empty,
    { is_training: true },
  );
  const flat = ef.reshape(ef.relu(bn), [4, 8 * 8 * 8]);
  const w = ef.constant(ef.tensor(values(512 * 96, 4), [512, 96]), { graph: g });
  const h = ef.tanh(ef.matMul(flat, w));
  const picked = ef.gather(h, ef.constant(ef.tensor(new Int32Array([3, 0, 2]), [3]), { graph: g }));
  const y = ef.add(ef.sum(picked, [1]), ef.max(ef.gather(h, [1, 1, 3]), [1]));
  return { g, y, feed: ef.tensor(values(4 * 8 * 8 * 3, 5), [4, 8, 8, 3]) };
}

Deno.test("launching from a worker computes what launching from the JS thread computes", async () => {
  const { g, y, feed } = mixed();
  const results: Float32Array[] = [];
  for (const launch of ["thread", "worker"] as const) {
    await using s = new ef.Session(g, { deviceOptions: { WASM: { launch, threads: 2 } } });
    const d = await s.device("/device:WASM:0") as WasmDevice;
    assert.equal(d.launchMode, launch);
    assert.equal(d.runsOn, launch === "thread" ? "js-thread" : undefined);
    results.push((await s.run(y, { x: feed })).data as Float32Array);
    // Twice: the second run reuses freed blocks.
    assert.deepEqual(await s.run(y, { x: feed }).then((t) => t.data), results.at(-1));
  }
  assert.deepEqual(results[1], results[0], "the same threads compute the same bits");
});

/**
 * Matmul chains of `depth` products of n×n, one per device, joined at the end. Products long
 * enough (tens of ms) that on a busy machine, where a thread waits its turn for milliseconds,
 * the two devices' kernels are still in progress at once.
 */
function twoChains(n = 384, depth = 2) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [n, n], { name: "x" });
  const w = ef.constant(ef.tensor(values(n * n, 6).map((v) => v / 8), [n, n]), { graph: g });
  const ends = [0, 1].map((d) =>
    g.withDevice(`/device:WASM:${d}`, () => {
      let h = x;
      for (let i = 0; i < depth; i++) h = ef.matMul(h, w);
      return ef.sum(h, [0, 1]);
    })
  );
  return { g, x, y: ef.add(ends[0], ends[1]), feed: ef.tensor(values(n * n, 7), [n, n]) };
}

Deno.test("two WASM devices of a session compute at once: their launchers' spans overlap", async () => {
  const { g, y, feed } = twoChains(640, 1);
  const cores = navigator.hardwareConcurrency;
  {
    // By default several devices launch from workers only where each launcher has a core of its
    // own beside the JS thread's; otherwise they take turns on the JS thread with every core.
    await using d = new ef.Session(g, { deviceCount: { WASM: 2 } });
    const dev = await d.device("/device:WASM:1") as WasmDevice;
    assert.equal(dev.launchMode, cores > 2 ? "worker" : "thread");
    assert.equal(dev.threads, cores > 2 ? Math.floor(cores / 2) : cores);
  }
  await using s = new ef.Session(g, {
    deviceCount: { WASM: 2 },
    deviceOptions: { WASM: { launch: "worker" } },
  });
  for (const i of [0, 1]) {
    const d = await s.device(`/device:WASM:${i}`) as WasmDevice;
    assert.equal(d.launchMode, "worker");
    assert.equal(d.threads, Math.max(1, Math.floor(cores / 2)), "each takes half the cores");
  }
  await using one = new ef.Session(g, { deviceOptions: { WASM: { launch: "thread" } } });
  const want = (await one.run(y, { x: feed })).toNumbers();
  let overlapped = false;
  for (let attempt = 0; attempt < 5 && !overlapped; attempt++) {
    const metadata = {} as ef.RunMetadata;
    const got = await s.run(y, { x: feed }, [], { trace: true, metadata });
    assert.deepEqual(got.toNumbers(), want);
    const first = (dev: string) =>
      metadata.steps!.find((st) => st.op === "MatMul" && st.device.endsWith(dev))!;
    const [a, b] = [first("WASM:0"), first("WASM:1")];
    // The launchers, each on its own thread, ran them at the same time (the machine may be busy
    // enough to run one thread at a time: then another attempt).
    const [sa, sb] = [a.deviceStats!, b.deviceStats!];
    assert.ok(sa.launcherEnd >= sa.launcherStart && sb.launcherEnd >= sb.launcherStart);
    overlapped = Math.max(sa.launcherStart, sb.launcherStart) <
      Math.min(sa.launcherEnd, sb.launcherEnd);
  }
  assert.ok(overlapped, "in five runs the two devices' first products never overlapped");
});

Deno.test("the placer spreads independent branches over two WASM devices that launch from workers", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [256, 256], { name: "x" });
  const ends = [0, 1, 2, 3].map((b) =>
    g.withNameScope(`b${b}`, () => {
      // Weights of its own: identical branches would be merged into one (cse).
      const w = ef.constant(ef.tensor(values(256 * 256, 8 + b), [256, 256]), { graph: g });
      return ef.sum(ef.tanh(ef.matMul(ef.matMul(x, w), w)), [0, 1]);
    })
  );
  const y = ends.reduce((a, b) => ef.add(a, b));
  const devicesOfMatMuls = async (options: ef.SessionOptions) => {
    await using s = new ef.Session(g, options);
    const ex = await s.explainPlacement(y, [x], [], false);
    return new Set(ex.nodes.filter((r) => r.op === "MatMul").map((r) => r.device.slice(-6)));
  };
  assert.deepEqual(
    [
      ...await devicesOfMatMuls({
        deviceCount: { WASM: 2 },
        deviceOptions: { WASM: { launch: "worker" } },
      }),
    ].sort(),
    ["WASM:0", "WASM:1"],
  );
  // Taking turns on the JavaScript thread, a second device gains nothing: all on one.
  const turns = await devicesOfMatMuls({
    deviceCount: { WASM: 2 },
    deviceOptions: { WASM: { launch: "thread" } },
  });
  assert.equal(turns.size, 1);
});

const Trap = ef.defineOp<{ T: ef.DType }>({
  name: "TestTrapInLauncher",
  inputs: [{ name: "x", type: "T" }],
  outputs: [{ name: "y", type: "T" }],
  attrs: { T: { kind: "type", allowed: ["float32"] } },
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  reference: ([x]) => [x],
});

/** A registry whose WASM kernel for Trap writes far outside the memory (a trap in the task). */
function trapping(readBack: boolean) {
  const registry = new ef.KernelRegistry().install(wasmPlugin).install(ef.refPlugin);
  registry.addKernel(
    "WASM",
    ef.defineKernel<{ T: ef.DType }, WasmDevice>(Trap, {
      dtypes: ["float32"],
      run(ctx) {
        const d = ctx.device;
        ctx.output(0);
        d.launch(Task.task_fill, 1, [0x7fff0000, 4096, 4, 1, 0]);
        // A kernel that reads after its launch waits for it here (and fails here).
        if (readBack) void d.f32[0];
      },
    }),
  );
  return registry;
}

for (const readBack of [false, true]) {
  Deno.test(`a task failing in the launcher fails the step, naming node and op (${readBack ? "read back in the kernel" : "seen when the kernel's promise settles"})`, async () => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [4], { name: "x" });
    const y = g.addNode(Trap, [x], { T: "float32" }, { name: "trap" }).outputs[0];
    const ok = ef.neg(x, { name: "fine" });
    await using s = new ef.Session(g, {
      registry: trapping(readBack),
      deviceOptions: { WASM: { launch: "worker", threads: 1 } },
    });
    const err = await s.run(y, { x: [1, 2, 3, 4] }).then(() => null, (e) => e);
    assert.ok(err instanceof ef.EdgeflowError, `got ${err}`);
    assert.equal(err.node, "trap");
    assert.equal(err.op, "TestTrapInLauncher");
    assert.match(err.message, /WASM:0: task_fill: RuntimeError/);
    // The device goes on serving the next step.
    assert.deepEqual((await s.run(ok, { x: [1, 2, 3, 4] })).toNumbers(), [-1, -2, -3, -4]);
  });
}

/** Runs `launch` on the device as a kernel: it returns once the kernel is queued. */
function runKernel(d: WasmDevice, launch: () => void): void {
  assert.equal(d.run({ run: launch }, {} as KernelContext), undefined);
}

Deno.test("a queued kernel's results are seen by whoever reads memory", async () => {
  const d = (await wasmPlugin.create({ launch: "worker", threads: 1 }))!;
  try {
    const a = d.allocate({ dtype: "int32", shape: [1 << 20] });
    runKernel(d, () => d.launch(Task.task_fill, 64, [a.ptr, 4 << 20, 4, 5, 0]));
    // A view waits (blocking) for the queue ...
    assert.equal((d.peek(a).data as Int32Array)[(1 << 20) - 1], 5);
    runKernel(d, () => d.launch(Task.task_fill, 64, [a.ptr, 4 << 20, 4, 6, 0]));
    // ... a download without blocking ...
    assert.equal(((await d.download(a)).data as Int32Array)[12345], 6);
    runKernel(d, () => d.launch(Task.task_fill, 64, [a.ptr, 4 << 20, 4, 8, 0]));
    // ... and so does a copy to another device.
    await using other = (await wasmPlugin.create({ index: 1, launch: "worker", threads: 1 }))!;
    const moved = await d.transferTo(a, other)!;
    assert.equal(((await other.download(moved)).data as Int32Array)[777], 8);
    other.free(moved);
    d.free(a);
  } finally {
    await d[Symbol.asyncDispose]();
  }
});

Deno.test("memory freed under a pending kernel is reused only once the kernel is done", async () => {
  const d = (await wasmPlugin.create({ launch: "worker", threads: 1 }))!;
  try {
    const spec = { dtype: "float32" as const, shape: [1 << 20] };
    const a = d.allocate(spec);
    runKernel(d, () => d.launch(Task.task_fill, 64, [a.ptr, 4 << 20, 4, 7, 0]));
    d.free(a);
    const b = d.allocate(spec);
    assert.notEqual(b.ptr, a.ptr, "the block a pending kernel writes is not handed out");
    await d.sync();
    const c = d.allocate(spec);
    assert.equal(c.ptr, a.ptr, "once the kernel is done, the block comes back");
    d.free(b);
    d.free(c);
    // A launch outside a kernel's run is done when it returns.
    const e = d.allocate({ dtype: "int32", shape: [4] });
    d.launch(Task.task_fill, 1, [e.ptr, 16, 4, 9, 0]);
    assert.deepEqual([...d.peek(e).data as Int32Array], [9, 9, 9, 9]);
    d.free(e);
  } finally {
    await d[Symbol.asyncDispose]();
  }
});

Deno.test("out of memory with frees pending, an allocation waits for the kernels and gets the memory", async () => {
  const d = (await wasmPlugin.create({ launch: "worker", threads: 1, maxMemory: 48 << 20 }))!;
  try {
    const spec = { dtype: "float32" as const, shape: [4 << 20] }; // 16 MiB
    const a = d.allocate(spec);
    runKernel(d, () => d.launch(Task.task_fill, 256, [a.ptr, 16 << 20, 4, 3, 0]));
    d.free(a);
    const b = d.allocate(spec);
    // A third 16 MiB block fits only in a's, which the pending kernel still writes.
    const c = d.allocate(spec);
    assert.equal(c.ptr, a.ptr);
    d.free(b);
    d.free(c);
  } finally {
    await d[Symbol.asyncDispose]();
  }
});

Deno.test("closing a device fails its kernels in flight and ends its workers", async () => {
  const d = (await wasmPlugin.create({ launch: "worker", threads: 2 }))!;
  const a = d.allocate({ dtype: "float32", shape: [1 << 22] });
  runKernel(d, () => d.launch(Task.task_fill, 256, [a.ptr, 16 << 20, 4, 7, 0]));
  const done = d.sync();
  assert.ok(done instanceof Promise, "the kernel is still queued");
  await d[Symbol.asyncDispose]();
  await assert.rejects(done, /WASM:0 was closed with kernels in flight/);
  assert.throws(() => d.allocate({ dtype: "float32", shape: [1] }), /is closed/);
});

Deno.test("a session of two worker-launching devices closes while a step runs", async () => {
  const { g, y, feed } = twoChains();
  // Closed at different points of a step: before it starts, while its kernels are in flight.
  for (const delay of [-1, 0, 1, 5]) {
    const s = new ef.Session(g, { deviceCount: { WASM: 2 } });
    const want = (await s.run(y, { x: feed })).toNumbers();
    const run = s.run(y, { x: feed });
    if (delay >= 0) await new Promise((r) => setTimeout(r, delay));
    await s.close();
    // The step ends either way: with its value, or with an EdgeflowError saying why.
    const got = await run.then((t) => t.toNumbers(), (e) => e);
    if (Array.isArray(got)) assert.deepEqual(got, want);
    else {
      assert.ok(got instanceof ef.EdgeflowError, `got ${got}`);
      assert.match(got.message, /closed/);
    }
    await assert.rejects(s.run(y, { x: feed }), /the session is closed/);
  }
});

Deno.test("the placer charges launches from a worker to the JS thread, which issues them all", async () => {
  // Eight independent tiny ops: their time is all launch (1 ms each in this profile).
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4], { name: "x" });
  const ends = Array.from({ length: 8 }, (_, i) => ef.neg(ef.add(x, i + 1)));
  const y = ends.reduce((a, b) => ef.mul(a, b));
  const profile = (launch: number, flops: number) => ({
    version: 1 as const,
    devices: { WASM: { launch, flops, bandwidth: 1e15, transfer: 1e15 } },
  });
  const makespan = async (launch: number, flops: number) => {
    await using s = new ef.Session(g, {
      deviceCount: { WASM: 2 },
      deviceOptions: { WASM: { launch: "worker" } },
      costProfile: profile(launch, flops),
    });
    const d = await s.device("/device:WASM:1") as WasmDevice;
    assert.equal(d.launchesOn, "js-thread");
    return (await s.explainPlacement(y, [x], [], false)).makespan;
  };
  // 23 kernels (8 Add, 8 Neg, 7 Mul) issued one after another from the JS thread, however the
  // placer spreads them: two devices do not halve what the thread issuing them does.
  const m = await makespan(1e-3, 1e15);
  assert.ok(m >= 23e-3 - 1e-9, `simulated ${m * 1e3} ms`);
});
