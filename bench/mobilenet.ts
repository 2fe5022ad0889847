// mobilenet_v2_mid (nsfwjs@4.4.0, fetched into .cache/ by the real-model tests' helper), batch 1:
// Edgeflow on WASM with 1 and 2 threads next to @tensorflow/tfjs-backend-wasm (XNNPACK, SIMD,
// single-threaded under Deno) running the same model.json and shards, in one process. Runners take
// turns in shuffled order every round; the table gives medians of wall time and each one's ratio
// to tfjs, and the process's CPU time per run (all threads, spinning waiters included), which a
// machine shared with other work disturbs less than wall time. onnxruntime-web (1 and 2 threads)
// runs Edgeflow's ONNX export (`toOnnx`) of the same model in one child process per thread count
// (bench/mobilenet_ort_child.ts; ORT fixes its thread count per process), which times each run and
// its own CPU time; the parent asks for its runs in the same shuffled rounds.
//   deno run -A --lock=deno.lock bench/mobilenet.ts [rounds]
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import process from "node:process";
import * as ef from "../mod.ts";
import { toOnnx } from "../formats.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";
import { mobilenetV2Mid } from "../tests/formats/real_models.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";
import { loadTfjsGraphModel } from "./tfjs_graph_model.ts";

const rounds = Number(Deno.args[0] ?? 15);
const m = await mobilenetV2Mid();
const x = randomTensor("float32", m.input.shape, 1, { min: 0, max: 1 });

/** A runner; a `measured` one times itself (another process) and returns its wall and CPU ms. */
type Runner =
  | { name: string; measured?: false; run: () => Promise<void> }
  | { name: string; measured: true; run: () => Promise<{ ms: number; cpu: number }> };
const runners: Runner[] = [];

const model = await ef.loadGraphModel(m.path);
const output = model.outputs[0].name;
for (const threads of [1, 2]) {
  const s = new ef.Session(model.graph, { device: "WASM", deviceOptions: { WASM: { threads } } });
  runners.push({
    name: `Edgeflow WASM ${threads} thread${threads > 1 ? "s" : ""}`,
    run: async () => void await s.run(output, { [m.input.name]: x }),
  });
}

if (!(await tf.setBackend("wasm"))) throw new Error("tfjs-backend-wasm did not initialise");
const tfModel = await loadTfjsGraphModel(m.path);
const tx = tf.tensor(Array.from(x.data as Float32Array), [...x.shape]);
runners.push({
  name: "tfjs-backend-wasm",
  run: async () => {
    const y = tfModel.execute({ [m.input.name]: tx }) as tf.Tensor;
    await y.data();
    y.dispose();
  },
});

/** onnxruntime-web in a child process: a runner whose wall and CPU time the child measures. */
async function ortRunner(onnx: string, input: string, threads: number): Promise<Runner> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--lock=deno.lock",
      new URL("./mobilenet_ort_child.ts", import.meta.url).pathname,
      onnx,
      input,
      x.shape.join(","),
      String(threads),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const line = async () => {
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`onnxruntime-web (${threads} threads) exited`);
      buf += value;
    }
    const nl = buf.indexOf("\n");
    const l = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    return l;
  };
  if ((await line()) !== "ready") throw new Error("onnxruntime-web child did not start");
  return {
    name: `onnxruntime-web ${threads} thread${threads > 1 ? "s" : ""}`,
    measured: true,
    run: async () => {
      await writer.write(new TextEncoder().encode("run\n"));
      return JSON.parse(await line()) as { ms: number; cpu: number };
    },
  };
}
const onnx = await Deno.makeTempFile({ prefix: "edgeflow-mobilenet-", suffix: ".onnx" });
const input = await Deno.makeTempFile({ prefix: "edgeflow-mobilenet-", suffix: ".f32" });
await Deno.writeFile(onnx, toOnnx(model.graph, { outputs: [output] }));
const xs = x.data as Float32Array;
await Deno.writeFile(input, new Uint8Array(xs.buffer, xs.byteOffset, xs.byteLength));
for (const threads of [1, 2]) runners.push(await ortRunner(onnx, input, threads));

const times = new Map(runners.map((r) => [r.name, [] as number[]]));
const cpu = new Map(runners.map((r) => [r.name, [] as number[]]));
for (const r of runners) for (let i = 0; i < 3; i++) await r.run(); // warm-up: plans, JIT
for (let round = 0; round < rounds; round++) {
  for (const r of shuffled(runners, round)) {
    if (r.measured) {
      const { ms, cpu: c } = await r.run();
      times.get(r.name)!.push(ms);
      cpu.get(r.name)!.push(c);
      continue;
    }
    const t0 = performance.now(), c0 = process.cpuUsage();
    await r.run();
    times.get(r.name)!.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.get(r.name)!.push((c.user + c.system) / 1000);
  }
}
await Deno.remove(onnx);
await Deno.remove(input);
const base = median(times.get("tfjs-backend-wasm")!);
const ort2 = median(times.get("onnxruntime-web 2 threads")!);
console.log(`mobilenet_v2_mid, batch 1, ${rounds} rounds (medians)`);
printTable(
  ["runner", "ms", "× tfjs-backend-wasm", "× ort-web 2 threads", "CPU ms"],
  runners.map((r) => {
    const t = median(times.get(r.name)!);
    return [
      r.name,
      fixed(t, 1),
      fixed(t / base, 2),
      fixed(t / ort2, 2),
      fixed(median(cpu.get(r.name)!), 1),
    ];
  }),
);
Deno.exit(0);
