/**
 * TensorFlow's TensorProto, DataType and TensorShapeProto in the protobuf JSON mapping
 * (lowerCamelCase fields, int64 as strings, bytes as base64), to and from Edgeflow values.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { PartialShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";

/** TensorFlow's DataType enum names and numbers for the dtypes Edgeflow has. */
const DATA_TYPES: Record<DType, [string, number]> = {
  float32: ["DT_FLOAT", 1],
  int32: ["DT_INT32", 3],
  uint8: ["DT_UINT8", 4],
  int8: ["DT_INT8", 6],
  string: ["DT_STRING", 7],
  int64: ["DT_INT64", 9],
  bool: ["DT_BOOL", 10],
  bfloat16: ["DT_BFLOAT16", 14],
  float16: ["DT_HALF", 19],
  resource: ["DT_RESOURCE", 20],
};
const BY_TF_NAME = new Map<string | number, DType>(
  Object.entries(DATA_TYPES).flatMap(([d, [name, num]]) => [[name, d as DType], [num, d as DType]]),
);

export function dtypeToJson(d: DType): string {
  return DATA_TYPES[d][0];
}
export function dtypeFromJson(v: unknown): DType {
  const d = BY_TF_NAME.get(v as string);
  if (!d) throw new EdgeflowError(`unsupported TensorFlow data type ${JSON.stringify(v)}`);
  return d;
}

export interface ShapeJson {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}
export function shapeToJson(s: PartialShape): ShapeJson {
  return s === null ? { unknownRank: true } : { dim: s.map((d) => ({ size: String(d) })) };
}
export function shapeFromJson(j: ShapeJson | undefined): PartialShape {
  if (!j) return [];
  if (j.unknownRank) return null;
  return (j.dim ?? []).map((d) => Number(d.size ?? 0));
}

export interface TensorJson {
  dtype: string | number;
  tensorShape?: ShapeJson;
  tensorContent?: string;
  floatVal?: number[];
  intVal?: number[];
  int64Val?: (string | number)[];
  boolVal?: boolean[];
  halfVal?: number[];
  stringVal?: string[];
}

export function tensorToJson(t: Tensor): TensorJson {
  const j: TensorJson = { dtype: dtypeToJson(t.dtype), tensorShape: shapeToJson(t.shape) };
  if (t.dtype === "string" || t.dtype === "resource") {
    j.stringVal = (t.data as string[]).map((s) => new TextEncoder().encode(s).toBase64());
  } else {
    const d = t.data as ArrayBufferView;
    j.tensorContent = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).toBase64();
  }
  return j;
}

export function tensorFromJson(j: TensorJson): Tensor {
  const dtype = dtypeFromJson(j.dtype);
  const shape = shapeFromJson(j.tensorShape);
  if (shape === null || shape.some((d) => d < 0)) {
    throw new EdgeflowError("a tensor attr has an unknown shape");
  }
  const size = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.zeros(dtype, shape);
  if (j.tensorContent !== undefined) {
    const bytes = Uint8Array.fromBase64(j.tensorContent);
    const out = t.data as ArrayBufferView;
    if (bytes.byteLength !== out.byteLength) {
      throw new EdgeflowError(
        `tensor content has ${bytes.byteLength} bytes, a ${dtype}${
          JSON.stringify(shape)
        } needs ${out.byteLength}`,
      );
    }
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
    return t;
  }
  const values: unknown[] = j.floatVal ?? j.intVal ?? j.int64Val ?? j.boolVal ?? j.halfVal ??
    (j.stringVal?.map((s) => new TextDecoder().decode(Uint8Array.fromBase64(s)))) ?? [];
  if (values.length > size) {
    throw new EdgeflowError(`tensor has ${values.length} values for ${size} elements`);
  }
  // TensorFlow repeats the last value to fill the shape (splat constants are stored with one).
  const data = t.data as unknown as unknown[];
  for (let i = 0; i < size && values.length > 0; i++) {
    const v = values[Math.min(i, values.length - 1)];
    data[i] = dtype === "int64" ? BigInt(v as string) : typeof v === "boolean" ? Number(v) : v;
  }
  return t;
}
