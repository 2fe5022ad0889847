// Differential test of the op references against @tensorflow/tfjs-backend-cpu, for every op both
// have, on the float32, int32 and bool dtypes tfjs supports: inputs drawn by each op's
// `arbitrary` (tests/op_cases.ts) and targeted edge cases (NaN, ±Inf, -0, rounding ties, empty
// dims, integer overflow, huge logits). The equivalence suite holds every device to the
// references, so this ties the devices to TensorFlow too.
//
// TensorFlow's semantics are the truth: where tfjs departs from TensorFlow, the departure is listed
// in DEPARTURES with its reason, and cases it covers are counted and printed, not compared.
import assert from "node:assert/strict";
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-cpu@4";
import fc from "npm:fast-check@4";
import type { DType } from "../core/dtype.ts";
import type { Attrs, OpCase, OpDef } from "../core/op.ts";
import * as B from "../core/ops/binary.ts";
import { LeakyRelu } from "../core/ops/unary.ts";
import * as U from "../core/ops/unary.ts";
import { LogSoftmax, Softmax } from "../core/ops/nn.ts";
import { MatMul } from "../core/ops/matmul.ts";
import { ResizeBilinear, ResizeNearestNeighbor } from "../core/ops/resize.ts";
import { GatherNd, ScatterNd } from "../core/ops/gather_nd.ts";
import { Prelu } from "../core/ops/fused.ts";
import * as R from "../core/ops/reduce.ts";
import { numbers, Tensor } from "../core/tensor.ts";
import { fcParams, opCases } from "./op_cases.ts";
import { resolvedAttrs, runReference } from "./kernels/run_case.ts";

await tf.setBackend("cpu");

type TfCall = (xs: tf.Tensor[], attrs: Attrs) => tf.Tensor;
interface Pairing {
  op: OpDef;
  tfjs: TfCall;
  /** Float tolerance: tfjs computes in float32 where the reference rounds a float64 result. */
  rtol?: number;
  atol?: number;
}
interface Departure {
  op: string;
  dtype?: DType;
  /** Whether the case is one tfjs gets wrong; absent: every case of the op (and dtype). */
  when?: (inputs: number[][], expected: number[][]) => boolean;
  reason: string;
}

const u = (f: (x: tf.Tensor) => tf.Tensor): TfCall => ([x]) => f(x);
const b = (f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): TfCall => ([x, y]) => f(x, y);
const axesOf = (t: tf.Tensor) => Array.from(t.dataSync());
const reduce = (
  f: (x: tf.Tensor, axes: number[], keep: boolean) => tf.Tensor,
): TfCall =>
([x, axes], a) => f(x, axesOf(axes), a.keep_dims as boolean);
const TRANSCENDENTAL = { rtol: 4e-6, atol: 1e-7 };

