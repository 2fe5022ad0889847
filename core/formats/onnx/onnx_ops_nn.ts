/**
 * ONNX's NCHW convolutions and pools as Edgeflow's NHWC ones between two Transposes, and the
 * normalizations and softmaxes. 1-D windows gain a height of 1; 3-D ones are refused.
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";
import { nhwcTwin, toNchwWithTwin } from "./onnx_layout.ts";

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** [begin, end] per spatial dim, with ceil_mode's extra end padding folded in. */
  pads: [number, number][];
  /** The part of `pads` ceil_mode added (pools: never counted as padding). */
  extra: number[];
  /** Whether SAME_UPPER (TensorFlow's SAME) can be passed as is. */
  same: boolean;
}

/** The node's window over `spatial` dims (2 after a 1-D window gained its height). */
function windowOf(c: OnnxNodeContext, x: Output, kernel: number[], oneD: boolean): Window {
  const k = kernel.length;
  const lift = (v: number[] | undefined, d: number) => {
    const a = v ?? new Array(k).fill(d);
    return oneD ? [d, ...a] : a;
  };
  const kern = oneD ? [1, ...kernel] : kernel;
  const strides = lift(c.ints("strides"), 1);
  const dilations = lift(c.ints("dilations"), 1);
  const autoPad = c.string("auto_pad", "NOTSET");
  const ceil = c.int("ceil_mode", 0) !== 0;
  const padsAttr = c.ints("pads") ?? new Array(2 * k).fill(0);
  let pads: [number, number][] = Array.from(
    { length: k },
    (_, i) => [padsAttr[i], padsAttr[i + k]],
  );
  if (oneD) pads = [[0, 0], ...pads];
  const extra = pads.map(() => 0);
  if (autoPad === "VALID") pads = pads.map(() => [0, 0]);
  const needDims = autoPad === "SAME_LOWER" || ceil || (autoPad === "SAME_UPPER" && ceil);
  if (autoPad === "SAME_UPPER" && !ceil) {
    return { kernel: kern, strides, dilations, pads, extra, same: true };
  }
  if (needDims || autoPad.startsWith("SAME")) {
    const dims = c.dims(x);
    const spatial = oneD ? [1, dims[2]] : dims.slice(2);
    pads = spatial.map((n, i) => {
      const dk = (kern[i] - 1) * dilations[i] + 1;
      if (autoPad.startsWith("SAME")) {
        const out = Math.ceil(n / strides[i]);
        const total = Math.max(0, (out - 1) * strides[i] + dk - n);
        const small = Math.floor(total / 2);
        return autoPad === "SAME_LOWER" ? [total - small, small] : [small, total - small];
      }
      return pads[i];
    });
    if (ceil) {
      spatial.forEach((n, i) => {
        const dk = (kern[i] - 1) * dilations[i] + 1;
        const [b, e] = pads[i];
        let out = Math.ceil((n + b + e - dk) / strides[i]) + 1;
        // A last window that would start in the end padding is dropped.
        if ((out - 1) * strides[i] >= n + b) out--;
        extra[i] = Math.max(0, (out - 1) * strides[i] + dk - (n + b + e));
        pads[i] = [b, e + extra[i]];
      });
    }
  }
  return { kernel: kern, strides, dilations, pads, extra, same: false };
}

function paddingAttrs(w: Window) {
  if (w.same) return { padding: "SAME" };
  if (w.pads.every(([b, e]) => b === 0 && e === 0)) return { padding: "VALID" };
  return { padding: "EXPLICIT", explicit_paddings: [0, 0, ...w.pads.flat(), 0, 0] };
}

/** x as NHWC, with a 1-D input given a height of 1; `oneD` says whether it was. */
function toNhwc(c: OnnxNodeContext, x: Output): { x: Output; oneD: boolean } {
  const rank = c.rank(x);
  if (rank !== 3 && rank !== 4) {
    throw c.unsupported(`a ${rank - 2}-D window (Edgeflow's convolutions and pools are 2-D)`);
  }
  const oneD = rank === 3;
  const twin = oneD ? undefined : nhwcTwin(x);
  if (twin) return { x: twin, oneD };
  const x4 = oneD ? c.out("ExpandDims", [x, c.scalar(2, "int32")]) : x;
  return { x: c.out("Transpose", [x4, c.ints32(TO_NHWC)]), oneD };
}

function fromNhwc(c: OnnxNodeContext, y: Output, oneD: boolean): Output {
  if (!oneD) return toNchwWithTwin(c, y);
  const t = c.out("Transpose", [y, c.ints32(TO_NCHW)]);
  return c.out("Squeeze", [t], { squeeze_dims: [2] });
}

