/**
 * Where (tf.where with one argument): the coordinates of the true (nonzero) elements, one row
 * per element in row-major order, as int64 [num_true, rank]; its first dim is known only at run
 * time. NaN is nonzero, so true. No gradient (TensorFlow has none: the output is integer).
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { defineOp, type OpDef } from "../op.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import type { Output } from "../graph.ts";

type WhereAttrs = { T: DType };

export const Where: OpDef<WhereAttrs> = defineOp<WhereAttrs>({
  name: "Where",
  inputs: [{ name: "input", type: "T" }],
  outputs: [{ name: "index", type: "int64" }],
  attrs: {
    T: { kind: "type", allowed: ALL_DTYPES.filter((d) => d !== "string" && d !== "resource") },
  },
  infer: ([x]) => [{ dtype: "int64", shape: [-1, x.shape === null ? -1 : x.shape.length] }],
  reference: ([x]) => {
    const rank = x.rank;
    const values: ArrayLike<number | bigint> = x.dtype === "int64"
      ? x.data as BigInt64Array
      : numbers(x);
    const hits: number[] = [];
    for (let i = 0; i < x.size; i++) {
      const v = values[i];
      if (v !== 0 && v !== 0n) hits.push(i);
    }
    const out = new BigInt64Array(hits.length * rank);
    hits.forEach((flat, h) => {
      for (let d = rank - 1; d >= 0; d--) {
        const dim = x.shape[d];
        out[h * rank + d] = BigInt(flat % dim);
        flat = Math.floor(flat / dim);
      }
    });
    return [new Tensor("int64", [hits.length, rank], out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { maxRank: 3, minDim: 0, maxDim: 4 }), fc.nat()).map(([s, seed]) => ({
      // Small integers: about a third are zero.
      inputs: [randomTensor(dtype, s, seed, { min: -1, max: 1, exact: true })],
      attrs: {},
    })),
  testDTypes: ["float32", "int32", "bool", "int64", "uint8"],
});

/** tf.where(condition) with one argument: the coordinates of the true elements (tf.where with three is `where`). */
export function whereIndices(input: TensorLike, options: OpOptions<WhereAttrs> = {}): Output {
  return apply(Where, [input], options).outputs[0];
}
