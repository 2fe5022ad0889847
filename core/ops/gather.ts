/** GatherV2, with batch_dims, and the gather plan kernels share. */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type InputCheck, type OpDef } from "../op.ts";
import { normalizeAxis, type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { numbers } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import { withElement } from "../testing/invalid.ts";
import {
  checkRank,
  int32Scalar,
  intScalar,
  knownInts,
  newFlatIndex,
  takeElements,
} from "./array_util.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { mergeDim } from "./infer_util.ts";
import { gatherGrad } from "../grads/array.ts";

/**
 * How kernels gather: params viewed as [batch, outer, axisDim, inner], indices as [batch,
 * count], output as [batch, outer, count, inner]; output[b, o, j, :] = params[b, o,
 * indices[b, j], :].
 */
export interface GatherPlan {
  /** The gather axis of params, normalised. */
  axis: number;
  /** Leading dims shared by params and indices, normalised (≥ 0). */
  batchDims: number;
  /** params.shape[:axis] + indices.shape[batchDims:] + params.shape[axis + 1:]. */
  outShape: number[];
  /** Product of the batch dims. */
  batch: number;
  /** Product of params' dims between the batch dims and the axis. */
  outer: number;
  /** params' size along the axis: valid indices are in [0, axisDim). */
  axisDim: number;
  /** Indices per batch entry: product of indices.shape[batchDims:]. */
  count: number;
  /** Product of params' dims after the axis. */
  inner: number;
}

/**
 * Checks axis and batch_dims against the ranks (either may be null in inference) and returns
 * them normalised, with TensorFlow's rules: params rank ≥ 1, axis ∈ [-rank, rank), batch_dims ∈
 * [-rank(indices), rank(indices)], batch_dims < rank(params) and ≤ axis.
 */
export function gatherAxes(
  paramsRank: number | null,
  indicesRank: number | null,
  axis: number | undefined,
  batchDims: number,
): { axis?: number; batchDims: number } {
  if (paramsRank === 0) throw new EdgeflowError("params must be at least 1-dimensional");
  let b = batchDims;
  if (indicesRank !== null) {
    if (b < -indicesRank || b > indicesRank) {
      throw new EdgeflowError(`batch_dims ${b} is out of range [${-indicesRank}, ${indicesRank}]`);
    }
    if (b < 0) b += indicesRank;
  } else if (b < 0) {
    return { batchDims: b };
  }
  if (paramsRank !== null && b > 0 && b >= paramsRank) {
    throw new EdgeflowError(`batch_dims (${b}) must be less than rank(params) (${paramsRank})`);
  }
  const a = axis === undefined || paramsRank === null ? undefined : normalizeAxis(axis, paramsRank);
  if (a !== undefined && a < b) {
    throw new EdgeflowError(`batch_dims (${b}) must be less than or equal to axis (${a})`);
  }
  return { axis: a, batchDims: b };
}

/** GatherV2's output shape from partial shapes and an axis (undefined when unknown). */
export function gatherShape(
  params: PartialShape,
  indices: PartialShape,
  axis: number | undefined,
  batchDims: number,
): PartialShape {
  const r = gatherAxes(params?.length ?? null, indices?.length ?? null, axis, batchDims);
  if (params === null || indices === null) return null;
  const b = r.batchDims;
  const batch = indices.slice(0, b).map((d, i) =>
    mergeDim(params[i], d, `params dim ${i} and indices dim ${i} (batch_dims)`)
  );
  if (r.axis === undefined) {
    return [...batch, ...new Array(params.length + indices.length - 1 - 2 * b).fill(-1)];
  }
  return [
    ...batch,
    ...params.slice(b, r.axis),
    ...indices.slice(b),
    ...params.slice(r.axis + 1),
  ];
}

export function resolveGather(
  params: Shape,
  indices: Shape,
  axis: number,
  batchDims: number,
): GatherPlan {
  const outShape = gatherShape(params, indices, axis, batchDims) as number[];
  const r = gatherAxes(params.length, indices.length, axis, batchDims);
  const a = r.axis!, b = r.batchDims;
  return {
    axis: a,
    batchDims: b,
    outShape,
    batch: sizeOf(params.slice(0, b)),
    outer: sizeOf(params.slice(b, a)),
    axisDim: params[a],
    count: sizeOf(indices.slice(b)),
    inner: sizeOf(params.slice(a + 1)),
  };
}

/** TensorFlow's name for a bad index: its coordinates in the indices tensor, "[1,2]". */
function indexName(shape: Shape, flat: number): string {
  const coords: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    coords.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return `[${coords}]`;
}

type GatherAttrs = { Tparams: DType; Tindices: DType; Taxis: DType; batch_dims: number };

/** TensorFlow's CPU kernel refuses an index outside [0, params.shape[axis]) before reading. */
const indicesInRange: InputCheck<GatherAttrs> = {
  reads: [1, 2],
  run(values, specs, { batch_dims }) {
    const indices = values[1]!;
    const params = specs[0].shape as Shape;
    const { axisDim } = resolveGather(
      params,
      indices.shape,
      intScalar(values[2]!, "axis"),
      batch_dims,
    );
    const idx = indices.data as ArrayLike<number | bigint>;
    for (let k = 0; k < idx.length; k++) {
      const i = Number(idx[k]);
      if (!(i >= 0 && i < axisDim)) {
        throw new EdgeflowError(
          `indices${indexName(indices.shape, k)} = ${i} is not in [0, ${axisDim})`,
        );
      }
    }
  },
};

export const GatherV2 = defineOp<GatherAttrs>({
  gradient: gatherGrad,
  name: "GatherV2",
  inputs: [
    { name: "params", type: "Tparams" },
    { name: "indices", type: "Tindices" },
    { name: "axis", type: "Taxis" },
  ],
  outputs: [{ name: "output", type: "Tparams" }],
  hostMemory: { inputs: [2] },
  checks: [indicesInRange],
  attrs: {
    Tparams: { kind: "type", allowed: ALL_DTYPES },
    Tindices: { kind: "type", allowed: ["int32", "int64"] },
    Taxis: { kind: "type", allowed: ["int32", "int64"] },
    batch_dims: { kind: "int", default: 0 },
  },
  infer: ([params, indices, axis], { batch_dims }) => {
    checkRank(axis.shape, 0, "axis");
    const a = knownInts(axis)?.[0];
    return [{
      dtype: params.dtype,
      shape: gatherShape(params.shape, indices.shape, a, batch_dims),
    }];
  },
  reference: ([params, indices, axis], { batch_dims }) => {
    const plan = resolveGather(params.shape, indices.shape, intScalar(axis, "axis"), batch_dims);
    const { batch, outer, axisDim, count, inner } = plan;
    const idx = numbers(indices);
    const source = newFlatIndex(sizeOf(plan.outShape), [0, params.size - 1]);
    let k = 0;
    for (let b = 0; b < batch; b++) {
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < count; j++) {
          const i = idx[b * count + j]; // in range: indicesInRange ran first
          const from = ((b * outer + o) * axisDim + i) * inner;
          for (let n = 0; n < inner; n++) source[k++] = from + n;
        }
      }
    }
    return [takeElements(params, plan.outShape, source)];
  },
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }),
      arbShape(fc, { maxRank: 2, maxDim: 3 }),
      fc.nat(),
      fc.boolean(),
    ).map(([paramsShape, extra, seed, negative]) => {
      const axis = seed % paramsShape.length;
      const batchDims = (seed >> 4) % (axis + 1);
      const indicesShape = [...paramsShape.slice(0, batchDims), ...extra];
      const params = randomTensor(dtype, paramsShape, seed);
      const indices = randomTensor("int32", indicesShape, seed + 1, {
        min: 0,
        max: paramsShape[axis] - 1,
      });
      return {
        inputs: [params, indices, int32Scalar(negative ? axis - paramsShape.length : axis)],
        attrs: {
          batch_dims: negative && batchDims > 0 ? batchDims - indicesShape.length : batchDims,
        },
      };
    }),
  invalidArbitrary: (fc, dtype) =>
    fc.tuple(
      arbShape(fc, { minRank: 1, maxRank: 3, maxDim: 4 }),
      arbShape(fc, { minRank: 1, maxRank: 2, minDim: 1, maxDim: 3 }),
      fc.nat(),
      fc.boolean(),
    ).map(([paramsShape, indicesShape, seed, below]) => {
      const axisDim = paramsShape[0];
      const indices = randomTensor("int32", indicesShape, seed + 1, {
        min: 0,
        max: Math.max(0, axisDim - 1),
      });
      return {
        inputs: [
          randomTensor(dtype, paramsShape, seed),
          withElement(indices, seed, below ? -1 - (seed % 3) : axisDim + (seed % 3)),
          int32Scalar(0),
        ],
        attrs: {},
      };
    }),
  testDTypes: ALL_DTYPES.filter((d) => d !== "resource"),
});

export const GATHER_OPS: readonly OpDef[] = [GatherV2];

/** tf.gather(params, indices, axis = 0). */
export function gather(
  params: TensorLike,
  indices: TensorLike,
  axis: TensorLike = 0,
  options: OpOptions<GatherAttrs> = {},
): Output {
  return apply(GatherV2, [params, indices, axis], options).outputs[0];
}
