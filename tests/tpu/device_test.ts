// The TPU device: HBM capacity and out-of-memory errors, variables in HBM, counted and timed
// transfers, the simulated clock in run metadata, host fallback, and the parameters.
import assert from "node:assert/strict";
import { estimateSeconds, workOf } from "../../core/cost_model.ts";
import type { KernelContext } from "../../core/kernel.ts";
import { defaultMemoryLimit } from "../../core/memory_limit.ts";
import { TpuDevice } from "../../devices/tpu/device.ts";
import { resolveParams, TPU_V4 } from "../../devices/tpu/params.ts";
import { kernelTiming, transferCycles } from "../../devices/tpu/timing.ts";
import * as ef from "../../mod.ts";

const MiB = 2 ** 20;

function matmulGraph(m: number, k: number, n: number) {
  const g = new ef.Graph();
  const a = ef.placeholder(g, "float32", [m, k], { name: "a" });
  const b = ef.placeholder(g, "float32", [k, n], { name: "b" });
  return { g, a, b, c: ef.matMul(a, b, { name: "big" }) };
}
const zeros = (r: number, c: number) => new ef.Tensor("float32", [r, c], new Float32Array(r * c));

Deno.test("HBM: a kernel output past capacity names the node, the bytes asked and free", async () => {
  const { g, c } = matmulGraph(512, 1, 512);
  await using s = new ef.Session(g, { device: "TPU", deviceOptions: { TPU: { hbmBytes: MiB } } });
  const err = await s.run(c, { a: zeros(512, 1), b: zeros(1, 512) }).then(
    () => assert.fail("expected out of memory"),
    (e) => e,
  );
  assert.ok(err instanceof ef.EdgeflowError);
  assert.equal(err.node, "big");
  assert.equal(err.op, "MatMul");
  assert.match(err.message, /out of TPU HBM: a buffer the kernel writes \(float32\[512,512\]\)/);
  assert.match(err.message, /asks 1048576 bytes \(1\.00 MiB\), but only 1044480 bytes/);
  const device = await s.device("TPU");
  assert.equal(device.memory().inUse, 0, "the inputs were released after the failure");
});

Deno.test("HBM: an upload past capacity names its consumer and the bytes", async () => {
  const { g, c } = matmulGraph(512, 513, 1);
  await using s = new ef.Session(g, { device: "TPU", deviceOptions: { TPU: { hbmBytes: MiB } } });
  const err = await s.run(c, { a: zeros(512, 513), b: zeros(513, 1) }).then(
    () => assert.fail("expected out of memory"),
    (e) => e,
  );
  assert.ok(err instanceof ef.EdgeflowError);
  assert.equal(err.node, "big");
  assert.match(
    err.message,
    /host→HBM upload of a tensor \(float32\[512,513\]\) asks 1050624 bytes/,
  );
});

Deno.test("HBM: variables live there and count against capacity", async () => {
  const g = new ef.Graph();
  const v = new ef.Variable(zeros(256, 256), { graph: g, name: "v" });
  const w = new ef.Variable(zeros(256, 512), { graph: g, name: "w" });
  await using s = new ef.Session(g, {
    device: "TPU",
    deviceOptions: { TPU: { hbmBytes: 600 * 1024 } },
  });
  await s.run([], {}, [v.initializer]);
  const device = await s.device("TPU");
  assert.equal(device.memory().inUse, 256 * 256 * 4);
  assert.equal(device.memory().capacity, 600 * 1024);
  await assert.rejects(s.run([], {}, [w.initializer]), /out of TPU HBM/);
  // AssignAdd updates in place: once its delta is freed, only the variable is left.
  await s.run([], {}, [v.assignAdd(zeros(256, 256))]);
  assert.equal(device.memory().inUse, 256 * 256 * 4);
});

Deno.test("transfers are counted and timed on the host link; kernels wait for their inputs", async () => {
  const { g, c } = matmulGraph(64, 32, 16);
  await using s = new ef.Session(g, { device: "TPU" });
  const device = await s.device("TPU") as TpuDevice;
  const metadata: ef.RunMetadata = { steps: [] };
  await s.run(c, { a: zeros(64, 32), b: zeros(32, 16) }, [], { metadata });
  const { uploads, downloads } = device.clock.counters;
  assert.deepEqual([uploads.count, uploads.bytes], [2, (64 * 32 + 32 * 16) * 4]);
  assert.deepEqual([downloads.count, downloads.bytes], [1, 64 * 16 * 4]);
  const f = device.figures;
  assert.equal(uploads.cycles, transferCycles(f, 64 * 32 * 4) + transferCycles(f, 32 * 16 * 4));
  const step = metadata.steps.find((st) => st.node === "big")!;
  const stats = step.deviceStats!;
  // Both uploads share the host→HBM link, so the kernel starts after both.
  assert.equal(stats.startCycle, uploads.cycles);
  const timing = kernelTiming(device.params, f, {
    matmuls: [{ batch: 1, m: 64, k: 32, n: 16 }],
    vpuOps: 64 * 32 + 32 * 16 + 64 * 16,
    hbmBytes: (64 * 32 + 32 * 16 + 64 * 16) * 4,
  });
  assert.equal(stats.cycles, timing.cycles);
  assert.equal(stats.endCycle, stats.startCycle + stats.cycles);
  assert.equal(stats.flops, 2 * 64 * 32 * 16);
  assert.equal(device.clock.now, stats.endCycle + downloads.cycles);
});

