// While-loop overhead per iteration: `x = x + 1 while x < limit` (a scalar body: the loop's own
// Enter/Merge/Switch/LoopCond/NextIteration/Exit work dominates) for 1,000 iterations, on
// Edgeflow's default device (WASM) next to @tensorflow/tfjs-converter's graph-model executor
// (tfjs-backend-cpu) running the same TensorFlow 1 loop from a model.json, in the same process.
// Runners are interleaved in shuffled order each round; the table shows medians over rounds and
// the median of per-round ratios (Edgeflow time / tfjs time: below 1 is faster). A third runner
// splits the loop over two WASM devices (the AddV2 requested on WASM:1, the rest on WASM:0): each
// iteration then sends the body's input, the predicate and the sum between the devices
// (core/control_flow/control_loops.ts), which prices a value crossing devices inside a loop.
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-cpu@4";
import * as tfc from "npm:@tensorflow/tfjs-converter@4";
import * as ef from "../mod.ts";
import { fixed, median, printTable, timeInRounds } from "./stats.ts";

const ITERATIONS = Number(Deno.env.get("BENCH_ITERATIONS") ?? 1000);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 15);
const WARMUP = 3;

/** The loop as TensorFlow 1 writes it, in tfjs's model.json form (inputs fed, no weights). */
function tfjsModelTopology() {
  const F = { type: "DT_FLOAT" };
  const frame = { s: btoa("while/while_context") };
  const enter = (name: string, input: string, constant: boolean) => ({
    name,
    op: "Enter",
    input: [input],
    attr: {
      T: F,
      frame_name: frame,
      is_constant: { b: constant },
      parallel_iterations: { i: "10" },
    },
  });
  const ph = (name: string) => ({
    name,
    op: "Placeholder",
    attr: { dtype: F, shape: { shape: {} } },
  });
  return {
    node: [
      ph("x0"),
      ph("limit"),
      ph("one"),
      enter("while/Enter", "x0", false),
      enter("while/Enter_1", "limit", true),
      enter("while/Enter_2", "one", true),
      {
        name: "while/Merge",
        op: "Merge",
        input: ["while/Enter", "while/NextIteration"],
        attr: { T: F, N: { i: "2" } },
      },
      { name: "while/Less", op: "Less", input: ["while/Merge", "while/Enter_1"], attr: { T: F } },
      { name: "while/LoopCond", op: "LoopCond", input: ["while/Less"] },
      {
        name: "while/Switch",
        op: "Switch",
        input: ["while/Merge", "while/LoopCond"],
        attr: { T: F },
      },
      { name: "while/Identity", op: "Identity", input: ["while/Switch:1"], attr: { T: F } },
      {
        name: "while/add",
        op: "AddV2",
        input: ["while/Identity", "while/Enter_2"],
        attr: { T: F },
      },
      { name: "while/NextIteration", op: "NextIteration", input: ["while/add"], attr: { T: F } },
      { name: "while/Exit", op: "Exit", input: ["while/Switch"], attr: { T: F } },
    ],
    versions: { producer: 27 },
  };
}

async function tfjsRunner() {
  await tf.setBackend("cpu");
  const model = await tfc.loadGraphModel({
    load: () =>
      Promise.resolve({
        modelTopology: tfjsModelTopology(),
        format: "graph-model",
        weightSpecs: [],
        weightData: new ArrayBuffer(0),
      }),
  });
  const feeds = { x0: tf.scalar(0), limit: tf.scalar(ITERATIONS), one: tf.scalar(1) };
  return async () => {
    const out = await model.executeAsync(feeds, "while/Exit") as tf.Tensor;
    const v = (await out.data())[0];
    out.dispose();
    if (v !== ITERATIONS) throw new Error(`tfjs gave ${v}`);
  };
}

function edgeflowRunner(split = false) {
  const g = new ef.Graph();
  const x0 = ef.placeholder(g, "float32", [], { name: "x0" });
  const limit = ef.placeholder(g, "float32", [], { name: "limit" });
  const one = ef.placeholder(g, "float32", [], { name: "one" });
  const [x] = g.withDevice(split ? "/device:WASM:0" : "", () =>
    ef.whileLoop(
      (x) => ef.less(x, limit),
      (x) => [g.withDevice(split ? "/device:WASM:1" : "", () => ef.add(x, one))],
      [x0],
    ));
  const s = new ef.Session(g, split ? { deviceCount: { WASM: 2 } } : {});
  const feeds = { x0: 0, limit: ITERATIONS, one: 1 };
  return async () => {
    const v = (await s.run(x, feeds)).toArray();
    if (v !== ITERATIONS) throw new Error(`Edgeflow gave ${v}`);
  };
}

const TFJS = "tfjs graph model (cpu)";
const runners: [string, () => Promise<void>][] = [
  ["Edgeflow (WASM)", edgeflowRunner()],
  ["Edgeflow, body on WASM:1", edgeflowRunner(true)],
  [TFJS, await tfjsRunner()],
];
const measured = await timeInRounds(runners, TFJS, WARMUP, ROUNDS);
console.log(`while loop, ${ITERATIONS} iterations of a scalar AddV2, ${ROUNDS} rounds`);
printTable(
  ["runner", "median ms / run", "µs / iteration", "Edgeflow / tfjs (median, p10–p90)"],
  runners.map(([n]) => {
    const m = median(measured.get(n)!.times);
    const sorted = [...measured.get(n)!.ratios].sort((a, b) => a - b);
    const ratio = n !== TFJS
      ? `${fixed(median(sorted))} (${fixed(sorted[Math.floor(sorted.length * 0.1)])}–${
        fixed(sorted[Math.ceil(sorted.length * 0.9) - 1])
      })`
      : "1.00";
    return [n, fixed(m), fixed((m * 1000) / ITERATIONS), ratio];
  }),
);
