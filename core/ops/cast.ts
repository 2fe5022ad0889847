/** Cast: converts between numeric dtypes with C-cast semantics, as TensorFlow's Cast kernel. */
import { type DType, NUMERIC_DTYPES } from "../dtype.ts";
import type { Output } from "../graph.ts";
import { defineOp } from "../op.ts";
import { numbers, Tensor } from "../tensor.ts";
import { arbShape, arbTensor } from "../testing/arbitrary.ts";
import { apply, type OpOptions, type TensorLike } from "./build.ts";
import { castGrad } from "../grads/math.ts";

/** Mantissa bits of each float dtype, for Truncate. */
const MANTISSA_BITS: Partial<Record<DType, number>> = { float32: 23, float16: 10, bfloat16: 7 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/**
 * With Truncate, TensorFlow zeroes the low mantissa bits the destination cannot hold before the
 * (round-to-nearest) cast, so the cast truncates instead. Done here on the float32 bits.
 */
function truncateMantissa(x: number, bits: number): number {
  f32[0] = x;
  u32[0] &= ~((1 << (23 - bits)) - 1);
  return f32[0];
}

/**
 * An int64 rounded once to the nearest float32 (ties to even), as C's int64 → float conversion.
 * Number(v) alone would round to a double first, and rounding that double again to float32 can
 * land on the wrong side of a tie (2^60 + 2^36 + 1 would become 2^60, not 2^60 + 2^37). Past 2^53
 * the value is first cut to 53 significant bits rounding to odd (dropped bits OR-ed into the
 * last kept bit): that double is exact, and any later rounding to 24 or fewer bits sees the same
 * side of every tie as the exact integer.
 */
export function int64ToFloat32(v: bigint): number {
  const magnitude = v < 0n ? -v : v;
  if (magnitude <= 2n ** 53n) return Math.fround(Number(v));
  const drop = BigInt(magnitude.toString(2).length - 53);
  let kept = magnitude >> drop;
  if ((kept << drop) !== magnitude) kept |= 1n;
  const rounded = Math.fround(Number(kept) * 2 ** Number(drop));
  return v < 0n ? -rounded : rounded;
}

/**
 * int64 sources convert exactly through BigInt; a detour through doubles would lose low bits.
 * Integer destinations keep the low bits (static_cast wraps modulo 2^k). Float destinations
 * round once to float32; bfloat16 and float16 then round that float32 to nearest even, which is
 * what TensorFlow does: Eigen's bfloat16 and half constructors from an integer go through
 * static_cast<float> first.
 */
function castFromInt64(x: Tensor<"int64">, dst: DType): Tensor {
  const src = x.data;
  switch (dst) {
    case "int32":
      return new Tensor(dst, x.shape, Int32Array.from(src, (v) => Number(BigInt.asIntN(32, v))));
    case "int8":
      return new Tensor(dst, x.shape, Int8Array.from(src, (v) => Number(BigInt.asIntN(8, v))));
    case "uint8":
      return new Tensor(dst, x.shape, Uint8Array.from(src, (v) => Number(BigInt.asUintN(8, v))));
    default:
      return Tensor.fromNumbers(dst, x.shape, Float64Array.from(src, int64ToFloat32));
  }
}

/**
 * The meaning of Cast: each value converted as a C cast does (floats round to nearest even,
 * integers truncate toward zero and wrap, bool is x != 0; NaN and ±Inf become 0 in integers so
 * every device can agree where C leaves it undefined).
 */
export function castTensor(x: Tensor, dst: DType, truncate = false): Tensor {
  if (x.dtype === dst) return x;
  if (x.dtype === "int64") return castFromInt64(x as Tensor<"int64">, dst);
  let values = numbers(x);
  const srcBits = MANTISSA_BITS[x.dtype], dstBits = MANTISSA_BITS[dst];
  if (truncate && srcBits !== undefined && dstBits !== undefined && dstBits < srcBits) {
    values = Float32Array.from(values, (v) => truncateMantissa(v, dstBits));
  }
  return Tensor.fromNumbers(dst, x.shape, values);
}

type CastAttrs = { SrcT: DType; DstT: DType; Truncate: boolean };
export const Cast = defineOp<CastAttrs>({
  gradient: castGrad,
  name: "Cast",
  inputs: [{ name: "x", type: "SrcT" }],
  outputs: [{ name: "y", type: "DstT" }],
  attrs: {
    SrcT: { kind: "type", allowed: NUMERIC_DTYPES },
    DstT: { kind: "type", allowed: NUMERIC_DTYPES },
    Truncate: { kind: "bool", default: false },
  },
  infer: ([x], { DstT }) => [{ dtype: DstT, shape: x.shape }],
  reference: ([x], { DstT, Truncate }) => [castTensor(x, DstT, Truncate)],
  arbitrary: (fc, dtype) =>
    fc.tuple(
      arbTensor(fc, dtype, arbShape(fc)),
      fc.constantFrom(...NUMERIC_DTYPES),
      fc.boolean(),
    ).map(([x, DstT, Truncate]) => ({ inputs: [x], attrs: { DstT, Truncate } })),
});

/** tf.cast(x, dtype). */
export function cast(x: TensorLike, dtype: DType, options: OpOptions<CastAttrs> = {}): Output {
  return apply(Cast, [x], { ...options, DstT: dtype }).outputs[0];
}
