// Per-node executor overhead: a chain of 10,000 tiny ops and a wide graph, in µs per node, on
// each installed host device type, next to @tensorflow/tfjs-backend-cpu running the same ops
// eagerly in the same process. Medians over repeated runs; ratio = tfjs time / Edgeflow time.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as ef from "../mod.ts";
import { fixed, median, printTable, timeRuns } from "./stats.ts";

const CHAIN = 10_000;
const WIDTH = 5_000;
const RUNS = Number(Deno.env.get("BENCH_RUNS") ?? 15);

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

await tf.setBackend("cpu");
const types = ef.defaultRegistry.pluginTypes().filter((t) => t !== "WEBGPU" && t !== "TPU");
const rows: string[][] = [];
for (const w of workloads) {
  const x = tf.scalar(0);
  const one = tf.scalar(1);
  const consts = Array.from({ length: WIDTH }, (_, i) => tf.scalar(i));
  const tfjsMs = median(
    await timeRuns(() => tf.tidy(() => w.tfjs(x, one, consts).dataSync()), { runs: RUNS }),
  );
  const tfjsUs = (tfjsMs * 1000) / w.nodes;
  for (const type of types) {
    const g = new ef.Graph();
    const input = ef.placeholder(g, "float32", [], { name: "x" });
    const y = w.build(g, input);
    // Folding and CSE would shrink the graph; the bench measures the executor, so they are off.
    await using s = new ef.Session(g, {
      device: type,
      passes: { constantFolding: false, cse: false },
    });
    const feed = { x: ef.scalar(0) };
    const ms = median(await timeRuns(() => s.run(y, feed), { runs: RUNS }));
    const us = (ms * 1000) / w.nodes;
    rows.push([w.name, `Edgeflow ${type}`, fixed(us, 3), `${fixed(tfjsUs / us)}×`]);
  }
  rows.push([w.name, "tfjs-backend-cpu (eager)", fixed(tfjsUs, 3), "1.00×"]);
  tf.dispose([x, one, ...consts]);
}
console.log(
  `Executor overhead, median of ${RUNS} runs (µs per node; ratio = tfjs time / this runner's time)\n`,
);
printTable(["workload", "runner", "µs/node", "vs tfjs-cpu"], rows);
