/**
 * ONNX control flow: If, Loop and Scan, inlined through `cond` and `whileLoop` as the TF2
 * functional import does (functional_control_flow.ts), so the executor runs them with Switch,
 * Merge, Enter, Exit and NextIteration. Outer values a subgraph names are wired in by those
 * builders (a Switch on the predicate, a constant Enter).
 *
 * Loop's and Scan's scan outputs are stacked along a new axis 0 by a growing loop variable:
 * each iteration reshapes the stack to [rows, ...row shape] (it starts as an empty [0]: the
 * row's rank is not known until the body is built) and concatenates the new row. A body is first
 * mapped into a scratch graph (onnx_subgraph.ts `trace`) to learn its outputs' dtypes and
 * shapes: the stacks' dtypes, and each loop-carried value's shape invariant (the dims that stay
 * the same from iteration to iteration, found by tracing until the shapes settle).
 */
import type { DType } from "../../dtype.ts";
import { EdgeflowError } from "../../errors.ts";
import type { Output } from "../../graph.ts";
import { cond, whileLoop } from "../../control_flow/builders.ts";
import type { TensorSpec } from "../../op.ts";
import type { PartialShape } from "../../shape.ts";
import { Tensor } from "../../tensor.ts";
import { loadTimeValue, type OnnxNodeContext } from "./onnx_context.ts";
import { ATTRIBUTE_TYPE, type OnnxGraphProto } from "./onnx_schema.ts";
import { joinShapes, type OnnxSubgraphs } from "./onnx_subgraph.ts";

/** A control-flow op's mapper: its node's context and the mapper of its subgraphs. */
export type OnnxControlMapper = (c: OnnxNodeContext, sub: OnnxSubgraphs) => (Output | undefined)[];

/** How many times a loop body is traced for its loop-carried shapes before they are unknown. */
const MAX_SHAPE_PASSES = 8;

/** The subgraph in attribute `name`, which the op requires. */
function graphAttr(c: OnnxNodeContext, name: string): OnnxGraphProto {
  const a = c.attr(name);
  if (!a) throw c.error(`attribute '${name}' (a graph) is required`);
  if ((a.type !== ATTRIBUTE_TYPE.GRAPH && a.type !== 0) || !a.g) {
    throw c.error(`attribute '${name}' must be a graph`);
  }
  return a.g;
}

/**
 * Runs a builder (`cond`, `whileLoop`), giving its own errors (branches that disagree, a loop
 * value that changes dtype) the ONNX node's name and op; errors from the subgraphs' nodes keep
 * naming those nodes.
 */
function building<T>(c: OnnxNodeContext, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof EdgeflowError && e.node === undefined) {
      throw c.error(`${e.reason}`);
    }
    throw e;
  }
}

/** An empty stack of rows: shape [0], reshaped to [0, ...row] by the first row. */
function emptyStack(c: OnnxNodeContext, dtype: DType): Output {
  return c.constant(Tensor.zeros(dtype, [0]));
}

/** `stack` ([rows, ...y] or the empty [0]) with row `y` appended (prepended when `first`). */
function stackRow(
  c: OnnxNodeContext,
  stack: Output,
  y: Output,
  rows: Output,
  first: boolean,
): Output {
  const axis0 = () => c.scalar(0, "int32");
  const shape = c.out("ConcatV2", [
    [c.out("Reshape", [rows, c.ints32([1])]), c.out("Shape", [y], { out_type: "int64" })],
    axis0(),
  ]);
  const before = c.out("Reshape", [stack, shape]);
  const row = c.out("ExpandDims", [y, axis0()]);
  return c.out("ConcatV2", [first ? [row, before] : [before, row], axis0()]);
}

/**
 * A finished stack of `rows` rows whose row the trace gave `spec`: a loop that ran no iteration
 * left the empty [0], which becomes [0, ...row dims] (the dims the trace left unknown as 0).
 * A row of unknown rank leaves the empty stack as [0].
 */
