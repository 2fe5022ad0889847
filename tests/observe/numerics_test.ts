// Numeric debugging: checkNumerics stops at the first NaN/Inf and names the node, op, device and
// input ranges; compareWithReference names the first node (topological order) whose kernel
// differs from the op's reference beyond the kernel's tolerance. On WASM and the TPU.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { deviceFor } from "../kernels/devices.ts";

const DEVICES = ["WASM", "TPU"] as const;

/** x → log → mul by 2 → relu: log(0) is the first -Inf; mul and relu only carry it on. */
function logGraph(device: string) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4], { name: "x" });
  const y = g.withDevice(`/device:${device}:0`, () => {
    const l = ef.log(x, { name: "l" });
    const m = ef.mul(l, g.asDefault(() => ef.constant(2)), { name: "m" });
    return ef.relu(m, { name: "y" });
  });
  return { g, x, y };
}

for (const device of DEVICES) {
  Deno.test(`${device}: checkNumerics names the first node producing Inf, its device and input ranges`, async () => {
    const { g, x, y } = logGraph(device);
    await using s = new ef.Session(g, { device });
    const fine = await s.run(y, [[x, [1, 2, 3, 4]]], [], { checkNumerics: true });
    assert.equal(fine.shape[0], 4);
    // Without the option the run succeeds and carries the -Inf through (relu(-inf) = 0).
    assert.equal((await s.run(y, [[x, [0, 1, 2, 3]]])).data[0], 0);
    const e = await s.run(y, [[x, [0, 1, 2, 3]]], [], { checkNumerics: true }).then(
      () => assert.fail("checkNumerics let -Inf through"),
      (e) => e,
    );
    assert.ok(e instanceof ef.EdgeflowError, String(e));
    assert.equal(e.node, "l");
    assert.equal(e.op, "Log");
    assert.match(e.message, /holds -Infinity \(element 0\)/);
    assert.match(e.message, new RegExp(`device:${device}:0`));
    assert.match(e.message, /input 0 \(x:0\): float32 \[4\] min 0 max 3/);
  });

  Deno.test(`${device}: checkNumerics names a NaN fed in before anything runs`, async () => {
    const { g, x, y } = logGraph(device);
    await using s = new ef.Session(g, { device });
    await assert.rejects(
      s.run(y, [[x, [1, NaN, 1, 1]]], [], { checkNumerics: true }),
      /the value fed for x:0 holds NaN \(element 1\)/,
    );
  });
}

/** A small CNN-like step: conv → relu → mean → matmul, fed an image batch. */
function cnnGraph(device: string) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2, 6, 6, 1], { name: "x" });
  const y = g.withDevice(`/device:${device}:0`, () =>
    g.asDefault(() => {
      const k = ef.constant(
        ef.tensor(Float32Array.from({ length: 9 * 4 }, (_, i) => Math.sin(i)), [3, 3, 1, 4]),
      );
      const c = ef.conv2d(x, k, { strides: [1, 1, 1, 1], padding: "SAME", name: "conv" });
      const r = ef.relu(c, { name: "relu" });
      const p = ef.mean(r, ef.constant([1, 2], { dtype: "int32" }), { name: "pool" });
      const w = ef.constant(
        ef.tensor(Float32Array.from({ length: 4 * 3 }, (_, i) => Math.cos(i)), [4, 3]),
      );
      return ef.matMul(p, w, { name: "logits" });
    }));
  return { g, x, y };
}
const images = ef.tensor(Float32Array.from({ length: 72 }, (_, i) => (i % 7) / 7), [2, 6, 6, 1]);

/** The plugin for `device` with the kernel of `op` replaced. */
function withKernel(device: "WASM" | "TPU", op: string, make: (k: ef.Kernel) => ef.Kernel) {
  const plugin = device === "WASM" ? ef.wasmPlugin : ef.tpuPlugin;
  const registry = new ef.KernelRegistry().install(ef.refPlugin).install({
    ...plugin,
    kernels: plugin.kernels.map((k) => (k.op.name === op ? make(k) : k)),
  });
  return registry;
}

for (const device of DEVICES) {
  Deno.test(`${device}: compareWithReference passes the real kernels and says what it compared`, async () => {
    const { g, x, y } = cnnGraph(device);
    await using s = new ef.Session(g, { device, passes: { constantFolding: false } });
    const metadata = { steps: [] } as ef.RunMetadata;
    await s.run(y, [[x, images]], [], { compareWithReference: true, metadata });
    const c = metadata.comparison!;
    assert.deepEqual(c.differences, []);
    assert.ok(c.compared >= 4, `compared ${c.compared} nodes`);
  });
}

