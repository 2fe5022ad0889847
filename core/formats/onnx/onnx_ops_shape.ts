/**
 * ONNX shape and data-movement ops: reshape, slicing, gathering, padding, casts and constants.
 * Arguments Edgeflow takes as attributes (Squeeze's axes, Slice's axes and steps) must be
 * constants; those it takes as tensors (Reshape's shape, Pad's pads, Tile's repeats, Slice's
 * starts and ends) may be computed.
 */
import type { DType } from "../../dtype.ts";
import type { Output } from "../../graph.ts";
import { intList, numbers, Tensor } from "../../tensor.ts";
import { loadTimeValue, type OnnxMapper, type OnnxNodeContext } from "./onnx_context.ts";
import { dtypeFromOnnx } from "./onnx_tensor.ts";

const INT32_MAX = 2 ** 31 - 1;
const clamp32 = (v: number) => Math.max(-INT32_MAX - 1, Math.min(INT32_MAX, v));

/** StridedSlice over every dim: the listed axes get bounds, the others run whole. */
function stridedSlice(
  c: OnnxNodeContext,
  x: Output,
  starts: number[],
  ends: number[],
  axes: number[],
  steps: number[],
): Output {
  const rank = c.rank(x);
  const begin = new Array(rank).fill(0), end = new Array(rank).fill(0);
  const strides = new Array(rank).fill(1);
  let whole = (1 << rank) - 1;
  axes.forEach((axis, i) => {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) throw c.error(`axis ${axis} is out of range for rank ${rank}`);
    if (steps[i] === 0) throw c.error(`steps[${i}] is 0`);
    begin[a] = clamp32(starts[i]);
    end[a] = clamp32(ends[i]);
    strides[a] = steps[i];
    whole &= ~(1 << a);
  });
  return c.out("StridedSlice", [x, c.ints32(begin), c.ints32(end), c.ints32(strides)], {
    begin_mask: whole,
    end_mask: whole,
  });
}

/**
 * Slice with starts or ends computed at run time (a loop's iteration number, say): StridedSlice
 * reads them as tensors, each sliced axis's bound gathered from them (int64, which StridedSlice
 * clamps to the dim as ONNX does). Axes and steps must still be constants.
 */
function dynamicSlice(c: OnnxNodeContext, x: Output): Output {
  const rank = c.rank(x);
  const count = c.req(1).shape?.[0] ?? -1;
  if (count < 0 && !c.input(3)) {
    throw c.unsupported("starts computed at run time needs its length known, or axes given");
  }
  const axes = c.input(3) ? c.constInts(3, "axes") : Array.from({ length: count }, (_, i) => i);
  const steps = c.input(4) ? c.constInts(4, "steps") : axes.map(() => 1);
  if (steps.length !== axes.length) {
    throw c.error(`steps has ${steps.length} entries for ${axes.length} axes`);
  }
  // Position `axes.length` of the gathered vector is an appended 0 (a masked, whole dim).
  const index = new Array(rank).fill(axes.length);
  const strides = new Array(rank).fill(1);
  let whole = (1 << rank) - 1;
  axes.forEach((axis, i) => {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) throw c.error(`axis ${axis} is out of range for rank ${rank}`);
    if (steps[i] === 0) throw c.error(`steps[${i}] is 0`);
    index[a] = i;
    strides[a] = steps[i];
    whole &= ~(1 << a);
  });
  const bound = (v: Output) => {
    const wide = v.dtype === "int64" ? v : c.out("Cast", [v], { DstT: "int64" });
    const padded = c.out("ConcatV2", [[wide, c.ints32([0], "int64")], c.scalar(0, "int32")]);
    return c.out("GatherV2", [padded, c.ints32(index), c.scalar(0, "int32")]);
  };
  return c.out("StridedSlice", [x, bound(c.req(1)), bound(c.req(2)), c.ints32(strides, "int64")], {
    begin_mask: whole,
    end_mask: whole,
  });
}

function unsqueezeAxes(c: OnnxNodeContext): number[] {
  return c.opset >= 13 ? c.constInts(1, "axes") : c.ints("axes") ?? [];
}

/** Reshape's target with ONNX's 0 (copy the input's dim) resolved, unless allowzero. */
function reshapeTarget(c: OnnxNodeContext, x: Output, shape: Output): Output {
  if (c.int("allowzero", 0) !== 0) return shape;
  const known = loadTimeValue(shape);
  if (known) {
    const dims = intList(known);
    if (!dims.includes(0)) return shape;
    if (x.shape !== null) {
      const fixed = dims.map((d, i) => (d === 0 ? x.shape![i] ?? 0 : d));
      if (fixed.every((d) => d >= 0)) return c.ints32(fixed, "int64");
    }
  }
  // At run time: the input's dims (zeros past its rank, where ONNX allows no 0) cut to the
  // target's length, taken where the target says 0.
  const xs = c.out("Shape", [x], { out_type: shape.dtype });
  const long = c.out("ConcatV2", [[xs, c.out("ZerosLike", [shape])], c.scalar(0, "int32")]);
  const copy = c.out("Slice", [long, c.ints32([0]), c.out("Shape", [shape])]);
  const zero = c.constant(Tensor.zeros(shape.dtype, []));
  return c.out("SelectV2", [c.out("Equal", [shape, zero]), copy, shape]);
}

