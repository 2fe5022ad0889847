// The WASM gradient kernels against tfjs-backend-wasm, in one run (`deno task bench:grad`): the
// backward convolutions and MaxPoolGrad at the digits CNN's shapes (bench/grad_workloads.ts) on
// Edgeflow at 1 and 2 threads and on tfjs-backend-wasm (SIMD, one thread under Deno), each a
// long-lived process of its own (bench/wasm_engine.ts's protocol, as bench/wasm.ts).
//
// Configurations are interleaved: in each of ROUNDS rounds every workload is measured for one
// window on every configuration, in an order shuffled per round and workload, and the table gives
// the median over rounds of each window's median, and ratios paired by round (tfjs time /
// Edgeflow time: above 1, Edgeflow is faster).
//
// BENCH_FILTER=<substring>, BENCH_ROUNDS (default 5), BENCH_WINDOW_MS (default 200); `--quick`
// makes them 2 and 50 (a check that the bench works, not a measurement).
import { type Config, Engine } from "./engine_process.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";
import type { Window } from "./wasm_engine.ts";
import { GRAD_WORKLOADS, type GradWorkload } from "./grad_workloads.ts";

interface GradConfig extends Config {
  /** Whether the engine has a kernel for the workload. */
  supports(w: GradWorkload): boolean;
}

const CONFIGS: readonly GradConfig[] = [
  { label: "Edgeflow 1T", script: "grad_edgeflow.ts", threads: 1, supports: () => true },
  { label: "Edgeflow 2T", script: "grad_edgeflow.ts", threads: 2, supports: () => true },
  // tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter kernel.
  {
    label: "tfjs-wasm 1T",
    script: "grad_tfjs.ts",
    threads: 1,
    supports: (w) => w.kind !== "filter",
  },
];

const quick = Deno.args.includes("--quick");
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? (quick ? 2 : 5));
const WINDOW_MS = Number(Deno.env.get("BENCH_WINDOW_MS") ?? (quick ? 50 : 200));

const engines = CONFIGS.map((c) => ({ c, e: Engine.start(c) }));
const windows = new Map<string, Window | undefined>();
const key = (label: string, name: string, r: number) => `${label}\u0000${name}\u0000${r}`;

const t0 = performance.now();
for (let r = 0; r < ROUNDS; r++) {
  for (const [wi, w] of GRAD_WORKLOADS.entries()) {
    for (const { c, e } of shuffled(engines, r * GRAD_WORKLOADS.length + wi)) {
      if (c.supports(w)) windows.set(key(c.label, w.name, r), await e.measure(w.name, WINDOW_MS));
    }
  }
  console.error(`round ${r + 1}/${ROUNDS}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
await Promise.all(engines.map(({ e }) => e.close()));

const at = (label: string, name: string, r: number) => windows.get(key(label, name, r))?.median;

function cell(c: GradConfig, w: GradWorkload): string {
  const ms = Array.from({ length: ROUNDS }, (_, r) => at(c.label, w.name, r))
    .filter((x) => x !== undefined);
  if (!ms.length) return "n/a";
  const m = median(ms);
  return w.flops ? `${fixed(m, 3)} (${fixed(w.flops / m / 1e6, 1)})` : fixed(m, 3);
}

/** The median over rounds of (peer time / Edgeflow time) in the same round. */
function ratio(peer: string, ours: string, name: string): string {
  const rs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const p = at(peer, name, r), o = at(ours, name, r);
    if (p !== undefined && o !== undefined) rs.push(p / o);
  }
  return rs.length ? `${fixed(median(rs))}×` : "n/a";
}

console.log(
  `\nDeno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${navigator.hardwareConcurrency} cores; ` +
    `${ROUNDS} interleaved rounds of ${WINDOW_MS} ms windows, ` +
    `${((performance.now() - t0) / 1000).toFixed(0)} s. Median ms per run (GFLOP/s); ratios: ` +
    "tfjs time / Edgeflow time, paired by round.\n",
);
printTable(
  ["workload", ...CONFIGS.map((c) => c.label), "tfjs / EF 1T", "tfjs / EF 2T"],
  GRAD_WORKLOADS.map((w) => [
    w.name,
    ...CONFIGS.map((c) => cell(c, w)),
    ratio("tfjs-wasm 1T", "Edgeflow 1T", w.name),
    ratio("tfjs-wasm 1T", "Edgeflow 2T", w.name),
  ]),
);