Deno.test("WASM: compareWithReference names a kernel whose output is off", async () => {
  // Relu that runs the real kernel, then moves one element by 0.01 in WASM memory.
  const registry = withKernel("WASM", "Relu", (k) => ({
    ...k,
    create(c) {
      const real = k.create!(c);
      return {
        run(ctx) {
          real.run(ctx);
          const out = ctx.device.peek!(
            (ctx as unknown as { outputs: ef.DeviceBuffer[] }).outputs[0],
          );
          (out.data as Float32Array)[1] += 0.01;
        },
      };
    },
  }));
  const { g, x, y } = cnnGraph("WASM");
  await using s = new ef.Session(g, { registry, device: "WASM" });
  const e = await s.run(y, [[x, images]], [], { compareWithReference: true }).then(
    () => assert.fail("the off kernel passed"),
    (e) => e,
  );
  assert.ok(e instanceof ef.EdgeflowError, String(e));
  assert.equal(e.node, "relu");
  assert.equal(e.op, "Relu");
  // pool and logits read the off value but compute right on it: only relu is named.
  assert.match(e.message, /device:WASM:0 kernel differs .* output 0: element 1: /);
  assert.doesNotMatch(e.message, /later node/);
});

Deno.test("TPU: compareWithReference holds a kernel to its declared tolerance", async () => {
  // The TPU's MatMul rounds operands to bfloat16 (its declared tolerance says so); claiming
  // exactness instead makes the comparison name it.
  const registry = withKernel(
    "TPU",
    "MatMul",
    (k) => ({ ...k, tolerance: { reason: "claims exact" } }),
  );
  const { g, x, y } = cnnGraph("TPU");
  await using s = new ef.Session(g, { registry, device: "TPU" });
  const metadata = { steps: [] } as ef.RunMetadata;
  await assert.rejects(
    s.run(y, [[x, images]], [], { compareWithReference: true, metadata }),
    (e: unknown) =>
      e instanceof ef.EdgeflowError && e.node === "logits" &&
      /device:TPU:0 kernel differs/.test(e.message),
  );
  assert.equal(metadata.comparison!.differences[0].node, "logits");
});

// WebGPU reads values back asynchronously: the observers' promise path (consumers wait for it).
Deno.test("WEBGPU: checkNumerics and compareWithReference through readbacks", async (t) => {
  const gpu = await deviceFor("WEBGPU", t);
  if (!gpu) return;
  {
    const { g, x, y } = logGraph("WEBGPU");
    await using s = new ef.Session(g, { devices: [gpu] });
    await assert.rejects(
      s.run(y, [[x, [0, 1, 2, 3]]], [], { checkNumerics: true }),
      (e: unknown) =>
        e instanceof ef.EdgeflowError && e.node === "l" && /device:WEBGPU:0/.test(e.message),
    );
  }
  const { g, x, y } = cnnGraph("WEBGPU");
  await using s = new ef.Session(g, { devices: [gpu], passes: { constantFolding: false } });
  const metadata = { steps: [] } as ef.RunMetadata;
  await s.run(y, [[x, images]], [], { compareWithReference: true, metadata });
  assert.deepEqual(metadata.comparison!.differences, []);
  assert.ok(metadata.comparison!.compared >= 4);
});

Deno.test("WASM: compareWithReference runs through a while loop and a cond (control-flow nodes only forward)", async () => {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4], { name: "x" });
  const [, y] = ef.whileLoop(
    (i) => ef.less(i, 3),
    (i, v) => [ef.add(i, 1), ef.cond(ef.less(i, 1), () => ef.mul(v, 2), () => ef.relu(v))[0]],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), x],
  );
  await using s = new ef.Session(g, { device: "WASM" });
  const metadata = { steps: [] } as ef.RunMetadata;
  const out = await s.run(y, [[x, [-1, 1, 2, 3]]], [], { compareWithReference: true, metadata });
  assert.deepEqual([...out.data], [0, 2, 4, 6]);
  const c = metadata.comparison!;
  assert.deepEqual(c.differences, []);
  assert.ok(c.skipped.some((s) => /control flow/.test(s.reason)), "control-flow nodes are skipped");
  assert.ok(c.compared >= 3, `compared ${c.compared} nodes`);
});
