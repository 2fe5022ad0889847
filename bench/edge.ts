/**
 * Edgeflow served from an edge function (examples/serve.ts, run with its least permissions) next
 * to the same model served by a tiny Deno.serve on @tensorflow/tfjs-backend-wasm
 * (bench/edge_tfjs_server.ts), in the same run, the runners interleaved round by round in
 * shuffled order. Per runner and round, a fresh server process:
 *
 * - cold start: from spawning the process to the answer of its first request;
 * - latency p50/p99 and throughput under a bounded load: `concurrency` loopback clients send
 *   `requests` requests of one row each (binary float32 bodies) as fast as answers come, after
 *   `warmup` (default `requests`) unmeasured ones under the same load, so that the first run at
 *   each batch size (memory growth, plan instances) is not what the batching rows measure;
 * - peak memory: the process's VmHWM (peak resident set) after loading and serving.
 *
 * "-bundle": the same server as one file (`deno task build:serve`, dist/serve.js, built first), what
 * loading examples/serve.ts's ~330 modules costs at cold start and in memory.
 * "+batch" is examples/serve.ts's default, `--batching auto` (batches while batched rows measure
 * cheaper than single runs); without it, `--batching off`, one request per run.
 * onnxruntime-web (1 and 2 threads, bench/edge_ort_server.ts) serves the model through Edgeflow's
 * ONNX export (`toOnnx`); where the export fails, the table says why. Medians over rounds; ratios
 * against tfjs-backend-wasm, and batching against the same device without it. The model is nsfwjs@4.4.0's mobilenet_v2_mid, fetched by `npm pack` into the
 * git-ignored .cache/ (tests/formats/real_models.ts), or with `--model fixture` the serving tests'
 * small conv net.
 *
 *   deno task bench:edge [--rounds 2] [--requests 16] [--warmup 16] [--concurrency 8]
 *     [--model fixture]
 *     [--only ef-wasm-2t,tfjs-wasm]
 */
import * as ef from "../mod.ts";
import { toOnnx } from "../formats.ts";
import {
  freePort,
  SERVE_BUNDLE,
  SERVE_ENTRY,
  SERVE_V8_FLAGS,
  serveArgs,
} from "../tests/serve/server_process.ts";
import { bundleServe } from "../tools/bundle_serve.ts";
import {
  benchModel,
  flag,
  type Input,
  predict,
  spawnServer,
  tfjsServerArgs,
} from "./edge_process.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";

const ROUNDS = Number(flag("rounds", "2"));
const REQUESTS = Number(flag("requests", "16"));
const CONCURRENCY = Number(flag("concurrency", "8"));
/** Unmeasured requests under the same load before the measured ones: every batch size seen. */
const WARMUP = Number(flag("warmup", String(REQUESTS)));
const MODEL = flag("model", "mobilenet");
const ONLY = flag("only", "");

const ROOT = new URL("../", import.meta.url).pathname;
const XDG = "/tmp/xdg";
await Deno.mkdir(XDG, { recursive: true, mode: 0o700 });
/** WebGPU through Mesa's lavapipe where there is no GPU: a software adapter. */
const GPU_ENV = {
  XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? XDG,
  DENO_WEBGPU_BACKEND: Deno.env.get("DENO_WEBGPU_BACKEND") ?? "vulkan",
};

interface Runner {
  label: string;
  /** deno arguments for a server of `modelJson` (its ONNX export: `onnx`) on `port`. */
  args(modelJson: string, port: number, onnx: string): string[];
  /** The runner it is compared with for the batching ratio. */
  unbatched?: string;
}

const efRunner = (
  device: string,
  threads: number,
  batching: boolean,
  bundle = false,
): Runner => ({
  label: `ef-${device === "WEBGPU" ? "webgpu" : `wasm-${threads}t`}${batching ? "+batch" : ""}${
    bundle ? "-bundle" : ""
  }`,
  args: (model, port) =>
    serveArgs(model.slice(0, model.lastIndexOf("/")), port, [
      "--device",
      device,
      "--threads",
      String(threads),
      "--batching",
      batching ? "auto" : "off",
      "--max-batch",
      String(CONCURRENCY),
      "--window-ms",
      "2",
      "--max-body-bytes",
      String(64 * 2 ** 20),
    ], bundle ? SERVE_BUNDLE : SERVE_ENTRY),
  unbatched: batching
    ? `ef-${device === "WEBGPU" ? "webgpu" : `wasm-${threads}t`}${bundle ? "-bundle" : ""}`
    : undefined,
});

