/**
 * GatherNd: output[i..., :] = params[indices[i..., 0], ..., indices[i..., K-1], :], with K =
 * indices.shape[-1] ≤ rank(params); the output shape is indices.shape[:-1] + params.shape[K:].
 * An index outside params is refused before reading, as TensorFlow's CPU kernel does (its GPU
 * kernel writes zeros instead; TensorFlow's CPU meaning wins).
 *
 * No gradient yet: TensorFlow's is ScatterNd, which Edgeflow does not define; `gradients`
 * refuses a path through GatherNd naming the op.
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type InputCheck, type OpDef } from "../op.ts";
import { formatShape, type Shape, sizeOf } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { withElement } from "../testing/invalid.ts";
import { newFlatIndex, takeElements } from "./array_util.ts";
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

export const GATHER_ND_OPS: readonly OpDef[] = [GatherNd];
