/** AttrValue in TensorFlow's JSON mapping, encoded and decoded by the OpDef's attr kind. */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
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
const decodeString = (s: string) => new TextDecoder().decode(Uint8Array.fromBase64(s));

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

export function attrFromJson(kind: AttrKind, j: AttrJson, name: string): AttrValue {
  const missing = () =>
    new EdgeflowError(`attribute '${name}' should hold a ${kind}, got ${JSON.stringify(j)}`);
  switch (kind) {
    case "int":
      if (j.i === undefined) return 0; // proto3 JSON omits zeros
      return Number(j.i);
    case "float":
      return Number(j.f ?? 0);
    case "bool":
      return j.b ?? false;
    case "string":
      return j.s === undefined ? "" : decodeString(j.s);
    case "type":
      if (j.type === undefined) throw missing();
      return dtypeFromJson(j.type);
    case "shape":
      return shapeFromJson(j.shape);
    case "tensor":
      if (!j.tensor) throw missing();
      return tensorFromJson(j.tensor);
    case "list(int)":
      return (j.list?.i ?? []).map(Number);
    case "list(float)":
      return (j.list?.f ?? []).map(Number);
    case "list(type)":
      return (j.list?.type ?? []).map(dtypeFromJson);
    case "list(string)":
      return (j.list?.s ?? []).map(decodeString);
    case "list(shape)":
      return (j.list?.shape ?? []).map(shapeFromJson);
  }
}

/** Colocation in TensorFlow's form: `_class: list(s) ["loc:@name"]`. */
export function colocationToJson(names: readonly string[]): AttrJson {
  return { list: { s: names.map((n) => encodeString(`loc:@${n}`)) } };
}
export function colocationFromJson(j: AttrJson): string[] {
  return (j.list?.s ?? []).map(decodeString).filter((s) => s.startsWith("loc:@")).map((s) =>
    s.slice(5)
  );
}
