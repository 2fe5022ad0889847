/**
 * GatherNd: output[i..., :] = params[indices[i..., 0], ..., indices[i..., K-1], :], with K =
 * indices.shape[-1] ≤ rank(params); the output shape is indices.shape[:-1] + params.shape[K:].
 * An index outside params is refused before reading, as TensorFlow's CPU kernel does (its GPU
 * kernel writes zeros instead; TensorFlow's CPU meaning wins).
 *
 * ScatterNd is its gradient (and GatherNd ScatterNd's): updates added into zeros of `shape` at
 * the index rows in index order, each sum rounded to T as TensorFlow's CPU kernel adds in T.
 * ScatterNd takes the float dtypes and int32 (int64's exact BigInt sums are not written yet).
 */
import { ALL_DTYPES, type DType, FLOAT_DTYPES, type NumericDType, roundTo } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type InputCheck, type OpDef } from "../op.ts";
import { formatShape, type Shape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { withElement } from "../testing/invalid.ts";
import { int32Vector, intVector, knownInts, newFlatIndex, takeElements } from "./array_util.ts";
import { apply } from "./build.ts";
import { shape } from "./shape_ops.ts";
import { requireRank } from "./infer_util.ts";

type GatherNdAttrs = { Tparams: DType; Tindices: DType };

/** How kernels walk a GatherNd: `count` index rows of `depth` ints, each a slice of `inner`. */
export interface GatherNdPlan {
  outShape: number[];
  count: number;
  depth: number;
  inner: number;
  /** Element strides of params' first `depth` dims. */
  strides: number[];
}

export function gatherNdPlan(params: Shape, indices: Shape): GatherNdPlan {
  const depth = indices[indices.length - 1];
  checkDepth(params, indices);
  const inner = sizeOf(params.slice(depth));
  const strides = params.slice(0, depth).map((_, d) => sizeOf(params.slice(d + 1)));
  const count = sizeOf(indices.slice(0, -1));
  if (count > 0 && sizeOf(params) === 0 && inner > 0) {
    throw new EdgeflowError("requested more than 0 entries, but params is empty");
  }
  return {
    outShape: [...indices.slice(0, -1), ...params.slice(depth)],
    count,
    depth,
    inner,
    strides,
  };
}

function checkDepth(params: Shape | readonly number[], indices: readonly number[]): void {
  const depth = indices[indices.length - 1];
  if (depth >= 0 && depth > params.length) {
    throw new EdgeflowError(
      `indices.shape[-1] must be <= params.rank, got indices ${formatShape(indices)} for params ` +
        formatShape(params),
    );
  }
}

/** TensorFlow's CPU kernel refuses an index row outside params before reading. */
const indicesInRange: InputCheck<GatherNdAttrs> = {
  reads: [1],
  run(values, specs) {
    const indices = values[1]!;
    const params = specs[0].shape as Shape;
    const plan = gatherNdPlan(params, indices.shape);
    const idx = indices.data as ArrayLike<number | bigint>;
    for (let r = 0; r < plan.count; r++) {
      for (let d = 0; d < plan.depth; d++) {
        const i = Number(idx[r * plan.depth + d]);
        if (!(i >= 0 && i < params[d])) {
          const row = Array.from({ length: plan.depth }, (_, j) => Number(idx[r * plan.depth + j]));
          throw new EdgeflowError(
            `indices[${r}] = [${row.join(", ")}] does not index into param shape ${
              formatShape(params)
            }`,
          );
        }
      }
    }
  },
};

export const GatherNd: OpDef<GatherNdAttrs> = defineOp<GatherNdAttrs>({
  // dparams: dy scattered back to the rows it came from (summed where rows repeat).
  gradient: (_, node, [dy]) => {
    const [params, indices] = node.inputs;
    const size = shape(params, { out_type: indices.dtype, graph: params.graph });
    return [apply(ScatterNd, [indices, dy!, size], {}).outputs[0], null];
  },
  name: "GatherNd",
  inputs: [{ name: "params", type: "Tparams" }, { name: "indices", type: "Tindices" }],
  outputs: [{ name: "output", type: "Tparams" }],
  checks: [indicesInRange],
  attrs: {
    Tparams: { kind: "type", allowed: ALL_DTYPES },
    Tindices: { kind: "type", allowed: ["int32", "int64"] },
  },
  infer: ([params, indices]) => {
    requireRank(indices, 1, Infinity, "indices");
    if (indices.shape === null || params.shape === null) {
      return [{ dtype: params.dtype, shape: null }];
    }
    const depth = indices.shape[indices.shape.length - 1];
    checkDepth(params.shape, indices.shape);
    const shape = depth < 0 ? null : [...indices.shape.slice(0, -1), ...params.shape.slice(depth)];
    return [{ dtype: params.dtype, shape }];
  },
  reference: ([params, indices]) => {
    const plan = gatherNdPlan(params.shape, indices.shape);
    const idx = indices.data as ArrayLike<number | bigint>;
    const source = newFlatIndex(plan.count * plan.inner, [0, Math.max(0, params.size - 1)]);
    let k = 0;
    for (let r = 0; r < plan.count; r++) {
      let from = 0;
      for (let d = 0; d < plan.depth; d++) {
        from += Number(idx[r * plan.depth + d]) * plan.strides[d];
      }
      for (let n = 0; n < plan.inner; n++) source[k++] = from + n;
    }
    return [takeElements(params, plan.outShape, source)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }),
      arbShape(fc, { maxRank: 2, maxDim: 3 }),
      fc.nat(),
    ).map(([paramsShape, rows, seed]) => {
      const depth = 1 + seed % paramsShape.length;
      const n = sizeOf(rows);
      const values = new Int32Array(n * depth);
      for (let i = 0; i < values.length; i++) {
        values[i] = (seed * 7 + i * 13) % paramsShape[i % depth];
      }
      return {
        inputs: [
          randomTensor(dtype, paramsShape, seed),
          new Tensor("int32", [...rows, depth], values),
        ],
        attrs: {},
      };
    }),
  invalidArbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }), fc.nat(), fc.boolean()).map(
      ([paramsShape, seed, below]) => {
        const depth = 1 + seed % paramsShape.length;
        const indices = randomTensor("int32", [2, depth], seed, { min: 0, max: 0 });
        const d = seed % depth;
        return {
          inputs: [
            randomTensor(dtype, paramsShape, seed),
            withElement(indices, depth + d, below ? -1 - (seed % 3) : paramsShape[d] + (seed % 3)),
          ],
          attrs: {},
        };
      },
    ),
  testDTypes: ALL_DTYPES.filter((d) => d !== "resource"),
});

