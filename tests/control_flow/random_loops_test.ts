// Property: a random while loop (random body over its loop variables and an outside tensor,
// random trip count, parallel_iterations and maximum_iterations) gives exactly what the same body
// unrolled in a straight graph gives; so does the loop with its body's steps and its predicate
// spread over two WASM devices (control loops in each partition, core/control_flow/control_loops.ts).
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";
import { arbLoopCase, arithmeticStep, type LoopCaseWith, pickedVars } from "./random_loop_case.ts";

type Op = "add" | "mul" | "sub" | "tanh" | "scale";
interface SplitStep {
  /** The WASM device the step runs on in the split run. */
  d: number;
}
interface SplitCase {
  /** The WASM device of the predicate in the split run. */
  condOn: number;
}
type LoopCase = LoopCaseWith<Op, SplitStep, SplitCase>;

const arbCase = arbLoopCase<Op, SplitStep, SplitCase>({
  ops: ["add", "mul", "sub", "tanh", "scale"],
  maxSteps: 6,
  maxTrips: 7,
  initValue: fc.double({ min: -1, max: 1, noNaN: true }),
  stepExtra: { d: fc.nat(1) },
  caseExtra: () => ({ condOn: fc.nat(1) }),
});

/** One application of the body: values are the loop variables then x; returns the new vars. */
function body(c: LoopCase, vars: ef.Output[], x: ef.Output, split = false): ef.Output[] {
  const values = [...vars, x];
  const g = x.graph;
  for (const s of c.steps) {
    const a = values[s.a % values.length], b = values[s.b % values.length];
    values.push(
      g.withDevice(split ? `/device:WASM:${s.d}` : "", () => arithmeticStep(s, a, b)!),
    );
  }
  return pickedVars(c, values);
}

async function runLoop(c: LoopCase, split = false): Promise<number[][]> {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const init = c.init.map((_v, i) => ef.placeholder(g, "float32", [2], { name: `v${i}` }));
  const outs = g.withDevice(split ? "/device:WASM:0" : "", () =>
    ef.whileLoop(
      (i) => g.withDevice(split ? `/device:WASM:${c.condOn}` : "", () => ef.less(i, n)),
      (i, ...vs) => [ef.add(i, 1), ...body(c, vs, x, split)],
      [g.asDefault(() => ef.constant(0, { dtype: "int32" })), ...init],
      { parallelIterations: c.parallel, maximumIterations: c.max },
    ));
  await using s = new ef.Session(g, split ? { deviceCount: { WASM: 2 } } : {});
  const feeds: Record<string, unknown> = { x: c.x, n: c.trips };
  c.init.forEach((v, i) => (feeds[`v${i}`] = v));
  const got = await s.run(outs.slice(1), feeds as never);
  return got.map((t) => t.toArray() as number[]);
}

async function runUnrolled(c: LoopCase): Promise<number[][]> {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [2], { name: "x" });
  let vars = c.init.map((_v, i) => ef.placeholder(g, "float32", [2], { name: `v${i}` }));
  const trips = Math.min(c.trips, c.max ?? Infinity);
  for (let k = 0; k < trips; k++) vars = body(c, vars, x).map((v) => ef.identity(v));
  await using s = new ef.Session(g);
  const feeds: Record<string, unknown> = { x: c.x };
  c.init.forEach((v, i) => (feeds[`v${i}`] = v));
  const got = await s.run(vars, feeds as never);
  return got.map((t) => t.toArray() as number[]);
}

Deno.test("random while loops equal their unrolled graphs", async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      const [looped, unrolled] = [await runLoop(c), await runUnrolled(c)];
      assert.deepEqual(looped, unrolled);
    }),
    { numRuns: 25, seed: Number(Deno.env.get("FC_SEED") ?? 13) },
  );
});

Deno.test("random while loops split over two WASM devices equal their unrolled graphs", async () => {
  await fc.assert(
    fc.asyncProperty(arbCase, async (c) => {
      const [looped, unrolled] = [await runLoop(c, true), await runUnrolled(c)];
      assert.deepEqual(looped, unrolled);
    }),
    { numRuns: 15, seed: Number(Deno.env.get("FC_SEED") ?? 17) },
  );
});