const PAIRINGS: Pairing[] = [
  { op: U.Neg, tfjs: u(tf.neg) },
  { op: U.Abs, tfjs: u(tf.abs) },
  { op: U.Sign, tfjs: u(tf.sign) },
  { op: U.Exp, tfjs: u(tf.exp), ...TRANSCENDENTAL },
  { op: U.Log, tfjs: u(tf.log), ...TRANSCENDENTAL },
  { op: U.Log1p, tfjs: u(tf.log1p), ...TRANSCENDENTAL },
  { op: U.Sqrt, tfjs: u(tf.sqrt), ...TRANSCENDENTAL },
  { op: U.Rsqrt, tfjs: u(tf.rsqrt), ...TRANSCENDENTAL },
  { op: U.Square, tfjs: u(tf.square) },
  { op: U.Reciprocal, tfjs: u(tf.reciprocal), ...TRANSCENDENTAL },
  { op: U.Tanh, tfjs: u(tf.tanh), ...TRANSCENDENTAL },
  { op: U.Sigmoid, tfjs: u(tf.sigmoid), ...TRANSCENDENTAL },
  { op: U.Relu, tfjs: u(tf.relu) },
  { op: U.Relu6, tfjs: u(tf.relu6) },
  { op: U.Elu, tfjs: u(tf.elu), ...TRANSCENDENTAL },
  { op: U.Selu, tfjs: u(tf.selu), ...TRANSCENDENTAL },
  { op: U.Softplus, tfjs: u(tf.softplus), ...TRANSCENDENTAL },
  // tfjs's erf is Abramowitz-Stegun 7.1.26, |error| < 1.5e-7 absolute.
  { op: U.Erf, tfjs: u(tf.erf), rtol: 4e-6, atol: 3e-7 },
  { op: U.Floor, tfjs: u(tf.floor) },
  { op: U.Ceil, tfjs: u(tf.ceil) },
  { op: U.Round, tfjs: u(tf.round) },
  { op: U.Sin, tfjs: u(tf.sin), ...TRANSCENDENTAL },
  { op: U.Cos, tfjs: u(tf.cos), ...TRANSCENDENTAL },
  { op: U.LogicalNot, tfjs: u(tf.logicalNot) },
  { op: LeakyRelu, tfjs: ([x], a) => tf.leakyRelu(x, a.alpha as number) },
  { op: B.AddV2, tfjs: b(tf.add) },
  { op: B.Sub, tfjs: b(tf.sub) },
  { op: B.Mul, tfjs: b(tf.mul) },
  { op: B.RealDiv, tfjs: b(tf.div), ...TRANSCENDENTAL },
  { op: B.FloorDiv, tfjs: b(tf.floorDiv) },
  { op: B.FloorMod, tfjs: b(tf.mod), rtol: 4e-6, atol: 1e-6 },
  { op: B.Maximum, tfjs: b(tf.maximum) },
  { op: B.Minimum, tfjs: b(tf.minimum) },
  { op: B.Pow, tfjs: b(tf.pow), rtol: 1e-5, atol: 1e-7 },
  { op: B.SquaredDifference, tfjs: b(tf.squaredDifference), rtol: 4e-7 },
  { op: B.Equal, tfjs: b(tf.equal) },
  { op: B.NotEqual, tfjs: b(tf.notEqual) },
  { op: B.Less, tfjs: b(tf.less) },
  { op: B.LessEqual, tfjs: b(tf.lessEqual) },
  { op: B.Greater, tfjs: b(tf.greater) },
  { op: B.GreaterEqual, tfjs: b(tf.greaterEqual) },
  { op: B.LogicalAnd, tfjs: b(tf.logicalAnd) },
  { op: B.LogicalOr, tfjs: b(tf.logicalOr) },
  { op: Softmax, tfjs: u((x) => tf.softmax(x)), rtol: 1e-5, atol: 1e-6 },
  { op: LogSoftmax, tfjs: u((x) => tf.logSoftmax(x)), rtol: 1e-5, atol: 1e-6 },
  // tfjs sums in float32 where the reference sums in float64.
  { op: R.Sum, tfjs: reduce(tf.sum), rtol: 1e-5, atol: 1e-5 },
  { op: R.Mean, tfjs: reduce(tf.mean), rtol: 1e-5, atol: 1e-5 },
  { op: R.Max, tfjs: reduce(tf.max) },
  { op: R.Min, tfjs: reduce(tf.min) },
  { op: R.Prod, tfjs: reduce(tf.prod), rtol: 1e-5, atol: 1e-6 },
  { op: R.ArgMax, tfjs: ([x, d]) => tf.argMax(x, axesOf(d)[0]) },
  { op: R.ArgMin, tfjs: ([x, d]) => tf.argMin(x, axesOf(d)[0]) },
  {
    op: MatMul,
    tfjs: ([a, m], at) => tf.matMul(a, m, at.transpose_a as boolean, at.transpose_b as boolean),
    rtol: 1e-5,
    atol: 1e-5,
  },
  {
    // TensorFlow computes each source coordinate in float32 ((x + 0.5f) * scale - 0.5f) and
    // compute_lerp's steps in float; tfjs computes in float64. A coordinate's rounding (up to
    // 2^-23 of coordinates below 10 here) times a pixel difference (up to 40 for the drawn
    // values) bounds the gap: atol 2e-4.
    op: ResizeBilinear,
    tfjs: ([x, size], at) =>
      tf.image.resizeBilinear(
        x as tf.Tensor4D,
        axesOf(size) as [number, number],
        at.align_corners as boolean,
        at.half_pixel_centers as boolean,
      ),
    rtol: 1e-6,
    atol: 2e-4,
  },
  {
    op: ResizeNearestNeighbor,
    tfjs: ([x, size], at) =>
      tf.image.resizeNearestNeighbor(
        x as tf.Tensor4D,
        axesOf(size) as [number, number],
        at.align_corners as boolean,
        at.half_pixel_centers as boolean,
      ),
  },
  { op: GatherNd, tfjs: ([p, i]) => tf.gatherND(p, i) },
  {
    op: ScatterNd,
    // tfjs reads rank-1 indices as a batch of scalar indices, where TensorFlow reads them as one
    // index row (and refuses rank-0 updates); the same single row as [1, depth] indices and
    // updates with a leading 1 is the same scatter in both.
    tfjs: ([i, u, s]) =>
      i.rank === 1
        ? tf.scatterND(tf.reshape(i, [1, i.size]), tf.reshape(u, [1, ...u.shape]), axesOf(s))
        : tf.scatterND(i, u, axesOf(s)),
  },

  { op: Prelu, tfjs: ([x, a]) => tf.prelu(x, a) },
];

