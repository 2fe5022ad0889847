/**
 * ONNX's scatters from ops Edgeflow has, with static shapes: each update is routed to its target
 * by a one-hot selection summed over the updates (a select, so an Inf or NaN elsewhere stays
 * out), and targets no update hits keep the data. Reductions none, add and mul; duplicate
 * targets with reduction none are undefined in ONNX and come out summed here.
 */
import type { Output } from "../../graph.ts";
import { Tensor } from "../../tensor.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

/** data combined with the scattered values under the node's reduction. */
function combine(
  c: OnnxNodeContext,
  data: Output,
  picks: Output,
  updates: Output,
  over: number,
  pad: (x: Output) => Output,
): Output {
  const reduction = c.string("reduction", "none");
  const zero = c.constant(Tensor.zeros(data.dtype, []));
  const one = c.scalar(1, data.dtype);
  const hit = pad(
    c.out("Greater", [
      c.out("Max", [c.out("Cast", [picks], { DstT: "int32" }), c.scalar(over, "int32")]),
      c.scalar(0, "int32"),
    ]),
  );
  if (reduction === "mul") {
    const prod = c.out("Prod", [c.out("SelectV2", [picks, updates, one]), c.scalar(over, "int32")]);
    return c.out("SelectV2", [hit, c.out("Mul", [data, pad(prod)]), data]);
  }
  const sum = pad(
    c.out("Sum", [c.out("SelectV2", [picks, updates, zero]), c.scalar(over, "int32")]),
  );
  if (reduction === "add") return c.out("SelectV2", [hit, c.out("AddV2", [data, sum]), data]);
  if (reduction !== "none") throw c.unsupported(`reduction '${reduction}'`);
  return c.out("SelectV2", [hit, sum, data]);
}

function wrap(c: OnnxNodeContext, idx: Output, bound: Output): Output {
  const zero = c.constant(Tensor.zeros(idx.dtype, []));
  return c.out("SelectV2", [c.out("Less", [idx, zero]), c.out("AddV2", [idx, bound]), idx]);
}

const scatterElements: OnnxMapper = (c) => {
  const data = c.req(0), indices = c.req(1), updates = c.req(2);
  const d = c.dims(data), s = c.dims(indices), rank = d.length;
  let axis = c.int("axis", 0);
  if (axis < 0) axis += rank;
  if (s.length !== rank || s.some((v, i) => i !== axis && v > d[i])) {
    throw c.error(`indices [${s.join(", ")}] do not fit data [${d.join(", ")}]`);
  }
  c.limit(s.reduce((a, b) => a * b, 1) * d[axis], c.maxTensorBytes / 4, "the one-hot routing");
  const n = d[axis];
  const idx = wrap(c, indices, c.scalar(n, indices.dtype));
  // [..S[axis], n at axis + 1, ...]: update q goes to position idx[q] of the axis.
  const picks = c.out("OneHot", [
    idx,
    c.scalar(n, "int32"),
    c.scalar(true, "bool"),
    c.scalar(
      false,
      "bool",
    ),
  ], { axis: axis + 1 });
  const spread = c.out("ExpandDims", [updates, c.scalar(axis + 1, "int32")]);
  // Indices may cover less than the data on the other axes: the rest is padded as not hit.
  const short = s.map((v, i) => (i === axis ? 0 : d[i] - v));
  const pad = (x: Output) =>
    short.every((v) => v === 0) ? x : c.out("Pad", [
      x,
      c.out("Reshape", [c.ints32(short.flatMap((v) => [0, v])), c.ints32([rank, 2])]),
    ]);
  return [combine(c, data, picks, spread, axis, pad)];
};

export const SCATTER_MAPPERS: Record<string, OnnxMapper> = {
  ScatterElements: scatterElements,
  Scatter: scatterElements,
  ScatterND: (c) => {
    const data = c.req(0), indices = c.req(1), updates = c.req(2);
    const d = c.dims(data), s = c.dims(indices);
    const k = s[s.length - 1];
    if (!(k >= 1 && k <= d.length)) {
      throw c.error(`index tuples of ${k} values for data of rank ${d.length}`);
    }
    const rest = d.slice(k), rows = d.slice(0, k).reduce((a, b) => a * b, 1);
    const m = s.slice(0, -1).reduce((a, b) => a * b, 1);
    c.limit(m * rows, c.maxTensorBytes / 4, "the one-hot routing");
    const strides = d.slice(0, k).map((_, i) => d.slice(i + 1, k).reduce((a, b) => a * b, 1));
    const wrapped = wrap(
      c,
      indices,
      c.constant(Tensor.fromNumbers(indices.dtype, [k], d.slice(0, k))),
    );
    const row = c.out("Reshape", [
      c.out("Sum", [
        c.out("Mul", [wrapped, c.constant(Tensor.fromNumbers(indices.dtype, [k], strides))]),
        c.scalar(-1, "int32"),
      ]),
      c.ints32([m]),
    ]);
    const ones = new Array(rest.length).fill(1);
    const picks = c.out("Reshape", [
      c.out("OneHot", [
        row,
        c.scalar(rows, "int32"),
        c.scalar(true, "bool"),
        c.scalar(false, "bool"),
      ]),
      c.ints32([m, rows, ...ones]),
    ]);
    const spread = c.out("Reshape", [updates, c.ints32([m, 1, ...rest])]);
    const flat = c.out("Reshape", [data, c.ints32([rows, ...rest])]);
    const out = combine(
      c,
      flat,
      picks,
      spread,
      0,
      (x) =>
        x.shape?.length === rest.length + 1 ? x : c.out("Reshape", [x, c.ints32([rows, ...ones])]),
    );
    return [c.out("Reshape", [out, c.ints32(d)])];
  },
  // The pooled values back at their argmax positions (flat indices into the whole default
  // output, as ONNX's test data has them), zeros elsewhere: a ScatterNd into the default output's
  // element count. An output_shape larger than the default pads the default output at the end.
  MaxUnpool: (c) => {
    const x = c.req(0), indices = c.req(1);
    const d = c.dims(x), spatial = d.length - 2;
    const kernel = c.ints("kernel_shape") ?? [];
    const strides = c.ints("strides") ?? new Array(spatial).fill(1);
    const pads = c.ints("pads") ?? new Array(2 * spatial).fill(0);
    if (kernel.length !== spatial) {
      throw c.error(`kernel_shape has ${kernel.length} dims, X ${spatial}`);
    }
    const dims = [
      d[0],
      d[1],
      ...kernel.map((k, i) => (d[i + 2] - 1) * strides[i] - pads[i] - pads[i + spatial] + k),
    ];
    const total = dims.reduce((a, b) => a * b, 1);
    c.limit(total, c.maxTensorBytes / 4, "the MaxUnpool output's elements");
    const flat = c.out("ScatterNd", [
      c.out("Reshape", [c.out("Cast", [indices], { DstT: "int64" }), c.ints32([-1, 1])]),
      c.out("Reshape", [x, c.ints32([-1])]),
      c.ints32([total], "int64"),
    ]);
    const y = c.out("Reshape", [flat, c.ints32(dims)]);
    if (!c.input(2)) return [y];
    const after = c.out("Sub", [
      c.out("Cast", [c.req(2)], { DstT: "int32" }),
      c.ints32(dims),
    ]);
    const paddings = c.out("Pack", [[c.out("ZerosLike", [after]), after]], { axis: 1 });
    return [c.out("Pad", [y, paddings])];
  },
};
