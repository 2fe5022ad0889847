/**
 * TensorFlow's TensorProto, DataType and TensorShapeProto in the protobuf JSON mapping
 * (lowerCamelCase fields, int64 as strings, bytes as base64), to and from Edgeflow values.
 */
import { byteSize, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { formatShape, type PartialShape } from "../shape.ts";
import { checkShape, Tensor } from "../tensor.ts";
import {
  badField,
  jsonBase64Text,
  jsonBool,
  jsonBytes,
  jsonFloat,
  jsonInt64,
  jsonInteger,
  jsonList,
  jsonObject,
} from "./json_value.ts";

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
  variant: ["DT_VARIANT", 21],
};
const BY_TF_NAME = new Map<string | number, DType>(
  Object.entries(DATA_TYPES).flatMap(([d, [name, num]]) => [[name, d as DType], [num, d as DType]]),
);

export function dtypeToJson(d: DType): string {
  return DATA_TYPES[d][0];
}
export function dtypeFromJson(v: unknown, field = "type"): DType {
  const d = (typeof v === "string" || typeof v === "number") && BY_TF_NAME.get(v);
  if (!d) {
    throw badField(
      field,
      `is an unsupported TensorFlow data type ${JSON.stringify(v) ?? String(v)}`,
    );
  }
  return d;
}

export interface ShapeJson {
  dim?: { size?: string | number }[];
  unknownRank?: boolean;
}
export function shapeToJson(s: PartialShape): ShapeJson {
  return s === null ? { unknownRank: true } : { dim: s.map((d) => ({ size: String(d) })) };
}
export function shapeFromJson(j: unknown, field = "shape"): PartialShape {
  if (j === undefined) return [];
  const o = jsonObject(j, field);
  if (o.unknownRank !== undefined && jsonBool(o.unknownRank, `${field}.unknownRank`)) return null;
  return jsonList(o.dim, `${field}.dim`).map((d, i) => {
    const dim = jsonObject(d, `${field}.dim[${i}]`);
    // proto3 omits a zero size; -1 is an unknown dim.
    if (dim.size === undefined) return 0;
    return jsonInteger(dim.size, `${field}.dim[${i}].size`, -1, Number.MAX_SAFE_INTEGER);
  });
}

export interface TensorJson {
  dtype: string | number;
  tensorShape?: ShapeJson;
  /**
   * base64 in the JSON mapping; inside Edgeflow a loader may pass the bytes themselves (no base64
   * round trip), and `ownedContent` ones become the tensor's storage without a copy.
   */
  tensorContent?: string | Uint8Array;
  floatVal?: number[];
  intVal?: number[];
  int64Val?: (string | number)[];
  boolVal?: boolean[];
  halfVal?: number[];
  stringVal?: string[];
}

export function tensorToJson(t: Tensor): TensorJson {
  if (t.dtype === "variant") {
    throw new EdgeflowError("a variant tensor (a TensorList) has no TensorProto here");
  }
  const j: TensorJson = { dtype: dtypeToJson(t.dtype), tensorShape: shapeToJson(t.shape) };
  if (t.dtype === "string" || t.dtype === "resource") {
    j.stringVal = (t.data as string[]).map((s) => new TextEncoder().encode(s).toBase64());
  } else {
    const d = t.data as ArrayBufferView;
    j.tensorContent = new Uint8Array(d.buffer, d.byteOffset, d.byteLength).toBase64();
  }
  return j;
}

/** The TensorProto field that holds each dtype's values (TensorFlow's tensor.proto). */
const VALUE_FIELD: Record<DType, keyof TensorJson> = {
  float32: "floatVal",
  int32: "intVal",
  uint8: "intVal",
  int8: "intVal",
  int64: "int64Val",
  bool: "boolVal",
  bfloat16: "halfVal",
  float16: "halfVal",
  string: "stringVal",
  resource: "stringVal",
  // TensorFlow's variantVal; no Edgeflow constant holds one (tensorFromJson refuses it).
  variant: "variantVal" as keyof TensorJson,
};
const VALUE_FIELDS = [...new Set(Object.values(VALUE_FIELD))];
const INT_RANGES: Partial<Record<DType, readonly [number, number]>> = {
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint8: [0, 255],
  int8: [-128, 127],
  // halfVal holds 16-bit patterns (bfloat16 and float16), as TensorFlow stores them.
  bfloat16: [0, 0xffff],
  float16: [0, 0xffff],
};

/**
 * A TensorProto to a Tensor. Every field is checked: the values sit in the field for the dtype
 * (an int32 tensor with floatVal is refused, not reinterpreted), each value is of its kind and in
 * range (intVal 1e10 for int32 is refused, not wrapped), and the content's size matches the shape.
 */
