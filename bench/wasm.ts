// The WASM device against its peers, in one run (`deno task bench:wasm`): every workload of
// issue 3 on Edgeflow at 1 and 2 threads, @tensorflow/tfjs-backend-wasm (SIMD, one thread under
// Deno) and onnxruntime-web (WASM EP, 1 and 2 threads).
//
// Each configuration is its own long-lived process (bench/wasm_engine.ts), and only one measures
// at a time, so no engine's threads compete with another's. The host is a noisy VM (the same
// bench differs by up to 1.5x from one minute to the next), so configurations are interleaved
// rather than run one after another: in each of ROUNDS rounds every workload is measured for one
// short window on every configuration, in an order shuffled for every round and workload. A
// noisy stretch then costs each configuration about the same windows, and the median over
// rounds drops them. The table shows those medians and ratios (peer time / Edgeflow time: above
// 1 means Edgeflow is faster; paired by round, see `ratio`); a second table gives each median's
// samples and spread.
//
// The same rounds measure the machine's limits (bench/wasm_limits.ts: WebAssembly SIMD
// multiply-add FLOP/s and copy bandwidth on 1 thread, on each thread count Edgeflow runs, and on
// all cores), each probe a step of its own among the workloads', and the table gives each
// Edgeflow cell's share of its roofline (bench/roofline.ts) with the limits of that round and
// thread count: a median of ratios paired by round, like the peers' ratios.
//
// BENCH_FILTER=<substring> runs the matching workloads; BENCH_ROUNDS and BENCH_WINDOW_MS change
// the rounds (default 7) and the measured milliseconds per window (default 200); `--quick` makes
// those 2 and 50 (a check that the bench works, not a measurement).
import { type Config, Engine } from "./engine_process.ts";
import {
  COPY_MIB,
  limitsOf,
  percent,
  probe,
  PROBE_KINDS,
  type ProbeKind,
  roofTime,
} from "./roofline.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";
import type { Window } from "./wasm_engine.ts";
import { type Workload, WORKLOADS } from "./wasm_workloads.ts";

const CONFIGS: readonly Config[] = [
  { label: "Edgeflow 1T", script: "wasm_edgeflow.ts", threads: 1 },
  { label: "Edgeflow 2T", script: "wasm_edgeflow.ts", threads: 2 },
  { label: "tfjs-wasm 1T", script: "wasm_tfjs.ts", threads: 1 },
  { label: "ORT-web 1T", script: "wasm_ort.ts", threads: 1 },
  { label: "ORT-web 2T", script: "wasm_ort.ts", threads: 2 },
];
const EDGEFLOW = CONFIGS.filter((c) => c.script === "wasm_edgeflow.ts");

const quick = Deno.args.includes("--quick");
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? (quick ? 2 : 7));
const WINDOW_MS = Number(Deno.env.get("BENCH_WINDOW_MS") ?? (quick ? 50 : 200));

/** Thread counts whose limits are measured: 1, Edgeflow's, and every core. */
const LIMIT_THREADS = [
  ...new Set([1, ...EDGEFLOW.map((c) => c.threads), navigator.hardwareConcurrency]),
]
  .sort((a, b) => a - b);
const PROBES = LIMIT_THREADS.flatMap((t) => PROBE_KINDS.map((k) => probe(k, t)));
const LIMITS: Config = {
  label: "limits",
  script: "wasm_limits.ts",
  threads: LIMIT_THREADS[LIMIT_THREADS.length - 1],
};

const engines = CONFIGS.map(Engine.start);
const limitsEngine = Engine.start(LIMITS);
/** Windows by config label (or "limits"), then workload (or probe) name, indexed by round. */
const windows = new Map(
  [...CONFIGS, LIMITS].map((c) => [c.label, new Map<string, (Window | undefined)[]>()]),
);
function record(label: string, name: string, round: number, got: Window | undefined) {
  const byName = windows.get(label)!;
  if (!byName.has(name)) byName.set(name, []);
  byName.get(name)![round] = got;
}
/** The window of one round, if it was measured. */
const at = (label: string, name: string, r: number) => windows.get(label)!.get(name)?.[r];
/** Every measured window of a cell. */
const measured = (label: string, name: string) =>
  (windows.get(label)!.get(name) ?? []).filter((w): w is Window => w !== undefined);