function finishStack(c: OnnxNodeContext, stack: Output, rows: Output, spec: TensorSpec): Output {
  if (spec.shape === null) return stack;
  const dims = spec.shape;
  const axis0 = c.scalar(0, "int32");
  if (dims.every((d) => d > 0)) {
    // A constant target keeps the row dims static for what reads the result; with no 0 among
    // them, -1 is the number of rows (0 for the empty stack too).
    return c.out("Reshape", [stack, c.ints32([-1, ...dims], "int64")]);
  }
  if (dims.every((d) => d >= 0)) {
    const shape = c.out("ConcatV2", [
      [c.out("Reshape", [rows, c.ints32([1])]), c.ints32(dims, "int64")],
      axis0,
    ]);
    return c.out("Reshape", [stack, shape]);
  }
  // [rows, ...dims] after an iteration; [0, ...known dims, 0 for the unknown] before any.
  const r = dims.length;
  const padded = c.out("Slice", [
    c.out("ConcatV2", [
      [c.out("Shape", [stack], { out_type: "int64" }), c.ints32(new Array(r).fill(0), "int64")],
      axis0,
    ]),
    c.ints32([0]),
    c.ints32([r + 1]),
  ]);
  const none = c.out("Cast", [c.out("Equal", [rows, c.scalar(0, "int64")])], { DstT: "int64" });
  const fallback = c.ints32([0, ...dims.map((d) => Math.max(d, 0))], "int64");
  return c.out("Reshape", [stack, c.out("AddV2", [padded, c.out("Mul", [none, fallback])])]);
}

/**
 * The shapes loop-carried values keep in every iteration: traced from their initial shapes, each
 * pass relaxing the dims the body changes, until a pass changes none. `before` and `after` are
 * the specs of the body's other inputs; its loop-carried outputs start at `outAt`. Returns the
 * shape invariants and the last trace's output specs.
 */
function loopCarriedShapes(
  sub: OnnxSubgraphs,
  body: OnnxGraphProto,
  before: readonly TensorSpec[],
  states: readonly Output[],
  after: readonly TensorSpec[],
  outAt: number,
): { shapes: PartialShape[]; outs: TensorSpec[] } {
  let shapes: PartialShape[] = states.map((s) => s.shape);
  for (let pass = 0;; pass++) {
    const specs = shapes.map((shape, k) => ({ dtype: states[k].dtype, shape }));
    const outs = sub.trace(body, [...before, ...specs, ...after], "body");
    const next = shapes.map((s, k) => joinShapes(s, outs[outAt + k].shape));
    if (next.every((s, k) => sameShape(s, shapes[k]))) return { shapes, outs };
    shapes = pass < MAX_SHAPE_PASSES ? next : shapes.map(() => null);
  }
}

function sameShape(a: PartialShape, b: PartialShape): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// ---- If -------------------------------------------------------------------------------------

const mapIf: OnnxControlMapper = (c, sub) => {
  const thenBranch = graphAttr(c, "then_branch"), elseBranch = graphAttr(c, "else_branch");
  const n = thenBranch.output.length;
  if (elseBranch.output.length !== n) {
    throw c.error(
      `then_branch gives ${n} outputs and else_branch ${elseBranch.output.length}: they must give as many`,
    );
  }
  if (c.node.output.length > n) {
    throw c.error(`has ${c.node.output.length} outputs; its branches give ${n}`);
  }
  const p = c.asScalar(c.req(0), "cond", "bool");
  // A predicate fixed at load time (exporters leave such Ifs behind) takes its branch directly.
  const fixed = loadTimeValue(p);
  if (fixed) {
    return fixed.data[0]
      ? sub.map(c.graph, thenBranch, [], "then_branch")
      : sub.map(c.graph, elseBranch, [], "else_branch");
  }
  return building(c, () =>
    cond(
      p,
      () => sub.map(c.graph, thenBranch, [], "then_branch"),
      () => sub.map(c.graph, elseBranch, [], "else_branch"),
      { name: c.base },
    ));
};

// ---- Loop -----------------------------------------------------------------------------------

/**
 * Loop(M, cond, v_initial...): `for (i = 0; i < M && cond; i++)` with either bound left out
 * (an empty input name), never both (that loop would not end). The body maps (i, cond, v...) to
 * (cond, v..., scan outputs...); the op gives the final v... and each scan output stacked.
 */