type ScatterNdAttrs = { T: DType; Tindices: DType };

/** TensorFlow's ScatterNd refuses an index row outside `shape` before writing (CPU kernel). */
const scatterInRange: InputCheck<ScatterNdAttrs> = {
  reads: [0, 2],
  run(values) {
    const indices = values[0]!, target = intVector(values[2]!, "shape");
    const plan = gatherNdPlan(target, indices.shape);
    const idx = indices.data as ArrayLike<number | bigint>;
    for (let r = 0; r < plan.count; r++) {
      for (let d = 0; d < plan.depth; d++) {
        const i = Number(idx[r * plan.depth + d]);
        if (!(i >= 0 && i < target[d])) {
          const row = Array.from({ length: plan.depth }, (_, j) => Number(idx[r * plan.depth + j]));
          throw new EdgeflowError(
            `indices[${r}] = [${row.join(", ")}] does not index into shape ${formatShape(target)}`,
          );
        }
      }
    }
  },
};

export const ScatterNd: OpDef<ScatterNdAttrs> = defineOp<ScatterNdAttrs>({
  // dupdates: GatherNd of dy at the same rows; the indices and shape are integers.
  gradient: (_, node, [dy]) => [null, apply(GatherNd, [dy!, node.inputs[0]], {}).outputs[0], null],
  name: "ScatterNd",
  inputs: [
    { name: "indices", type: "Tindices" },
    { name: "updates", type: "T" },
    { name: "shape", type: "Tindices" },
  ],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [2] },
  checks: [scatterInRange],
  attrs: {
    T: { kind: "type", allowed: [...FLOAT_DTYPES, "int32"] },
    Tindices: { kind: "type", allowed: ["int32", "int64"] },
  },
  infer: ([indices, updates, size]) => {
    requireRank(indices, 1, Infinity, "indices");
    const known = knownInts(size);
    if (!known) return [{ dtype: updates.dtype, shape: null }];
    if (indices.shape !== null && updates.shape !== null) {
      const depth = indices.shape[indices.shape.length - 1];
      if (depth >= 0) {
        const want = [...indices.shape.slice(0, -1), ...known.slice(depth)];
        const ok = depth <= known.length && want.length === updates.shape.length &&
          want.every((d, i) => d < 0 || updates.shape![i] < 0 || d === updates.shape![i]);
        if (!ok) {
          throw new EdgeflowError(
            `updates ${formatShape(updates.shape)} do not fit indices ${
              formatShape(indices.shape)
            } into shape ${formatShape(known)} (expected ${formatShape(want)})`,
          );
        }
      }
    }
    return [{ dtype: updates.dtype, shape: known }];
  },
  reference: ([indices, updates, size]) => {
    const target = intVector(size, "shape");
    const plan = gatherNdPlan(target, indices.shape);
    if (sizeOf(updates.shape) !== plan.count * plan.inner) {
      throw new EdgeflowError(
        `updates ${formatShape(updates.shape)} do not fit indices ${
          formatShape(indices.shape)
        } into shape ${formatShape(target)}`,
      );
    }
    const idx = indices.data as ArrayLike<number | bigint>;
    const us = numbers(updates), out = new Float64Array(sizeOf(target));
    const T = updates.dtype as NumericDType;
    for (let r = 0; r < plan.count; r++) {
      let to = 0;
      for (let d = 0; d < plan.depth; d++) to += Number(idx[r * plan.depth + d]) * plan.strides[d];
      // TensorFlow adds each row into the output in T, in index order (rounding each sum).
      for (let n = 0; n < plan.inner; n++) {
        out[to + n] = roundTo(T, out[to + n] + us[r * plan.inner + n]);
      }
    }
    return [Tensor.fromNumbers(updates.dtype, target, out)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }),
      arbShape(fc, { maxRank: 2, maxDim: 3 }),
      fc.nat(),
    ).map(([target, rows, seed]) => {
      const depth = 1 + seed % target.length;
      const n = sizeOf(rows);
      const values = new Int32Array(n * depth);
      for (let i = 0; i < values.length; i++) values[i] = (seed * 5 + i * 7) % target[i % depth];
      return {
        inputs: [
          new Tensor("int32", [...rows, depth], values),
          randomTensor(dtype, [...rows, ...target.slice(depth)], seed),
          int32Vector(target),
        ],
        attrs: {},
      };
    }),
  invalidArbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }), fc.nat(), fc.boolean()).map(
      ([target, seed, below]) => {
        const depth = 1 + seed % target.length;
        const indices = randomTensor("int32", [2, depth], seed, { min: 0, max: 0 });
        const d = seed % depth;
        return {
          inputs: [
            withElement(indices, depth + d, below ? -1 - (seed % 3) : target[d] + (seed % 3)),
            randomTensor(dtype, [2, ...target.slice(depth)], seed),
            int32Vector(target),
          ],
          attrs: {},
        };
      },
    ),
  testDTypes: ["float32", "int32"],
});

export const GATHER_ND_OPS: readonly OpDef[] = [GatherNd, ScatterNd] as unknown as OpDef[];
