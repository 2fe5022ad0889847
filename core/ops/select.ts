/** SelectV2 (tf.where with three arguments) and OneHot. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { broadcastShapes, type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { numbers, type Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import {
  checkRank,
  elementsOf,
  fromElements,
  int32Scalar,
  intScalar,
  knownInts,
  newElements,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { broadcastIndex } from "./elementwise.ts";
import { selectGrad } from "../grads/array.ts";
import { notDifferentiable } from "../grads/math.ts";

const TESTED: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

// ---- SelectV2 ----------------------------------------------------------------------------

type SelectAttrs = { T: DType };
export const SelectV2 = defineOp<SelectAttrs>({
  gradient: selectGrad,
  name: "SelectV2",
  inputs: [
    { name: "condition", type: "bool" },
    { name: "t", type: "T" },
    { name: "e", type: "T" },
  ],
  outputs: [{ name: "output", type: "T" }],
  attrs: { T: { kind: "type", allowed: ALL_DTYPES } },
  infer: ([c, t, e]) => [{
    dtype: t.dtype,
    shape: broadcastShapes(c.shape, broadcastShapes(t.shape, e.shape)),
  }],
  reference: ([c, t, e]) => {
    const shape = broadcastShapes(c.shape, broadcastShapes(t.shape, e.shape)) as Shape;
    const n = sizeOf(shape);
    // An input as large as the output is read in place and a one-element input at 0: no index
    // array (4 or 8 bytes per output element) for what needs none.
    const index = (x: Tensor) =>
      x.size === n || x.size === 1 ? null : broadcastIndex(x.shape, shape);
    const [ci, ti, ei] = [index(c), index(t), index(e)];
    const [cStep, tStep, eStep] = [c, t, e].map((x) => (x.size === n ? 1 : 0));
    const cond = c.data as Uint8Array;
    const ts = elementsOf(t);
    const es = elementsOf(e);
    const out = newElements(t.dtype, n);
    for (let i = 0; i < n; i++) {
      out[i] = cond[ci ? ci[i] : i * cStep]
        ? ts[ti ? ti[i] : i * tStep]
        : es[ei ? ei[i] : i * eStep];
    }
    return [fromElements(t.dtype, shape, out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbBroadcastTriple(fc), fc.nat()).map(([[sc, st, se], seed]) => ({
      inputs: [
        randomTensor("bool", sc, seed),
        randomTensor(dtype, st, seed + 1),
        randomTensor(dtype, se, seed + 2),
      ],
      attrs: {},
    })),
  testDTypes: TESTED,
});

/** Three shapes that broadcast together: suffixes of one shape with some dims set to 1. */
function arbBroadcastTriple(fc: FastCheck): Arbitrary<[number[], number[], number[]]> {
  const variant = fc.tuple(
    fc.integer({ min: 0, max: 4 }),
    fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
  );
  return fc.tuple(arbShape(fc), variant, variant, variant).map(([full, ...vs]) =>
    vs.map(([drop, ones]) =>
      full.slice(Math.min(drop, full.length)).map((d, i) => (ones[i] ? 1 : d))
    ) as [number[], number[], number[]]
  );
}

// ---- OneHot ------------------------------------------------------------------------------

/**
 * How kernels one-hot: indices viewed as [outer, inner] and the output as [outer, depth, inner]
 * (the new dim sits at `axis`); output[o, d, i] = indices[o, i] == d ? on : off, so indices
 * outside [0, depth) give all-off rows.
 */
export interface OneHotPlan {
  /** Where the depth dim goes, normalised to [0, rank(indices)]. */
  axis: number;
  outShape: number[];
  /** Product of indices' dims before the axis. */
  outer: number;
  depth: number;
  /** Product of indices' dims from the axis on. */
  inner: number;
}

function oneHotAxis(axis: number, rank: number | null): number | undefined {
  if (axis < -1 || (rank !== null && axis > rank)) {
    throw new EdgeflowError(
      `axis ${axis} must be -1 or in [0, ${rank ?? "rank(indices)"}]`,
    );
  }
  if (rank === null) return undefined;
  return axis === -1 ? rank : axis;
}

/** OneHot's output shape from partial indices shape and depth (-1 when unknown). */
export function oneHotShape(indices: PartialShape, depth: number, axis: number): PartialShape {
  if (depth < -1) throw new EdgeflowError(`depth must be non-negative, got ${depth}`);
  const a = oneHotAxis(axis, indices?.length ?? null);
  if (indices === null || a === undefined) return null;
  return [...indices.slice(0, a), depth, ...indices.slice(a)];
}

