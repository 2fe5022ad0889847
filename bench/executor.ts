// Per-node executor overhead: a chain of 10,000 tiny ops and a wide graph, in µs per node, on
// each installed host device type, next to @tensorflow/tfjs-backend-cpu running the same ops
// eagerly in the same process. The host's speed drifts within minutes, so runners are
// interleaved: every round runs each runner once, in a shuffled order. The table shows each
// runner's median over rounds, and the median over rounds of that round's ratio (tfjs time /
// Edgeflow time), with its spread.
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-cpu@4";
import * as ef from "../mod.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";

const CHAIN = 10_000;
const WIDTH = 5_000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 21);
const WARMUP = 5;

interface Workload {
  name: string;
  /** Nodes the executor runs per call (the feed excluded). */
  nodes: number;
  build(g: ef.Graph, x: ef.Output): ef.Output;
  tfjs(x: tf.Tensor, one: tf.Tensor, consts: tf.Tensor[]): tf.Tensor;
}

const workloads: Workload[] = [
  {
    name: `chain of ${CHAIN} AddV2 (scalar)`,
    nodes: CHAIN + 1, // the shared Const too
    build(g, x) {
      const one = ef.constant(1, { graph: g });
      let y = x;
      for (let i = 0; i < CHAIN; i++) y = ef.add(y, one);
      return y;
    },
    tfjs(x, one) {
      let y = x;
      for (let i = 0; i < CHAIN; i++) y = tf.add(y, one);
      return y;
    },
  },
  {
    name: `wide: ${WIDTH} AddV2 + tree of ${WIDTH - 1}`,
    nodes: 3 * WIDTH - 1, // WIDTH Consts, WIDTH branch adds, WIDTH-1 tree adds
    build(g, x) {
      const branches = Array.from(
        { length: WIDTH },
        (_, i) => ef.add(x, ef.constant(i, { graph: g })),
      );
      return reduceTree(branches, (a, b) => ef.add(a, b));
    },
    tfjs(x, _one, consts) {
      return reduceTree(consts.map((c) => tf.add(x, c)), (a, b) => tf.add(a, b));
    },
  },
];

function reduceTree<T>(xs: T[], f: (a: T, b: T) => T): T {
  while (xs.length > 1) {
    const next: T[] = [];
    for (let i = 0; i + 1 < xs.length; i += 2) next.push(f(xs[i], xs[i + 1]));
    if (xs.length % 2) next.push(xs[xs.length - 1]);
    xs = next;
  }
  return xs[0];
}

interface Runner {
  name: string;
  run(): unknown;
  close(): Promise<void> | void;
}

/** ms of one call. */
async function timeOnce(fn: () => unknown): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Median absolute deviation relative to the median, as a percentage. */
function spread(xs: readonly number[]): string {
  const m = median(xs);
  return `±${fixed((100 * median(xs.map((x) => Math.abs(x - m)))) / m, 0)}%`;
}

await tf.setBackend("cpu");
const types = ef.defaultRegistry.pluginTypes().filter((t) => t !== "WEBGPU" && t !== "TPU");
const rows: string[][] = [];
for (const [wi, w] of workloads.entries()) {
  const x = tf.scalar(0);
  const one = tf.scalar(1);
  const consts = Array.from({ length: WIDTH }, (_, i) => tf.scalar(i));
  const tfjsRunner: Runner = {
    name: "tfjs-backend-cpu (eager)",
    run: () => tf.tidy(() => w.tfjs(x, one, consts).dataSync()),
    close: () => tf.dispose([x, one, ...consts]),
  };
  const runners: Runner[] = types.map((type) => {
    const g = new ef.Graph();
    const input = ef.placeholder(g, "float32", [], { name: "x" });
    const y = w.build(g, input);
    // Folding and CSE would shrink the graph; the bench measures the executor, so they are off.
    const s = new ef.Session(g, { device: type, passes: { constantFolding: false, cse: false } });
    const feed = { x: ef.scalar(0) };
    return { name: `Edgeflow ${type}`, run: () => s.run(y, feed), close: () => s.close() };
  });
  const all = [...runners, tfjsRunner];
  for (const r of all) for (let i = 0; i < WARMUP; i++) await r.run();
  const times = new Map<Runner, number[]>(all.map((r) => [r, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const r of shuffled(all, round * workloads.length + wi)) {
      times.get(r)!.push(await timeOnce(() => r.run()));
    }
  }
  const us = (r: Runner) => (median(times.get(r)!) * 1000) / w.nodes;
  const tfjsTimes = times.get(tfjsRunner)!;
  for (const r of runners) {
    const ratios = times.get(r)!.map((t, i) => tfjsTimes[i] / t);
    rows.push([w.name, r.name, fixed(us(r), 3), `${fixed(median(ratios))}×`, spread(ratios)]);
  }
  rows.push([w.name, tfjsRunner.name, fixed(us(tfjsRunner), 3), "1.00×", ""]);
  for (const r of all) await r.close();
}
console.log(
  `Executor overhead, ${ROUNDS} interleaved rounds (µs per node: median over rounds; ratio: ` +
    `median over rounds of tfjs time / this runner's time, ± its median absolute deviation)\n`,
);
printTable(["workload", "runner", "µs/node", "vs tfjs-cpu", "ratio spread"], rows);
