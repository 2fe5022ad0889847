/**
 * ONNX's element-wise gathers, which Edgeflow has no op for, from ops it has: GatherElements as a
 * one-hot selection summed over the gathered axis, GatherND as a GatherV2 of flattened row
 * indices (each batch's rows after the earlier batches'), ReverseSequence as a GatherV2 of each (batch, time) row's source row.
 * All need static shapes.
 */
import type { Output } from "../../graph.ts";
import { Tensor } from "../../tensor.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

/** Indices counted from the end where negative, as ONNX allows: i < 0 ? i + n : i. */
function wrapIndices(c: OnnxNodeContext, idx: Output, n: number): Output {
  const zero = c.constant(Tensor.zeros(idx.dtype, []));
  return c.out("SelectV2", [
    c.out("Less", [idx, zero]),
    c.out("AddV2", [idx, c.scalar(n, idx.dtype)]),
    idx,
  ]);
}

export const GATHER_MAPPERS: Record<string, OnnxMapper> = {
  GatherElements: (c) => {
    let data = c.req(0);
    const indices = c.req(1);
    const d = c.dims(data), s = c.dims(indices), rank = d.length;
    let axis = c.int("axis", 0);
    if (axis < 0) axis += rank;
    if (s.length !== rank) throw c.error(`indices have rank ${s.length}, data ${rank}`);
    // Indices may be shorter than the data on the other axes: only that corner is read.
    if (s.some((v, i) => i !== axis && v !== d[i])) {
      const size = s.map((v, i) => (i === axis ? -1 : v));
      data = c.out("Slice", [data, c.ints32(new Array(rank).fill(0)), c.ints32(size)]);
    }
    const n = d[axis];
    const picks = c.out("OneHot", [
      wrapIndices(c, indices, n),
      c.scalar(n, "int32"),
      c.scalar(true, "bool"),
      c.scalar(false, "bool"),
    ], { axis: axis + 1 });
    // Select, not multiply: an Inf or NaN elsewhere in the row must not leak into the sum.
    const spread = c.out("ExpandDims", [data, c.scalar(axis, "int32")]);
    const chosen = c.out("SelectV2", [picks, spread, c.out("ZerosLike", [spread])]);
    return [c.out("Sum", [chosen, c.scalar(axis + 1, "int32")])];
  },
  GatherND: (c) => {
    const data = c.req(0), indices = c.req(1);
    const d = c.dims(data), s = c.dims(indices);
    const b = c.int("batch_dims", 0), k = s[s.length - 1];
    if (!(b >= 0 && b < s.length && s.slice(0, b).every((n, i) => n === d[i]))) {
      throw c.error(`batch_dims ${b} for data [${d}] and indices [${s}]`);
    }
    if (b + k > d.length) {
      throw c.error(
        `index tuples of ${k} values after ${b} batch dims for data of rank ${d.length}`,
      );
    }
    const dims = d.slice(b, b + k);
    // Row-major strides of the k indexed dims turn each index tuple into one row number.
    const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, n) => a * n, 1));
    const wrapped = c.out("SelectV2", [
      c.out("Less", [indices, c.constant(Tensor.zeros(indices.dtype, []))]),
      c.out("AddV2", [indices, c.constant(Tensor.fromNumbers(indices.dtype, [k], dims))]),
      indices,
    ]);
    let rows = c.out("Sum", [
      c.out("Mul", [wrapped, c.constant(Tensor.fromNumbers(indices.dtype, [k], strides))]),
      c.scalar(-1, "int32"),
    ]);
    if (b > 0) {
      // Each batch's rows follow the rows of the batches before it.
      const batches = d.slice(0, b).reduce((a, n) => a * n, 1);
      const perBatch = dims.reduce((a, n) => a * n, 1);
      c.limit(batches, c.maxTensorBytes / 8, "GatherND's batches");
      const offsets = Tensor.fromNumbers(
        indices.dtype,
        [...d.slice(0, b), ...new Array(s.length - 1 - b).fill(1)],
        Array.from({ length: batches }, (_, i) => i * perBatch),
      );
      rows = c.out("AddV2", [rows, c.constant(offsets)]);
    }
    const flat = c.out("Reshape", [data, c.ints32([-1, ...d.slice(b + k)])]);
    return [c.out("GatherV2", [flat, rows, c.scalar(0, "int32")])];
  },
  ReverseSequence: (c) => {
    const x = c.req(0);
    const d = c.dims(x), rank = d.length;
    const wrap = (a: number) => (a < 0 ? a + rank : a);
    const batchAxis = wrap(c.int("batch_axis", 1)), timeAxis = wrap(c.int("time_axis", 0));
    const inRange = (a: number) => a >= 0 && a < rank;
    if (rank < 2 || batchAxis === timeAxis || !inRange(batchAxis) || !inRange(timeAxis)) {
      throw c.error(`batch_axis ${batchAxis} and time_axis ${timeAxis} of a rank-${rank} input`);
    }
    const B = d[batchAxis], T = d[timeAxis];
    c.limit(B * T, c.maxTensorBytes / 4, "ReverseSequence's (batch, time) rows");
    // [B, T, rest...], whose rows b·T + t are gathered from row b·T + source(b, t).
    const perm = [
      batchAxis,
      timeAxis,
      ...d.keys().filter((i) => i !== batchAxis && i !== timeAxis),
    ];
    const rest = perm.slice(2).map((i) => d[i]);
    const moved = c.out("Transpose", [x, c.ints32(perm)]);
    const lens = c.out("Reshape", [c.out("Cast", [c.req(1)], { DstT: "int32" }), c.ints32([B, 1])]);
    const t = c.constant(new Tensor("int32", [1, T], Int32Array.from({ length: T }, (_, i) => i)));
    // Within its sequence a step reads len - 1 - t; past it, itself.
    const source = c.out("SelectV2", [
      c.out("Less", [t, lens]),
      c.out("Sub", [c.out("Sub", [lens, c.scalar(1, "int32")]), t]),
      t,
    ]);
    const rowStart = c.constant(
      new Tensor("int32", [B, 1], Int32Array.from({ length: B }, (_, b) => b * T)),
    );
    const rows = c.out("GatherV2", [
      c.out("Reshape", [moved, c.ints32([B * T, ...rest])]),
      c.out("Reshape", [c.out("AddV2", [source, rowStart]), c.ints32([-1])]),
      c.scalar(0, "int32"),
    ]);
    const back = perm.map((_, i) => perm.indexOf(i));
    return [
      c.out("Transpose", [c.out("Reshape", [rows, c.ints32([B, T, ...rest])]), c.ints32(back)]),
    ];
  },
};
