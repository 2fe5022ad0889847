/**
 * TopKV2: the k largest entries of each row (the last dim) with their indices, largest first;
 * equal values keep the lower index first, as TensorFlow's CPU kernel's stable comparator.
 * `sorted` false lets TensorFlow return them in any order; Edgeflow returns them sorted (one of
 * the orders TensorFlow allows). NaN: TensorFlow's comparator (b < a, then b > a, then index)
 * is no strict order with NaN, so its result depends on the sort's steps; Edgeflow ranks NaN
 * above +Inf (numpy's and XLA's total order), which is one of the answers TensorFlow can give.
 *
 * Gradient (TensorFlow's _TopKGrad): dvalues scattered back to the positions the indices name,
 * here as a one-hot sum over the k axis (indices within a row are distinct, so the sum is exact).
 */
import { type DType, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type InputCheck, type OpDef } from "../op.ts";
import { formatShape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { newFlatIndex, takeElements } from "./array_util.ts";
import { mul } from "./binary.ts";
import { sum } from "./reduce.ts";
import { oneHot } from "./select.ts";
import { expandDims, shape } from "./shape_ops.ts";
import { gather } from "./gather.ts";

type TopKAttrs = { sorted: boolean; T: DType };

function kOf(k: Tensor): number {
  if (k.rank !== 0) throw new EdgeflowError(`k must be 0-D, got shape ${formatShape(k.shape)}`);
  return numbers(k)[0];
}

/** TensorFlow's OP_REQUIREs on k and the input's rank and last dim. */
const kInRange: InputCheck<TopKAttrs> = {
  reads: [1],
  run(values, specs) {
    const k = kOf(values[1]!);
    if (k < 0) throw new EdgeflowError(`Need k >= 0, got ${k}`);
    const s = specs[0].shape!;
    if (s.length < 1) throw new EdgeflowError(`input must be >= 1-D, got shape ${formatShape(s)}`);
    const last = s[s.length - 1];
    if (last >= 0 && last < k) {
      throw new EdgeflowError(`input must have at least k columns. Had ${last}, needed ${k}`);
    }
  },
};

/** Whether a ranks above b: larger first, NaN above everything, ties by lower index. */
function ranksAbove(a: number | bigint, b: number | bigint): boolean {
  if (a !== a) return b === b; // NaN above any number; two NaNs tie.
  if (b !== b) return false;
  return a > b;
}

export const TopKV2: OpDef<TopKAttrs> = defineOp<TopKAttrs>({
  name: "TopKV2",
  inputs: [{ name: "input", type: "T" }, { name: "k", type: "int32" }],
  outputs: [{ name: "values", type: "T" }, { name: "indices", type: "int32" }],
  hostMemory: { inputs: [1] },
  checks: [kInRange],
  attrs: {
    sorted: { kind: "bool", default: true },
    T: { kind: "type", allowed: REAL_DTYPES },
  },
  gradient: (_, node, [dValues]) => {
    if (!dValues) return [null, null];
    const [x] = node.inputs;
    const rank = x.shape?.length;
    if (rank === undefined) {
      throw new EdgeflowError("TopKV2's gradient needs the input's rank");
    }
    const last = x.shape![rank - 1];
    const depth = last >= 0 ? last : gather(shape(x, { graph: x.graph }), rank - 1);
    // [..., k, n]: one row per selected entry, 1 where it came from.
    const hot = oneHot(node.outputs[1], depth, 1, 0, { T: dValues.dtype });
    return [sum(mul(expandDims(dValues, -1), hot), [rank - 1]), null];
  },
  infer: ([x, k]) => {
    if (k.shape !== null && k.shape.length !== 0) {
      throw new EdgeflowError(`k must be 0-D, got shape ${formatShape(k.shape)}`);
    }
    const kv = k.value ? kOf(k.value) : undefined;
    if (kv !== undefined && kv < 0) throw new EdgeflowError(`Need k >= 0, got ${kv}`);
    if (x.shape === null) return [{ dtype: x.dtype, shape: null }, { dtype: "int32", shape: null }];
    if (x.shape.length < 1) {
      throw new EdgeflowError(`input must be >= 1-D, got shape ${formatShape(x.shape)}`);
    }
    const last = x.shape[x.shape.length - 1];
    if (kv !== undefined && last >= 0 && last < kv) {
      throw new EdgeflowError(`input must have at least k columns. Had ${last}, needed ${kv}`);
    }
    const out = [...x.shape.slice(0, -1), kv ?? -1];
    return [{ dtype: x.dtype, shape: out }, { dtype: "int32", shape: out }];
  },
  reference: ([x, kt]) => {
    const k = kOf(kt);
    const n = x.shape[x.shape.length - 1];
    const rows = n === 0 ? sizeOf(x.shape.slice(0, -1)) : x.size / n;
    const vals: ArrayLike<number | bigint> = x.dtype === "int64"
      ? x.data as BigInt64Array
      : numbers(x);
    const outShape = [...x.shape.slice(0, -1), k];
    const source = newFlatIndex(rows * k, [0, Math.max(0, x.size - 1)]);
    const indices = new Int32Array(rows * k);
    const order = new Array<number>(n);
    for (let r = 0; r < rows; r++) {
      const base = r * n;
      for (let i = 0; i < n; i++) order[i] = i;
      // A stable sort by rank: ties keep the lower index first.
      order.sort((a, b) => {
        const va = vals[base + a], vb = vals[base + b];
        if (ranksAbove(va, vb)) return -1;
        if (ranksAbove(vb, va)) return 1;
        return a - b;
      });
      for (let j = 0; j < k; j++) {
        indices[r * k + j] = order[j];
        source[r * k + j] = base + order[j];
      }
    }
    return [takeElements(x, outShape, source), new Tensor("int32", outShape, indices)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 6 }), fc.nat(), fc.boolean()).map(
      ([s, seed, sorted]) => {
        const n = s[s.length - 1];
        // Integer-valued draws give ties, which must keep the lower index first.
        const x = randomTensor(dtype, s, seed, { min: -3, max: 3, exact: seed % 2 === 0 });
        return {
          inputs: [x, new Tensor("int32", [], Int32Array.of(seed % (n + 1)))],
          attrs: { sorted },
        };
      },
    ),
  invalidArbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { minRank: 1, maxRank: 2, maxDim: 4 }), fc.nat(), fc.boolean()).map(
      ([s, seed, negative]) => {
        const n = s[s.length - 1];
        const k = negative ? -1 - (seed % 3) : n + 1 + (seed % 3);
        return {
          inputs: [randomTensor(dtype, s, seed), new Tensor("int32", [], Int32Array.of(k))],
          attrs: {},
        };
      },
    ),
});

/** tf.math.top_k(input, k): [values, indices]. */
export function topK(
  input: TensorLike,
  k: TensorLike = 1,
  options: OpOptions<TopKAttrs> = {},
): [import("../graph.ts").Output, import("../graph.ts").Output] {
  const node = apply(TopKV2, [input, k], options);
  return [node.outputs[0], node.outputs[1]];
}
