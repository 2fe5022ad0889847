/**
 * Unique: the distinct values of a vector in order of first occurrence, and for each element the
 * index of its value in that list. Equality is TensorFlow's (a hash map with ==): -0 and +0 are
 * one value (the first occurrence's bits are kept), and every NaN is a value of its own, since NaN
 * equals nothing. No gradient (TensorFlow has none).
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type OpDef } from "../op.ts";
import { formatShape } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { randomTensor } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { newFlatIndex, takeElements } from "./array_util.ts";
import type { Output } from "../graph.ts";

type UniqueAttrs = { T: DType; out_idx: DType };

export const Unique: OpDef<UniqueAttrs> = defineOp<UniqueAttrs>({
  name: "Unique",
  inputs: [{ name: "x", type: "T" }],
  outputs: [{ name: "y", type: "T" }, { name: "idx", type: "out_idx" }],
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES.filter((d) => d !== "resource") },
    out_idx: { kind: "type", allowed: ["int32", "int64"], default: "int32" },
  },
  infer: ([x], { out_idx }) => {
    if (x.shape !== null && x.shape.length !== 1) {
      throw new EdgeflowError(`unique expects a 1D vector, got shape ${formatShape(x.shape)}`);
    }
    return [{ dtype: x.dtype, shape: [-1] }, { dtype: out_idx, shape: x.shape ?? [-1] }];
  },
  reference: ([x], { out_idx }) => {
    if (x.rank !== 1) {
      throw new EdgeflowError(`unique expects a 1D vector, got shape ${formatShape(x.shape)}`);
    }
    const keys: ArrayLike<unknown> = x.dtype === "int64" || x.dtype === "string"
      ? x.data as ArrayLike<unknown>
      : numbers(x);
    // A Map's SameValueZero already merges -0 with +0; NaN is kept out of it (each is new).
    const seen = new Map<unknown, number>();
    const first: number[] = [];
    const idx = new Array<number>(x.size);
    for (let i = 0; i < x.size; i++) {
      const key = keys[i];
      let at = key !== key ? undefined : seen.get(key);
      if (at === undefined) {
        at = first.length;
        first.push(i);
        if (key === key) seen.set(key, at);
      }
      idx[i] = at;
    }
    const source = newFlatIndex(first.length, [0, Math.max(0, x.size - 1)]);
    first.forEach((f, j) => (source[j] = f));
    const index = out_idx === "int64"
      ? new Tensor("int64", [x.size], BigInt64Array.from(idx, BigInt))
      : new Tensor("int32", [x.size], Int32Array.from(idx));
    return [takeElements(x, [first.length], source), index];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(fc.integer({ min: 0, max: 12 }), fc.nat(), fc.boolean()).map(([n, seed, wide]) => ({
      // Few distinct values, so repeats are common.
      inputs: [randomTensor(dtype, [n], seed, { min: -2, max: 2, exact: true })],
      attrs: { out_idx: wide ? "int64" : "int32" },
    })),
  testDTypes: ["float32", "int32", "int64", "bool", "string", "float16"],
});

/** tf.unique(x): [y, idx]. */
export function unique(x: TensorLike, options: OpOptions<UniqueAttrs> = {}): [Output, Output] {
  const node = apply(Unique, [x], options);
  return [node.outputs[0], node.outputs[1]];
}
