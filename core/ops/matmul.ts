/**
 * MatMul and BatchMatMulV2. The reference sums float products in float64 and rounds once to the
 * output dtype; int32 and int64 products and sums wrap in their width, exactly (Math.imul, BigInt),
 * as TensorFlow's integer arithmetic does.
 */
import type { DType, NumericDType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Output } from "../graph.ts";
import { defineOp, type OpDef } from "../op.ts";
import { broadcastShapes, formatShape, type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbBroadcastShapes, randomTensor } from "../testing/arbitrary.ts";
import type { FastCheck } from "../testing/fast_check_types.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { broadcastIndex } from "./elementwise.ts";
import { requireRank, spec } from "./infer_util.ts";
import { matMulGrad } from "../grads/nn.ts";
import { batchMatMulGrad } from "../grads/nn.ts";

const MATMUL_DTYPES: readonly NumericDType[] = ["float32", "bfloat16", "float16", "int32", "int64"];

/**
 * grad_a/grad_b (and grad_x/grad_y) exist so GraphDefs from TensorFlow 2.13+ import; they are
 * hints for XLA about gradient matmuls and do not change the result.
 */
export type MatMulAttrs = {
  T: DType;
  transpose_a: boolean;
  transpose_b: boolean;
  grad_a: boolean;
  grad_b: boolean;
};
export type BatchMatMulV2Attrs = {
  T: DType;
  adj_x: boolean;
  adj_y: boolean;
  grad_x: boolean;
  grad_y: boolean;
};

const flag = { kind: "bool", default: false } as const;

export const MatMul: OpDef<MatMulAttrs> = defineOp<MatMulAttrs>({
  gradient: matMulGrad,
  name: "MatMul",
  inputs: [{ name: "a", type: "T" }, { name: "b", type: "T" }],
  outputs: [{ name: "product", type: "T" }],
  attrs: {
    T: { kind: "type", allowed: MATMUL_DTYPES },
    transpose_a: flag,
    transpose_b: flag,
    grad_a: flag,
    grad_b: flag,
  },
  infer: ([a, b], { transpose_a, transpose_b }) => {
    requireRank(a, 2, 2, "a");
    requireRank(b, 2, 2, "b");
    const [m, n] = matrixDims(a.shape, b.shape, transpose_a, transpose_b, "a", "b");
    return [spec(a.dtype, [m, n])];
  },
  reference: ([a, b], { transpose_a, transpose_b }) => [
    matMulReference(a, b, transpose_a, transpose_b),
  ],
  arbitrary: (fc, dtype) =>
    fc.tuple(dims(fc), fc.boolean(), fc.boolean(), fc.nat(), fc.nat()).map(
      ([[m, k, n], ta, tb, sa, sb]) => ({
        inputs: [
          randomTensor(dtype, ta ? [k, m] : [m, k], sa),
          randomTensor(dtype, tb ? [n, k] : [k, n], sb),
        ],
        attrs: { transpose_a: ta, transpose_b: tb },
      }),
    ),
});

export const BatchMatMulV2: OpDef<BatchMatMulV2Attrs> = defineOp<BatchMatMulV2Attrs>({
  gradient: batchMatMulGrad,
  name: "BatchMatMulV2",
  inputs: [{ name: "x", type: "T" }, { name: "y", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  attrs: {
    T: { kind: "type", allowed: MATMUL_DTYPES },
    adj_x: flag,
    adj_y: flag,
    grad_x: flag,
    grad_y: flag,
  },
  infer: ([x, y], { adj_x, adj_y }) => {
    const rx = requireRank(x, 2, Infinity, "x");
    const ry = requireRank(y, 2, Infinity, "y");
    if (rx === null || ry === null) return [spec(x.dtype, null)];
    const xs = x.shape!, ys = y.shape!;
    const [m, n] = matrixDims(xs.slice(-2), ys.slice(-2), adj_x, adj_y, "x", "y");
    const batch = broadcastShapes(xs.slice(0, -2), ys.slice(0, -2))!;
    return [spec(x.dtype, [...batch, m, n])];
  },
  reference: ([x, y], { adj_x, adj_y }) => [matMulReference(x, y, adj_x, adj_y)],
  arbitrary: (fc, dtype) =>
    fc.tuple(arbBroadcastShapes(fc, 2), dims(fc), fc.boolean(), fc.boolean(), fc.nat(), fc.nat())
      .map(([[bx, by], [m, k, n], ax, ay, sx, sy]) => ({
        inputs: [
          randomTensor(dtype, [...bx, ...(ax ? [k, m] : [m, k])], sx),
          randomTensor(dtype, [...by, ...(ay ? [n, k] : [k, n])], sy),
        ],
        attrs: { adj_x: ax, adj_y: ay },
      })),
});

export const MATMUL_OPS: readonly OpDef[] = [MatMul, BatchMatMulV2] as unknown as OpDef[];

/** m, k, n in 1..5. */
function dims(fc: FastCheck) {
  return fc.tuple(
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 1, max: 5 }),
  );
}