const mapLoop: OnnxControlMapper = (c, sub) => {
  const body = graphAttr(c, "body");
  if (c.inputCount < 2) {
    throw c.error("takes M and cond (either may be empty) before its loop-carried values");
  }
  const n = c.inputCount - 2;
  const states = Array.from({ length: n }, (_, k) => c.req(2 + k));
  if (body.input.length !== n + 2) {
    throw c.error(
      `body takes ${body.input.length} inputs; it must take 2 + ${n} (iteration number, condition, ${n} loop-carried values)`,
    );
  }
  const k = body.output.length - 1 - n;
  if (k < 0) {
    throw c.error(
      `body gives ${body.output.length} outputs; it must give 1 + ${n} (condition, ${n} loop-carried values) and any scan outputs`,
    );
  }
  if (c.node.output.length > n + k) {
    throw c.error(
      `has ${c.node.output.length} outputs; its body gives ${n} loop-carried values and ${k} scan outputs`,
    );
  }
  const trip = c.input(0) && tripCount(c, c.req(0));
  const given = c.input(1) && c.asScalar(c.req(1), "cond", "bool");
  if (!trip && !given) {
    throw c.error("has neither a trip count M nor a cond: the loop would never end");
  }
  const head: TensorSpec[] = [{ dtype: "int64", shape: [] }, { dtype: "bool", shape: [] }];
  const { shapes, outs } = loopCarriedShapes(sub, body, head, states, [], 1);
  const rowSpecs = outs.slice(1 + n);
  const stacks = rowSpecs.map((s) => emptyStack(c, s.dtype));
  const results = building(c, () =>
    whileLoop(
      (i, going) => {
        const bounds = [...(trip ? [c.out("Less", [i, trip])] : []), ...(given ? [going] : [])];
        return bounds.length === 2 ? c.out("LogicalAnd", bounds) : bounds[0];
      },
      (i, going, ...rest) => {
        const outs = sub.map(c.graph, body, [i, going, ...rest.slice(0, n)], "body");
        const next = given ? c.asScalar(outs[0], "body's condition output", "bool") : going;
        const rows = outs.slice(1 + n).map((y, j) => stackRow(c, rest[n + j], y, i, false));
        return [c.out("AddV2", [i, c.scalar(1, "int64")]), next, ...outs.slice(1, 1 + n), ...rows];
      },
      [c.scalar(0, "int64"), given ?? c.scalar(true, "bool"), ...states, ...stacks],
      { name: c.base, shapeInvariants: [[], [], ...shapes, ...stacks.map(() => null)] },
    ));
  const count = results[0];
  return [
    ...results.slice(2, 2 + n),
    ...results.slice(2 + n).map((s, j) => finishStack(c, s, count, rowSpecs[j])),
  ];
};

/** Loop's M as an int64 scalar (an int32 one is widened). */
function tripCount(c: OnnxNodeContext, m: Output): Output {
  if (m.dtype === "int32") m = c.out("Cast", [m], { DstT: "int64" });
  return c.asScalar(m, "M", "int64");
}

// ---- Scan -----------------------------------------------------------------------------------

/** An axis attribute entry of a value of rank `rank`, negatives counting from the end. */
function normAxis(c: OnnxNodeContext, axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw c.error(`${what} is ${axis}, out of range for rank ${rank}`);
  }
  return a;
}

/** A per-input attribute list of `count` entries (default all 0); directions must be 0 or 1. */
function perInput(c: OnnxNodeContext, name: string, count: number, direction: boolean): number[] {
  const v = c.ints(name) ?? new Array(count).fill(0);
  if (v.length !== count) throw c.error(`${name} has ${v.length} entries for ${count} values`);
  if (direction) {
    v.forEach((d, i) => {
      if (d !== 0 && d !== 1) throw c.error(`${name}[${i}] is ${d}; it must be 0 or 1`);
    });
  }
  return v;
}

/**
 * The scan loop shared by both Scan versions: the body runs once per slice of `xs` along
 * `axes` (from the end where `reverse`), carrying `states`; each scan output is stacked along a
 * new axis 0 (in reverse where `reverseOut`). Returns the final states, the stacks and the
 * traced specs of the stacks' rows.
 */
