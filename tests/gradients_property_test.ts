// For every op with a gradient function: the symbolic gradient, built by gradients() and run in a
// REF session, equals central finite differences of the op's reference on inputs drawn by the
// op's arbitrary. The scalar differentiated is Σ_k Σ_j W_k[j] · output_k[j] with random weights
// W (passed to gradients() as gradYs), so every output element and every output is checked.
//
// Float64 is not an Edgeflow dtype, so the ops run in float32 (their references compute in
// float64 and round once); the differences, the weighted sums and the comparison are float64.
// Outputs an element perturbation does not touch round identically in both evaluations, so the
// rounding error of a difference is a few float32 ulps of the touched outputs over 2·eps.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import { gradients } from "../core/gradients.ts";
import { Graph, resolveAttrs } from "../core/graph.ts";
import { MapHostContext } from "../core/host_context.ts";
import type { OpCase, OpDef } from "../core/op.ts";
import { constant, placeholder } from "../core/ops/basic.ts";
import { ALL_OPS } from "../core/ops/registry.ts";
import { numbers, Tensor } from "../core/tensor.ts";
import { randomTensor } from "../core/testing/arbitrary.ts";
import { Session } from "../core/session.ts";
import { defaultRegistry } from "../core/kernel.ts";
import { refPlugin } from "../devices/ref/plugin.ts";
import { fcParams, groupInputs, opCases } from "./op_cases.ts";

if (!defaultRegistry.plugin("REF")) defaultRegistry.install(refPlugin);

interface Check {
  /** |symbolic - fd| ≤ tol · (1 + |fd|). */
  tol: number;
  /** The perturbation; a power of two so x ± eps stays on float32's grid for |x| < 4. */
  eps: number;
  /**
   * The op has kinks or jumps (Relu, Max, Floor, ...): coordinates whose one-sided differences
   * disagree are at a kink and are skipped; at least half of all coordinates must be checked.
   */
  kinks?: boolean;
  /** Adjusts a drawn case to the op's gradient's domain. */
  prepare?: (c: OpCase<never>) => OpCase<never>;
  /** The outputs and inputs TensorFlow's gradient covers, where it covers only some. */
  outputs?: readonly number[];
  inputs?: readonly number[];
}
const SMOOTH: Check = { tol: 2e-3, eps: 2 ** -6 };
// A smaller eps keeps the one-sided differences of curved pieces (Elu, Selu below 0) within tol.
const KINKED: Check = { tol: 2e-3, eps: 2 ** -10, kinks: true };
// Large third derivatives near the ends of the drawn ranges (1/x at |x| = 0.25, x^y at x = 0.25,
// log x at 0.05): a smaller eps keeps the truncation error eps^2 f'''/6 below tol.
const CURVED: Check = { tol: 2e-3, eps: 2 ** -10 };

