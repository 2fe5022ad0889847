// What observing a run costs per node: a chain of 2,000 AddV2 on a [64] vector on WASM, run
// plain (no observer: the executor's hook is a null check), with run metadata, with a trace,
// with checkNumerics (every output read on the host) and with compareWithReference (every node
// re-run by its reference). Runners are interleaved in shuffled order each round; the table shows
// each runner's median µs per node and the median of its per-round ratio to the plain run.
import * as ef from "../mod.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";

const CHAIN = 2_000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 11);
const WARMUP = 3;

const g = new ef.Graph();
const x = ef.placeholder(g, "float32", [64], { name: "x" });
const one = ef.constant(ef.tensor(new Float32Array(64).fill(1), [64]), { graph: g });
let y = x;
for (let i = 0; i < CHAIN; i++) y = ef.add(y, one);
const s = new ef.Session(g, { device: "WASM" });
const feed: [ef.Output, ef.Tensor][] = [[x, ef.tensor(new Float32Array(64), [64])]];

const runners: Record<string, () => ef.RunOptions> = {
  "plain": () => ({}),
  "metadata": () => ({ metadata: { steps: [] } }),
  "trace: true": () => ({ trace: true, metadata: { steps: [] } }),
  "checkNumerics": () => ({ checkNumerics: true }),
  "compareWithReference": () => ({ compareWithReference: true }),
};
const names = Object.keys(runners);
const times = new Map<string, number[]>(names.map((n) => [n, []]));
const ratios = new Map<string, number[]>(names.map((n) => [n, []]));
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  const took = new Map<string, number>();
  for (const name of shuffled(names, round)) {
    const t0 = performance.now();
    await s.run(y, feed, [], runners[name]());
    took.set(name, ((performance.now() - t0) * 1000) / CHAIN);
  }
  if (round < WARMUP) continue;
  for (const n of names) {
    times.get(n)!.push(took.get(n)!);
    ratios.get(n)!.push(took.get(n)! / took.get("plain")!);
  }
}
await s.close();
console.log(`chain of ${CHAIN} AddV2 [64] on WASM, ${ROUNDS} rounds`);
printTable(
  ["runner", "µs/node (median)", "× plain (median of rounds)"],
  names.map((n) => [n, fixed(median(times.get(n)!)), fixed(median(ratios.get(n)!))]),
);
