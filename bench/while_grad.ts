// While-loop gradients: one forward and backward pass of an RNN-like loop (h ← tanh(h·W + b),
// batch 16, width 64, 32 steps; loss Σh_T²), giving dW and db. Runners, interleaved in shuffled
// order each round in one process: Edgeflow's while loop with its backward loop (stacks of
// forward values) on WASM, the same math unrolled into a straight 32-step graph on WASM, and
// tfjs's eager tf.grads over a JavaScript loop on tfjs-backend-wasm and tfjs-backend-cpu (each
// run selects its backend and uploads its operands). All gradients are checked against each
// other before timing.
// The table shows medians over rounds and the median of per-round ratios to the while loop.
// The union package: tfjs-core alone registers no gradient functions (see bench/train_tfjs.ts).
import * as tf from "npm:@tensorflow/tfjs@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import * as ef from "../mod.ts";
import { fixed, median, printTable, timeInRounds } from "./stats.ts";

const STEPS = Number(Deno.env.get("BENCH_STEPS") ?? 32);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 15);
const WARMUP = 3;
const BATCH = 16, WIDTH = 64;

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 * 2 - 1) * scale;
  });
}
const H0 = values(BATCH * WIDTH, 1, 1),
  W = values(WIDTH * WIDTH, 2, 0.2),
  B = values(WIDTH, 3, 0.1);

type Runner = () => Promise<Float32Array>;

function edgeflowRunner(loop: boolean): Runner {
  const g = new ef.Graph();
  const h0 = ef.placeholder(g, "float32", [BATCH, WIDTH], { name: "h0" });
  const w = ef.placeholder(g, "float32", [WIDTH, WIDTH], { name: "w" });
  const b = ef.placeholder(g, "float32", [WIDTH], { name: "b" });
  const step = (h: ef.Output) => ef.tanh(ef.add(ef.matMul(h, w), b));
  let h = h0;
  if (loop) {
    h = ef.whileLoop(
      (i) => ef.less(i, STEPS),
      (i, h) => [ef.add(i, 1), step(h)],
      [g.asDefault(() => ef.constant(0, { dtype: "int32" })), h0],
    )[1];
  } else for (let k = 0; k < STEPS; k++) h = step(h);
  const [dw] = ef.gradients(ef.sum(ef.square(h), [0, 1]), [w, b]);
  const s = new ef.Session(g);
  const f = {
    h0: ef.Tensor.fromNumbers("float32", [BATCH, WIDTH], H0),
    w: ef.Tensor.fromNumbers("float32", [WIDTH, WIDTH], W),
    b: ef.Tensor.fromNumbers("float32", [WIDTH], B),
  };
  return async () => Float32Array.from((await s.run(dw!, f)).toNumbers() as ArrayLike<number>);
}

async function tfjsRunner(backend: string): Promise<Runner> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} did not start`);
  return async () => {
    await tf.setBackend(backend);
    const h0 = tf.tensor2d(H0, [BATCH, WIDTH]);
    const w = tf.tensor2d(W, [WIDTH, WIDTH]), b = tf.tensor1d(B);
    const grads = tf.grads((w: tf.Tensor, b: tf.Tensor) => {
      let h = h0 as tf.Tensor;
      for (let k = 0; k < STEPS; k++) h = tf.tanh(tf.add(tf.matMul(h, w), b));
      return tf.sum(tf.square(h));
    });
    const [dw, db] = grads([w, b]);
    const out = await dw.data() as Float32Array;
    tf.dispose([dw, db, h0, w, b]);
    return out;
  };
}

const runners: [string, Runner][] = [
  ["Edgeflow while loop (WASM)", edgeflowRunner(true)],
  ["Edgeflow unrolled (WASM)", edgeflowRunner(false)],
  ["tfjs eager tf.grads (wasm)", await tfjsRunner("wasm")],
  ["tfjs eager tf.grads (cpu)", await tfjsRunner("cpu")],
];
const reference = await runners[0][1]();
for (const [name, run] of runners.slice(1)) {
  const got = await run();
  let worst = 0;
  got.forEach((v, i) =>
    worst = Math.max(worst, Math.abs(v - reference[i]) / (1 + Math.abs(reference[i])))
  );
  if (!(worst < 1e-3)) throw new Error(`${name}'s dW differs from the while loop's by ${worst}`);
}
const measured = await timeInRounds(runners, runners[0][0], WARMUP, ROUNDS);
console.log(
  `RNN loop gradient: batch ${BATCH}, width ${WIDTH}, ${STEPS} steps, forward + backward, ` +
    `${ROUNDS} rounds`,
);
printTable(
  ["runner", "median ms / pass", "µs / step", "time / while loop's (median)"],
  runners.map(([n]) => {
    const m = median(measured.get(n)!.times);
    return [n, fixed(m), fixed((m * 1000) / STEPS), fixed(median(measured.get(n)!.ratios))];
  }),
);
