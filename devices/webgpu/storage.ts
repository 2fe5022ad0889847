/**
 * How each dtype is stored in a GPU buffer, and the conversions on upload and download. WGSL has
 * 32-bit scalars only (plus f16 with the shader-f16 feature), so:
 *
 * - float32 is f32; bfloat16 is f32 holding bfloat16 values (kernels round their results);
 * - float16 is f32 holding float16 values, or native f16 when the device was created with the
 *   `shaderF16` option (an explicit choice: results then come from half-precision arithmetic);
 * - int32, int8, uint8 and bool are i32 (bool as 0/1; kernels wrap int8/uint8 results);
 * - int64 is i32 too: uploads refuse values outside int32 with an EdgeflowError rather than wrap.
 *   Only index-like int64 tensors (labels, ArgMax results) are computed on the GPU.
 */
import type { DType } from "../../core/dtype.ts";
import {
  bfloat16ToFloat32,
  float16ToFloat32,
  float32ToBfloat16,
  float32ToFloat16,
} from "../../core/dtype.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Shape } from "../../core/shape.ts";
import { Tensor } from "../../core/tensor.ts";

/** The WGSL element type of a buffer. */
export type StorageType = "f32" | "i32" | "f16";

/** The storage type of a dtype, or undefined where the GPU cannot hold it (strings, handles). */
export function storageType(dtype: DType, nativeF16: boolean): StorageType | undefined {
  switch (dtype) {
    case "float32":
    case "bfloat16":
      return "f32";
    case "float16":
      return nativeF16 ? "f16" : "f32";
    case "int32":
    case "int64":
    case "int8":
    case "uint8":
    case "bool":
      return "i32";
    default:
      return undefined;
  }
}

/** Bytes per element in storage. */
export function storageBytes(type: StorageType): number {
  return type === "f16" ? 2 : 4;
}

/** The dtypes a GPU buffer can hold. */
export const GPU_DTYPES: readonly DType[] = [
  "float32",
  "float16",
  "bfloat16",
  "int32",
  "int64",
  "int8",
  "uint8",
  "bool",
];

/** A tensor's values laid out as the device stores them. */
export function encode(t: Tensor, type: StorageType): Float32Array | Int32Array | Uint16Array {
  const n = t.size;
  switch (t.dtype) {
    case "float32":
      return t.data as Float32Array;
    case "int32":
      return t.data as Int32Array;
    case "float16":
      if (type === "f16") return t.data as Uint16Array;
      return Float32Array.from(t.data as Uint16Array, halfToFloat);
    case "bfloat16":
      return Float32Array.from(t.data as Uint16Array, bfloat16ToFloat32);
    case "int8":
    case "uint8":
    case "bool":
      return Int32Array.from(t.data as Uint8Array);
    case "int64": {
      const src = t.data as BigInt64Array, out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = src[i];
        if (v !== BigInt.asIntN(32, v)) {
          throw new EdgeflowError(
            `int64 value ${v} does not fit the WebGPU device's int32 storage (WGSL has no i64)`,
          );
        }
        out[i] = Number(v);
      }
      return out;
    }
    default:
      throw new EdgeflowError(`a ${t.dtype} tensor cannot live on the WebGPU device`);
  }
}

/** A host tensor from the bytes of a buffer (`bytes` may hold more than the tensor). */
export function decode(
  dtype: DType,
  shape: Shape,
  bytes: ArrayBuffer,
  offset: number,
  type: StorageType,
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (type === "f16") {
    return new Tensor(dtype, shape, new Uint16Array(bytes.slice(offset, offset + 2 * n)));
  }
  const words = bytes.slice(offset, offset + 4 * n);
  switch (dtype) {
    case "float32":
      return new Tensor(dtype, shape, new Float32Array(words));
    case "int32":
      return new Tensor(dtype, shape, new Int32Array(words));
    case "float16":
      return new Tensor(dtype, shape, Uint16Array.from(new Float32Array(words), floatToHalf));
    case "bfloat16":
      return new Tensor(dtype, shape, Uint16Array.from(new Float32Array(words), float32ToBfloat16));
    case "int8":
      return new Tensor(dtype, shape, Int8Array.from(new Int32Array(words)));
    case "uint8":
    case "bool":
      return new Tensor(dtype, shape, Uint8Array.from(new Int32Array(words)));
    case "int64":
      return new Tensor(dtype, shape, BigInt64Array.from(new Int32Array(words), BigInt));
    default:
      throw new EdgeflowError(`a ${dtype} tensor cannot live on the WebGPU device`);
  }
}

// Typed arrays' `from` passes (value, index); these take the value only.
function halfToFloat(h: number): number {
  return float16ToFloat32(h);
}
function floatToHalf(x: number): number {
  return float32ToFloat16(x);
}
