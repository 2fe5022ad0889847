/**
 * ONNX TensorProto ↔ Edgeflow Tensor. A proto's element count comes from its dims, checked against
 * a byte limit and against the data the file actually holds before any array is allocated; data
 * types Edgeflow lacks (double, int16, uint16/32/64, string, complex, float8) are refused by name.
 */
import { byteSize, type DType } from "../../dtype.ts";
import { EdgeflowError } from "../../errors.ts";
import { Tensor } from "../../tensor.ts";
import { ONNX_DTYPE, onnxDTypeName, type OnnxTensorProto } from "./onnx_schema.ts";

/** A model feature Edgeflow does not have (as opposed to a corrupt file). */
export class OnnxUnsupportedError extends EdgeflowError {}

const TO_EDGEFLOW = new Map<number, DType>([
  [ONNX_DTYPE.FLOAT, "float32"],
  [ONNX_DTYPE.UINT8, "uint8"],
  [ONNX_DTYPE.INT8, "int8"],
  [ONNX_DTYPE.INT32, "int32"],
  [ONNX_DTYPE.INT64, "int64"],
  [ONNX_DTYPE.BOOL, "bool"],
  [ONNX_DTYPE.FLOAT16, "float16"],
  [ONNX_DTYPE.BFLOAT16, "bfloat16"],
]);
const TO_ONNX = new Map<DType, number>([...TO_EDGEFLOW].map(([o, e]) => [e, o]));

/** The Edgeflow dtype of an ONNX data type; `where` names the field for the error. */
export function dtypeFromOnnx(n: number, where: string): DType {
  const d = TO_EDGEFLOW.get(n);
  if (!d) {
    throw new OnnxUnsupportedError(
      `${where}: data type ${onnxDTypeName(n)} is not one Edgeflow has (${
        [...TO_EDGEFLOW.keys()].map(onnxDTypeName).join(", ")
      })`,
    );
  }
  return d;
}

export function dtypeToOnnx(d: DType): number {
  const n = TO_ONNX.get(d);
  if (n === undefined) throw new EdgeflowError(`dtype ${d} has no ONNX data type Edgeflow writes`);
  return n;
}

/** The product of `dims`, refused when a dim is negative or the bytes pass `maxBytes`. */
export function elementCount(
  dims: readonly number[],
  width: number,
  maxBytes: number,
  where: string,
): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new EdgeflowError(`${where}.dims: ${d} is not a dimension`);
    }
    n *= d;
    if (n * width > maxBytes) {
      throw new EdgeflowError(
        `${where}.dims [${dims.join(", ")}] ask for more than the ${maxBytes}-byte tensor limit`,
      );
    }
  }
  return n;
}

/**
 * The Tensor a proto holds. `file` prefixes errors; external data must have been resolved into
 * rawData by the caller (onnx_model.ts reads it, confined to the model's directory).
 */
export function tensorFromOnnx(t: OnnxTensorProto, file: string, maxBytes: number): Tensor {
  const where = `${file}: ${t.path || "tensor"}${t.name ? ` ('${t.name}')` : ""}`;
  const dtype = dtypeFromOnnx(t.dataType, where);
  const width = byteSize(dtype);
  const count = elementCount(t.dims, width, maxBytes, where);
  const shape = t.dims.slice();
  if (t.dataLocation !== 0 && t.rawData === undefined) {
    throw new OnnxUnsupportedError(`${where}: external data was not resolved`);
  }
  if (t.rawData !== undefined) {
    if (t.rawData.byteLength !== count * width) {
      throw new EdgeflowError(
        `${where}.raw_data has ${t.rawData.byteLength} bytes, its dims and data type need ${
          count * width
        }`,
      );
    }
    // Copy into a fresh, aligned buffer: raw_data sits at any offset of the file. ONNX's raw_data
    // is little-endian, as every platform Deno runs on.
    const buf = t.rawData.slice().buffer;
    return new Tensor(dtype, shape, viewOf(dtype, buf, count));
  }
  const field = dtype === "float32" ? t.floatData : dtype === "int64" ? t.int64Data : t.int32Data;
  const name = dtype === "float32" ? "float_data" : dtype === "int64" ? "int64_data" : "int32_data";
  if (field.length !== count) {
    throw new EdgeflowError(
      `${where}.${name} has ${field.length} values, its dims [${t.dims.join(", ")}] need ${count}`,
    );
  }
  const out = Tensor.zeros(dtype, shape);
  const data = out.data as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < count; i++) {
    const v = field[i];
    // int32_data carries bool as 0/1, float16/bfloat16 as their bit patterns.
    data[i] = dtype === "bool" ? (v ? 1 : 0) : v;
  }
  return out;
}

function viewOf(dtype: DType, buf: ArrayBuffer, count: number): Tensor["data"] {
  switch (dtype) {
    case "float32":
      return new Float32Array(buf, 0, count);
    case "int32":
      return new Int32Array(buf, 0, count);
    case "int64":
      return new BigInt64Array(buf, 0, count);
    case "float16":
    case "bfloat16":
      return new Uint16Array(buf, 0, count);
    case "int8":
      return new Int8Array(buf, 0, count);
    case "bool": {
      const b = new Uint8Array(buf, 0, count);
      for (let i = 0; i < count; i++) b[i] = b[i] ? 1 : 0;
      return b;
    }
    default:
      return new Uint8Array(buf, 0, count);
  }
}

/** A tensor's raw little-endian bytes, as raw_data carries them. */
export function rawBytes(t: Tensor): Uint8Array {
  const d = t.data as ArrayBufferView;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