function scanLoop(
  c: OnnxNodeContext,
  sub: OnnxSubgraphs,
  body: OnnxGraphProto,
  states: readonly Output[],
  xs: readonly Output[],
  inAxes: readonly number[],
  reverse: readonly number[],
  reverseOut: readonly number[],
): { states: Output[]; stacks: Output[]; rowSpecs: TensorSpec[] } {
  const n = states.length;
  const axes = xs.map((x, j) => normAxis(c, inAxes[j], c.rank(x), `scan_input_axes[${j}]`));
  const length = commonLength(c, xs, axes, "the scan inputs' sequence lengths");
  const last = reverse.some((r) => r === 1)
    ? c.out("Sub", [length, c.scalar(1, "int64")])
    : undefined;
  const sliceSpecs = xs.map((x, j) => ({
    dtype: x.dtype,
    shape: x.shape!.filter((_, d) => d !== axes[j]),
  }));
  const { shapes, outs } = loopCarriedShapes(sub, body, [], states, sliceSpecs, 0);
  const rowSpecs = outs.slice(n);
  if (reverseOut.length !== rowSpecs.length) {
    throw c.error(
      `scan_output_directions has ${reverseOut.length} entries for ${rowSpecs.length} scan outputs`,
    );
  }
  const stacks = rowSpecs.map((s) => emptyStack(c, s.dtype));
  const results = building(c, () =>
    whileLoop(
      (i) => c.out("Less", [i, length]),
      (i, ...rest) => {
        const slices = xs.map((x, j) =>
          c.out("GatherV2", [
            x,
            reverse[j] ? c.out("Sub", [last!, i]) : i,
            c.scalar(axes[j], "int32"),
          ])
        );
        const outs = sub.map(c.graph, body, [...rest.slice(0, n), ...slices], "body");
        const rows = outs.slice(n).map((y, j) =>
          stackRow(c, rest[n + j], y, i, reverseOut[j] === 1)
        );
        return [c.out("AddV2", [i, c.scalar(1, "int64")]), ...outs.slice(0, n), ...rows];
      },
      [c.scalar(0, "int64"), ...states, ...stacks],
      { name: c.base, shapeInvariants: [[], ...shapes, ...stacks.map(() => null)] },
    ));
  const count = results[0];
  return {
    states: results.slice(1, 1 + n),
    stacks: results.slice(1 + n).map((s, j) => finishStack(c, s, count, rowSpecs[j])),
    rowSpecs,
  };
}

/**
 * The length `xs` share along their `axes`: a static one where known. ONNX gives no answer for
 * values of different lengths, so each length known only at run time is checked against it: a
 * gather from a one-element vector at their difference fails (out of range, in a node named
 * after the check) unless they agree, and adds 0 to the length when they do.
 */
function commonLength(
  c: OnnxNodeContext,
  xs: readonly Output[],
  axes: readonly number[],
  what: string,
): Output {
  const lengths = xs.map((x, j) => x.shape![axes[j]]);
  const known = lengths.filter((d) => d >= 0);
  if (known.some((d) => d !== known[0])) throw c.error(`${what} differ: ${lengths.join(", ")}`);
  const atRunTime = (j: number) =>
    c.out("GatherV2", [
      c.out("Shape", [xs[j]], { out_type: "int64" }),
      c.scalar(axes[j], "int32"),
      c.scalar(0, "int32"),
    ]);
  const reference = known.length > 0 ? -1 : 0;
  let length = known.length > 0 ? c.scalar(known[0], "int64") : atRunTime(0);
  lengths.forEach((d, j) => {
    if (d >= 0 || j === reference) return;
    length = c.graph.withNameScope("lengths_must_agree", () => {
      const diff = c.out("Abs", [c.out("Sub", [atRunTime(j), length])]);
      const zero = c.out("GatherV2", [c.ints32([0], "int64"), diff, c.scalar(0, "int32")]);
      return c.out("AddV2", [length, zero]);
    });
  });
  return length;
}

/** A stack (scan axis first) with its scan axis moved to `axis` of its rank. */
function moveScanAxis(
  c: OnnxNodeContext,
  stack: Output,
  axis: number,
  row: TensorSpec,
  what: string,
): Output {
  if (axis === 0) return stack;
  if (row.shape === null) {
    throw c.unsupported(`${what} ${axis} needs the scan output's rank, which is not known`);
  }
  const rank = row.shape.length + 1;
  const a = normAxis(c, axis, rank, what);
  if (a === 0) return stack;
  const perm = Array.from({ length: rank }, (_, d) => (d < a ? d + 1 : d === a ? 0 : d));
  return c.out("Transpose", [stack, c.ints32(perm)]);
}

/**
 * Scan (opset 9 on): N state values and `num_scan_inputs` scan inputs; the body maps (states,
 * one slice of each scan input) to (states, scan outputs).
 */