const anyNaN = (xs: number[][]) => xs.some((x) => x.some(Number.isNaN));
const F32_INT = 2 ** 24;
const maxAbs = (x: number[]) => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
/** A bound on the magnitude of an int32 op's exact intermediate results, from its inputs. */
const EXACT_MAGNITUDE: Record<string, (xs: number[][]) => number> = {
  Abs: ([x]) => maxAbs(x),
  Mul: ([x, y]) => maxAbs(x) * maxAbs(y),
  Square: ([x]) => maxAbs(x) ** 2,
  SquaredDifference: ([x, y]) => (maxAbs(x) + maxAbs(y)) ** 2,
  Pow: ([x, y]) => maxAbs(x) ** maxAbs(y),
  Prod: ([x]) => maxAbs(x) ** x.length,
  MatMul: ([a, b]) => maxAbs(a) * maxAbs(b) * a.length,
};

/** Where tfjs departs from TensorFlow (the reference follows TensorFlow). */
export const DEPARTURES: Departure[] = [
  {
    op: "FloorDiv",
    dtype: "float32",
    reason: "tfjs's floorDiv returns int32 and floors the float64 quotient; TensorFlow returns " +
      "float32 and floors the float32 quotient (1 / 0.33333334 is 3, not 2)",
  },
  {
    op: "RealDiv",
    dtype: "int32",
    reason: "tfjs's div of int32 floors (it is floorDiv); integer division truncates in C",
  },
  {
    op: "Mean",
    dtype: "int32",
    reason: "tfjs's mean of int32 returns a float32 mean; TensorFlow's stays int32, summed in " +
      "int64 and truncated",
  },
  ...Object.entries(EXACT_MAGNITUDE).map(([op, magnitude]) => ({
    op,
    dtype: "int32" as DType,
    when: (xs: number[][]) => magnitude(xs) >= F32_INT,
    reason:
      "tfjs computes int32 products (and Abs) in floating point (float32 for some kernels), " +
      "losing the low bits past 2^24 instead of wrapping in 32 bits as TensorFlow's integer " +
      "arithmetic does",
  })),
  {
    op: "FloorMod",
    dtype: "float32",
    when: ([, y]) => y.some((v) => v === Infinity || v === -Infinity),
    reason: "tfjs's mod is ((x % y) + y) % y, NaN for an infinite divisor; TensorFlow's is " +
      "fmod(x, y) moved into y's sign (0 for mod(0, Inf), Inf for mod(-1, Inf))",
  },
  ...["Max", "Min"].map((op) => ({
    op,
    when: ([x]: number[][], e: number[][]) => x.length === 0 && e[0].length > 0,
    reason: "tfjs's max/min over no elements is NaN; TensorFlow's is the reduction's identity " +
      "(-Inf for Max, +Inf for Min; the dtype's lowest/highest for integers)",
  })),
  {
    op: "Mean",
    dtype: "float32",
    when: ([x], e) => x.length === 0 && e[0].length > 0,
    reason: "tfjs's mean over no elements is 0; TensorFlow's is 0 / 0 = NaN",
  },
  {
    op: "Pow",
    dtype: "float32",
    when: ([x, y]) =>
      x.some((v, i) => v === 1 || (v === -1 && !Number.isFinite(y[y.length === 1 ? 0 : i]))),
    reason: "tfjs uses Math.pow: pow(1, NaN) and pow(-1, ±Inf) are NaN; TensorFlow uses C's " +
      "pow, which gives 1",
  },
  {
    op: "Pow",
    dtype: "int32",
    when: ([, y]) => y.some((v) => v < 0),
    reason: "tfjs computes integer powers with negative exponents; TensorFlow refuses them",
  },
  ...["ArgMax", "ArgMin"].map((op) => ({
    op,
    when: anyNaN,
    reason: "tfjs's argMax/argMin skip NaN; TensorFlow's (Eigen's) take a NaN as the extreme",
  })),
];