const conv: OnnxMapper = (c) => [convOf(c, c.req(0), c.req(1), c.input(2))];

/** The node's convolution (its attributes) of `input` [N, C, ...] by `w`, plus bias `b`. */
export function convOf(c: OnnxNodeContext, input: Output, w: Output, b?: Output): Output {
  const { x, oneD } = toNhwc(c, input);
  const wDims = c.dims(w);
  const kernel = c.ints("kernel_shape") ?? wDims.slice(2);
  const win = windowOf(c, input, kernel, oneD);
  const group = c.int("group", 1);
  const w4 = oneD ? c.out("ExpandDims", [w, c.scalar(2, "int32")]) : w;
  // [M, C/group, kh, kw] → [kh, kw, C/group, M]
  const hwio = c.out("Transpose", [w4, c.ints32([2, 3, 1, 0])]);
  const attrs = {
    strides: [1, ...win.strides, 1],
    dilations: [1, ...win.dilations, 1],
    ...paddingAttrs(win),
  };
  const m = wDims[0], perGroup = wDims[1], channels = perGroup * group;
  const inChannels = input.shape?.[1] ?? -1;
  if (!(group >= 1 && m % group === 0 && (inChannels < 0 || inChannels === channels))) {
    throw c.error(
      `group ${group} does not divide the filter [${wDims.join(", ")}] over ${inChannels} ` +
        `input channels`,
    );
  }
  let y: Output;
  if (group === 1) y = c.out("Conv2D", [x, hwio], attrs);
  else if (perGroup === 1) {
    // Depthwise: output channel c·mult + k reads input channel c with filter k.
    const filter = c.out("Reshape", [
      hwio,
      c.ints32([win.kernel[0], win.kernel[1], channels, m / channels]),
    ]);
    y = c.out("DepthwiseConv2dNative", [x, filter], attrs);
  } else {
    // One Conv2D per group: a count the model's numbers set, so bounded before the loop.
    c.limit(group, 1 << 12, "group (one convolution each)");
    const outPer = m / group, parts: Output[] = [];
    for (let g = 0; g < group; g++) {
      const xs = c.out("Slice", [
        x,
        c.ints32([0, 0, 0, g * perGroup]),
        c.ints32([-1, -1, -1, perGroup]),
      ]);
      const ws = c.out("Slice", [
        hwio,
        c.ints32([0, 0, 0, g * outPer]),
        c.ints32([-1, -1, -1, outPer]),
      ]);
      parts.push(c.out("Conv2D", [xs, ws], attrs));
    }
    y = c.out("ConcatV2", [parts, c.scalar(3, "int32")]);
  }
  if (b) y = c.out("BiasAdd", [y, b]);
  return fromNhwc(c, y, oneD);
}

/**
 * ConvTranspose as TensorFlow's Conv2DBackpropInput: the gradient of a convolution with the same
 * strides, dilations and pads, at the size ONNX's output has. output_padding (or an output_shape
 * past the padded size) adds end rows the forward convolution's floor division leaves out.
 */
