// The WASM device against its peers, in one run (`deno task bench:wasm`): every workload of
// issue 3 on Edgeflow at 1 and 2 threads, @tensorflow/tfjs-backend-wasm (SIMD, one thread under
// Deno) and onnxruntime-web (WASM EP, 1 and 2 threads). Each configuration runs in its own process,
// one after another, so no engine's threads compete with another's; the table shows medians and
// ratios (peer time / Edgeflow time: above 1 means Edgeflow is faster).
import { fixed, printTable } from "./stats.ts";
import { type Measurement, WORKLOADS } from "./wasm_workloads.ts";

interface Config {
  label: string;
  script: string;
  threads: number;
}

const CONFIGS: readonly Config[] = [
  { label: "Edgeflow 1T", script: "wasm_edgeflow.ts", threads: 1 },
  { label: "Edgeflow 2T", script: "wasm_edgeflow.ts", threads: 2 },
  { label: "tfjs-wasm 1T", script: "wasm_tfjs.ts", threads: 1 },
  { label: "ORT-web 1T", script: "wasm_ort.ts", threads: 1 },
  { label: "ORT-web 2T", script: "wasm_ort.ts", threads: 2 },
];

/**
 * Every engine's process gets the same glibc malloc settings: keep freed memory instead of
 * returning it to the OS. Without them, whether a fresh 4 MiB result is page-faulted on every
 * run depended on each process's allocation history (measured: 150,000 minor faults in 160 runs
 * of AddV2 1M in one process, 3.5 ms of a 4 ms run; about 0.7 ms with reuse), which measured the
 * allocator, not the engines.
 */
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: "134217728", MALLOC_TRIM_THRESHOLD_: "268435456" };

async function runConfig(c: Config): Promise<Map<string, Measurement>> {
  const script = new URL(c.script, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, String(c.threads)],
    env: MALLOC_ENV,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.startsWith("{"));
  if (!out.success) console.error(`${c.label} exited with ${out.code}; its rows may be missing`);
  return new Map(lines.map((l) => JSON.parse(l) as Measurement).map((m) => [m.workload, m]));
}

const results = new Map<string, Map<string, Measurement>>();
for (const c of CONFIGS) {
  const t0 = performance.now();
  results.set(c.label, await runConfig(c));
  console.error(`${c.label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

const time = (label: string, w: string) => results.get(label)?.get(w)?.median;
const ratio = (peer: number | undefined, ours: number | undefined) =>
  peer === undefined || ours === undefined ? "n/a" : `${fixed(peer / ours)}×`;
const cell = (ms: number | undefined, flops: number) => {
  if (ms === undefined) return "n/a";
  return flops > 0 ? `${fixed(ms, 3)} (${fixed(flops / ms / 1e6, 1)})` : fixed(ms, 3);
};

const rows = WORKLOADS.map((w) => {
  const ef1 = time("Edgeflow 1T", w.name), ef2 = time("Edgeflow 2T", w.name);
  const tfjs = time("tfjs-wasm 1T", w.name);
  const ort1 = time("ORT-web 1T", w.name), ort2 = time("ORT-web 2T", w.name);
  const peers = [tfjs, ort1, ort2].filter((t): t is number => t !== undefined);
  const best = peers.length ? Math.min(...peers) : undefined;
  return [
    w.name,
    ...[ef1, ef2, tfjs, ort1, ort2].map((t) => cell(t, w.kind === "dispatch" ? 0 : w.flops)),
    ratio(ort2, ef2),
    ratio(best, Math.min(ef1 ?? Infinity, ef2 ?? Infinity)),
  ];
});

console.log(
  `\nDeno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${navigator.hardwareConcurrency} cores.`,
);
console.log(
  "WASM device vs peers: median ms per run (GFLOP/s); dispatch row: µs per op. " +
    "Ratios: peer time / Edgeflow time (> 1: Edgeflow faster); best = fastest peer config vs " +
    "Edgeflow's faster thread count.\n",
);
printTable(
  [
    "workload",
    ...CONFIGS.map((c) => c.label),
    "ORT 2T / EF 2T",
    "best peer / EF",
  ],
  rows,
);
