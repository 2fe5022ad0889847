// The TPU emulator's bench: simulated TFLOP/s against the model's peak for square MatMuls
// (128 to 4096) and a small conv net, with the host's wall time for each simulated op.
// Simulated figures come from run metadata (the device's cycle model), host figures from the
// same runs; the values are real (computed with the MXU's bfloat16 numerics), not estimates.
//
//   deno task bench:tpu            (BENCH_TPU_MAX=1024 stops the MatMuls earlier,
//                                   BENCH_TPU_BATCH sets the conv net's batch, default 32)
import * as ef from "../mod.ts";
import { mxuUsesWasm } from "../devices/tpu/mxu.ts";
import { seededRandom } from "../core/testing/arbitrary.ts";
import { median, printTable } from "./stats.ts";

const MAX = Number(Deno.env.get("BENCH_TPU_MAX") ?? 4096);
const BATCH = Number(Deno.env.get("BENCH_TPU_BATCH") ?? 32);

function random(shape: number[], seed: number, scale = 1): ef.Tensor {
  const rand = seededRandom(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (rand() * 2 - 1) * scale;
  return new ef.Tensor("float32", shape, values);
}

interface Measured {
  /** The last run's result and its steps on the TPU that took simulated time. */
  result: ef.Tensor;
  steps: ef.StepStats[];
  /** Host wall milliseconds per run (median). */
  hostMs: number;
  /** Simulated seconds of the kernels, and of the whole run with host transfers. */
  kernelSeconds: number;
  runSeconds: number;
  flops: number;
  kernels: number;
  bound: string;
}

/** Runs `fetch` `runs` times and reads the TPU's figures from the last run's metadata. */
async function measure(
  session: ef.Session,
  fetch: ef.Output,
  feeds: Record<string, ef.Tensor>,
  runs: number,
): Promise<Measured> {
  const device = await session.device("TPU") as ef.TpuDevice;
  const times: number[] = [];
  let metadata: ef.RunMetadata = { steps: [] };
  let runCycles = 0;
  let result: ef.Tensor = new ef.Tensor("float32", [0], new Float32Array(0));
  for (let i = 0; i < runs; i++) {
    metadata = { steps: [] };
    const before = device.clock.now;
    const t0 = performance.now();
    result = await session.run(fetch, feeds, [], { metadata });
    times.push(performance.now() - t0);
    runCycles = device.clock.now - before;
  }
  const tpu = metadata.steps.filter((s) => s.deviceStats && s.deviceStats.cycles > 0);
  const cycles = tpu.reduce((c, s) => c + s.deviceStats!.cycles, 0);
  const sum = (k: string) => tpu.reduce((c, s) => c + s.deviceStats![k], 0);
  const units = { mxu: sum("mxuCycles"), vpu: sum("vpuCycles"), hbm: sum("hbmCycles") };
  const bound = Object.entries(units).sort((a, b) => b[1] - a[1])[0][0];
  return {
    result,
    steps: tpu,
    hostMs: median(times),
    kernelSeconds: device.seconds(cycles),
    runSeconds: device.seconds(runCycles),
    flops: sum("flops"),
    kernels: tpu.length,
    bound,
  };
}

/**
 * A check that the values are real: the largest error of 16 sampled outputs against float64
 * dot products of the float32 inputs, relative to Σ|a·b| (bfloat16 inputs allow about 2^-8).
 */
function matmulCheck(a: ef.Tensor, b: ef.Tensor, c: ef.Tensor, n: number): string {
  const [as, bs, cs] = [a, b, c].map((t) => t.data as Float32Array);
  const rand = seededRandom(n);
  let worst = 0;
  for (let s = 0; s < 16; s++) {
    const i = Math.floor(rand() * n), j = Math.floor(rand() * n);
    let dot = 0, abs = 0;
    for (let k = 0; k < n; k++) {
      dot += as[i * n + k] * bs[k * n + j];
      abs += Math.abs(as[i * n + k] * bs[k * n + j]);
    }
    worst = Math.max(worst, Math.abs(cs[i * n + j] - dot) / abs);
  }
  return `err ${worst.toExponential(1)}`;
}

/** Softmax rows must sum to 1: the largest deviation. */
function softmaxCheck(y: ef.Tensor): string {
  const ys = y.data as Float32Array, n = y.shape[1];
  let worst = 0;
  for (let r = 0; r < ys.length; r += n) {
    worst = Math.max(worst, Math.abs(ys.subarray(r, r + n).reduce((x, v) => x + v, 0) - 1));
  }
  return `Σ=1±${worst.toExponential(0)}`;
}

function row(name: string, m: Measured, peak: number, check: string): string[] {
  const tflops = m.flops / m.kernelSeconds / 1e12;
  return [
    name,
    (m.flops / 1e9).toFixed(2),
    (m.kernelSeconds * 1e6).toFixed(1),
    tflops.toFixed(1),
    `${(100 * tflops * 1e12 / peak).toFixed(1)}%`,
    m.bound,
    (m.flops / m.runSeconds / 1e12).toFixed(1),
    m.hostMs.toFixed(1),
    (m.hostMs / m.kernels).toFixed(2),
    (m.hostMs / 1e3 / m.kernelSeconds).toExponential(1),
    check,
  ];
}

async function matmulRows(peak: number): Promise<string[][]> {
  const rows: string[][] = [];
  for (let n = 128; n <= MAX; n *= 2) {
    const g = new ef.Graph();
    const a = ef.placeholder(g, "float32", [n, n], { name: "a" });
    const b = ef.placeholder(g, "float32", [n, n], { name: "b" });
    const c = ef.matMul(a, b, { name: "c" });
    await using session = new ef.Session(g, { device: "TPU" });
    const feeds = { a: random([n, n], 1), b: random([n, n], 2) };
    const m = await measure(session, c, feeds, n <= 512 ? 5 : n <= 1024 ? 3 : 1);
    const check = matmulCheck(feeds.a, feeds.b, m.result, n);
    rows.push(row(`MatMul ${n}x${n}x${n}`, m, peak, check));
  }
  return rows;
}

/** conv 3x3 → pool → conv 3x3 → pool → depthwise 3x3 → conv 1x1 → dense → dense → softmax. */
function convNet(g: ef.Graph, x: ef.Output): ef.Output {
  let seed = 10;
  const weight = (shape: number[], fanIn: number) =>
    new ef.Variable(random(shape, seed++, Math.sqrt(3 / fanIn)), { graph: g }).read();
  const same = { strides: [1, 1, 1, 1], padding: "SAME" as const };
  const pool = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" as const };
  const conv = (h: ef.Output, k: number, cin: number, cout: number) =>
    ef.relu(
      ef.biasAdd(ef.conv2d(h, weight([k, k, cin, cout], k * k * cin), same), weight([cout], 1)),
    );
  let h = ef.maxPool(conv(x, 3, 3, 32), pool); // [B, 16, 16, 32]
  h = ef.maxPool(conv(h, 3, 32, 64), pool); // [B, 8, 8, 64]
  h = ef.relu(ef.depthwiseConv2d(h, weight([3, 3, 64, 1], 9), same));
  h = conv(h, 1, 64, 128); // [B, 8, 8, 128]
  h = ef.reshape(h, [-1, 8 * 8 * 128]);
  h = ef.relu(ef.matMul(h, weight([8 * 8 * 128, 256], 8192)));
  return ef.softmax(ef.matMul(h, weight([256, 10], 256)));
}

async function convNetMeasured(): Promise<Measured> {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [BATCH, 32, 32, 3], { name: "images" });
  const y = convNet(g, x);
  await using session = new ef.Session(g, { device: "TPU" });
  await session.run([], {}, [ef.globalVariablesInitializer(g)]);
  return await measure(session, y, { images: random([BATCH, 32, 32, 3], 99) }, 5);
}

