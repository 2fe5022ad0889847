// Memory while loading and running mobilenet_v2_mid (nsfwjs@4.4.0, from the real-model tests'
// cache) on WASM: process RSS, the JS heap and external (ArrayBuffer) bytes after each step, and
// the WASM device's memory in use; the peak RSS from /proc (Linux). One fresh process per invocation (the figures are the process's).
//   deno run -A --lock=deno.lock bench/model_memory.ts
import * as ef from "../mod.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";
import { mobilenetV2Mid } from "../tests/formats/real_models.ts";
import { printTable } from "./stats.ts";

const MiB = 2 ** 20;
const rows: string[][] = [];
/** The loaded model's graph, once there is one. */
const loaded: { graph?: ef.Graph } = {};

/** Bytes of Const values held in host memory (not views of the WASM device's memory). */
function hostWeights(): number {
  let bytes = 0;
  for (const n of loaded.graph?.nodes ?? []) {
    if (n.op.name !== "Const") continue;
    const data = (n.attrs.value as ef.Tensor).data as ArrayBufferView;
    if (!(data.buffer instanceof SharedArrayBuffer)) bytes += data.byteLength;
  }
  return bytes;
}

function sample(step: string, device?: ef.Device) {
  (globalThis as { gc?: () => void }).gc?.();
  const m = Deno.memoryUsage();
  const d = device?.memory();
  // The kernel's high-water mark of the RSS: the peak while loading, not only after it.
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))?.[1]);
  rows.push([
    step,
    (m.rss / MiB).toFixed(1),
    (hwm / 1024).toFixed(1),
    (m.heapUsed / MiB).toFixed(1),
    (m.external / MiB).toFixed(1),
    d ? (d.inUse / MiB).toFixed(1) : "",
    loaded.graph ? (hostWeights() / MiB).toFixed(1) : "",
  ]);
}

const resident = Deno.args[0] === "resident";
const m = await mobilenetV2Mid();
const x = randomTensor("float32", m.input.shape, 1, { min: 0, max: 1 });
sample("start");
const device = (await ef.wasmPlugin.create({ threads: 2 }))!;
const model = await ef.loadGraphModel(m.path, resident ? { device } : {});
loaded.graph = model.graph;
let weights = 0;
for (const n of model.graph.nodes) {
  if (n.op.name === "Const") weights += (n.attrs.value as ef.Tensor).size * 4;
}
sample(resident ? "loaded onto WASM" : "loaded", device);
await using s = new ef.Session(model.graph, { device: "WASM", devices: [device] });
await s.run(model.outputs[0].name, { [m.input.name]: x });
sample("first run", device);
await s.run(model.outputs[0].name, { [m.input.name]: x });
sample("second run (Consts resident)", device);
console.log(`mobilenet_v2_mid: ${(weights / MiB).toFixed(1)} MiB of float32 weights`);
printTable([
  "after",
  "RSS MiB",
  "peak RSS MiB",
  "JS heap MiB",
  "external MiB",
  "WASM in use MiB",
  "host Const MiB",
], rows);