export function resolveOneHot(indices: Shape, depth: number, axis: number): OneHotPlan {
  if (depth < 0) throw new EdgeflowError(`depth must be non-negative, got ${depth}`);
  const outShape = oneHotShape(indices, depth, axis) as number[];
  const a = oneHotAxis(axis, indices.length)!;
  return {
    axis: a,
    outShape,
    outer: sizeOf(indices.slice(0, a)),
    depth,
    inner: sizeOf(indices.slice(a)),
  };
}

type OneHotAttrs = { axis: number; T: DType; TI: DType };
export const OneHot = defineOp<OneHotAttrs>({
  gradient: notDifferentiable,
  name: "OneHot",
  inputs: [
    { name: "indices", type: "TI" },
    { name: "depth", type: "int32" },
    { name: "on_value", type: "T" },
    { name: "off_value", type: "T" },
  ],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: {
    axis: { kind: "int", default: -1 },
    T: { kind: "type", allowed: ALL_DTYPES },
    TI: { kind: "type", allowed: ["uint8", "int8", "int32", "int64"], default: "int64" },
  },
  infer: ([indices, depth, on, off], { axis }) => {
    checkRank(depth.shape, 0, "depth");
    checkRank(on.shape, 0, "on_value");
    checkRank(off.shape, 0, "off_value");
    const d = knownInts(depth)?.[0] ?? -1;
    return [{ dtype: on.dtype, shape: oneHotShape(indices.shape, d, axis) }];
  },
  reference: ([indices, depth, on, off], { axis }) => {
    checkRank(on.shape, 0, "on_value");
    checkRank(off.shape, 0, "off_value");
    const plan = resolveOneHot(indices.shape, intScalar(depth, "depth"), axis);
    const idx = numbers(indices);
    const out = newElements(on.dtype, sizeOf(plan.outShape));
    const onV = elementsOf(on)[0];
    const offV = elementsOf(off)[0];
    let k = 0;
    for (let o = 0; o < plan.outer; o++) {
      for (let d = 0; d < plan.depth; d++) {
        for (let i = 0; i < plan.inner; i++) out[k++] = idx[o * plan.inner + i] === d ? onV : offV;
      }
    }
    return [fromElements(on.dtype, plan.outShape, out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { maxRank: 3 }),
      fc.integer({ min: 0, max: 6 }),
      fc.constantFrom("uint8", "int8", "int32", "int64"),
      fc.nat(),
    ).map(([shape, depth, TI, seed]) => {
      // Some indices fall outside [0, depth) (negative ones unless unsigned): all-off rows.
      const indices = randomTensor(TI, shape, seed, { min: TI === "uint8" ? 0 : -1, max: depth });
      return {
        inputs: [
          indices,
          int32Scalar(depth),
          randomTensor(dtype, [], seed + 1),
          randomTensor(dtype, [], seed + 2),
        ],
        attrs: { axis: (seed % (shape.length + 2)) - 1 },
      };
    }),
  testDTypes: TESTED,
});

export const SELECT_OPS: readonly OpDef[] = [SelectV2, OneHot];

// ---- builders ----------------------------------------------------------------------------

/** tf.where(condition, t, e): elements of t where condition holds, else of e, all broadcast. */
export function where(
  condition: TensorLike,
  t: TensorLike,
  e: TensorLike,
  options: OpOptions<SelectAttrs> = {},
): Output {
  return apply(SelectV2, [condition, t, e], options).outputs[0];
}

/**
 * tf.one_hot(indices, depth, on_value = 1, off_value = 0): the dtype is `T` if given, else that
 * of an Output or Tensor on/off value, else float32 (as TensorFlow).
 */
export function oneHot(
  indices: TensorLike,
  depth: TensorLike,
  onValue: TensorLike = 1,
  offValue: TensorLike = 0,
  options: OpOptions<OneHotAttrs> = {},
): Output {
  const typed = [onValue, offValue].find((v) =>
    typeof v === "object" && v !== null && "dtype" in v
  );
  const T = options.T ?? (typed as { dtype: DType } | undefined)?.dtype ?? "float32";
  return apply(OneHot, [indices, depth, onValue, offValue], { ...options, T }).outputs[0];
}
