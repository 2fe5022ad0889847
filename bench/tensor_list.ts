// A while loop accumulating into a TensorList: `l = SetItem(l, i, x * i)` for i < n, then
// TensorListStack (what tf.TensorArray becomes in TensorFlow 2), for n iterations of a [16] float
// row. Edgeflow on WASM and on REF next to @tensorflow/tfjs-converter's graph-model executor
// (tfjs-backend-cpu) running the same TensorFlow 1 loop: the GraphDef Edgeflow exports, given to
// tfjs as a model.json topology. Beside it, the same loop carrying a plain [16] vector (no list),
// for the list ops' own share. Runners are interleaved in shuffled order each round; the table
// shows medians over rounds and the median of per-round ratios to tfjs (below 1 is faster).
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-cpu@4";
import * as tfc from "npm:@tensorflow/tfjs-converter@4";
import * as ef from "../mod.ts";
import { fixed, median, printTable, timeInRounds } from "./stats.ts";

const ITERATIONS = Number(Deno.env.get("BENCH_ITERATIONS") ?? 1000);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 9);
const WARMUP = 2;
const WIDTH = 16;
const x = Array.from({ length: WIDTH }, (_, i) => i / WIDTH);

/** The list loop: x [16] and n fed; the stacked [n, 16] rows fetched as "stacked". */
function listGraph(): ef.Graph {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const xs = ef.placeholder(g, "float32", [WIDTH], { name: "x" });
  g.asDefault(() => {
    const l0 = ef.tensorListReserve([WIDTH], n, "float32");
    const [, acc] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, l) => [ef.add(i, 1), ef.tensorListSetItem(l, i, ef.mul(xs, ef.cast(i, "float32")))],
      [ef.constant(0, { dtype: "int32" }), l0],
    );
    ef.tensorListStack(acc, "float32", { elementShape: [WIDTH], name: "stacked" });
  });
  return g;
}

/** The same loop carrying a vector: `v = v + x * i` (no list), fetched as "summed". */
function vectorGraph(): ef.Graph {
  const g = new ef.Graph();
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const xs = ef.placeholder(g, "float32", [WIDTH], { name: "x" });
  g.asDefault(() => {
    const [, v] = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, v) => [ef.add(i, 1), ef.add(v, ef.mul(xs, ef.cast(i, "float32")))],
      [ef.constant(0, { dtype: "int32" }), ef.zerosLike(xs)],
    );
    ef.identity(v, { name: "summed" });
  });
  return g;
}

function check(rows: ArrayLike<number>, what: string) {
  const last = (ITERATIONS - 1) * x[WIDTH - 1];
  const got = rows[rows.length - 1];
  if (rows.length !== ITERATIONS * WIDTH || Math.abs(got - last) > 1e-3 * Math.abs(last)) {
    throw new Error(`${what} gave ${rows.length} values ending ${got}, expected ${last}`);
  }
}

function edgeflowRunner(device: "WASM" | "REF", g: ef.Graph, fetch: string) {
  const s = new ef.Session(g, { device });
  const feeds = { n: ITERATIONS, x };
  return async () => {
    const t = await s.run(fetch, feeds);
    if (fetch === "stacked") check(t.data as Float32Array, `Edgeflow ${device}`);
  };
}

/** tfjs-converter reads Const values from the weights, not the GraphDef: they move there. */
function weightsOf(g: ef.Graph) {
  const consts = g.nodes.filter((n) => n.op.name === "Const");
  const specs = consts.map((n) => {
    const t = n.attrs.value as ef.Tensor;
    return { name: n.name, shape: [...t.shape], dtype: t.dtype as "float32" | "int32" };
  });
  const parts = consts.map((n) => {
    const d = (n.attrs.value as ef.Tensor).data as Float32Array | Int32Array;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  });
  const data = new Uint8Array(parts.reduce((k, p) => k + p.length, 0));
  parts.reduce((at, p) => (data.set(p, at), at + p.length), 0);
  return { weightSpecs: specs, weightData: data.buffer };
}

async function tfjsRunner() {
  await tf.setBackend("cpu");
  const g = listGraph();
  const model = await tfc.loadGraphModel({
    load: () =>
      Promise.resolve({
        modelTopology: ef.toGraphDef(g),
        format: "graph-model",
        ...weightsOf(g),
      }),
  });
  const feeds = { n: tf.scalar(ITERATIONS, "int32"), x: tf.tensor1d(x) };
  return async () => {
    const out = await model.executeAsync(feeds, "stacked") as tf.Tensor;
    check(await out.data() as Float32Array, "tfjs");
    out.dispose();
  };
}

const TFJS = "tfjs graph model (cpu), list";
const runners: [string, () => Promise<void>][] = [
  ["Edgeflow (WASM), list", edgeflowRunner("WASM", listGraph(), "stacked")],
  ["Edgeflow (REF), list", edgeflowRunner("REF", listGraph(), "stacked")],
  ["Edgeflow (WASM), vector, no list", edgeflowRunner("WASM", vectorGraph(), "summed")],
  [TFJS, await tfjsRunner()],
];
const measured = await timeInRounds(runners, TFJS, WARMUP, ROUNDS);
console.log(
  `while loop accumulating a TensorList, ${ITERATIONS} iterations of a [${WIDTH}] row, ` +
    `${ROUNDS} rounds`,
);
printTable(
  ["runner", "median ms / run", "µs / iteration", "/ tfjs (median of rounds)"],
  runners.map(([n]) => {
    const m = median(measured.get(n)!.times);
    return [n, fixed(m), fixed((m * 1000) / ITERATIONS), fixed(median(measured.get(n)!.ratios))];
  }),
);
