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
// BENCH_FILTER=<substring> runs the matching workloads; BENCH_ROUNDS and BENCH_WINDOW_MS change
// the rounds (default 7) and the measured milliseconds per window (default 200).
import { fixed, median, printTable, shuffled } from "./stats.ts";
import type { Window } from "./wasm_engine.ts";
import { WORKLOADS } from "./wasm_workloads.ts";

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

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 7);
const WINDOW_MS = Number(Deno.env.get("BENCH_WINDOW_MS") ?? 200);

/**
 * Every engine's process gets the same glibc malloc settings: keep freed memory instead of
 * returning it to the OS. Without them, whether a fresh 4 MiB result is page-faulted on every
 * run depended on each process's allocation history (measured: 150,000 minor faults in 160 runs
 * of AddV2 1M in one process, 3.5 ms of a 4 ms run; about 0.7 ms with reuse), which measured the
 * allocator, not the engines.
 */
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: "134217728", MALLOC_TRIM_THRESHOLD_: "268435456" };

/** One configuration's process: send a command, read its answer. */
class Engine {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private buffered = "";
  private dead = false;

  constructor(readonly config: Config, private readonly child: Deno.ChildProcess) {
    this.writer = child.stdin.getWriter();
    this.reader = child.stdout.getReader();
  }

  static start(c: Config): Engine {
    const script = new URL(c.script, import.meta.url).pathname;
    // The repository's lockfile pins the peers; deno.json leaves it off so that the demo and a
    // URL import fetch nothing but Edgeflow.
    const lock = new URL("../deno.lock", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--lock=${lock}`, script, String(c.threads)],
      env: MALLOC_ENV,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new Engine(c, child);
  }

  /** One window of `workload`, or undefined once the process has failed. */
  async measure(workload: string): Promise<Window | undefined> {
    if (this.dead) return undefined;
    const line = JSON.stringify({ workload, windowMs: WINDOW_MS }) + "\n";
    try {
      await this.writer.write(new TextEncoder().encode(line));
      for (;;) {
        const answer = await this.line();
        if (answer === undefined) break;
        if (answer.startsWith("{")) return JSON.parse(answer) as Window;
      }
    } catch (e) {
      console.error(`${this.config.label}: ${e}`);
    }
    console.error(`${this.config.label} stopped; its remaining cells are n/a`);
    this.dead = true;
    return undefined;
  }

  private async line(): Promise<string | undefined> {
    const decoder = new TextDecoder();
    for (;;) {
      const i = this.buffered.indexOf("\n");
      if (i >= 0) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        return line;
      }
      const { value, done } = await this.reader.read();
      if (done) return undefined;
      this.buffered += decoder.decode(value);
    }
  }

  async close(): Promise<void> {
    await this.writer.close().catch(() => {});
    await this.child.status;
    this.reader.releaseLock();
  }
}

const engines = CONFIGS.map(Engine.start);
/** Windows by config label, then workload name. */
const windows = new Map(CONFIGS.map((c) => [c.label, new Map<string, Window[]>()]));
const t0 = performance.now();
for (let r = 0; r < ROUNDS; r++) {
  for (const [wi, w] of WORKLOADS.entries()) {
    for (const e of shuffled(engines, r * WORKLOADS.length + wi)) {
      const got = await e.measure(w.name);
      if (!got) continue;
      const byWorkload = windows.get(e.config.label)!;
      byWorkload.set(w.name, [...(byWorkload.get(w.name) ?? []), got]);
    }
  }
  console.error(`round ${r + 1}/${ROUNDS}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
await Promise.all(engines.map((e) => e.close()));

/** Median ms per run over the rounds (µs per op for the dispatch row). */
function time(label: string, name: string): number | undefined {
  const ws = windows.get(label)!.get(name);
  if (!ws?.length) return undefined;
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
    Math.min(...labels.map((l) => windows.get(l)!.get(name)?.[r]?.median ?? Infinity));
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
]);

/** Windows × fewest runs in a window, and the median absolute deviation over windows. */
function samples(label: string, name: string): string {
  const ws = windows.get(label)!.get(name);
  if (!ws?.length) return "n/a";
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
    "thread count.\n",
);
printTable(
  ["workload", ...CONFIGS.map((c) => c.label), "ORT 2T / EF 2T", "best peer / EF"],
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
