/** Transpose, and the permutation plan kernels use to move the data. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { type Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { type Shape, stridesOf } from "../shape.ts";
import { arbShape, arbTensor, seededRandom } from "../testing/arbitrary.ts";
import {
  checkRank,
  int32Vector,
  intVector,
  knownInts,
  knownLength,
  staticShape,
  stridedIndex,
  takeElements,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { unknownShape } from "./infer_util.ts";
import { transposeGrad } from "../grads/array.ts";

/** Throws unless `perm` is a permutation of 0..rank-1 (TensorFlow takes no negative entries). */
export function checkPermutation(perm: readonly number[], rank: number): number[] {
  if (perm.length !== rank) {
    throw new EdgeflowError(`perm [${perm}] must have ${rank} entries, one per input dim`);
  }
  const seen = new Array<boolean>(rank).fill(false);
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank) {
      throw new EdgeflowError(`perm [${perm}]: ${p} is out of range [0, ${rank})`);
    }
    if (seen[p]) throw new EdgeflowError(`perm [${perm}]: ${p} appears twice`);
    seen[p] = true;
  }
  return perm.slice();
}

/** What a kernel needs to transpose: every output element's source, and a smaller equivalent. */
export interface TransposePlan {
  /** The validated permutation: output dim i is input dim perm[i]. */
  perm: number[];
  /** The output shape: shape[perm[i]]. */
  outShape: number[];
  /**
   * The input's element stride along each output dim: the output element at coordinates c reads
   * the input at Σ c[i] * inStrides[i].
   */
  inStrides: number[];
  /**
   * The same transpose with size-1 dims dropped and runs of input dims that stay adjacent in the
   * output merged: `shape` is the collapsed input shape and `perm` permutes it. A rank-4 NHWC to
   * NCHW transpose collapses to a rank-3 one; a transpose that only moves size-1 dims collapses
   * to rank ≤ 1.
   */
  collapsed: { shape: number[]; perm: number[] };
  /** Whether the data keeps its order (the collapsed perm is the identity): a reshape suffices. */
  isIdentity: boolean;
}

export function resolveTranspose(shape: Shape, perm: readonly number[]): TransposePlan {
  const p = checkPermutation(perm, shape.length);
  const strides = stridesOf(shape);
  const collapsed = collapseTranspose(shape, p);
  return {
    perm: p,
    outShape: p.map((d) => shape[d]),
    inStrides: p.map((d) => strides[d]),
    collapsed,
    isIdentity: collapsed.perm.every((d, i) => d === i),
  };
}

function collapseTranspose(shape: Shape, perm: readonly number[]) {
  // Drop size-1 dims and renumber the remaining input dims.
  const kept = shape.flatMap((d, i) => (d === 1 ? [] : [i]));
  const renumber = new Map(kept.map((d, i) => [d, i]));
  const order = perm.filter((d) => shape[d] !== 1).map((d) => renumber.get(d)!);
  // Output-order runs of consecutive input dims become one dim.
  const groups: number[][] = [];
  for (const d of order) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === d) last.push(d);
    else groups.push([d]);
  }
  const byInput = groups.slice().sort((a, b) => a[0] - b[0]);
  const rankOf = new Map(byInput.map((g, i) => [g, i]));
  return {
    shape: byInput.map((g) => g.reduce((n, d) => n * shape[kept[d]], 1)),
    perm: groups.map((g) => rankOf.get(g)!),
  };
}

type TransposeAttrs = { T: DType; Tperm: DType };
export const Transpose = defineOp<TransposeAttrs>({
  gradient: transposeGrad,
  name: "Transpose",
  inputs: [{ name: "x", type: "T" }, { name: "perm", type: "Tperm" }],
  outputs: [{ name: "y", type: "T" }],
  hostMemory: { inputs: [1] },
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES },
    Tperm: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
  },
  infer: ([x, perm]) => {
    checkRank(perm.shape, 1, "perm");
    const p = knownInts(perm);
    const rank = x.shape?.length ?? p?.length ?? knownLength(perm.shape) ?? null;
    if (rank !== null && p) checkPermutation(p, rank);
    if (x.shape !== null && p) return [{ dtype: x.dtype, shape: p.map((d) => x.shape![d]) }];
    return [{ dtype: x.dtype, shape: unknownShape(rank) }];
  },
  reference: ([x, perm]) => {
    const plan = resolveTranspose(x.shape, intVector(perm, "perm"));
    return [takeElements(x, plan.outShape, stridedIndex(plan.outShape, plan.inStrides, 0))];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbTensor(fc, dtype, arbShape(fc)), fc.nat()).map(([x, seed]) => ({
      inputs: [x, int32Vector(shuffledRange(x.rank, seed))],
      attrs: {},
    })),
  testDTypes: ALL_DTYPES.filter((d) => d !== "resource"),
});

/** 0..n-1 in an order drawn from `seed` (Fisher-Yates). */
export function shuffledRange(n: number, seed: number): number[] {
  const rand = seededRandom(seed);
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export const TRANSPOSE_OPS: readonly OpDef[] = [Transpose];

/**
 * tf.transpose(x, perm): without `perm`, reverses the dims, which needs x's rank known when the
 * graph is built.
 */
export function transpose(
  x: TensorLike,
  perm?: TensorLike,
  options: OpOptions<TransposeAttrs> = {},
): Output {
  if (perm === undefined) {
    const rank = staticShape(x)?.length ?? null;
    if (rank === null) {
      throw new EdgeflowError("transpose without perm needs an input of known rank", {
        op: "Transpose",
      });
    }
    perm = Array.from({ length: rank }, (_, i) => rank - 1 - i);
  }
  return apply(Transpose, [x, perm], options).outputs[0];
}