function toTf(t: Tensor): tf.Tensor {
  const shape = [...t.shape];
  if (t.dtype === "bool") {
    return tf.tensor(Array.from(t.data as Uint8Array, Boolean), shape, "bool");
  }
  if (t.dtype === "int64") return tf.tensor(Array.from(numbers(t)), shape, "int32");
  return tf.tensor(Array.from(numbers(t)), shape, t.dtype === "int32" ? "int32" : "float32");
}

function departureFor(op: OpDef, dtype: DType, inputs: number[][], expected: number[][]) {
  return DEPARTURES.find((d) =>
    d.op === op.name && (d.dtype === undefined || d.dtype === dtype) &&
    (d.when === undefined || d.when(inputs, expected))
  );
}

/** Why tfjs's result differs from the reference's, or undefined when they agree. */
function compare(p: Pairing, c: OpCase<Attrs>): string | undefined {
  const expected = runReference(p.op, c).outputs[0];
  const attrs = resolvedAttrs(p.op, c);
  const got = tf.tidy(() => p.tfjs(c.inputs.map(toTf), attrs));
  const values = Array.from(got.dataSync() as ArrayLike<number>, Number);
  const shape = got.shape;
  got.dispose();
  if (shape.join() !== expected.shape.join()) {
    return `shape [${shape}], expected [${expected.shape}]`;
  }
  const want = Array.from(numbers(expected));
  const rtol = p.rtol ?? 0, atol = p.atol ?? 0;
  for (let i = 0; i < want.length; i++) {
    const g = values[i], w = want[i];
    if (g === w || (Number.isNaN(g) && Number.isNaN(w))) continue;
    if (Number.isFinite(w) && Math.abs(g - w) <= atol + rtol * Math.abs(w)) continue;
    return `element ${i}: tfjs ${g}, reference ${w}`;
  }
  return undefined;
}

/** Runs a case: compared, or counted under its departure. */
function check(p: Pairing, dtype: DType, c: OpCase<Attrs>, skipped: Map<string, number>): void {
  const inputs = c.inputs.map((t) => Array.from(numbers(t)));
  let expected: number[][];
  try {
    expected = runReference(p.op, c).outputs.map((t) => Array.from(numbers(t)));
  } catch (e) {
    // A refusal by the reference (TensorFlow raises); tfjs raises nothing: a departure or a bug.
    const d = departureFor(p.op, dtype, inputs, []);
    if (!d) throw e;
    skipped.set(d.reason, (skipped.get(d.reason) ?? 0) + 1);
    return;
  }
  const d = departureFor(p.op, dtype, inputs, expected);
  if (d) {
    skipped.set(d.reason, (skipped.get(d.reason) ?? 0) + 1);
    return;
  }
  const why = compare(p, c);
  const shown = JSON.stringify(inputs, (_, v) => (typeof v === "number" ? String(v) : v));
  assert.equal(why, undefined, `${p.op.name} ${dtype} on ${shown}: ${why}`);
}