const RUNNERS: Runner[] = [
  {
    label: "tfjs-wasm",
    args: tfjsServerArgs,
  },
  efRunner("WASM", 1, false),
  efRunner("WASM", 1, true),
  efRunner("WASM", 2, false),
  efRunner("WASM", 2, true),
  // The same server bundled into one file (dist/serve.js): what the module graph costs.
  efRunner("WASM", 1, false, true),
  efRunner("WASM", 1, true, true),
  efRunner("WASM", 2, false, true),
  efRunner("WASM", 2, true, true),
  efRunner("WEBGPU", 1, false),
  efRunner("WEBGPU", 1, true),
  ...[1, 2].map((threads): Runner => ({
    label: `ort-web-${threads}t`,
    args: (_model: string, port: number, onnx: string) => [
      "run",
      "-A",
      `--lock=${ROOT}deno.lock`,
      SERVE_V8_FLAGS,
      `${ROOT}bench/edge_ort_server.ts`,
      onnx,
      "--port",
      String(port),
      "--threads",
      String(threads),
    ],
  })),
].filter((r) => ONLY === "" || ONLY.split(",").includes(r.label));

interface Sample {
  coldMs: number;
  p50: number;
  p99: number;
  rps: number;
  peakMiB: number;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
}

async function peakRssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = Number(/VmHWM:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function measure(
  runner: Runner,
  modelJson: string,
  onnx: string,
  input: Input,
): Promise<Sample> {
  const port = freePort();
  const t0 = performance.now();
  const { child, stderr } = await spawnServer(
    runner.label,
    runner.args(modelJson, port, onnx),
    GPU_ENV,
  );
  try {
    const url = `http://127.0.0.1:${port}`;
    await predict(url, input);
    const coldMs = performance.now() - t0;
    await load(url, input, WARMUP);
    const start = performance.now();
    const latencies = await load(url, input, REQUESTS);
    const seconds = (performance.now() - start) / 1000;
    return {
      coldMs,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      rps: REQUESTS / seconds,
      peakMiB: await peakRssMiB(child.pid),
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    await stderr;
  }
}

/** `count` requests from `CONCURRENCY` clients, each sending its next as its answer comes. */
async function load(url: string, input: Input, count: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) {
      next++;
      const s = performance.now();
      await predict(url, input);
      latencies.push(performance.now() - s);
    }
  }));
  return latencies;
}

if (RUNNERS.some((r) => r.label.endsWith("-bundle"))) await bundleServe();
const m = await benchModel(MODEL);
/** The model through Edgeflow's ONNX export, for onnxruntime-web; why not where it fails. */
const onnxPath = await Deno.makeTempFile({ prefix: "edgeflow-edge-bench-", suffix: ".onnx" });
let onnxGap: string | undefined;
try {
  await Deno.writeFile(onnxPath, toOnnx((await ef.loadGraphModel(m.path)).graph));
} catch (e) {
  onnxGap = (e as Error).message.slice(0, 160);
  RUNNERS.splice(0, RUNNERS.length, ...RUNNERS.filter((r) => !r.label.startsWith("ort-web")));
}
console.log(
  `bench/edge.ts: ${m.name}, batch 1 requests; ${ROUNDS} rounds, ${REQUESTS} requests at ` +
    `concurrency ${CONCURRENCY} per runner and round; ${navigator.hardwareConcurrency} cores`,
);
const samples = new Map<string, Sample[]>(RUNNERS.map((r) => [r.label, []]));
const failures = new Map<string, string>();
for (let round = 0; round < ROUNDS; round++) {
  for (const runner of shuffled(RUNNERS, round)) {
    if (failures.has(runner.label)) continue;
    try {
      const s = await measure(runner, m.path, onnxPath, m.input);
      samples.get(runner.label)!.push(s);
      console.error(`round ${round} ${runner.label}: ${JSON.stringify(s)}`);
    } catch (e) {
      failures.set(runner.label, (e as Error).message.split("\n").slice(0, 3).join(" "));
    }
  }
}

const med = (label: string, k: keyof Sample) => median((samples.get(label) ?? []).map((s) => s[k]));
const BASE = "tfjs-wasm";
const rows = RUNNERS.filter((r) => !failures.has(r.label)).map((r) => {
  const l = r.label;
  const vsBase = (k: keyof Sample) => fixed(med(l, k) / med(BASE, k));
  return [
    l,
    fixed(med(l, "coldMs"), 0),
    vsBase("coldMs"),
    fixed(med(l, "p50"), 1),
    fixed(med(l, "p99"), 1),
    fixed(med(l, "rps"), 2),
    r.unbatched ? fixed(med(l, "rps") / med(r.unbatched, "rps")) : "",
    fixed(med(l, "peakMiB"), 0),
    vsBase("peakMiB"),
  ];
});
printTable(
  [
    "runner",
    "cold start ms",
    "× tfjs",
    "p50 ms",
    "p99 ms",
    "req/s",
    "× unbatched",
    "peak MiB",
    "× tfjs",
  ],
  rows,
);
for (const [label, why] of failures) console.log(`${label}: failed: ${why}`);
if (onnxGap) {
  console.log(`onnxruntime-web (1 and 2 threads): not run: Edgeflow's ONNX export: ${onnxGap}...`);
}
await Deno.remove(onnxPath);
console.log(
  "Goals: cold start ≤ 0.5× tfjs; peak memory ≤ 0.7× tfjs; +batch req/s ≥ 1.5× unbatched. " +
    "p99 over the requests of one run (the worst of few); WebGPU is a software adapter here.",
);
