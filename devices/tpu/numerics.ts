/**
 * The TPU's number formats on host arrays: bfloat16 rounding (round to nearest even, as the MXU's
 * input conversion and core/dtype.ts's float32ToBfloat16), and moving values between a buffer's
 * storage and the float32 the vector unit computes in. Whole arrays at a time, on the bits, so
 * a kernel rounds a panel once rather than element by element through a function call.
 */
import type { TpuBuffer } from "./hbm.ts";

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 bits → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
function bf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Rounds float32 values to bfloat16 values (still float32), in place when `out` is `src`. */
export function roundToBf16(
  src: Float32Array,
  out: Float32Array = new Float32Array(src.length),
): Float32Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < s.length; i++) o[i] = bf16Bits(s[i]) << 16;
  return out;
}

/** bfloat16 bit patterns → their float32 values (exact). */
export function widenBf16(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) o[i] = bits[i] << 16;
  return out;
}

/** float32 values → bfloat16 bit patterns, round to nearest even. */
export function narrowToBf16(src: Float32Array, out: Uint16Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < s.length; i++) out[i] = bf16Bits(s[i]);
  return out;
}

/** One float32 value rounded to bfloat16, as a number. */
export function bf16(x: number): number {
  f32[0] = x;
  u32[0] = bf16Bits(u32[0]) << 16;
  return f32[0];
}

/**
 * A float buffer's values as float32: the storage itself for float32 (do not write to it), a
 * widened copy for bfloat16.
 */
export function loadF32(b: TpuBuffer): Float32Array {
  if (b.dtype === "float32") return b.data as Float32Array;
  if (b.dtype === "bfloat16") return widenBf16(b.data as Uint16Array);
  throw new Error(`loadF32 on a ${b.dtype} buffer`);
}

/**
 * Where a kernel writes float32 results for `out`: its storage for float32, a scratch array for
 * bfloat16 (pass it to `storeF32` afterwards).
 */
export function resultF32(out: TpuBuffer): Float32Array {
  return out.dtype === "float32"
    ? out.data as Float32Array
    : new Float32Array((out.data as Uint16Array).length);
}

/** Stores float32 results into `out`, rounding to bfloat16 where that is its dtype. */
export function storeF32(out: TpuBuffer, values: Float32Array): void {
  if (out.dtype === "float32") {
    if (values !== out.data) (out.data as Float32Array).set(values);
  } else if (out.dtype === "bfloat16") {
    narrowToBf16(values, out.data as Uint16Array);
  } else {
    throw new Error(`storeF32 into a ${out.dtype} buffer`);
  }
}

/**
 * A matrix operand for the MXU: the [rows, cols] matrix at `offset` of `b`'s values (or of its
 * transpose when `transpose`, reading a stored [cols, rows]), row-major, rounded to bfloat16.
 */
export function mxuOperand(
  values: Float32Array,
  offset: number,
  rows: number,
  cols: number,
  transpose: boolean,
): Float32Array {
  const out = new Float32Array(rows * cols);
  if (!transpose) {
    out.set(values.subarray(offset, offset + rows * cols));
  } else {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) out[r * cols + c] = values[offset + c * rows + r];
    }
  }
  return roundToBf16(out, out);
}