const convTranspose: OnnxMapper = (c) => {
  if (c.int("group", 1) !== 1) throw c.unsupported("group > 1 (a grouped transposed convolution)");
  const w = c.req(1);
  const { x, oneD } = toNhwc(c, c.req(0));
  const xDims = c.dims(c.req(0)), wDims = c.dims(w);
  const spatial = oneD ? [1, xDims[2]] : xDims.slice(2);
  const lift = (v: number[] | undefined, d: number) => {
    const a = v ?? new Array(spatial.length - (oneD ? 1 : 0)).fill(d);
    return oneD ? [d, ...a] : a;
  };
  const kernel = lift(c.ints("kernel_shape") ?? wDims.slice(2), 1);
  const strides = lift(c.ints("strides"), 1), dilations = lift(c.ints("dilations"), 1);
  const outPad = lift(c.ints("output_padding"), 0);
  const outShape = c.ints("output_shape");
  const autoPad = c.string("auto_pad", "NOTSET");
  const k = spatial.length - (oneD ? 1 : 0);
  const padsAttr = c.ints("pads") ?? new Array(2 * k).fill(0);
  let pads: [number, number][] = Array.from(
    { length: k },
    (_, i) => [padsAttr[i], padsAttr[i + k]],
  );
  if (oneD) pads = [[0, 0], ...pads];
  const out = spatial.map((n, i) => {
    const dk = (kernel[i] - 1) * dilations[i] + 1;
    const full = strides[i] * (n - 1) + outPad[i] + dk;
    const target = outShape
      ? (oneD ? [1, ...outShape] : outShape)[i]
      : autoPad.startsWith("SAME")
      ? n * strides[i]
      : full - pads[i][0] - pads[i][1];
    if (outShape || autoPad.startsWith("SAME")) {
      // ONNX's rule: SAME_UPPER puts the smaller half first; otherwise the larger half.
      const total = Math.max(0, full - target), half = Math.floor(total / 2);
      pads[i] = autoPad === "SAME_UPPER" ? [half, total - half] : [total - half, half];
    }
    return target;
  });
  const m = wDims[1];
  const w4 = oneD ? c.out("ExpandDims", [w, c.scalar(2, "int32")]) : w;
  // [C_in, C_out, kh, kw] → [kh, kw, C_out, C_in], TensorFlow's filter of the forward conv.
  const filter = c.out("Transpose", [w4, c.ints32([2, 3, 1, 0])]);
  const sizes = c.out("ConcatV2", [[
    c.out("Slice", [c.out("Shape", [x]), c.ints32([0]), c.ints32([1])]),
    c.ints32([out[0], out[1], m]),
  ], c.scalar(0, "int32")]);
  let y = c.out("Conv2DBackpropInput", [sizes, filter, x], {
    strides: [1, ...strides, 1],
    dilations: [1, ...dilations, 1],
    padding: "EXPLICIT",
    explicit_paddings: [0, 0, ...pads.flat(), 0, 0],
  });
  const b = c.input(2);
  if (b) y = c.out("BiasAdd", [y, b]);
  return [fromNhwc(c, y, oneD)];
};

const maxPool: OnnxMapper = (c) => {
  if (c.wants(1)) throw c.unsupported("the Indices output (Edgeflow's MaxPool has no argmax)");
  const { x, oneD } = toNhwc(c, c.req(0));
  const win = windowOf(c, c.req(0), c.ints("kernel_shape") ?? [], oneD);
  if (win.dilations.some((d) => d !== 1)) throw c.unsupported("dilations (a dilated pool)");
  const y = c.out("MaxPool", [x], {
    ksize: [1, ...win.kernel, 1],
    strides: [1, ...win.strides, 1],
    ...paddingAttrs(win),
  });
  return [fromNhwc(c, y, oneD)];
};

const averagePool: OnnxMapper = (c) => {
  const { x, oneD } = toNhwc(c, c.req(0));
  const win = windowOf(c, c.req(0), c.ints("kernel_shape") ?? [], oneD);
  if (win.dilations.some((d) => d !== 1)) throw c.unsupported("dilations (a dilated pool)");
  const pool = { ksize: [1, ...win.kernel, 1], strides: [1, ...win.strides, 1], padding: "VALID" };
  const includePad = c.int("count_include_pad", 0) !== 0;
  if (win.same && !includePad) {
    return [fromNhwc(c, c.out("AvgPool", [x], { ...pool, padding: "SAME" }), oneD)];
  }
  const pads = win.same ? windowOf(c, c.req(0), c.ints("kernel_shape") ?? [], oneD).pads : win.pads;
  const noPad = pads.every(([b, e]) => b === 0 && e === 0);
  if (noPad) return [fromNhwc(c, c.out("AvgPool", [x], pool), oneD)];
  // Sum over each window ÷ the count of cells that count: the pool of a 0/1 mask padded alike.
  const paddings = (p: [number, number][]) => c.ints32([0, 0, ...p.flat(), 0, 0]);
  const reshape = (p: Output) => c.out("Reshape", [p, c.ints32([4, 2])]);
  const all = reshape(paddings(pads));
  const sum = c.out("AvgPool", [c.out("Pad", [x, all])], pool);
  let mask: Output;
  if (includePad) {
    const userPads = pads.map(([b, e], i) => [b, e - win.extra[i]] as [number, number]);
    const ones = c.out("AddV2", [
      c.out("Pad", [c.out("ZerosLike", [x]), reshape(paddings(userPads))]),
      c.scalar(1, x.dtype),
    ]);
    mask = c.out("Pad", [
      ones,
      reshape(paddings(win.extra.map((e) => [0, e] as [number, number]))),
    ]);
  } else mask = c.out("Pad", [c.out("OnesLike", [x]), all]);
  const count = c.out("AvgPool", [mask], pool);
  return [fromNhwc(c, c.out("RealDiv", [sum, count]), oneD)];
};