/** Per-op settings, with the reason where they differ from SMOOTH. */
const CHECKS: Record<string, Check> = {
  // Piecewise linear or with jumps: checked away from the kinks.
  Abs: KINKED,
  Sign: KINKED,
  Relu: KINKED,
  Relu6: KINKED,
  LeakyRelu: KINKED,
  Selu: KINKED,
  Elu: KINKED,
  Floor: KINKED,
  Ceil: KINKED,
  Round: KINKED,
  FloorDiv: KINKED,
  FloorMod: KINKED,
  Maximum: KINKED,
  Minimum: KINKED,
  Max: KINKED,
  Min: KINKED,
  MaxPool: KINKED,
  Rsqrt: CURVED,
  Reciprocal: CURVED,
  Log: CURVED,
  Log1p: CURVED,
  RealDiv: CURVED,
  Pow: CURVED,
  // Sqrt's drawn range starts at 0, where it is not differentiable: checked away from there.
  Sqrt: { tol: 2e-3, eps: 2 ** -12, kinks: true },
  // TensorFlow's gradient (softmax - labels) assumes each row of labels is a distribution.
  SoftmaxCrossEntropyWithLogits: { ...SMOOTH, prepare: normalizeLabels },
  // TensorFlow's gradient covers y with respect to x, scale and offset: the statistics outputs
  // feed moving averages, and mean and variance get no gradient (None in TensorFlow) although in
  // inference they move y.
  // Small batches (two elements a channel) can have a variance near 0, where 1/sqrt(v + epsilon)
  // curves faster than central differences with eps 2^-6 resolve: epsilon ≥ 0.1 bounds that
  // curvature (the gradient's formula does not depend on epsilon's value).
  FusedBatchNormV3: {
    ...SMOOTH,
    outputs: [0],
    inputs: [0, 1, 2],
    prepare: (c) => {
      const attrs = c.attrs as { epsilon?: number };
      return { ...c, attrs: { ...attrs, epsilon: Math.max(attrs.epsilon ?? 0, 0.1) } as never };
    },
  },
  // Casts to float32 only: the differences of a bfloat16 or float16 output are too coarse.
  Cast: {
    ...SMOOTH,
    prepare: (c) => ({ ...c, attrs: { ...(c.attrs as object), DstT: "float32" } as never }),
  },
};

/** Labels whose rows (the last axis, broadcast to the features' classes) sum to 1. */
function normalizeLabels(c: OpCase<never>): OpCase<never> {
  const [features, labels] = c.inputs;
  const classes = Math.max(features.shape[features.rank - 1], labels.shape[labels.rank - 1]);
  const last = labels.shape[labels.rank - 1];
  const values = Float64Array.from(numbers(labels));
  for (let row = 0; row < values.length; row += last) {
    let total = 0;
    for (let j = row; j < row + last; j++) total += values[j];
    for (let j = row; j < row + last; j++) {
      values[j] = last === 1 ? 1 / classes : total > 0 ? values[j] / total : 1 / last;
    }
  }
  return { ...c, inputs: [features, Tensor.fromNumbers("float32", labels.shape, values)] };
}

/** Ops whose gradient is zero by definition although the function varies: no FD comparison. */
const NOT_COMPARED: Record<string, string> = {
  StopGradient: "its gradient is zero by definition (tf.stop_gradient) while it is the identity",
  Range: "TensorFlow defines no gradient for Range (NotDifferentiable) though start varies it",
  OneHot: "TensorFlow defines no gradient for OneHot (NotDifferentiable) though on_value varies it",
  ReadVariableOp: "its input is a resource handle; covered by the Variable test in gradients_test",
};

const NUM_RUNS = 25;

for (const op of ALL_OPS) {
  if (!op.gradient || !op.arbitrary || !op.testDTypes.includes("float32")) continue;
  const reason = NOT_COMPARED[op.name];
  if (reason) {
    Deno.test(`gradient matches finite differences: ${op.name}`, () => {
      console.log(`not compared: ${op.name}: ${reason}`);
    });
    continue;
  }
  const check = CHECKS[op.name] ?? SMOOTH;
  Deno.test(`gradient matches finite differences: ${op.name}`, async () => {
    const tally = { checked: 0, skipped: 0, cases: 0 };
    await fc.assert(
      fc.asyncProperty(opCases(op, "float32"), (c) => checkCase(op, c, check, tally)),
      fcParams(NUM_RUNS),
    );
    assert.ok(tally.cases > 0, `${op.name}: no drawn case had a float32 input and output`);
    assert.ok(
      tally.checked >= tally.skipped,
      `${op.name}: ${tally.skipped} coordinates skipped at kinks, only ${tally.checked} checked`,
    );
  });
}