function report(skipped: Map<string, number>): void {
  for (const [reason, n] of skipped) console.log(`  ${n} case(s) not compared: ${reason}`);
}

const TFJS_DTYPES: readonly DType[] = ["float32", "int32", "bool"];

for (const p of PAIRINGS) {
  for (const dtype of p.op.testDTypes.filter((d) => TFJS_DTYPES.includes(d))) {
    Deno.test(`tfjs ${p.op.name} ${dtype}: drawn cases agree`, () => {
      const skipped = new Map<string, number>();
      fc.assert(
        fc.property(opCases(p.op, dtype), (c: OpCase<Attrs>) => check(p, dtype, c, skipped)),
        fcParams(30),
      );
      report(skipped);
    });
  }
}

// ---- edge cases -----------------------------------------------------------------------------

const MIN32 = -(2 ** 31), MAX32 = 2 ** 31 - 1;
const FLOAT_EDGES = [
  NaN,
  Infinity,
  -Infinity,
  -0,
  0,
  0.5,
  -0.5,
  1.5,
  2.5,
  -2.5,
  1,
  -1,
  1e-40,
  3.4e38,
  -100,
  0.1,
];
const INT_EDGES = [MIN32, MAX32, -1, 0, 1, 46341, -7, 7, 3, -3];
const f32 = (shape: number[], v: number[]) => Tensor.fromNumbers("float32", shape, v);
const i32 = (shape: number[], v: number[]) => Tensor.fromNumbers("int32", shape, v);

function pairing(op: OpDef): Pairing {
  return PAIRINGS.find((p) => p.op === op)!;
}

/** Edge inputs per dtype, each case one element (so a departure covers only its own case). */
function unaryEdges(dtype: DType): Tensor[] {
  if (dtype === "bool") return [Tensor.fromNumbers("bool", [2], [0, 1])];
  const vs = dtype === "float32" ? FLOAT_EDGES : INT_EDGES;
  return [
    ...vs.map((v) => Tensor.fromNumbers(dtype, [1], [v])),
    Tensor.fromNumbers(dtype, [0, 3], []),
  ];
}

function binaryEdges(op: OpDef, dtype: DType): Tensor[][] {
  if (dtype === "bool") {
    return [[
      Tensor.fromNumbers("bool", [4], [0, 0, 1, 1]),
      Tensor.fromNumbers("bool", [4], [0, 1, 0, 1]),
    ]];
  }
  const vs = dtype === "float32" ? FLOAT_EDGES.slice(0, 12) : INT_EDGES;
  const divides = ["RealDiv", "FloorDiv", "FloorMod"].includes(op.name) && dtype === "int32";
  const cases: Tensor[][] = [];
  for (const x of vs) {
    for (const y of vs) {
      if (divides && y === 0) continue;
      cases.push([Tensor.fromNumbers(dtype, [1], [x]), Tensor.fromNumbers(dtype, [1], [y])]);
    }
  }
  cases.push([Tensor.fromNumbers(dtype, [0, 2], []), Tensor.fromNumbers(dtype, [2], [1, 2])]);
  return cases;
}