/** A round's steps: one workload on every engine (shuffled), or one limit probe. */
type Step = { workload: Workload; index: number } | { probe: string };
const steps: Step[] = [
  ...WORKLOADS.map((workload, index) => ({ workload, index })),
  ...PROBES.map((p) => ({ probe: p.name })),
];
const t0 = performance.now();
for (let r = 0; r < ROUNDS; r++) {
  for (const step of shuffled(steps, 1_000_003 + r)) {
    if ("probe" in step) {
      record(LIMITS.label, step.probe, r, await limitsEngine.measure(step.probe, WINDOW_MS));
      continue;
    }
    const { workload: w, index: wi } = step;
    for (const e of shuffled(engines, r * WORKLOADS.length + wi)) {
      record(e.config.label, w.name, r, await e.measure(w.name, WINDOW_MS));
    }
  }
  console.error(`round ${r + 1}/${ROUNDS}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
await Promise.all([...engines, limitsEngine].map((e) => e.close()));

/** A probe's rate in one round: FLOP/s or bytes/s. */
function rate(kind: ProbeKind, threads: number, r: number): number | undefined {
  const w = at(LIMITS.label, probe(kind, threads).name, r);
  return w?.work === undefined ? undefined : w.work / (w.median / 1000);
}
const limitsAt = (threads: number, r: number) =>
  limitsOf(new Map(PROBE_KINDS.map((k) => [k, rate(k, threads, r) ?? NaN])));

/**
 * An Edgeflow configuration's share of its roofline on a workload: per round, the least time
 * the round's limits at its thread count allow over its measured time; the median over rounds.
 */
function roofShare(c: Config, w: Workload): string {
  const shares: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const limits = limitsAt(c.threads, r), got = at(c.label, w.name, r);
    if (!limits || !got) continue;
    shares.push(roofTime(limits, w.flops, w.bytes).seconds / (got.median / 1000));
  }
  if (!shares.length) return "n/a";
  const medians = medianLimits(c.threads);
  const bound = medians ? ` ${roofTime(medians, w.flops, w.bytes).bound}` : "";
  return `${percent(median(shares))}${bound}`;
}

/** The median over rounds of each limit at one thread count. */
function medianLimits(threads: number) {
  const rounds = Array.from({ length: ROUNDS }, (_, r) => limitsAt(threads, r))
    .filter((l) => l !== undefined);
  if (!rounds.length) return undefined;
  return {
    flops: median(rounds.map((l) => l.flops)),
    bandwidth: median(rounds.map((l) => l.bandwidth)),
  };
}

/** Median ms per run over the rounds (µs per op for the dispatch row). */
function time(label: string, name: string): number | undefined {
  const ws = measured(label, name);
  if (!ws.length) return undefined;
  const w = WORKLOADS.find((w) => w.name === name)!;
  const m = median(ws.map((x) => x.median));
  return w.kind === "dispatch" ? (m * 1000) / w.chain! : m;
}

/**
 * A ratio, paired by round: the median over rounds of (peer's window / Edgeflow's window) in
 * the same round, seconds apart, so that a slow drift of the host cancels. Each side is the
 * fastest of its configurations in that round.
 */
function ratio(peers: readonly string[], ours: readonly string[], name: string): string {
  const fastest = (labels: readonly string[], r: number) =>
    Math.min(...labels.map((l) => at(l, name, r)?.median ?? Infinity));
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const p = fastest(peers, r), o = fastest(ours, r);
    if (Number.isFinite(p) && Number.isFinite(o)) ratios.push(p / o);
  }
  return ratios.length ? `${fixed(median(ratios))}×` : "n/a";
}

const cell = (ms: number | undefined, flops: number) => {
  if (ms === undefined) return "n/a";
  return flops > 0 ? `${fixed(ms, 3)} (${fixed(flops / ms / 1e6, 1)})` : fixed(ms, 3);
};

const [EF1, EF2, TFJS, ORT1, ORT2] = CONFIGS.map((c) => c.label);
const rows = WORKLOADS.map((w) => [
  w.name,
  ...CONFIGS.map((c) => cell(time(c.label, w.name), w.kind === "dispatch" ? 0 : w.flops)),
  ratio([ORT2], [EF2], w.name),
  ratio([TFJS, ORT1, ORT2], [EF1, EF2], w.name),
  fixed(w.flops / w.bytes, w.flops / w.bytes < 10 ? 2 : 0),
  ...EDGEFLOW.map((c) => roofShare(c, w)),
]);

/** A probe's median rate in `unit`s per second, ± the median absolute deviation. */
function probeCell(kind: ProbeKind, threads: number, unit: number): string {
  const rates = Array.from({ length: ROUNDS }, (_, r) => rate(kind, threads, r))
    .filter((x) => x !== undefined);
  if (!rates.length) return "n/a";
  const m = median(rates), mad = median(rates.map((x) => Math.abs(x - m)));
  return `${fixed(m / unit, 1)} ±${fixed((100 * mad) / m, 0)}%`;
}

const limitRows = LIMIT_THREADS.map((t) => {
  const l = medianLimits(t);
  return [
    `${t}`,
    probeCell("fma", t, 1e9),
    probeCell("copy", t, 1e9),
    probeCell("stream", t, 1e9),
    l ? fixed(l.flops / l.bandwidth, 1) : "n/a",
  ];
});

/** Windows × fewest runs in a window, and the median absolute deviation over windows. */
function samples(label: string, name: string): string {
  const ws = measured(label, name);
  if (!ws.length) return "n/a";
  const ms = ws.map((x) => x.median), m = median(ms);
  const mad = median(ms.map((x) => Math.abs(x - m)));
  return `${ws.length}×${Math.min(...ws.map((x) => x.runs))} ±${fixed((100 * mad) / m, 0)}%`;
}

console.log(
  `\nDeno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${navigator.hardwareConcurrency} cores; ` +
    `${ROUNDS} interleaved rounds of ${WINDOW_MS} ms windows, ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s.`,
);
console.log(
  "WASM device vs peers: median over rounds of each window's median ms per run (GFLOP/s); " +
    "dispatch row: µs per op. Ratios: peer time / Edgeflow time (> 1: Edgeflow faster), the " +
    "median over rounds of each round's ratio; best = fastest peer config vs Edgeflow's faster " +
    "thread count.",
);
console.log(
  `Roofline: this machine's limits, measured in the same rounds (median over rounds ± median ` +
    `absolute deviation). Copies count bytes read + written, over a ` +
    `${COPY_MIB} MiB buffer; ridge = FLOP/s ÷ the better bandwidth.\n`,
);
printTable(
  [
    "threads",
    "f32x4 relaxed_madd GFLOP/s",
    "memory.copy GB/s",
    "v128 load+store GB/s",
    "ridge FLOP/B",
  ],
  limitRows,
);
console.log(
  "\nFLOP/B: the workload's FLOPs over its compulsory bytes (bench/wasm_workloads.ts). EF nT " +
    "roof: Edgeflow's share of its roofline at n threads, attainable = min(peak FLOP/s, FLOP/B × " +
    "bandwidth), the median over rounds of (least time / measured time), and which limit binds. " +
    "Above 100% on the memory side: the working set stayed in cache.\n",
);
printTable(
  [
    "workload",
    ...CONFIGS.map((c) => c.label),
    "ORT 2T / EF 2T",
    "best peer / EF",
    "FLOP/B",
    ...EDGEFLOW.map((c) => `EF ${c.threads}T roof`),
  ],
  rows,
);
console.log(
  "\nSamples: windows × fewest runs in a window, ± median absolute deviation of the windows' " +
    "medians (a measure of the host's noise).\n",
);
printTable(
  ["workload", ...CONFIGS.map((c) => c.label)],
  WORKLOADS.map((w) => [w.name, ...CONFIGS.map((c) => samples(c.label, w.name))]),
);
