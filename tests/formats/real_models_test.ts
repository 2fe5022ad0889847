// Real models (tests/formats/real_models.ts fetches them from the npm registry into a cache):
// on the same seeded input, Edgeflow's outputs on WASM, WEBGPU and TPU match @tensorflow/tfjs's
// cpu backend running the same model.json and shards.
//
// Tolerances, stated per device: each output element is compared as |ours − theirs| ≤ atol + rtol ·
// |theirs| with atol = scale · max|theirs over the output| (errors grow with a layer's magnitude,
// not each element's). WASM and WEBGPU compute in float32 with other summation orders (GEMM
// blocking, fused multiply-add) through 50-odd layers: scale 1e-4, rtol 1e-3. The TPU multiplies
// in bfloat16 (8 significant bits) with float32 sums: each layer adds about 2^-9 of its magnitude
// and the errors accumulate through the network (blazeface, measured layer by layer against WASM:
// 0.3% after the first layer, 1.5% of the largest value after 70): scale 0.03, rtol 0.03.
import assert from "node:assert/strict";
import * as ef from "../../mod.ts";
import { defaultRegistry } from "../../core/kernel.ts";
import { randomTensor } from "../../core/testing/arbitrary.ts";
import { deviceFor } from "../kernels/devices.ts";
import { humanModel, mobilenetV2Mid, type RealModel } from "./real_models.ts";

const TOLERANCE = {
  WASM: { scale: 1e-4, rtol: 1e-3 },
  WEBGPU: { scale: 1e-4, rtol: 1e-3 },
  TPU: { scale: 0.03, rtol: 0.03 },
} as const;
type Device = keyof typeof TOLERANCE;

function seededInput(m: RealModel) {
  const { shape, dtype, min, max } = m.input;
  return randomTensor(dtype, shape, 20261203, { min, max });
}

/** tfjs-converter on the cpu backend, from the same model.json and shards. */
async function tfjsOutputs(m: RealModel, fetches: string[]): Promise<Float32Array[]> {
  const tf = await import("npm:@tensorflow/tfjs-core@4");
  await import("npm:@tensorflow/tfjs-backend-cpu@4");
  const { loadTfjsGraphModel } = await import("../../bench/tfjs_graph_model.ts");
  await tf.setBackend("cpu");
  const model = await loadTfjsGraphModel(m.path);
  const x = seededInput(m);
  const input = tf.tensor(Array.from(x.data as ArrayLike<number>), [...x.shape], m.input.dtype);
  const outs = await model.executeAsync({ [m.input.name]: input }, fetches) as
    | { data(): Promise<Float32Array> }
    | { data(): Promise<Float32Array> }[];
  const list = Array.isArray(outs) ? outs : [outs];
  const values = await Promise.all(list.map((o) => o.data()));
  tf.disposeVariables();
  model.dispose();
  return values.map((v) => Float32Array.from(v));
}

function assertClose(name: string, ours: ArrayLike<number>, theirs: Float32Array, device: Device) {
  const { scale, rtol } = TOLERANCE[device];
  assert.equal(ours.length, theirs.length, `${name}: length`);
  const atol = scale * theirs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0, at = -1;
  for (let i = 0; i < theirs.length; i++) {
    const excess = Math.abs(ours[i] - theirs[i]) - (atol + rtol * Math.abs(theirs[i]));
    if (!(excess <= worst)) [worst, at] = [Number.isNaN(excess) ? Infinity : excess, i];
  }
  assert.ok(
    at < 0,
    `${device} ${name}[${at}]: ${ours[at]} vs tfjs ${theirs[at]} (atol ${atol}, rtol ${rtol})`,
  );
}

/**
 * `tpuOutputs`: why the model's outputs are not compared on the TPU (its nodes still are, each
 * against its reference on the TPU's own inputs).
 */