/** The conv net's kernels one by one: where the simulated time goes. */
function perOpRows(m: Measured): string[][] {
  return m.steps.map((s) => {
    const d = s.deviceStats!;
    const units: [string, number][] = [["mxu", d.mxuCycles], ["vpu", d.vpuCycles], [
      "hbm",
      d.hbmCycles,
    ]];
    const bound = units.sort((a, b) => b[1] - a[1])[0][0];
    return [
      s.node,
      s.op,
      (d.simulatedSeconds * 1e6).toFixed(2),
      d.flops > 0 ? (d.flops / d.simulatedSeconds / 1e12).toFixed(1) : "-",
      bound,
      (s.end - s.start).toFixed(2),
    ];
  });
}

const probe = new ef.TpuDevice();
const peak = probe.figures.peakFlops;
console.log(
  `TPU emulator: ${probe.params.name}, peak ${(peak / 1e12).toFixed(1)} TFLOP/s (bf16 MXU), ` +
    `HBM ${(probe.params.hbmBandwidth / 1e9).toFixed(0)} GB/s; host MXU arithmetic: ${
      mxuUsesWasm() ? "WebAssembly SIMD" : "plain TypeScript"
    }\n`,
);
const header = [
  "workload",
  "GFLOP",
  "sim µs (kernels)",
  "sim TFLOP/s",
  "of peak",
  "bound",
  "TFLOP/s incl. transfers",
  "host ms/run",
  "host ms/op",
  "host s per sim s",
  "values",
];
const net = await convNetMeasured();
const netRow = row(`conv net, batch ${BATCH}`, net, peak, softmaxCheck(net.result));
printTable(header, [...(await matmulRows(peak)), netRow]);
console.log(`\nconv net, batch ${BATCH}, per kernel (last run):\n`);
printTable(["node", "op", "sim µs", "sim TFLOP/s", "bound", "host ms"], perOpRows(net));