async function checkCase(
  op: OpDef,
  c: OpCase<never>,
  check: Check,
  tally: { checked: number; skipped: number; cases: number },
): Promise<void> {
  c = check.prepare ? check.prepare(c) : c;
  const attrs = resolveAttrs(op, c.attrs, groupInputs(op, c.inputs));
  const ctx = new MapHostContext();
  ctx.node = { name: op.name, op };
  const run = (inputs: Tensor[]) => op.reference(inputs, attrs, ctx);
  const base = run(c.inputs);
  const outs = base.flatMap((t, k) =>
    t.dtype === "float32" && t.size > 0 && (check.outputs?.includes(k) ?? true) ? [k] : []
  );
  const ins = c.inputs.flatMap((t, i) =>
    t.dtype === "float32" && t.size > 0 && (check.inputs?.includes(i) ?? true) ? [i] : []
  );
  if (outs.length === 0 || ins.length === 0) return;
  tally.cases++;
  const weights = outs.map((k, n) => randomTensor("float32", base[k].shape, 1000 + n));
  const loss = (inputs: Tensor[]) => {
    const ys = run(inputs);
    let total = 0;
    outs.forEach((k, n) => {
      const y = numbers(ys[k]), w = numbers(weights[n]);
      for (let j = 0; j < y.length; j++) total += w[j] * y[j];
    });
    return total;
  };

  // Symbolic: the op on placeholders (float inputs) and constants, gradients() weighted by W.
  const g = new Graph();
  const fed = new Map<number, ReturnType<typeof placeholder>>();
  const graphInputs = c.inputs.map((t, i) => {
    if (!ins.includes(i)) return constant(t, { graph: g });
    const p = placeholder(g, t.dtype, t.shape, { name: `in${i}` });
    fed.set(i, p);
    return p;
  });
  const node = g.addNode(op, groupInputs(op, graphInputs) as never, c.attrs);
  const grads = gradients(
    outs.map((k) => node.outputs[k]),
    ins.map((i) => fed.get(i)!),
    weights.map((w) => constant(w, { graph: g })),
  );
  await using session = new Session(g, { device: "REF" });
  const feeds = ins.map((i) => [fed.get(i)!, c.inputs[i]] as [typeof graphInputs[0], Tensor]);
  const fetched = grads.some((x) => x !== null)
    ? await session.run(grads.filter((x) => x !== null), feeds)
    : [];
  let at = 0;
  const symbolic = grads.map((x, n) =>
    x === null ? new Float64Array(c.inputs[ins[n]].size) : numbers(fetched[at++])
  );

  ins.forEach((i, n) => {
    const x = c.inputs[i];
    const values = Float32Array.from(numbers(x));
    const at = (j: number, v: number) => {
      const copy = values.slice();
      copy[j] = v;
      const inputs = c.inputs.slice();
      inputs[i] = new Tensor("float32", x.shape, copy);
      return { value: copy[j], loss: loss(inputs) };
    };
    const l0 = loss(c.inputs);
    for (let j = 0; j < values.length; j++) {
      const plus = at(j, values[j] + check.eps), minus = at(j, values[j] - check.eps);
      const fd = (plus.loss - minus.loss) / (plus.value - minus.value);
      if (check.kinks) {
        const forward = (plus.loss - l0) / (plus.value - values[j]);
        const backward = (l0 - minus.loss) / (values[j] - minus.value);
        const bad = !Number.isFinite(fd) ||
          Math.abs(forward - backward) > check.tol * (1 + Math.abs(fd));
        if (bad) {
          tally.skipped++;
          continue;
        }
      }
      const sym = symbolic[n][j];
      tally.checked++;
      assert.ok(
        Math.abs(sym - fd) <= check.tol * (1 + Math.abs(fd)),
        `${op.name}: d/d input ${i}[${j}] (x = ${values[j]}): symbolic ${sym}, finite ` +
          `differences ${fd} (eps ${check.eps}, tol ${check.tol}); attrs ${
            JSON.stringify(c.attrs)
          }; ` +
          `inputs ${c.inputs.map((t) => JSON.stringify(t.toArray(), bigints)).join(", ")}`,
      );
    }
  });
}

/** JSON.stringify's replacer for int64 values (labels), which JSON has no form for. */
function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `${value}n` : value;
}
