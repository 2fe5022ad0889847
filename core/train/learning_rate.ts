/**
 * Learning-rate schedules as graph ops of the global step (tf.compat.v1.train's decay functions):
 * the rate is a float32 scalar tensor computed on each run, so an optimizer given it follows the
 * step without rebuilding anything.
 */
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { constant } from "../ops/basic.ts";
import { add, div, greater, minimum, mul, pow, sub } from "../ops/binary.ts";
import { cast } from "../ops/cast.ts";
import { where } from "../ops/select.ts";
import { ceil, cos, floor } from "../ops/unary.ts";
import { Variable } from "../variables.ts";

/** A step: the global step variable (read each run) or a scalar tensor. */
export type StepLike = Variable | Output;

function stepFloat(step: StepLike): Output {
  const t = step instanceof Variable ? step.read() : step;
  return t.dtype === "float32" ? t : cast(t, "float32");
}

function positive(name: string, x: number): void {
  if (!(x > 0)) throw new EdgeflowError(`${name} must be positive, got ${x}`);
}

/** lr · rate^(step / decaySteps), the exponent floored when `staircase`. */
export function exponentialDecay(
  learningRate: number,
  globalStep: StepLike,
  decaySteps: number,
  decayRate: number,
  options: { staircase?: boolean; name?: string } = {},
): Output {
  positive("decaySteps", decaySteps);
  const s = stepFloat(globalStep);
  const g = s.graph;
  return g.withNameScope(options.name ?? "ExponentialDecay", () => {
    let p = div(s, constant(decaySteps, { graph: g, dtype: "float32" }));
    if (options.staircase) p = floor(p);
    return mul(
      constant(learningRate, { graph: g, dtype: "float32" }),
      pow(constant(decayRate, { graph: g, dtype: "float32" }), p),
    );
  });
}

/**
 * values[0] while step <= boundaries[0], values[i] while boundaries[i-1] < step <= boundaries[i],
 * values[n] after the last boundary.
 */
export function piecewiseConstant(
  globalStep: StepLike,
  boundaries: readonly number[],
  values: readonly number[],
  options: { name?: string } = {},
): Output {
  if (values.length !== boundaries.length + 1) {
    throw new EdgeflowError(
      `piecewiseConstant needs one more value than boundaries, got ${values.length} values and ${boundaries.length} boundaries`,
    );
  }
  for (let i = 1; i < boundaries.length; i++) {
    if (!(boundaries[i] > boundaries[i - 1])) {
      throw new EdgeflowError(`boundaries must increase, got ${boundaries.join(", ")}`);
    }
  }
  const s = stepFloat(globalStep);
  const g = s.graph;
  return g.withNameScope(options.name ?? "PiecewiseConstant", () => {
    let rate = constant(values[0], { graph: g, dtype: "float32" });
    boundaries.forEach((b, i) => {
      rate = where(
        greater(s, constant(b, { graph: g, dtype: "float32" })),
        constant(values[i + 1], { graph: g, dtype: "float32" }),
        rate,
      );
    });
    return rate;
  });
}

/**
 * (lr − end) · (1 − min(step, decaySteps) / decaySteps)^power + end; with `cycle`, decaySteps
 * grows to the next multiple past the step.
 */
export function polynomialDecay(
  learningRate: number,
  globalStep: StepLike,
  decaySteps: number,
  options: { endLearningRate?: number; power?: number; cycle?: boolean; name?: string } = {},
): Output {
  positive("decaySteps", decaySteps);
  const { endLearningRate = 0.0001, power = 1, cycle = false } = options;
  const s = stepFloat(globalStep);
  const g = s.graph;
  const c = (x: number) => constant(x, { graph: g, dtype: "float32" });
  return g.withNameScope(options.name ?? "PolynomialDecay", () => {
    let steps = c(decaySteps);
    let step = s;
    if (cycle) {
      // TensorFlow's: a multiplier of ceil(step / decaySteps), 1 at step 0.
      const m = ceil(div(s, steps));
      steps = mul(steps, where(greater(m, c(0)), m, c(1)));
    } else {
      step = minimum(s, steps);
    }
    const frac = sub(c(1), div(step, steps));
    return add(mul(c(learningRate - endLearningRate), pow(frac, c(power))), c(endLearningRate));
  });
}

/** lr · ((1 − alpha) · ½(1 + cos(π · min(step, decaySteps) / decaySteps)) + alpha). */
export function cosineDecay(
  learningRate: number,
  globalStep: StepLike,
  decaySteps: number,
  options: { alpha?: number; name?: string } = {},
): Output {
  positive("decaySteps", decaySteps);
  const { alpha = 0 } = options;
  const s = stepFloat(globalStep);
  const g = s.graph;
  const c = (x: number) => constant(x, { graph: g, dtype: "float32" });
  return g.withNameScope(options.name ?? "CosineDecay", () => {
    const frac = div(minimum(s, c(decaySteps)), c(decaySteps));
    const cosine = mul(c(0.5), add(c(1), cos(mul(c(Math.PI), frac))));
    return mul(c(learningRate), add(mul(c(1 - alpha), cosine), c(alpha)));
  });
}
