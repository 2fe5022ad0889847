// Property: a random while loop (random body over its loop variables and an outside tensor,
// random trip count, parallel_iterations and maximum_iterations) gives exactly what the same body
// unrolled in a straight graph gives; so does the loop with its body's steps and its predicate
// spread over two WASM devices (control loops in each partition, core/control_flow/control_loops.ts).
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";

interface Step {
  op: "add" | "mul" | "sub" | "tanh" | "scale";
  a: number;
  b: number;
  c: number;
  /** The WASM device the step runs on in the split run. */
  d: number;
}
interface LoopCase {
  vars: number;
  steps: Step[];
  picks: number[];
  trips: number;
  max?: number;
  parallel: number;
  init: number[][];
  x: number[];
  /** The WASM device of the predicate in the split run. */
  condOn: number;
}

const arbCase: fc.Arbitrary<LoopCase> = fc.integer({ min: 1, max: 3 }).chain((vars) =>
  fc.record({
    vars: fc.constant(vars),
    steps: fc.array(
      fc.record({
        op: fc.constantFrom("add", "mul", "sub", "tanh", "scale") as fc.Arbitrary<Step["op"]>,
        a: fc.nat(),
        b: fc.nat(),
        c: fc.double({ min: -1, max: 1, noNaN: true }).map(Math.fround),
        d: fc.nat(1),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    picks: fc.array(fc.nat(), { minLength: vars, maxLength: vars }),
    trips: fc.integer({ min: 0, max: 7 }),
    max: fc.option(fc.integer({ min: 0, max: 7 }), { nil: undefined }),
    parallel: fc.integer({ min: 1, max: 4 }),
    init: fc.array(
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 2 }),
      {
        minLength: vars,
        maxLength: vars,
      },
    ),
    x: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 2, maxLength: 2 }),
    condOn: fc.nat(1),
  })
);

/** One application of the body: values are the loop variables then x; returns the new vars. */
function body(c: LoopCase, vars: ef.Output[], x: ef.Output, split = false): ef.Output[] {
  const values = [...vars, x];
  const g = x.graph;
  for (const s of c.steps) {
    const a = values[s.a % values.length], b = values[s.b % values.length];
    values.push(
      g.withDevice(
        split ? `/device:WASM:${s.d}` : "",
        () =>
          s.op === "add"
            ? ef.add(a, b)
            : s.op === "mul"
            ? ef.mul(a, b)
            : s.op === "sub"
            ? ef.sub(a, b)
            : s.op === "tanh"
            ? ef.tanh(a)
            : ef.mul(a, s.c),
      ),
    );
  }
  // The last step always feeds a variable, so the body computes something.
  return c.picks.map((p, i) => (i === 0 ? values[values.length - 1] : values[p % values.length]));
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
