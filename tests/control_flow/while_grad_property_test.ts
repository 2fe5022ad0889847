// Property: the gradient of a random while loop (random body over its loop variables and a
// captured tensor, conds, nested loops and loops in conds included; random trip count,
// parallel_iterations and maximum_iterations) equals the gradient of the same body unrolled in a
// straight graph, for the captured tensor and every initial value (the loop-invariant
// accumulators and the loop variables' backward loop).
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";
import { arbLoopCase, arithmeticStep, type LoopCaseWith, pickedVars } from "./random_loop_case.ts";

type Op = "add" | "mul" | "sub" | "tanh" | "scale" | "sin" | "cond" | "loop" | "condloop";
interface WeightedCase {
  /** The loss weights of each loop variable's result. */
  weights: number[][];
}
type LoopCase = LoopCaseWith<Op, Record<never, never>, WeightedCase>;

const value = fc.double({ min: -1, max: 1, noNaN: true }).map(Math.fround);
const pair = fc.array(value, { minLength: 2, maxLength: 2 });
const arbCase = arbLoopCase<Op, Record<never, never>, WeightedCase>({
  ops: ["add", "mul", "sub", "tanh", "scale", "sin", "cond", "loop", "condloop"],
  maxSteps: 5,
  maxTrips: 5,
  initValue: value,
  stepExtra: {},
  caseExtra: (vars) => ({ weights: fc.array(pair, { minLength: vars, maxLength: vars }) }),
});

/** One application of the body: values are the loop variables then x; returns the new vars. */
function body(c: LoopCase, vars: ef.Output[], x: ef.Output, loop: boolean): ef.Output[] {
  const values = [...vars, x];
  for (const s of c.steps) {
    const a = values[s.a % values.length], b = values[s.b % values.length];
    values.push(
      arithmeticStep(s, a, b) ?? (
        s.op === "sin"
          ? ef.sin(a)
          : s.op === "cond"
          ? ef.cond(ef.greater(ef.sum(a, [0]), 0), () => ef.mul(a, b), () => ef.tanh(b))[0]
          : s.op === "loop"
          ? inner(a, b, 1 + (s.a % 3), loop)
          : ef.cond(
            ef.greater(ef.sum(a, [0]), 0),
            () => inner(a, b, 1 + (s.b % 2), loop),
            () => ef.tanh(b),
          )[0]
      ),
    );
  }
  return pickedVars(c, values);
}

/** A nested loop (or its unrolling): u ← u·b·0.5 + tanh(a), `trips` times from u = a. */
function inner(a: ef.Output, b: ef.Output, trips: number, loop: boolean): ef.Output {
  const step = (u: ef.Output) => ef.add(ef.mul(ef.mul(u, b), 0.5), ef.tanh(a));
  if (!loop) {
    let u = a;
    for (let k = 0; k < trips; k++) u = step(u);
    return u;
  }
  const zero = a.graph.asDefault(() => ef.constant(0, { dtype: "int32" }));
  return ef.whileLoop((j) => ef.less(j, trips), (j, u) => [ef.add(j, 1), step(u)], [zero, a])[1];
}

/** Σ_k weights_k · out_k, and its gradients with respect to x and each initial value. */
async function gradientsOf(c: LoopCase, loop: boolean): Promise<number[][]> {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const init = c.init.map((_v, i) => ef.placeholder(g, "float32", [2], { name: `v${i}` }));
  let outs: ef.Output[];
  if (loop) {
    outs = ef.whileLoop(
      (i) => ef.less(i, n),
      (i, ...vs) => [ef.add(i, 1), ...body(c, vs, x, true)],
      [g.asDefault(() => ef.constant(0, { dtype: "int32" })), ...init],
      { parallelIterations: c.parallel, maximumIterations: c.max },
    ).slice(1);
  } else {
    outs = init;
    const trips = Math.min(c.trips, c.max ?? Infinity);
    for (let k = 0; k < trips; k++) outs = body(c, outs, x, false).map((v) => ef.identity(v));
  }
  const terms = outs.map((o, k) =>
    ef.sum(ef.mul(o, ef.constant(c.weights[k], { graph: g, dtype: "float32" })), [0])
  );
  const loss = terms.length === 1 ? terms[0] : ef.addN(terms);
  const grads = ef.gradients(loss, [x, ...init], undefined, { unconnected: "zero" });
  await using s = new ef.Session(g);
  const feeds: Record<string, unknown> = { x: c.x, n: c.trips };
  c.init.forEach((v, i) => (feeds[`v${i}`] = v));
  const got = await s.run(grads.map((d) => d!), feeds as never);
  return got.map((t) => Array.from(t.toNumbers()));
}

function close(a: number, b: number): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Object.is(a, b) || (isNaN(a) && isNaN(b));
  return Math.abs(a - b) <= 1e-4 * (1 + Math.max(Math.abs(a), Math.abs(b)));
}

Deno.test("random while loops' gradients equal their unrolled graphs' gradients", async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      const [looped, unrolled] = [await gradientsOf(c, true), await gradientsOf(c, false)];
      looped.forEach((l, i) =>
        l.forEach((v, j) =>
          assert.ok(close(v, unrolled[i][j]), `gradient ${i}[${j}]: ${l} vs ${unrolled[i]}`)
        )
      );
    }),
    { numRuns: 20, seed: Number(Deno.env.get("FC_SEED") ?? 17) },
  );
});