Deno.test("ops without a TPU kernel run on the host; their results are uploaded and counted", async () => {
  const g = new ef.Graph();
  const r = ef.randomUniform([4, 4], { seed: 1, graph: g });
  const y = ef.relu(r, { name: "y" });
  await using s = new ef.Session(g, { device: "TPU" });
  const metadata: ef.RunMetadata = { steps: [] };
  const out = await s.run(y, [], [], { metadata });
  assert.equal(out.shape.join(), "4,4");
  const device = await s.device("TPU") as TpuDevice;
  assert.equal(device.clock.counters.uploads.count, 1);
  assert.match(metadata.steps.find((st) => st.op === "RandomUniform")!.device, /REF/);
  assert.match(metadata.steps.find((st) => st.node === "y")!.device, /TPU/);
});

Deno.test("every TPU kernel reports its work; one that does not is refused", () => {
  const device = new TpuDevice();
  const ctx = { node: { name: "n", op: { name: "X" } }, inputs: [] } as unknown as KernelContext;
  const silent = { op: ef.NoOp, run() {} };
  assert.throws(() => device.run(silent, ctx), /did not report its work/);
});

Deno.test("parameters: TPU v4 by default, configurable, validated", () => {
  const d = new TpuDevice();
  assert.deepEqual(d.params, resolveParams());
  assert.ok(Math.abs(d.figures.peakFlops / 275e12 - 1) < 0.005, "Google's 275 TFLOP/s per chip");
  assert.equal(d.performance.flops, d.figures.peakFlops);
  assert.equal(d.performance.bandwidth, 1.2e12);
  // The emulated 32 GiB HBM, bounded by the host's share (core/memory_limit.ts).
  assert.equal(d.memory().capacity, Math.min(32 * 2 ** 30, defaultMemoryLimit()));
  assert.equal(new TpuDevice({ memoryLimit: 2 ** 50 }).memory().capacity, 32 * 2 ** 30);
  const small = new TpuDevice({ index: 1, mxuRows: 8, mxuCols: 8, tensorCores: 1 });
  assert.equal(small.name, "/job:localhost/replica:0/task:0/device:TPU:1");
  assert.equal(small.figures.peakFlops, 2 * 4 * 64 * TPU_V4.clockHz);
  assert.throws(
    () => new TpuDevice({ mxuRows: 0 }),
    /TPU parameter mxuRows must be a positive integer/,
  );
  assert.throws(
    () => new TpuDevice({ hbmBandwidth: "fast" }),
    /hbmBandwidth must be a positive number/,
  );
});

Deno.test("the placer's cost model reads the TPU's speeds and kernel costs", async () => {
  const { g, c } = matmulGraph(2048, 2048, 2048);
  const kernel = ef.defaultRegistry.kernelFor(c.node, "TPU")!;
  const specs = c.node.inputs.map((o) => ({ dtype: o.dtype, shape: o.shape }));
  const estimate = estimateSeconds(
    new TpuDevice().performance,
    workOf(kernel, specs, [c], c.node.attrs),
  );
  await using s = new ef.Session(g, { device: "TPU" });
  const device = await s.device("TPU") as TpuDevice;
  const t = kernelTiming(device.params, device.figures, {
    matmuls: [{ batch: 1, m: 2048, k: 2048, n: 2048 }],
  });
  const simulated = device.seconds(t.cycles);
  assert.ok(
    estimate > 0.8 * simulated && estimate < 1.5 * simulated,
    `${estimate} vs ${simulated}`,
  );
});

Deno.test("the variables example trains on the TPU as on the host", async () => {
  const losses: number[][] = [];
  for (const device of ["REF", "TPU"]) {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [null], { name: "x" });
    const y = ef.placeholder(g, "float32", [null], { name: "y" });
    const w = new ef.Variable(0, { graph: g, name: "w", dtype: "float32" });
    const b = new ef.Variable(0, { graph: g, name: "b", dtype: "float32" });
    const error = ef.sub(ef.add(ef.mul(w.read(), x), b.read()), y);
    const loss = ef.mean(ef.square(error), [0]);
    const train = ef.group([
      w.assignSub(ef.mul(ef.mean(ef.mul(ef.mul(error, x), 2), [0]), 0.1)),
      b.assignSub(ef.mul(ef.mean(ef.mul(error, 2), [0]), 0.1)),
    ]);
    const xs = Array.from({ length: 32 }, (_, i) => i / 16 - 1);
    const ys = xs.map((v) => 3 * v - 1);
    await using s = new ef.Session(g, { device });
    await s.run([], {}, [ef.globalVariablesInitializer(g)]);
    const history: number[] = [];
    for (let step = 0; step < 100; step++) {
      await s.run([], { x: xs, y: ys }, [train]);
      if (step % 25 === 24) history.push((await s.run(loss, { x: xs, y: ys })).toNumbers()[0]);
    }
    losses.push(history);
  }
  losses[1].forEach((l, i) => assert.ok(Math.abs(l - losses[0][i]) <= 1e-5 + 1e-3 * losses[0][i]));
  assert.ok(losses[1][3] < 0.01);
});