async function checkModel(
  t: Deno.TestContext,
  load: () => Promise<RealModel>,
  tpuOutputs?: string,
) {
  const m = await load();
  const model = await ef.loadGraphModel(m.path);
  const fetches = model.outputs.map((o) => o.name);
  const theirs = await tfjsOutputs(m, fetches);
  const x = seededInput(m);
  for (const device of Object.keys(TOLERANCE) as Device[]) {
    await t.step(device, async (t) => {
      if (!(await deviceFor(device, t))) return;
      // Every op of the model has a kernel on the device: nothing falls back to REF (the host).
      const missing = model.graph.nodes.filter((n) =>
        n.op.name !== "Placeholder" && !defaultRegistry.kernelFor(n, device)
      ).map((n) => n.op.name);
      assert.deepEqual([...new Set(missing)], [], `ops without a ${device} kernel`);
      await using s = new ef.Session(model.graph, { device });
      // On the TPU each node is also held to its kernel's tolerance on its own inputs, so drift
      // across layers (bfloat16 multiplies) is told apart from a wrong kernel.
      const metadata = { steps: [] } as ef.RunMetadata;
      const compareWithReference = device === "TPU";
      const outs = await s.run(fetches, { [m.input.name]: x }, [], {
        compareWithReference,
        metadata,
      });
      if (compareWithReference) assert.deepEqual(metadata.comparison!.differences, []);
      if (device === "TPU" && tpuOutputs) {
        // Compared instead with the model's own device requests kept: its fused convolutions on
        // WASM (float32), every other node on the TPU.
        console.log(`TPU: all-TPU outputs not compared with tfjs: ${tpuOutputs}`);
        const kept = await ef.loadGraphModel(m.path, { clearDevices: false });
        await using k = new ef.Session(kept.graph, { device });
        const mixed = await k.run(fetches, { [m.input.name]: x });
        mixed.forEach((o, i) => assertClose(fetches[i], o.toNumbers(), theirs[i], device));
        return;
      }
      outs.forEach((o, i) => assertClose(fetches[i], o.toNumbers(), theirs[i], device));
    });
  }
  // The converter leaves grappler's "/device:CPU:0" on fused convolutions and MatMuls; the
  // loader drops device requests as tfjs does (the steps above run every node on their device).
  // Kept (`clearDevices: false`), Edgeflow honours them: those nodes run on WASM (CPU).
  await t.step("WEBGPU session, the model's device requests kept", async (t) => {
    if (!(await deviceFor("WEBGPU", t))) return;
    const kept = await ef.loadGraphModel(m.path, { clearDevices: false });
    assert.ok(kept.graph.nodes.some((n) => /WASM/.test(n.requestedDevice)), "CPU requests kept");
    await using s = new ef.Session(kept.graph, { device: "WEBGPU" });
    const outs = await s.run(fetches, { [m.input.name]: x });
    outs.forEach((o, i) => assertClose(fetches[i], o.toNumbers(), theirs[i], "WEBGPU"));
  });
  await t.step("WASM, weights resident on the device", async () => {
    await using wasm = (await ef.wasmPlugin.create({ threads: 2 }))!;
    const resident = await ef.loadGraphModel(m.path, { device: wasm });
    try {
      await using s = new ef.Session(resident.graph, { devices: [wasm] });
      const outs = await s.run(fetches, { [m.input.name]: x });
      outs.forEach((o, i) => assertClose(fetches[i], o.toNumbers(), theirs[i], "WASM"));
    } finally {
      resident.dispose();
    }
  });
}

Deno.test("nsfwjs mobilenet_v2_mid matches tfjs", (t) => checkModel(t, mobilenetV2Mid));
Deno.test("human emotion matches tfjs", (t) => checkModel(t, () => humanModel("emotion")));
Deno.test("human blazeface matches tfjs", (t) => checkModel(t, () => humanModel("blazeface")));
Deno.test(
  "human movenet-lightning matches tfjs",
  (t) =>
    checkModel(
      t,
      () => humanModel("movenet-lightning"),
      // Measured: every TPU node within its tolerance, but on this random input the heatmaps'
      // peaks are near ties (0.0862 vs 0.0866) and bfloat16 drift over the convolutions moves
      // the ArgMax to another cell, so a keypoint's coordinate jumps (0.60 vs 0.76).
      "its decoder takes the ArgMax of heatmaps whose peaks are near ties on this input",
    ),
);
