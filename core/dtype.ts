/**
 * Data types with TensorFlow's names, their storage and conversions.
 *
 * bfloat16 and float16 are stored as 16-bit patterns in a Uint16Array, as TensorFlow stores them;
 * int64 is stored in a BigInt64Array, as onnxruntime and TensorFlow's protobufs hand it out.
 * "resource" (variable handles) and "string" hold JavaScript strings. "variant" holds immutable
 * host objects (TensorFlow's DT_VARIANT: a TensorList value, core/tensor_list/list.ts); only ops
 * that know it take it (ANY_DTYPES), so no arithmetic kernel ever sees one.
 */
import { EdgeflowError } from "./errors.ts";

/** Numeric and boolean dtypes: the ones kernels compute on. */
export type NumericDType =
  | "float32"
  | "int32"
  | "int64"
  | "bool"
  | "bfloat16"
  | "float16"
  | "uint8"
  | "int8";

/** Every dtype a tensor may have. */
export type DType = NumericDType | "string" | "resource" | "variant";

/**
 * A variant tensor's element: an immutable host object (TensorFlow's Variant). `typeName` is
 * TensorFlow's TypeName ("tensorflow::TensorList"), what errors name.
 */
export interface Variant {
  readonly typeName: string;
}

export const NUMERIC_DTYPES: readonly NumericDType[] = [
  "float32",
  "int32",
  "int64",
  "bool",
  "bfloat16",
  "float16",
  "uint8",
  "int8",
];
export const FLOAT_DTYPES: readonly NumericDType[] = ["float32", "bfloat16", "float16"];
export const INT_DTYPES: readonly NumericDType[] = ["int32", "int64", "uint8", "int8"];
/** Dtypes on which arithmetic is defined (TensorFlow's "realnumbertypes" we support). */
export const REAL_DTYPES: readonly NumericDType[] = [...FLOAT_DTYPES, ...INT_DTYPES];
/** The dtypes of tensors of elements: what ops over values (Identity, Concat, Gather) take. */
export const ALL_DTYPES: readonly DType[] = [...NUMERIC_DTYPES, "string", "resource"];
/**
 * ALL_DTYPES and "variant": what ops that only forward a value take (Identity, the control-flow
 * primitives, Send/Recv), so a TensorList flows through loops and across devices.
 */
export const ANY_DTYPES: readonly DType[] = [...ALL_DTYPES, "variant"];

/** The storage of a tensor of each dtype. */
export interface StorageOf {
  float32: Float32Array;
  int32: Int32Array;
  int64: BigInt64Array;
  bool: Uint8Array;
  bfloat16: Uint16Array;
  float16: Uint16Array;
  uint8: Uint8Array;
  int8: Int8Array;
  string: string[];
  resource: string[];
  variant: Variant[];
}
export type TypedArray =
  | Float32Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Int8Array;
export type Storage = TypedArray | string[] | Variant[];

export function isDType(x: unknown): x is DType {
  return typeof x === "string" && (ANY_DTYPES as readonly string[]).includes(x);
}
export function isFloat(d: DType): boolean {
  return d === "float32" || d === "bfloat16" || d === "float16";
}
export function isInteger(d: DType): boolean {
  return d === "int32" || d === "int64" || d === "uint8" || d === "int8";
}
export function isNumeric(d: DType): d is NumericDType {
  return d !== "string" && d !== "resource" && d !== "variant";
}

/** Bytes per element; strings and resources count as one pointer. */
export function byteSize(d: DType): number {
  switch (d) {
    case "float32":
    case "int32":
      return 4;
    case "int64":
      return 8;
    case "bfloat16":
    case "float16":
      return 2;
    case "bool":
    case "uint8":
    case "int8":
      return 1;
    default:
      return 8;
  }
}

/**
 * Allocates zeroed storage for `size` elements. A size the host cannot allocate (past the engine's
 * typed-array limit, or out of memory) is an EdgeflowError saying how much was asked, not a raw
 * RangeError.
 */
export function allocStorage<D extends DType>(d: D, size: number): StorageOf[D];
export function allocStorage(d: DType, size: number): Storage {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new EdgeflowError(`cannot allocate ${size} elements of ${d}: not a whole count`);
  }
  try {
    return newStorage(d, size);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new EdgeflowError(
      `cannot allocate ${size} elements of ${d} (${
        size * byteSize(d)
      } bytes) in host memory: ${e.message}`,
      {},
      { cause: e },
    );
  }
}

function newStorage(d: DType, size: number): Storage {
  switch (d) {
    case "float32":
      return new Float32Array(size);
    case "int32":
      return new Int32Array(size);
    case "int64":
      return new BigInt64Array(size);
    case "bfloat16":
    case "float16":
      return new Uint16Array(size);
    case "bool":
    case "uint8":
      return new Uint8Array(size);
    case "int8":
      return new Int8Array(size);
    case "variant":
      // TensorFlow's default Variant is empty; no op here reads one, so none is made.
      throw new EdgeflowError("a variant tensor holds host objects and has no zero value");
    default:
      return new Array<string>(size).fill("");
  }
}

// ---- 16-bit float conversions -------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → bfloat16 bits, rounding to nearest even; NaN stays a quiet NaN. */
export function float32ToBfloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return ((bits + rounding) >>> 16) & 0xffff;
}
export function bfloat16ToFloat32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** float32 → IEEE half bits, rounding to nearest even, with subnormals and overflow to Inf. */
export function float32ToFloat16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = mant >>> 13;
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) {
    h++;
    if (h === 0x400) {
      h = 0;
      e++;
      if (e >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | h;
}
export function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Rounds a number to what a dtype can hold (saturation rules as C casts that TensorFlow uses). */
export function roundTo(d: NumericDType, x: number): number {
  switch (d) {
    case "float32":
      return Math.fround(x);
    case "bfloat16":
      return bfloat16ToFloat32(float32ToBfloat16(x));
    case "float16":
      return float16ToFloat32(float32ToFloat16(x));
    case "int32":
      return toInt(x) | 0;
    case "int64":
      return toInt(x);
    case "uint8":
      return toInt(x) & 0xff;
    case "int8":
      return (toInt(x) << 24) >> 24;
    case "bool":
      return x !== 0 ? 1 : 0;
  }
}
function toInt(x: number): number {
  return Number.isFinite(x) ? Math.trunc(x) : 0;
}
