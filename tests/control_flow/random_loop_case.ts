// The random while-loop case both loop properties draw (random_loops_test.ts: loop equals its
// unrolling; while_grad_property_test.ts: so do their gradients): a body of steps over the loop
// variables and an outside tensor x, which variables the body's values feed, trip count,
// maximum_iterations, parallel_iterations and initial values. Each property adds its own fields.
import fc from "npm:fast-check@4";
import * as ef from "../../mod.ts";

/** One body step: an op over values a and b (indices taken modulo the values so far). */
export interface LoopStep<Op extends string> {
  op: Op;
  a: number;
  b: number;
  /** The constant of a "scale" step. */
  c: number;
}

export interface LoopCase<S extends LoopStep<string>> {
  vars: number;
  steps: S[];
  picks: number[];
  trips: number;
  max?: number;
  parallel: number;
  init: number[][];
  x: number[];
}

/** A property's case: the shared fields plus its own on each step and on the case. */
export type LoopCaseWith<Op extends string, StepExtra, CaseExtra> =
  & LoopCase<LoopStep<Op> & StepExtra>
  & CaseExtra;

type Arbitraries<T> = { [K in keyof T]: fc.Arbitrary<T[K]> };

/**
 * Loop cases of 1 to 3 variables of shape [2]. `initValue` draws the entries of init and x;
 * `stepExtra` and `caseExtra` add each property's own fields after the shared ones (their order
 * fixes what a seed draws, so a property's cases stay those its seed always gave).
 */
export function arbLoopCase<Op extends string, StepExtra extends object, CaseExtra extends object>(
  options: {
    ops: readonly Op[];
    maxSteps: number;
    maxTrips: number;
    initValue: fc.Arbitrary<number>;
    stepExtra: Arbitraries<StepExtra>;
    caseExtra: (vars: number) => Arbitraries<CaseExtra>;
  },
): fc.Arbitrary<LoopCaseWith<Op, StepExtra, CaseExtra>> {
  const pair = fc.array(options.initValue, { minLength: 2, maxLength: 2 });
  return fc.integer({ min: 1, max: 3 }).chain((vars) =>
    fc.record({
      vars: fc.constant(vars),
      steps: fc.array(
        fc.record({
          op: fc.constantFrom(...options.ops),
          a: fc.nat(),
          b: fc.nat(),
          c: fc.double({ min: -1, max: 1, noNaN: true }).map(Math.fround),
          ...options.stepExtra,
        } as Arbitraries<LoopStep<Op> & StepExtra>),
        { minLength: 1, maxLength: options.maxSteps },
      ),
      picks: fc.array(fc.nat(), { minLength: vars, maxLength: vars }),
      trips: fc.integer({ min: 0, max: options.maxTrips }),
      max: fc.option(fc.integer({ min: 0, max: options.maxTrips }), { nil: undefined }),
      parallel: fc.integer({ min: 1, max: 4 }),
      init: fc.array(pair, { minLength: vars, maxLength: vars }),
      x: pair,
      ...options.caseExtra(vars),
    }) as fc.Arbitrary<LoopCaseWith<Op, StepExtra, CaseExtra>>
  );
}

/** The step ops both properties draw, or undefined for a property's own op. */
export function arithmeticStep(
  s: LoopStep<string>,
  a: ef.Output,
  b: ef.Output,
): ef.Output | undefined {
  switch (s.op) {
    case "add":
      return ef.add(a, b);
    case "mul":
      return ef.mul(a, b);
    case "sub":
      return ef.sub(a, b);
    case "tanh":
      return ef.tanh(a);
    case "scale":
      return ef.mul(a, s.c);
  }
  return undefined;
}

/** The body's new loop variables: the last value always feeds the first, so the body computes. */
export function pickedVars(c: LoopCase<LoopStep<string>>, values: ef.Output[]): ef.Output[] {
  return c.picks.map((p, i) => (i === 0 ? values[values.length - 1] : values[p % values.length]));
}
