// The main example: a small graph with variables, run through a session. It fits a line
// y = w·x + b to noisy points by gradient descent, with the gradient written out by hand
// (automatic differentiation comes later), and the updates applied as variable assignments.
import * as ef from "../mod.ts";

const g = new ef.Graph();
const x = ef.placeholder(g, "float32", [null], { name: "x" });
const y = ef.placeholder(g, "float32", [null], { name: "y" });
const w = new ef.Variable(0, { graph: g, name: "w", dtype: "float32" });
const b = new ef.Variable(0, { graph: g, name: "b", dtype: "float32" });

const prediction = ef.add(ef.mul(w.read(), x), b.read(), { name: "prediction" });
const error = ef.sub(prediction, y);
const loss = ef.mean(ef.square(error), [0], { name: "loss" });
// d(loss)/dw = mean(2·error·x), d(loss)/db = mean(2·error)
const learningRate = 0.1;
const gradW = ef.mean(ef.mul(ef.mul(error, x), 2), [0]);
const gradB = ef.mean(ef.mul(error, 2), [0]);
const train = ef.group([
  w.assignSub(ef.mul(gradW, learningRate)),
  b.assignSub(ef.mul(gradB, learningRate)),
]);

// Points on y = 3x - 1 with deterministic noise.
const xs = Array.from({ length: 32 }, (_, i) => i / 16 - 1);
const ys = xs.map((v, i) => 3 * v - 1 + 0.05 * Math.sin(i * 12.9898));

await using session = new ef.Session(g);
await session.run([], {}, [ef.globalVariablesInitializer(g)]);
for (let step = 0; step <= 200; step++) {
  if (step % 50 === 0) {
    const l = await session.run(loss, { x: xs, y: ys });
    console.log(`step ${String(step).padStart(3)}  loss ${l.toNumbers()[0].toFixed(5)}`);
  }
  await session.run([], { x: xs, y: ys }, [train]);
}
const [wv, bv] = await session.run([w.read(), b.read()]);
console.log(
  `w = ${wv.toNumbers()[0].toFixed(3)}, b = ${bv.toNumbers()[0].toFixed(3)} (true: 3, -1)`,
);
console.log(
  `${session.stats.runs} runs, ${session.stats.plansBuilt} plans built (one per call signature)`,
);
