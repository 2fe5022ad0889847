// bench/webgpu.ts's real-model row: nsfwjs's mobilenet_v2_mid (batch 1) on Edgeflow's WEBGPU
// device and on @tensorflow/tfjs-backend-webgpu, each run as a server would: a fresh host input,
// the run, and one readback of the output (Edgeflow records the whole run's dispatches into one
// batch and waits once; tfjs waits in `data()`). Runs in a batch are sequential.
import * as tf from "npm:@tensorflow/tfjs-core@4";
import * as ef from "../mod.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";
import { mobilenetV2Mid } from "../tests/formats/real_models.ts";
import { loadTfjsGraphModel } from "./tfjs_graph_model.ts";

/** A timed side: `n` runs, each with its own readback. */
export type ModelBatch = (n: number) => Promise<unknown>;

export const MODEL_NAME = "mobilenet_v2_mid, 1 run = 1 readback";

async function input() {
  const m = await mobilenetV2Mid();
  const x = randomTensor("float32", m.input.shape, 1, { min: 0, max: 1 });
  return { m, x };
}

/** Edgeflow: the graph model loaded on a session with a fresh device; build = plan + compile. */
export async function edgeflowModel() {
  const { m, x } = await input();
  const model = await ef.loadGraphModel(m.path);
  // The loader drops the converter's "/device:CPU:0" requests (as tfjs ignores them), so every
  // node runs on WEBGPU, as on tfjs-webgpu.
  const output = model.outputs[0].name;
  const s = new ef.Session(model.graph, { device: "WEBGPU" });
  await s.device("WEBGPU");
  const t0 = performance.now();
  await s.prepare([output], [m.input.name]);
  const build = performance.now() - t0;
  const run = () => s.run(output, { [m.input.name]: x });
  await run();
  const batch: ModelBatch = async (n) => {
    for (let i = 0; i < n; i++) await run();
  };
  return { batch, build, close: () => s.close() };
}

/** tfjs: the same model.json and shards; first call = first execute with readback. */
export async function tfjsModel() {
  const { m, x } = await input();
  const model = await loadTfjsGraphModel(m.path);
  const values = x.data as Float32Array;
  const run = async () => {
    const tx = tf.tensor(values, [...x.shape]);
    const y = model.execute({ [m.input.name]: tx }) as tf.Tensor;
    await y.data();
    y.dispose();
    tx.dispose();
  };
  const t0 = performance.now();
  await run();
  const firstCall = performance.now() - t0;
  const batch: ModelBatch = async (n) => {
    for (let i = 0; i < n; i++) await run();
  };
  return { batch, firstCall, close: () => model.dispose() };
}