function spatialAxes(c: OnnxNodeContext, x: Output): number[] {
  return Array.from({ length: c.rank(x) - 2 }, (_, i) => i + 2);
}

/** A per-channel parameter [C] shaped to broadcast against [N, C, ...spatial]. */
function perChannel(c: OnnxNodeContext, p: Output, rank: number): Output {
  if (rank <= 2) return p;
  return c.out("Reshape", [p, c.ints32([-1, ...new Array(rank - 2).fill(1)])]);
}

/**
 * (x − mean) · rsqrt(var + ε) over `axes` (the biased variance), and the mean, variance and rsqrt
 * for optional outputs; `scale` multiplies the rsqrt first where given.
 */
function normalize(c: OnnxNodeContext, x: Output, axes: number[], eps: number, scale?: Output) {
  const ax = c.ints32(axes);
  const mean = c.out("Mean", [x, ax], { keep_dims: true });
  const d = c.out("Sub", [x, mean]);
  const variance = c.out("Mean", [c.out("Square", [d]), ax], { keep_dims: true });
  const inv = c.out("Rsqrt", [c.out("AddV2", [variance, c.scalar(eps, x.dtype)])]);
  return { y: c.out("Mul", [d, scale ? c.out("Mul", [inv, scale]) : inv]), mean, variance, inv };
}

/** Softmax-like ops over `axis`; before opset 13 over the input seen as 2-D at `axis`. */
function overAxis(op: (c: OnnxNodeContext, x: Output) => Output): OnnxMapper {
  return (c) => {
    const x = c.req(0), rank = c.rank(x);
    let axis = c.int("axis", c.opset >= 13 ? -1 : 1);
    if (axis < 0) axis += rank;
    if (c.opset < 13 && axis !== rank - 1) {
      const dims = x.shape!;
      const inner = dims.slice(axis).reduce((a, b) => (a < 0 || b < 0 ? -1 : a * b), 1);
      if (inner < 0) throw c.unsupported("needs the dims after axis (opset < 13 flattens them)");
      const flat = c.out("Reshape", [x, c.ints32([-1, inner])]);
      return [c.out("Reshape", [op(c, flat), c.out("Shape", [x])])];
    }
    if (axis === rank - 1) return [op(c, x)];
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[axis], perm[rank - 1]] = [perm[rank - 1], perm[axis]];
    const t = c.out("Transpose", [x, c.ints32(perm)]);
    return [c.out("Transpose", [op(c, t), c.ints32(perm)])];
  };
}

/** Mean or Max over the spatial dims, kept; on an NHWC twin, over its dims 1 and 2. */
function globalPool(c: OnnxNodeContext, op: string): Output {
  const x = c.req(0), twin = nhwcTwin(x);
  if (twin) return toNchwWithTwin(c, c.out(op, [twin, c.ints32([1, 2])], { keep_dims: true }));
  return c.out(op, [x, c.ints32(spatialAxes(c, x))], { keep_dims: true });
}

/**
 * BatchNormalization with training_mode (opset 14 on): Y normalized by the batch's mean and
 * biased variance over N and the spatial dims, and the running statistics updated as
 * input · momentum + batch · (1 − momentum).
 */
function batchNormTraining(c: OnnxNodeContext): Output[] {
  const x = c.req(0), rank = c.rank(x);
  const { y: scaled, mean, variance } = normalize(
    c,
    x,
    [0, ...spatialAxes(c, x)],
    c.float("epsilon", 1e-5),
    perChannel(c, c.req(1), rank),
  );
  const y = c.out("AddV2", [scaled, perChannel(c, c.req(2), rank)]);
  const momentum = c.float("momentum", 0.9);
  const running = (input: Output, batch: Output) =>
    c.out("AddV2", [
      c.out("Mul", [input, c.scalar(momentum, x.dtype)]),
      c.out("Mul", [c.out("Reshape", [batch, c.ints32([-1])]), c.scalar(1 - momentum, x.dtype)]),
    ]);
  return [y, running(c.req(3), mean), running(c.req(4), variance)];
}

