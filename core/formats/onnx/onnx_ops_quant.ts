/**
 * ONNX's linear quantization ops in float32 and int32 arithmetic: q = saturate(round(x / scale) +
 * zero_point) with rounding half to even (TensorFlow's Round), x = (q − zero_point) · scale;
 * integer matmuls in int32 after subtracting zero points, the QLinear ops requantizing the
 * float32 product. Bit shifts of uint8 through int32 powers of two.
 */
import type { DType } from "../../dtype.ts";
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";
import { convOf } from "./onnx_ops_nn.ts";

const RANGE: Partial<Record<DType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int32: [-(2 ** 31), 2 ** 31 - 1],
};

/** A per-axis parameter [C] shaped to broadcast along `axis` of a rank-`rank` tensor. */
function alongAxis(c: OnnxNodeContext, p: Output, axis: number, rank: number): Output {
  if (p.shape === null || p.shape.length === 0 || (p.shape.length === 1 && p.shape[0] === 1)) {
    return p;
  }
  const a = axis < 0 ? axis + rank : axis;
  const shape = new Array(rank).fill(1);
  shape[a] = -1;
  return c.out("Reshape", [p, c.ints32(shape)]);
}

const toFloat = (c: OnnxNodeContext, x: Output) =>
  x.dtype === "float32" ? x : c.out("Cast", [x], { DstT: "float32" });

/** saturate(round(v) + zp) as `dtype`, v float32. */
function quantize(c: OnnxNodeContext, v: Output, zp: Output | undefined, dtype: DType): Output {
  const range = RANGE[dtype];
  if (!range) throw c.unsupported(`quantizing to ${dtype}`);
  let q = c.out("Round", [v]);
  if (zp) q = c.out("AddV2", [q, toFloat(c, zp)]);
  q = c.out("Minimum", [
    c.out("Maximum", [q, c.scalar(range[0], "float32")]),
    c.scalar(
      range[1],
      "float32",
    ),
  ]);
  return c.out("Cast", [q], { DstT: dtype });
}

/** (x − zp) in int32, zp broadcast per row when it is one per row of a 2-D `x`. */
function centered(c: OnnxNodeContext, x: Output, zp: Output | undefined, perRow: boolean): Output {
  const xi = c.out("Cast", [x], { DstT: "int32" });
  if (!zp) return xi;
  let z = c.out("Cast", [zp], { DstT: "int32" });
  if (perRow && zp.shape?.length === 1 && zp.shape[0] !== 1) {
    z = c.out("Reshape", [z, c.ints32([-1, 1])]);
  }
  return c.out("Sub", [xi, z]);
}

function intMatMul(c: OnnxNodeContext, a: Output, b: Output): Output {
  const ra = c.rank(a), rb = c.rank(b);
  return ra === 2 && rb === 2 ? c.out("MatMul", [a, b]) : c.out("BatchMatMulV2", [a, b]);
}