export const SHAPE_MAPPERS: Record<string, OnnxMapper> = {
  Constant: (c) => {
    const t = c.tensor("value");
    if (t) return [c.constant(t)];
    const f = c.attr("value_float"), fs = c.attr("value_floats");
    const i = c.attr("value_int"), is = c.attr("value_ints");
    if (f) return [c.constant(Tensor.fromNumbers("float32", [], [c.float("value_float", 0)]))];
    if (fs) {
      const v = c.floats("value_floats")!;
      return [c.constant(Tensor.fromNumbers("float32", [v.length], v))];
    }
    if (i) return [c.scalar(c.int("value_int", 0), "int64")];
    if (is) return [c.ints32(c.ints("value_ints")!, "int64")];
    throw c.unsupported("a Constant without a tensor, float or int value (strings, sparse)");
  },
  ConstantOfShape: (c) => {
    const t = c.tensor("value") ?? Tensor.fromNumbers("float32", [1], [0]);
    if (t.size !== 1) throw c.error(`value must hold one element, it holds ${t.size}`);
    return [c.out("Fill", [c.req(0), c.constant(t.reshape([]))])];
  },
  Cast: (c) => {
    const to = dtypeFromOnnx(c.int("to", 0), `${c.file}: ${c.node.path} attribute 'to'`);
    return [c.out("Cast", [c.req(0)], { DstT: to })];
  },
  CastLike: (c) => [c.out("Cast", [c.req(0)], { DstT: c.req(1).dtype })],
  Reshape: (c) => {
    const x = c.req(0), shape = c.req(1);
    return [c.out("Reshape", [x, reshapeTarget(c, x, shape)])];
  },
  Flatten: (c) => {
    const x = c.req(0), rank = c.rank(x);
    let axis = c.int("axis", 1);
    if (axis < 0) axis += rank;
    const dims = x.shape!;
    const prod = (d: readonly number[]) => d.some((v) => v < 0) ? -1 : d.reduce((a, b) => a * b, 1);
    const outer = prod(dims.slice(0, axis)), inner = prod(dims.slice(axis));
    if (outer < 0 && inner < 0) throw c.unsupported("needs the input's dims on one side of axis");
    return [c.out("Reshape", [x, c.ints32([outer, inner])])];
  },
  Squeeze: (c) => {
    const x = c.req(0);
    const axes = c.opset >= 13 ? (c.input(1) ? c.constInts(1, "axes") : []) : c.ints("axes") ?? [];
    return [c.out("Squeeze", [x], { squeeze_dims: axes })];
  },
  Unsqueeze: (c) => {
    const x = c.req(0);
    const axes = unsqueezeAxes(c);
    const outRank = c.rank(x) + axes.length;
    let y = x;
    for (const a of axes.map((a) => a < 0 ? a + outRank : a).sort((p, q) => p - q)) {
      y = c.out("ExpandDims", [y, c.scalar(a, "int32")]);
    }
    return [axes.length === 0 ? c.out("Identity", [x]) : y];
  },
  Transpose: (c) => {
    const x = c.req(0);
    const perm = c.ints("perm") ?? Array.from({ length: c.rank(x) }, (_, i) => c.rank(x) - 1 - i);
    return [c.out("Transpose", [x, c.ints32(perm)])];
  },
  Concat: (c) => {
    const values = Array.from({ length: c.inputCount }, (_, i) => c.req(i));
    return [c.out("ConcatV2", [values, c.scalar(c.int("axis", 0), "int32")])];
  },
  Split: (c) => {
    const x = c.req(0), rank = c.rank(x);
    let axis = c.int("axis", 0);
    if (axis < 0) axis += rank;
    const n = c.node.output.length;
    let sizes = c.opset >= 13
      ? (c.input(1) ? c.constInts(1, "split") : undefined)
      : c.ints("split");
    if (!sizes) {
      const dim = c.dims(x)[axis];
      const part = Math.ceil(dim / n);
      sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, dim - i * part)));
    }
    if (sizes.length !== n) {
      throw c.error(`split has ${sizes.length} sizes for ${n} outputs`);
    }
    let at = 0;
    return sizes.map((s) => {
      const begin = new Array(rank).fill(0), size = new Array(rank).fill(-1);
      begin[axis] = at;
      size[axis] = s;
      at += s;
      return c.out("Slice", [x, c.ints32(begin), c.ints32(size)]);
    });
  },
  Slice: (c) => {
    const x = c.req(0);
    if (c.opset < 10) {
      const starts = c.ints("starts") ?? [], ends = c.ints("ends") ?? [];
      const axes = c.ints("axes") ?? starts.map((_, i) => i);
      return [stridedSlice(c, x, starts, ends, axes, starts.map(() => 1))];
    }
    const starts = loadTimeValue(c.req(1)), ends = loadTimeValue(c.req(2));
    if (!starts || !ends) return [dynamicSlice(c, x)];
    const axes = c.input(3) ? c.constInts(3, "axes") : intList(starts).map((_, i) => i);
    const steps = c.input(4) ? c.constInts(4, "steps") : intList(starts).map(() => 1);
    return [stridedSlice(c, x, intList(starts), intList(ends), axes, steps)];
  },
  Gather: (c) => {
    const x = c.req(0), rank = c.rank(x);
    let idx = c.req(1);
    let axis = c.int("axis", 0);
    if (axis < 0) axis += rank;
    // ONNX counts negative indices from the end; GatherV2 refuses them.
    const dim = x.shape![axis];
    const size = dim >= 0 ? c.scalar(dim, idx.dtype) : c.out("Cast", [
      c.out("Slice", [c.out("Shape", [x]), c.ints32([axis]), c.ints32([1])]),
    ], { DstT: idx.dtype });
    const zero = c.constant(Tensor.zeros(idx.dtype, []));
    idx = c.out("SelectV2", [c.out("Less", [idx, zero]), c.out("AddV2", [idx, size]), idx]);
    return [c.out("GatherV2", [x, idx, c.scalar(axis, "int32")])];
  },
  Expand: (c) => {
    const x = c.req(0);
    const one = c.scalar(x.dtype === "bool" ? true : 1, x.dtype);
    const ones = c.out("Fill", [c.req(1), one]);
    return [c.out(x.dtype === "bool" ? "LogicalAnd" : "Mul", [x, ones])];
  },
  Tile: (c) => [c.out("Tile", [c.req(0), c.req(1)])],
  Shape: (c) => {
    const x = c.req(0);
    const s = c.out("Shape", [x], { out_type: "int64" });
    const start = c.int("start", 0), end = c.attr("end") ? c.int("end", 0) : undefined;
    if (start === 0 && end === undefined) return [s];
    const rank = c.rank(x);
    const norm = (v: number) => Math.max(0, Math.min(rank, v < 0 ? v + rank : v));
    const b = norm(start), e = end === undefined ? rank : norm(end);
    return [c.out("Slice", [s, c.ints32([b]), c.ints32([Math.max(0, e - b)])])];
  },
  Size: (c) => [
    c.out("Prod", [c.out("Shape", [c.req(0)], { out_type: "int64" }), c.scalar(0, "int32")]),
  ],
  Range: (c) => [c.out("Range", [c.req(0), c.req(1), c.req(2)])],
  Pad: (c) => {
    const x = c.req(0), rank = c.rank(x);
    const mode = c.string("mode", "constant");
    if (mode !== "constant") return [gatherPad(c, x, mode)];
    let pads: Output;
    let value: Output | undefined;
    if (c.opset < 11) {
      pads = c.ints32(c.ints("pads") ?? [], "int64");
      const v = c.float("value", 0);
      if (v !== 0) value = c.scalar(v, x.dtype);
    } else {
      pads = c.req(1);
      value = c.input(2);
      if (c.input(3)) {
        throw c.unsupported("an axes input (opset 18's partial pads)");
      }
    }
    // ONNX lists all begins then all ends; TensorFlow a [begin, end] pair per dim.
    const paddings = c.out("Transpose", [
      c.out("Reshape", [pads, c.ints32([2, rank])]),
      c.ints32([1, 0]),
    ]);
    const padded = c.out("Pad", [x, paddings]);
    if (!value) return [padded];
    // A pad value other than 0: where a padded ones tensor is 0, the value.
    const mask = c.out("Pad", [c.out("OnesLike", [x]), paddings]);
    const inside = c.out("Cast", [mask], { DstT: "bool" });
    const v = value.dtype === x.dtype ? value : c.out("Cast", [value], { DstT: x.dtype });
    return [c.out("SelectV2", [inside, padded, c.out("Reshape", [v, c.ints32([])])])];
  },
  OneHot: (c) => {
    let indices = c.req(0);
    let axis = c.int("axis", -1);
    // ONNX counts a negative axis from the output's rank; TensorFlow takes -1 only.
    if (axis < -1) axis += c.rank(indices) + 1;
    const depth = c.out("Reshape", [
      c.out("Cast", [c.req(1)], { DstT: "int32" }),
      c.ints32([]),
    ]);
    const values = c.req(2);
    if (indices.dtype !== "int64" && indices.dtype !== "int32") {
      indices = c.out("Cast", [indices], { DstT: "int64" });
    }
    // Negative indices count from depth's end.
    const d = c.out("Cast", [depth], { DstT: indices.dtype });
    const zero = c.constant(Tensor.zeros(indices.dtype, []));
    indices = c.out("SelectV2", [
      c.out("Less", [indices, zero]),
      c.out("AddV2", [indices, d]),
      indices,
    ]);
    const off = c.out("Reshape", [
      c.out("Slice", [values, c.ints32([0]), c.ints32([1])]),
      c.ints32([]),
    ]);
    const on = c.out("Reshape", [
      c.out("Slice", [values, c.ints32([1]), c.ints32([1])]),
      c.ints32([]),
    ]);
    return [c.out("OneHot", [indices, depth, on, off], { axis })];
  },
  Dropout: (c) => {
    // Inference: the identity and an all-true mask. Training mode draws random numbers whose
    // stream no other runtime shares.
    const training = c.input(2);
    if (training) {
      const t = c.constTensor(2, "training_mode");
      const ratio = c.input(1) ? intOrFloat(c.constTensor(1, "ratio")) : 0.5;
      // A zero ratio drops nothing: training mode is then the identity too.
      if (t.data[0] && ratio !== 0) throw c.unsupported("training_mode true (a random mask)");
    }
    const x = c.req(0);
    const y = c.out("Identity", [x]);
    if (!c.wants(1)) return [y];
    const mask = c.out("Fill", [c.out("Shape", [x]), c.scalar(true, "bool")]);
    return [y, mask];
  },
  DepthToSpace: (c) => {
    const x = c.req(0), [n, ch, h, w] = c.dims(c.req(0));
    const b = c.int("blocksize", 0), crd = c.string("mode", "DCR") === "CRD";
    const inner = ch / (b * b);
    const split = crd ? [n, inner, b, b, h, w] : [n, b, b, inner, h, w];
    const perm = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2];
    const t = c.out("Transpose", [c.out("Reshape", [x, c.ints32(split)]), c.ints32(perm)]);
    return [c.out("Reshape", [t, c.ints32([n, inner, h * b, w * b])])];
  },
  SpaceToDepth: (c) => {
    const x = c.req(0), [n, ch, h, w] = c.dims(c.req(0));
    const b = c.int("blocksize", 0);
    const r = c.out("Reshape", [x, c.ints32([n, ch, h / b, b, w / b, b])]);
    const t = c.out("Transpose", [r, c.ints32([0, 3, 5, 1, 2, 4])]);
    return [c.out("Reshape", [t, c.ints32([n, ch * b * b, h / b, w / b])])];
  },
};