export function tensorFromJson(raw: unknown, field = "tensor"): Tensor {
  const j = jsonObject(raw, field);
  const dtype = dtypeFromJson(j.dtype, `${field}.dtype`);
  const shape = shapeFromJson(j.tensorShape, `${field}.tensorShape`);
  if (shape === null || shape.some((d) => d < 0)) {
    throw badField(`${field}.tensorShape`, `must be fully known, got ${formatShape(shape)}`);
  }
  const size = checkShape(shape, `${field}.tensorShape`);
  if (dtype === "variant") {
    throw badField(`${field}.dtype`, "is DT_VARIANT: a constant TensorList is not supported");
  }
  const given = VALUE_FIELDS.filter((f) => j[f] !== undefined);
  if (j.tensorContent !== undefined) {
    if (dtype === "string" || dtype === "resource") {
      throw badField(`${field}.tensorContent`, `cannot hold a ${dtype} tensor (use stringVal)`);
    }
    if (given.length > 0) {
      throw badField(field, `has both tensorContent and ${given.join(", ")}`);
    }
    const bytes = jsonBytes(j.tensorContent, `${field}.tensorContent`);
    // Checked before allocating: a huge shape over a few bytes of content allocates nothing.
    const needed = size * byteSize(dtype);
    if (bytes.byteLength !== needed) {
      throw badField(
        `${field}.tensorContent`,
        `has ${bytes.byteLength} bytes, a ${dtype}${formatShape(shape)} needs ${needed}`,
      );
    }
    const adopted = adopt(bytes, dtype, shape, size);
    if (adopted) return adopted;
    const t = Tensor.zeros(dtype, shape);
    const out = t.data as ArrayBufferView;
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
    return t;
  }
  const t = Tensor.zeros(dtype, shape);
  const want = VALUE_FIELD[dtype];
  const wrong = given.filter((f) => f !== want);
  if (wrong.length > 0) {
    throw badField(
      field,
      `is a ${dtype} tensor, whose values go in ${want}, but has ${wrong.join(", ")}`,
    );
  }
  const values = jsonList(j[want], `${field}.${want}`);
  if (values.length > size) {
    throw badField(`${field}.${want}`, `has ${values.length} values for ${size} elements`);
  }
  const read = valueReader(dtype);
  const parsed = values.map((v, i) => read(v, `${field}.${want}[${i}]`));
  // TensorFlow repeats the last value to fill the shape (splat constants are stored with one).
  const data = t.data as unknown as unknown[];
  for (let i = 0; i < size && parsed.length > 0; i++) {
    data[i] = parsed[Math.min(i, parsed.length - 1)];
  }
  return t;
}

/**
 * Bytes a loader decoded into memory nothing else references (dequantized or copied weights):
 * the importer makes them the Const tensor's storage instead of copying them, so a model's
 * weights exist once on the host while it loads.
 */
const OWNED = new WeakSet<Uint8Array>();

/** Marks `bytes` as the loader's own, free to become a tensor's storage; returns them. */
export function ownedContent(bytes: Uint8Array): Uint8Array {
  OWNED.add(bytes);
  return bytes;
}

/** A tensor over owned, aligned bytes of a fixed-width dtype, or undefined (then copied). */
function adopt(
  bytes: Uint8Array,
  dtype: DType,
  shape: readonly number[],
  size: number,
): Tensor | undefined {
  if (!OWNED.has(bytes)) return undefined;
  const width = byteSize(dtype);
  if (bytes.byteOffset % width !== 0) return undefined;
  const make = STORAGE_VIEW[dtype];
  if (!make) return undefined;
  OWNED.delete(bytes); // one tensor owns them
  return new Tensor(dtype, shape, make(bytes.buffer as ArrayBuffer, bytes.byteOffset, size));
}

/** Typed-array views for the dtypes whose storage is a plain typed array of their width. */
const STORAGE_VIEW: Partial<
  Record<
    DType,
    (b: ArrayBuffer, at: number, n: number) => Float32Array | Int32Array | Uint8Array | Int8Array
  >
> = {
  float32: (b, at, n) => new Float32Array(b, at, n),
  int32: (b, at, n) => new Int32Array(b, at, n),
  uint8: (b, at, n) => new Uint8Array(b, at, n),
  int8: (b, at, n) => new Int8Array(b, at, n),
};

/** How one element of each dtype's value field is read and checked. */
function valueReader(dtype: DType): (v: unknown, field: string) => unknown {
  const range = INT_RANGES[dtype];
  if (range) return (v, f) => jsonInteger(v, f, range[0], range[1]);
  switch (dtype) {
    case "float32":
      return jsonFloat;
    case "int64":
      return jsonInt64;
    case "bool":
      return (v, f) => (jsonBool(v, f) ? 1 : 0);
    default:
      return jsonBase64Text;
  }
}
