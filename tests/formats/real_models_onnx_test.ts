// ONNX export of the real models (tests/formats/real_models.ts fetches them from the npm registry
// into a cache): each model is loaded, written by `toOnnx` and run in onnxruntime-web (the version
// deno.lock pins, wasm, 1 thread); on the same seeded input its outputs match Edgeflow's WASM run.
//
// Tolerance: |ort − ours| ≤ 1e-4 · max|ours over the output| + 1e-3 · |ours|, as the real-model
// test allows WASM against tfjs: both runtimes compute in float32 with their own summation orders
// (blocked GEMMs, fused multiply-add) through 50-odd layers, so they agree to a few ulps of each
// layer's magnitude, not bit for bit.
import assert from "node:assert/strict";
import * as ort from "npm:onnxruntime-web@1";
import * as ef from "../../mod.ts";
import { toOnnx } from "../../formats.ts";
import { numbers } from "../../core/tensor.ts";
import { randomTensor } from "../../core/testing/arbitrary.ts";
import { humanModel, mobilenetV2Mid, type RealModel } from "./real_models.ts";

ort.env.wasm.numThreads = 1;
ort.env.logLevel = "error";

const SCALE = 1e-4, RTOL = 1e-3;

function assertClose(name: string, theirs: ArrayLike<number>, ours: ArrayLike<number>) {
  assert.equal(theirs.length, ours.length, `${name}: length`);
  let big = 0;
  for (let i = 0; i < ours.length; i++) big = Math.max(big, Math.abs(ours[i]));
  const atol = SCALE * big;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(theirs[i] - ours[i]);
    assert.ok(
      d <= atol + RTOL * Math.abs(ours[i]),
      `${name}[${i}]: onnxruntime ${theirs[i]} vs Edgeflow ${ours[i]} (atol ${atol}, rtol ${RTOL})`,
    );
  }
}

async function checkModel(load: () => Promise<RealModel>) {
  const m = await load();
  const model = await ef.loadGraphModel(m.path);
  const fetches = model.outputs.map((o) => o.name);
  const { shape, dtype, min, max } = m.input;
  const x = randomTensor(dtype, shape, 20261203, { min, max });
  let want: ef.Tensor[];
  {
    await using s = new ef.Session(model.graph, { device: "WASM" });
    want = await s.run(fetches, { [m.input.name]: x });
  }
  const bytes = toOnnx(model.graph, { outputs: fetches });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    assert.equal(session.inputNames.length, 1, "one graph input");
    const feed = new ort.Tensor(
      dtype,
      x.data as Float32Array | Int32Array,
      [...x.shape],
    );
    const got = await session.run({ [session.inputNames[0]]: feed });
    assert.equal(session.outputNames.length, fetches.length, "one ONNX output per fetch");
    session.outputNames.forEach((o, i) => {
      assert.deepEqual([...got[o].dims], [...want[i].shape], `${fetches[i]}: shape`);
      assertClose(fetches[i], got[o].data as Float32Array, numbers(want[i]));
    });
  } finally {
    await session.release();
    model.dispose();
  }
}

Deno.test("ONNX export: nsfwjs mobilenet_v2_mid runs in onnxruntime-web", () =>
  checkModel(mobilenetV2Mid));
Deno.test("ONNX export: human emotion runs in onnxruntime-web", () =>
  checkModel(() => humanModel("emotion")));
Deno.test("ONNX export: human blazeface runs in onnxruntime-web", () =>
  checkModel(() => humanModel("blazeface")));
Deno.test("ONNX export: human movenet-lightning runs in onnxruntime-web", () =>
  checkModel(() => humanModel("movenet-lightning")));
