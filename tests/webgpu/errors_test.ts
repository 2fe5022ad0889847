// Failures on the WebGPU device become EdgeflowErrors that say what happened: WGSL that does not
// compile (naming the op and quoting the compiler), device loss, and out of memory. After a loss
// or an out-of-memory error a new session gets a working device.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { createWebGpuDevice } from "../../devices/webgpu/create.ts";
import type { Program } from "../../devices/webgpu/program.ts";
import { defineGpuKernel } from "../../kernels_gpu/kernel.ts";
import { webgpuPlugin } from "../../kernels_gpu/plugin.ts";
import { program } from "../../kernels_gpu/wgsl.ts";
import { reportMissing } from "../kernels/devices.ts";
import { NO_ADAPTER, values, withDevice } from "./util.ts";

const BROKEN: Program = program({
  name: "broken",
  key: ["tests/webgpu/errors_test"],
  inputs: [],
  outputs: [{ type: "f32", dtype: "float32" }],
  uniforms: [],
  body: () => "@compute @workgroup_size(1)\nfn main() { let x: f32 = 1u; }\n",
});

/** A registry whose WEBGPU AddV2 kernel dispatches BROKEN, compiled at build or at run. */
function brokenRegistry(atBuild: boolean): ef.KernelRegistry {
  const kernel = defineGpuKernel(ef.AddV2, {
    dtypes: ["float32"],
    create: () => ({
      programs: atBuild ? [BROKEN] : [],
      run(ctx) {
        const out = ctx.output(0);
        return ctx.device.encode(ctx.node, [{
          program: BROKEN,
          inputs: [],
          outputs: [out],
          uniforms: [],
          workgroups: [1],
        }]);
      },
    }),
  });
  return new ef.KernelRegistry().install(ef.refPlugin).install({
    type: "WEBGPU",
    create: webgpuPlugin.create,
    kernels: [kernel],
  });
}

function addGraph() {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const y = ef.add(x, x, { name: "bad_add" });
  return { g, x, y };
}

for (const atBuild of [true, false]) {
  Deno.test(`WGSL that does not compile ${atBuild ? "at build" : "at first run"} names the op and quotes the compiler`, async (t) => {
    if (!(await createWebGpuDevice().then((d) => d?.[Symbol.asyncDispose]().then(() => true)))) {
      return reportMissing(t, NO_ADAPTER);
    }
    const { g, y } = addGraph();
    await using s = new ef.Session(g, { registry: brokenRegistry(atBuild), device: "WEBGPU" });
    await assert.rejects(s.run(y, { x: [1, 2] }), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.equal(e.node, "bad_add");
      assert.equal(e.op, "AddV2");
      assert.match(e.message, /WGSL of program broken does not compile/);
      assert.match(e.message, /u32/, "the compiler's own words");
      return true;
    });
  });
}

Deno.test("a lost device fails runs with an EdgeflowError; a new session gets a fresh device", async (t) => {
  await withDevice(t, {}, async (device) => {
    const { g, y } = addGraph();
    const s = new ef.Session(g, { devices: [device] });
    assert.deepEqual((await s.run(y, { x: [1, 2] })).toArray(), [2, 4]);
    device.gpu.destroy();
    await device.gpu.lost;
    await assert.rejects(s.run(y, { x: [1, 2] }), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError);
      assert.match(e.message, /WebGPU device was lost/);
      return true;
    });
    await s.close();
    await using fresh = new ef.Session(g, { device: "WEBGPU" });
    assert.deepEqual((await fresh.run(y, { x: [3, 4] })).toArray(), [6, 8]);
  });
});

Deno.test("out of memory is an EdgeflowError, and the device keeps working", async (t) => {
  await withDevice(t, { memoryLimit: 2 ** 20 }, async (device) => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [null], { name: "x" });
    const y = ef.neg(x);
    await using s = new ef.Session(g, { devices: [device] });
    await assert.rejects(s.run(y, { x: ef.tensor(values(2 ** 19), [2 ** 19]) }), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError);
      assert.match(e.message, /out of memory: a float32\[524288\] tensor/);
      return true;
    });
    assert.deepEqual((await s.run(y, { x: [1, 2] })).toArray(), [-1, -2]);
  });
  // A tensor larger than one binding can hold fails before anything is allocated.
  await withDevice(t, {}, async (device) => {
    const g = new ef.Graph();
    const big = ef.fill([2 ** 30], ef.constant(1, { graph: g }));
    await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
    await assert.rejects(s.run(ef.sum(big)), /out of memory: .* exceeds the largest buffer/);
  });
});

Deno.test("without a WebGPU implementation the plugin reports no device", async () => {
  const gpu = Object.getOwnPropertyDescriptor(Navigator.prototype, "gpu");
  Object.defineProperty(Navigator.prototype, "gpu", { configurable: true, get: () => undefined });
  try {
    assert.equal(await webgpuPlugin.create(), null);
  } finally {
    if (gpu) Object.defineProperty(Navigator.prototype, "gpu", gpu);
  }
});

/** A program whose output elements are 32 bytes: a 2-element tensor's binding is too small. */
const WIDE: Program = {
  name: "wide",
  key: "tests/webgpu/errors_test|wide",
  inputs: 0,
  outputs: 1,
  uniforms: [],
  source: () =>
    `struct Wide { v: array<f32, 8> };
@group(0) @binding(0) var<storage, read_write> out0: array<Wide>;
struct Uniforms { unused: u32 };
@group(0) @binding(1) var<uniform> u: Uniforms;
@compute @workgroup_size(1)
fn main() { out0[0].v[0] = 1.0; }
`,
};

Deno.test("a dispatch the GPU refuses is an EdgeflowError naming its node and op", async (t) => {
  await withDevice(t, {}, async (device) => {
    const wide = defineGpuKernel(ef.AddV2, {
      dtypes: ["float32"],
      run(ctx) {
        const out = ctx.output(0);
        return ctx.device.encode(ctx.node, [{
          program: WIDE,
          inputs: [],
          outputs: [out as never],
          uniforms: [],
          workgroups: [1],
        }]);
      },
    });
    const kernels = webgpuPlugin.kernels.filter((k) => k.op !== ef.AddV2);
    const registry = new ef.KernelRegistry().install(ef.refPlugin).install({
      ...webgpuPlugin,
      kernels: [...kernels, wide],
    });
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [4], { name: "x" });
    // Valid dispatches before and after the refused one share its batch.
    const before = ef.neg(x, { name: "before" });
    const bad = ef.add(ef.slice(before, [0], [2]), ef.slice(before, [0], [2]), { name: "bad_add" });
    const after = ef.exp(bad, { name: "after" });
    await using s = new ef.Session(g, { registry, devices: [device] });
    await assert.rejects(s.run(after, { x: [1, 2, 3, 4] }), (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.equal(e.node, "bad_add");
      assert.equal(e.op, "AddV2");
      assert.match(e.message, /the GPU refused program wide/);
      return true;
    });
    // The device keeps working for valid graphs.
    const h = new ef.Graph();
    const z = ef.neg(ef.placeholder(h, "float32", [2], { name: "z" }));
    await using fine = new ef.Session(h, { registry, devices: [device] });
    assert.deepEqual((await fine.run(z, { z: [1, 2] })).toArray(), [-1, -2]);
  });
});