const UNARY_PAIRINGS = PAIRINGS.filter((p) => p.op.inputs.length === 1 && p.op.typeAttr);
for (const p of UNARY_PAIRINGS.filter((p) => p.op !== Softmax && p.op !== LogSoftmax)) {
  for (const dtype of p.op.testDTypes.filter((d) => TFJS_DTYPES.includes(d))) {
    Deno.test(`tfjs ${p.op.name} ${dtype}: edge cases agree`, () => {
      const skipped = new Map<string, number>();
      const attrs = p.op === LeakyRelu ? { alpha: 0.2 } : {};
      for (const x of unaryEdges(dtype)) check(p, dtype, { inputs: [x], attrs }, skipped);
      report(skipped);
    });
  }
}

for (const p of PAIRINGS.filter((p) => p.op.inputs.length === 2 && p.op.outputs.length === 1)) {
  if (!(Object.values(B) as unknown[]).includes(p.op)) continue;
  for (const dtype of p.op.testDTypes.filter((d) => TFJS_DTYPES.includes(d))) {
    Deno.test(`tfjs ${p.op.name} ${dtype}: edge cases agree`, () => {
      const skipped = new Map<string, number>();
      for (const inputs of binaryEdges(p.op, dtype)) {
        check(p, dtype, { inputs, attrs: {} }, skipped);
      }
      report(skipped);
    });
  }
}

Deno.test("tfjs Softmax and LogSoftmax: huge and infinite logits, empty rows", () => {
  const cases = [
    f32([1, 2], [1e17, 1e17]),
    f32([2, 2], [Infinity, 1, 0, 0]),
    f32([1, 3], [-Infinity, 0, 1]),
    f32([1, 2], [NaN, 1]),
    f32([2, 3], [3e38, -3e38, 0, 88, 89, -1e30]),
    f32([0, 3], []),
  ];
  const skipped = new Map<string, number>();
  for (const op of [Softmax, LogSoftmax]) {
    for (const x of cases) check(pairing(op), "float32", { inputs: [x], attrs: {} }, skipped);
  }
  report(skipped);
});

Deno.test("tfjs reductions: NaN, ±Inf, integer overflow, empty dims", () => {
  const inputs: Tensor[] = [
    f32([4], [NaN, 1, -Infinity, 2]),
    f32([2, 2], [Infinity, -Infinity, 3.4e38, 3.4e38]),
    f32([0, 3], []),
    i32([4], [MAX32, MAX32, MAX32, 1]),
    i32([3], [MIN32, -1, 7]),
  ];
  const skipped = new Map<string, number>();
  for (const op of [R.Sum, R.Mean, R.Max, R.Min, R.Prod]) {
    for (const x of inputs) {
      for (const axes of x.rank === 2 ? [[0], [1]] : [[0]]) {
        if (x.size === 0 && (op === R.Max || op === R.Min) && axes[0] === 1) continue;
        const c = { inputs: [x, i32([axes.length], axes)], attrs: { keep_dims: false } };
        check(pairing(op), x.dtype, c, skipped);
      }
    }
  }
  for (const op of [R.ArgMax, R.ArgMin]) {
    for (const x of inputs.filter((t) => t.size > 0)) {
      check(pairing(op), x.dtype, { inputs: [x, i32([], [0])], attrs: {} }, skipped);
    }
  }
  report(skipped);
});

Deno.test("tfjs MatMul: int32 overflow and empty inner dims", () => {
  const skipped = new Map<string, number>();
  const cases: Tensor[][] = [
    [i32([1, 2], [46341, 3]), i32([2, 1], [46341, 7])],
    [i32([2, 0], []), i32([0, 3], [])],
    [f32([2, 0], []), f32([0, 3], [])],
    [f32([1, 2], [NaN, 1]), f32([2, 1], [0, Infinity])],
  ];
  for (const inputs of cases) {
    const c = { inputs, attrs: { transpose_a: false, transpose_b: false } };
    check(pairing(MatMul), inputs[0].dtype, c, skipped);
  }
  report(skipped);
});

Deno.test("tfjs differential: every departure names an op that is compared", () => {
  const names = new Set(PAIRINGS.map((p) => p.op.name));
  for (const d of DEPARTURES) assert.ok(names.has(d.op), `departure for unknown op ${d.op}`);
});