const mapScan: OnnxControlMapper = (c, sub) => {
  const body = graphAttr(c, "body");
  const m = c.int("num_scan_inputs", 0);
  if (c.attr("num_scan_inputs") === undefined || m < 1) {
    throw c.error("attribute 'num_scan_inputs' must be given and at least 1");
  }
  if (c.opset < 9) return scan8(c, sub, body, m);
  const n = c.inputCount - m;
  if (n < 0) throw c.error(`has ${c.inputCount} inputs for ${m} scan inputs`);
  const all = Array.from({ length: c.inputCount }, (_, i) => c.req(i));
  const k = checkScanBody(c, body, n, m);
  const { states, stacks, rowSpecs } = scanLoop(
    c,
    sub,
    body,
    all.slice(0, n),
    all.slice(n),
    perInput(c, "scan_input_axes", m, false),
    perInput(c, "scan_input_directions", m, true),
    perInput(c, "scan_output_directions", k, true),
  );
  const outAxes = perInput(c, "scan_output_axes", k, false);
  return [
    ...states,
    ...stacks.map((s, j) => moveScanAxis(c, s, outAxes[j], rowSpecs[j], `scan_output_axes[${j}]`)),
  ];
};

/** Checks the body's arity against the node's; returns its number of scan outputs. */
function checkScanBody(c: OnnxNodeContext, body: OnnxGraphProto, n: number, m: number): number {
  if (body.input.length !== n + m) {
    throw c.error(
      `body takes ${body.input.length} inputs; it must take ${n} states and ${m} scan slices`,
    );
  }
  const k = body.output.length - n;
  if (k < 0) {
    throw c.error(`body gives ${body.output.length} outputs; it must give the ${n} states first`);
  }
  if (c.node.output.length > n + k) {
    throw c.error(
      `has ${c.node.output.length} outputs; its body gives ${n} states and ${k} scan outputs`,
    );
  }
  return k;
}

/**
 * Scan of opset 8: every value has a batch axis 0 and the scan inputs a sequence axis 1; the
 * scan runs per batch entry (an outer loop), its results stacked along the batch axis.
 * Per-entry sequence lengths (input 0) are not supported.
 */
function scan8(c: OnnxNodeContext, sub: OnnxSubgraphs, body: OnnxGraphProto, m: number): Output[] {
  if (c.input(0)) throw c.unsupported("sequence_lens (per-batch-entry lengths) is not supported");
  const all = Array.from({ length: c.inputCount - 1 }, (_, i) => c.req(i + 1));
  const n = all.length - m;
  if (n < 0) throw c.error(`has ${all.length} values after sequence_lens for ${m} scan inputs`);
  const k = checkScanBody(c, body, n, m);
  const directions = perInput(c, "directions", m, true);
  all.forEach((x, j) => {
    const need = j < n ? 1 : 2;
    if (c.rank(x) < need) {
      throw c.error(
        `input ${j + 1} has rank ${c.rank(x)}; it needs a batch${
          j < n ? "" : " and a sequence"
        } axis`,
      );
    }
  });
  const batch = commonLength(c, all, all.map(() => 0), "the inputs' batch sizes");
  // The dtypes of the scan outputs' rows, for the stacks over the batch.
  const entrySpecs = all.map((x, j) => ({
    dtype: x.dtype,
    shape: x.shape!.slice(j < n ? 1 : 2),
  }));
  const traced = sub.trace(body, entrySpecs, "body").slice(n);
  const dtypes = [...all.slice(0, n).map((x) => x.dtype), ...traced.map((s) => s.dtype)];
  const stacks = dtypes.map((d) => emptyStack(c, d));
  const entryResults: TensorSpec[] = [];
  const results = building(c, () =>
    whileLoop(
      (b) => c.out("Less", [b, batch]),
      (b, ...acc) => {
        const entry = all.map((x) => c.out("GatherV2", [x, b, c.scalar(0, "int32")]));
        const r = scanLoop(
          c,
          sub,
          body,
          entry.slice(0, n),
          entry.slice(n),
          new Array(m).fill(0),
          directions,
          new Array(k).fill(0),
        );
        const outs = [...r.states, ...r.stacks];
        outs.forEach((o, j) => (entryResults[j] = { dtype: o.dtype, shape: o.shape }));
        return [
          c.out("AddV2", [b, c.scalar(1, "int64")]),
          ...outs.map((o, j) => stackRow(c, acc[j], o, b, false)),
        ];
      },
      [c.scalar(0, "int64"), ...stacks],
      { name: c.base, shapeInvariants: [[], ...stacks.map(() => null)] },
    ));
  const count = results[0];
  return results.slice(1).map((s, j) => finishStack(c, s, count, entryResults[j]));
}

/** The control-flow ops, by op_type. */
export const CONTROL_MAPPERS: ReadonlyMap<string, OnnxControlMapper> = new Map([
  ["If", mapIf],
  ["Loop", mapLoop],
  ["Scan", mapScan],
]);