export const QUANT_MAPPERS: Record<string, OnnxMapper> = {
  DequantizeLinear: (c) => {
    const x = c.req(0), rank = c.rank(x), axis = c.int("axis", 1);
    const scale = alongAxis(c, c.req(1), axis, rank);
    const zp = c.input(2);
    let v = toFloat(c, x);
    if (zp) v = c.out("Sub", [v, toFloat(c, alongAxis(c, zp, axis, rank))]);
    return [c.out("Mul", [v, scale])];
  },
  QuantizeLinear: (c) => {
    const x = c.req(0), rank = c.rank(x), axis = c.int("axis", 1);
    const zp = c.input(2);
    const scaled = c.out("RealDiv", [toFloat(c, x), alongAxis(c, c.req(1), axis, rank)]);
    return [quantize(c, scaled, zp && alongAxis(c, zp, axis, rank), zp?.dtype ?? "uint8")];
  },
  DynamicQuantizeLinear: (c) => {
    const x = c.req(0), rank = c.rank(x);
    const all = c.ints32(Array.from({ length: rank }, (_, i) => i));
    const zero = c.scalar(0, "float32");
    const lo = c.out("Minimum", [zero, c.out("Min", [x, all])]);
    const hi = c.out("Maximum", [zero, c.out("Max", [x, all])]);
    const scale = c.out("RealDiv", [c.out("Sub", [hi, lo]), c.scalar(255, "float32")]);
    const zp = quantize(c, c.out("Neg", [c.out("RealDiv", [lo, scale])]), undefined, "uint8");
    const y = quantize(c, c.out("RealDiv", [x, scale]), zp, "uint8");
    return [y, scale, zp];
  },
  MatMulInteger: (c) => [
    intMatMul(c, centered(c, c.req(0), c.input(2), true), centered(c, c.req(1), c.input(3), false)),
  ],
  QLinearMatMul: (c) => {
    const acc = intMatMul(
      c,
      centered(c, c.req(0), c.req(2), true),
      centered(c, c.req(3), c.req(5), false),
    );
    const multiplier = c.out("RealDiv", [c.out("Mul", [c.req(1), c.req(4)]), c.req(6)]);
    const v = c.out("Mul", [c.out("Cast", [acc], { DstT: "float32" }), multiplier]);
    return [quantize(c, v, c.req(7), c.req(7).dtype)];
  },
  QLinearConv: (c) => {
    const x = c.req(0), w = c.req(3);
    const xf = c.out("Sub", [toFloat(c, x), toFloat(c, c.req(2))]);
    const wf = c.out("Sub", [toFloat(c, w), toFloat(c, alongAxis(c, c.req(5), 0, c.rank(w)))]);
    const b = c.input(8);
    const acc = convOf(c, xf, wf, b && c.out("Cast", [b], { DstT: "float32" }));
    const wScale = alongAxis(c, c.req(4), 1, c.rank(acc));
    const multiplier = c.out("RealDiv", [c.out("Mul", [c.req(1), wScale]), c.req(6)]);
    return [quantize(c, c.out("Mul", [acc, multiplier]), c.req(7), c.req(7).dtype)];
  },
  ConvInteger: (c) => {
    // Through the float32 convolution: exact while every window's sum stays below 2^24
    // (uint8 operands: about 250 taps), which the cast to int32 then keeps.
    const x = c.req(0), w = c.req(1);
    const xz = c.input(2), wz = c.input(3);
    const xf = xz ? c.out("Sub", [toFloat(c, x), toFloat(c, xz)]) : toFloat(c, x);
    const wf = wz
      ? c.out("Sub", [toFloat(c, w), toFloat(c, alongAxis(c, wz, 0, c.rank(w)))])
      : toFloat(c, w);
    return [c.out("Cast", [convOf(c, xf, wf)], { DstT: "int32" })];
  },
  BitShift: (c) => {
    const x = c.req(0), y = c.req(1);
    if (x.dtype !== "uint8") throw c.unsupported(`shifting ${x.dtype} (uint8 only)`);
    const pow = c.out("Pow", [c.scalar(2, "int32"), c.out("Cast", [y], { DstT: "int32" })]);
    const xi = c.out("Cast", [x], { DstT: "int32" });
    const left = c.string("direction", "") === "LEFT";
    // Shifted bits past the eighth fall off in the cast back (Cast wraps, as C's does).
    const r = c.out(left ? "Mul" : "FloorDiv", [xi, pow]);
    return [c.out("Cast", [r], { DstT: "uint8" })];
  },
  Asinh: (c) => {
    const x = c.req(0);
    const r = c.out("Sqrt", [c.out("AddV2", [c.out("Square", [x]), c.scalar(1, x.dtype)])]);
    return [c.out("Log", [c.out("AddV2", [x, r])])];
  },
  Acosh: (c) => {
    const x = c.req(0);
    const r = c.out("Sqrt", [c.out("Sub", [c.out("Square", [x]), c.scalar(1, x.dtype)])]);
    return [c.out("Log", [c.out("AddV2", [x, r])])];
  },
  Atanh: (c) => {
    const x = c.req(0), one = c.scalar(1, x.dtype);
    const q = c.out("RealDiv", [c.out("AddV2", [one, x]), c.out("Sub", [one, x])]);
    return [c.out("Mul", [c.scalar(0.5, x.dtype), c.out("Log", [q])])];
  },
};