/**
 * Pad's reflect, edge and wrap modes: along each padded axis, a GatherV2 of source indices
 * computed here (the pads must be constants and the padded dims known).
 */
function gatherPad(c: OnnxNodeContext, x: Output, mode: string): Output {
  const rank = c.rank(x);
  const pads = c.opset < 11 ? c.ints("pads") ?? [] : c.constInts(1, "pads");
  if (c.opset >= 11 && c.input(3)) throw c.unsupported("an axes input (opset 18's partial pads)");
  let y = x;
  for (let a = 0; a < rank; a++) {
    const b = pads[a], e = pads[a + rank];
    if (b === 0 && e === 0) continue;
    const n = x.shape?.[a] ?? -1;
    if (n < 0) {
      throw c.unsupported(`mode '${mode}' needs dim ${a}, which is not known at load time`);
    }
    const source = (i: number): number => {
      if (mode === "edge") return Math.min(n - 1, Math.max(0, i));
      if (mode === "wrap") return ((i % n) + n) % n;
      if (mode !== "reflect") {
        throw c.error(`mode '${mode}' is none of constant, reflect, edge, wrap`);
      }
      if (n === 1) return 0;
      const period = 2 * (n - 1), m = ((i % period) + period) % period;
      return m < n ? m : period - m;
    };
    c.limit(n + b + e, c.maxTensorBytes / 4, `the padded dim ${a}`);
    const idx = Array.from({ length: Math.max(0, n + b + e) }, (_, j) => source(j - b));
    y = c.out("GatherV2", [y, c.ints32(idx), c.scalar(a, "int32")]);
  }
  return y === x ? c.out("Identity", [x]) : y;
}

function intOrFloat(t: Tensor): number {
  return numbers(t)[0];
}

export type { DType };
