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

/** AttrValue's oneof `value`: the fields of which a value sets at most one. */
const VALUE_FIELDS = ["s", "i", "f", "b", "type", "shape", "tensor", "list", "func", "placeholder"];
/** ListValue's repeated fields. */
const LIST_FIELDS = ["s", "i", "f", "b", "type", "shape", "tensor", "func"];

/** The oneof field (and, for lists, the list field) each kind reads. */
function expectedField(kind: AttrKind): { value: string; list?: string } {
  switch (kind) {
    case "int":
      return { value: "i" };
    case "float":
      return { value: "f" };
    case "bool":
      return { value: "b" };
    case "string":
      return { value: "s" };
    case "type":
      return { value: "type" };
    case "shape":
      return { value: "shape" };
    case "tensor":
      return { value: "tensor" };
    case "list(int)":
      return { value: "list", list: "i" };
    case "list(float)":
      return { value: "list", list: "f" };
    case "list(type)":
      return { value: "list", list: "type" };
    case "list(string)":
      return { value: "list", list: "s" };
    case "list(shape)":
      return { value: "list", list: "shape" };
  }
}

/**
 * A value of another kind than the OpDef's (an int attribute holding `s`, a list(int) holding
 * `list.f`) is refused: reading it as the kind's default (proto3 omits zeros, so an absent `i` is
 * 0) would run the model with a value its file does not hold. Empty lists are harmless
 * (TensorFlow's own JSON may print them).
 */
function checkKind(kind: AttrKind, j: Record<string, unknown>, field: string): void {
  const want = expectedField(kind);
  const other = VALUE_FIELDS.find((k) => k !== want.value && j[k] !== undefined);
  if (other !== undefined) {
    throw badField(
      field,
      `is a ${kind} attribute but holds '${other}' (${
        JSON.stringify(j).slice(0, 120)
      }): a value of another kind`,
    );
  }
  if (!want.list || j.list === undefined) return;
  const l = jsonObject(j.list, `${field}: list`);
  const wrong = LIST_FIELDS.find((k) =>
    k !== want.list && l[k] !== undefined && !(Array.isArray(l[k]) && l[k].length === 0)
  );
  if (wrong !== undefined) {
    throw badField(
      field,
      `is a ${kind} attribute but holds 'list.${wrong}' (${
        JSON.stringify(j).slice(0, 120)
      }): a list of another kind`,
    );
  }
}

/**
 * Decodes an AttrValue by the OpDef's kind. Every field is checked (an int that is a fraction or
 * a word, a bool that is a string, bad base64, a value of another kind) and refused with an
 * EdgeflowError naming the attribute and field (the importer adds the node and op).
 */
export function attrFromJson(kind: AttrKind, raw: unknown, name: string): AttrValue {
  const field = `attr '${name}'`;
  const j = jsonObject(raw, field);
  checkKind(kind, j, field);
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