/** [m, n] of the product of two (partial) matrices, checking their inner dims agree. */
export function matrixDims(
  a: PartialShape,
  b: PartialShape,
  ta: boolean,
  tb: boolean,
  na: string,
  nb: string,
): [number, number] {
  const [a0, a1] = a ?? [-1, -1];
  const [b0, b1] = b ?? [-1, -1];
  const [m, ka] = ta ? [a1, a0] : [a0, a1];
  const [kb, n] = tb ? [b1, b0] : [b0, b1];
  if (ka >= 0 && kb >= 0 && ka !== kb) {
    throw new EdgeflowError(
      `inner dimensions differ: ${na} is ${formatShape(a)}${ta ? " transposed" : ""}, ${nb} is ${
        formatShape(b)
      }${tb ? " transposed" : ""} (${ka} vs ${kb})`,
    );
  }
  return [m, n];
}

/**
 * x @ y over broadcast batch dims (a rank-2 pair is one batch); `tx`/`ty` transpose the last two
 * dims of x/y first.
 */
function matMulReference(x: Tensor, y: Tensor, tx: boolean, ty: boolean): Tensor {
  const [m, k] = lastTwo(x.shape, tx);
  const [ky, n] = lastTwo(y.shape, ty);
  if (k !== ky) throw new EdgeflowError(`inner dimensions differ: ${k} vs ${ky}`);
  const bx = x.shape.slice(0, -2), by = y.shape.slice(0, -2);
  const batch = broadcastShapes(bx, by) as Shape;
  const ix = broadcastIndex(bx, batch), iy = broadcastIndex(by, batch);
  const xi = (xo: number, i: number, p: number) => xo + (tx ? p * m + i : i * k + p);
  const yi = (yo: number, j: number, p: number) => yo + (ty ? j * k + p : p * n + j);
  const outShape = [...batch, m, n], size = sizeOf(batch) * m * n;
  /** Calls `cell` for each output element: its flat index, the offsets of its x and y matrices. */
  const forEachCell = (cell: (o: number, xo: number, yo: number, i: number, j: number) => void) => {
    for (let b = 0; b < ix.length; b++) {
      const xo = ix[b] * m * k, yo = iy[b] * k * n, oo = b * m * n;
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) cell(oo + i * n + j, xo, yo, i, j);
      }
    }
  };
  if (x.dtype === "int64") {
    // Exact products and sums in BigInt; the store wraps in 64 bits as int64 arithmetic does.
    const xs = x.data as BigInt64Array, ys = y.data as BigInt64Array;
    const out = new BigInt64Array(size);
    forEachCell((o, xo, yo, i, j) => {
      let acc = 0n;
      for (let p = 0; p < k; p++) acc += xs[xi(xo, i, p)] * ys[yi(yo, j, p)];
      out[o] = acc;
    });
    return new Tensor("int64", outShape, out);
  }
  if (x.dtype === "int32") {
    // Products through Math.imul and sums wrapped to 32 bits: exact int32 arithmetic.
    const xs = x.data as Int32Array, ys = y.data as Int32Array;
    const out = new Int32Array(size);
    forEachCell((o, xo, yo, i, j) => {
      let acc = 0;
      for (let p = 0; p < k; p++) acc = (acc + Math.imul(xs[xi(xo, i, p)], ys[yi(yo, j, p)])) | 0;
      out[o] = acc;
    });
    return new Tensor("int32", outShape, out);
  }
  const xs = numbers(x), ys = numbers(y);
  const out = new Float64Array(size);
  forEachCell((o, xo, yo, i, j) => {
    let acc = 0;
    for (let p = 0; p < k; p++) acc += xs[xi(xo, i, p)] * ys[yi(yo, j, p)];
    out[o] = acc;
  });
  return Tensor.fromNumbers(x.dtype, outShape, out);
}

/** The (rows, cols) of a batch of matrices after an optional transpose. */
function lastTwo(shape: Shape, transpose: boolean): [number, number] {
  const r = shape[shape.length - 2], c = shape[shape.length - 1];
  return transpose ? [c, r] : [r, c];
}

/** MatMul: a [m, k] @ b [k, n] (after the transposes the options ask for). */
export function matMul(a: TensorLike, b: TensorLike, options: OpOptions<MatMulAttrs> = {}): Output {
  return apply(MatMul, [a, b], options).outputs[0];
}

/** BatchMatMulV2: x [..., m, k] @ y [..., k, n] with the batch dims broadcast. */
export function batchMatMul(
  x: TensorLike,
  y: TensorLike,
  options: OpOptions<BatchMatMulV2Attrs> = {},
): Output {
  return apply(BatchMatMulV2, [x, y], options).outputs[0];
}
