/** AttrValue in TensorFlow's JSON mapping, encoded and decoded by the OpDef's attr kind. */
import type { DType } from "../dtype.ts";
import type { AttrKind, AttrValue } from "../op.ts";
import type { PartialShape } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import {
  dtypeFromJson,
  dtypeToJson,
  shapeFromJson,
  type ShapeJson,
  shapeToJson,
  tensorFromJson,
  type TensorJson,
  tensorToJson,
} from "./tensor_proto.ts";
import {
  badField,
  jsonBase64Text,
  jsonBool,
  jsonFloat,
  jsonInteger,
  jsonList,
  jsonObject,
} from "./json_value.ts";

export interface AttrJson {
  s?: string;
  i?: string | number;
  f?: number | string;
  b?: boolean;
  type?: string | number;
  shape?: ShapeJson;
  tensor?: TensorJson;
  list?: {
    s?: string[];
    i?: (string | number)[];
    f?: (number | string)[];
    b?: boolean[];
    type?: (string | number)[];
    shape?: ShapeJson[];
  };
}

const encodeString = (s: string) => new TextEncoder().encode(s).toBase64();

export function attrToJson(kind: AttrKind, v: AttrValue): AttrJson {
  switch (kind) {
    case "int":
      return { i: String(v) };
    case "float":
      return { f: v as number };
    case "bool":
      return { b: v as boolean };
    case "string":
      return { s: encodeString(v as string) };
    case "type":
      return { type: dtypeToJson(v as DType) };
    case "shape":
      return { shape: shapeToJson(v as PartialShape) };
    case "tensor":
      return { tensor: tensorToJson(v as Tensor) };
    case "list(int)":
      return { list: { i: (v as number[]).map(String) } };
    case "list(float)":
      return { list: { f: v as number[] } };
    case "list(type)":
      return { list: { type: (v as DType[]).map(dtypeToJson) } };
    case "list(string)":
      return { list: { s: (v as string[]).map(encodeString) } };
    case "list(shape)":
      return { list: { shape: (v as PartialShape[]).map(shapeToJson) } };
  }
}

/**
 * Decodes an AttrValue by the OpDef's kind. Every field is checked (an int that is a fraction or
 * a word, a bool that is a string, bad base64) and refused with an EdgeflowError naming the
 * attribute and field.
 */
export function attrFromJson(kind: AttrKind, raw: unknown, name: string): AttrValue {
  const field = `attr '${name}'`;
  const j = jsonObject(raw, field);
  const list = () => jsonObject(j.list ?? {}, `${field}: list`);
  const items = (key: string) => jsonList(list()[key], `${field}: list.${key}`);
  const at = (key: string, i: number) => `${field}: list.${key}[${i}]`;
  switch (kind) {
    case "int":
      if (j.i === undefined) return 0; // proto3 JSON omits zeros
      return jsonInteger(j.i, `${field}: i`, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case "float":
      return j.f === undefined ? 0 : jsonFloat(j.f, `${field}: f`);
    case "bool":
      return j.b === undefined ? false : jsonBool(j.b, `${field}: b`);
    case "string":
      return j.s === undefined ? "" : jsonBase64Text(j.s, `${field}: s`);
    case "type":
      if (j.type === undefined) {
        throw badField(field, `should hold a type, got ${JSON.stringify(j)}`);
      }
      return dtypeFromJson(j.type, `${field}: type`);
    case "shape":
      return shapeFromJson(j.shape, `${field}: shape`);
    case "tensor":
      if (j.tensor === undefined) {
        throw badField(field, `should hold a tensor, got ${JSON.stringify(j).slice(0, 200)}`);
      }
      return tensorFromJson(j.tensor, `${field}: tensor`);
    case "list(int)":
      return items("i").map((v, i) =>
        jsonInteger(v, at("i", i), Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)
      );
    case "list(float)":
      return items("f").map((v, i) => jsonFloat(v, at("f", i)));
    case "list(type)":
      return items("type").map((v, i) => dtypeFromJson(v, at("type", i)));
    case "list(string)":
      return items("s").map((v, i) => jsonBase64Text(v, at("s", i)));
    case "list(shape)":
      return items("shape").map((v, i) => shapeFromJson(v, at("shape", i)));
  }
}

/** Colocation in TensorFlow's form: `_class: list(s) ["loc:@name"]`. */
export function colocationToJson(names: readonly string[]): AttrJson {
  return { list: { s: names.map((n) => encodeString(`loc:@${n}`)) } };
}
export function colocationFromJson(raw: unknown): string[] {
  const names = attrFromJson("list(string)", raw, "_class") as string[];
  return names.filter((s) => s.startsWith("loc:@")).map((s) => s.slice(5));
}