export const NN_MAPPERS: Record<string, OnnxMapper> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: (c) => [globalPool(c, "Mean")],
  GlobalMaxPool: (c) => [globalPool(c, "Max")],
  BatchNormalization: (c) => {
    if (c.opset >= 14 && c.int("training_mode", 0) !== 0) return batchNormTraining(c);
    if (c.int("training_mode", 0) !== 0 || c.wants(1) || c.wants(2)) {
      throw c.unsupported("training mode before opset 14 (running statistics as outputs)");
    }
    const nchw = c.req(0), twin = nhwcTwin(nchw);
    // On an NHWC twin the [C] parameters broadcast along the last axis as they are.
    const x = twin ?? nchw, rank = twin ? 1 : c.rank(x);
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => perChannel(c, c.req(i), rank));
    const eps = c.float("epsilon", 1e-5);
    const inv = c.out("Rsqrt", [c.out("AddV2", [variance, c.scalar(eps, x.dtype)])]);
    const y = c.out("Mul", [c.out("Sub", [x, mean]), c.out("Mul", [inv, scale])]);
    const out = c.out("AddV2", [y, bias]);
    return [twin ? toNchwWithTwin(c, out) : out];
  },
  InstanceNormalization: (c) => {
    const x = c.req(0), rank = c.rank(x);
    const { y } = normalize(c, x, spatialAxes(c, x), c.float("epsilon", 1e-5));
    return [c.out("AddV2", [
      c.out("Mul", [y, perChannel(c, c.req(1), rank)]),
      perChannel(c, c.req(2), rank),
    ])];
  },
  LayerNormalization: (c) => {
    const x = c.req(0), rank = c.rank(x);
    let axis = c.int("axis", -1);
    if (axis < 0) axis += rank;
    const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
    const { y, mean, inv } = normalize(c, x, axes, c.float("epsilon", 1e-5));
    let out = c.out("Mul", [y, c.req(1)]);
    const b = c.input(2);
    if (b) out = c.out("AddV2", [out, b]);
    return [out, mean, inv];
  },
  MeanVarianceNormalization: (c) => {
    // ONNX's function body: (X − E[X]) / (sqrt(E[X²] − E[X]²) + 1e-9).
    const x = c.req(0);
    const axes = c.ints32(c.ints("axes") ?? [0, 2, 3]);
    const mean = c.out("Mean", [x, axes], { keep_dims: true });
    const meanSq = c.out("Mean", [c.out("Square", [x]), axes], { keep_dims: true });
    const std = c.out("Sqrt", [c.out("Sub", [meanSq, c.out("Square", [mean])])]);
    return [c.out("RealDiv", [
      c.out("Sub", [x, mean]),
      c.out("AddV2", [std, c.scalar(1e-9, x.dtype)]),
    ])];
  },
  LRN: (c) => {
    const x = c.req(0), dims = c.dims(x);
    const size = c.int("size", 1), alpha = c.float("alpha", 1e-4);
    // Past 2·C − 1 channels every window covers them all: a larger size sums nothing more.
    c.limit(size, 2 * dims[1] + 1, "size");
    if (size < 1) throw c.error(`size ${size} is not a window`);
    const beta = c.float("beta", 0.75), bias = c.float("bias", 1);
    const before = Math.floor((size - 1) / 2), after = Math.ceil((size - 1) / 2);
    const pads = dims.map((_, i) => (i === 1 ? [before, after] : [0, 0])).flat();
    const sq = c.out("Pad", [
      c.out("Square", [x]),
      c.out("Reshape", [c.ints32(pads), c.ints32([dims.length, 2])]),
    ]);
    let sum: Output | undefined;
    for (let i = 0; i < size; i++) {
      const begin = dims.map((_, j) => (j === 1 ? i : 0));
      const part = c.out("Slice", [sq, c.ints32(begin), c.ints32(dims)]);
      sum = sum ? c.out("AddV2", [sum, part]) : part;
    }
    const base = c.out("AddV2", [
      c.scalar(bias, x.dtype),
      c.out("Mul", [c.scalar(alpha / size, x.dtype), sum!]),
    ]);
    return [c.out("RealDiv", [x, c.out("Pow", [base, c.scalar(beta, x.dtype)])])];
  },
  Softmax: overAxis((c, x) => c.out("Softmax", [x])),
  LogSoftmax: overAxis((c, x) => c.out("LogSoftmax", [x])),
  Hardmax: overAxis((c, x) => {
    // One-hot of the first maximum along the last axis.
    const rank = c.rank(x);
    const depth = c.out("Reshape", [
      c.out("Slice", [c.out("Shape", [x]), c.ints32([rank - 1]), c.ints32([1])]),
      c.ints32([]),
    ]);
    const i = c.out("ArgMax", [x, c.scalar(rank - 1, "int32")], { output_type: "int64" });
    return c.out("OneHot", [i, depth, c.scalar(1, x.dtype), c.scalar(0, x.dtype)], { axis: -1 });
  }),
};
