/**
 * GraphDef in TensorFlow's JSON mapping → binary GraphDef, the inverse of graphdef_decode.ts.
 * Map entries are written in key order so the same graph always gives the same bytes.
 */
import { EdgeflowError } from "../../errors.ts";
import type { GraphDefJson, NodeDefJson } from "../graphdef_json.ts";
import type { ShapeJson, TensorJson } from "../tensor_proto.ts";
import { dataTypeNumber } from "./data_type.ts";
import {
  ATTR_VALUE,
  type AttrValueJson,
  GRAPH_DEF,
  LIST_VALUE,
  MAP_ENTRY,
  NAME_ATTR_LIST,
  type NameAttrListJson,
  NODE_DEF,
  TENSOR_PROTO,
  TENSOR_SHAPE,
  TENSOR_SHAPE_DIM,
  VERSION_DEF,
} from "./graphdef_schema.ts";
import { BinaryWriter, LEN, VARINT, WireType, writePacked } from "./wire.ts";

export function encodeGraphDef(def: GraphDefJson): Uint8Array {
  const w = new BinaryWriter();
  for (const n of def.node ?? []) {
    w.tag(GRAPH_DEF.node, LEN).fork();
    encodeNode(w, n);
    w.join();
  }
  const v = def.versions;
  if (v) {
    w.tag(GRAPH_DEF.versions, LEN).fork();
    if (v.producer) w.tag(VERSION_DEF.producer, VARINT).int32(v.producer);
    if (v.minConsumer) w.tag(VERSION_DEF.minConsumer, VARINT).int32(v.minConsumer);
    writePacked(w, VERSION_DEF.badConsumers, v.badConsumers ?? [], (w, x) => w.int32(x));
    w.join();
  }
  return w.finish();
}

function encodeNode(w: BinaryWriter, n: NodeDefJson): void {
  if (n.name) w.tag(NODE_DEF.name, LEN).string(n.name);
  if (n.op) w.tag(NODE_DEF.op, LEN).string(n.op);
  for (const input of n.input ?? []) w.tag(NODE_DEF.input, LEN).string(input);
  if (n.device) w.tag(NODE_DEF.device, LEN).string(n.device);
  encodeAttrMap(w, NODE_DEF.attr, n.attr ?? {}, n.name);
}

function encodeAttrMap(
  w: BinaryWriter,
  field: number,
  attrs: Record<string, AttrValueJson>,
  node: string,
): void {
  for (const key of Object.keys(attrs).sort()) {
    w.tag(field, LEN).fork();
    w.tag(MAP_ENTRY.key, LEN).string(key);
    w.tag(MAP_ENTRY.value, LEN).fork();
    encodeAttrValue(w, attrs[key], node, key);
    w.join().join();
  }
}

/** One case of the oneof; written even when it holds its zero value, so the case is set. */
function encodeAttrValue(w: BinaryWriter, a: AttrValueJson, node: string, key: string): void {
  if (a.list !== undefined) {
    w.tag(ATTR_VALUE.list, LEN).fork();
    encodeList(w, a.list, node, key);
    w.join();
  } else if (a.s !== undefined) w.tag(ATTR_VALUE.s, LEN).bytes(Uint8Array.fromBase64(a.s));
  else if (a.i !== undefined) w.tag(ATTR_VALUE.i, VARINT).int64(a.i);
  else if (a.f !== undefined) w.tag(ATTR_VALUE.f, WireType.Bit32).float(Number(a.f));
  else if (a.b !== undefined) w.tag(ATTR_VALUE.b, VARINT).bool(a.b);
  else if (a.type !== undefined) w.tag(ATTR_VALUE.type, VARINT).int32(typeNumber(a.type, node));
  else if (a.shape !== undefined) {
    w.tag(ATTR_VALUE.shape, LEN).fork();
    encodeShape(w, a.shape);
    w.join();
  } else if (a.tensor !== undefined) {
    w.tag(ATTR_VALUE.tensor, LEN).fork();
    encodeTensor(w, a.tensor, node);
    w.join();
  } else if (a.placeholder !== undefined) w.tag(ATTR_VALUE.placeholder, LEN).string(a.placeholder);
  else if (a.func !== undefined) {
    w.tag(ATTR_VALUE.func, LEN).fork();
    encodeNameAttrList(w, a.func, node);
    w.join();
  } else {
    throw new EdgeflowError(`attribute '${key}' has no value to write`, { node });
  }
}

function encodeList(
  w: BinaryWriter,
  l: NonNullable<AttrValueJson["list"]>,
  node: string,
  key: string,
): void {
  for (const s of l.s ?? []) w.tag(LIST_VALUE.s, LEN).bytes(Uint8Array.fromBase64(s));
  writePacked(w, LIST_VALUE.i, l.i ?? [], (w, x) => w.int64(x));
  writePacked(w, LIST_VALUE.f, l.f ?? [], (w, x) => w.float(Number(x)));
  writePacked(w, LIST_VALUE.b, l.b ?? [], (w, x) => w.bool(x));
  writePacked(w, LIST_VALUE.type, l.type ?? [], (w, x) => w.int32(typeNumber(x, node, key)));
  for (const s of l.shape ?? []) {
    w.tag(LIST_VALUE.shape, LEN).fork();
    encodeShape(w, s);
    w.join();
  }
  for (const t of l.tensor ?? []) {
    w.tag(LIST_VALUE.tensor, LEN).fork();
    encodeTensor(w, t, node);
    w.join();
  }
  for (const f of l.func ?? []) {
    w.tag(LIST_VALUE.func, LEN).fork();
    encodeNameAttrList(w, f, node);
    w.join();
  }
}

function encodeNameAttrList(w: BinaryWriter, f: NameAttrListJson, node: string): void {
  if (f.name) w.tag(NAME_ATTR_LIST.name, LEN).string(f.name);
  encodeAttrMap(w, NAME_ATTR_LIST.attr, f.attr ?? {}, node);
}

function encodeShape(w: BinaryWriter, s: ShapeJson): void {
  for (const d of s.dim ?? []) {
    w.tag(TENSOR_SHAPE.dim, LEN).fork();
    const size = d.size ?? 0;
    if (size !== 0 && size !== "0") w.tag(TENSOR_SHAPE_DIM.size, VARINT).int64(size);
    w.join();
  }
  if (s.unknownRank) w.tag(TENSOR_SHAPE.unknownRank, VARINT).bool(true);
}

function encodeTensor(w: BinaryWriter, t: TensorJson, node: string): void {
  const dtype = typeNumber(t.dtype, node);
  if (dtype !== 0) w.tag(TENSOR_PROTO.dtype, VARINT).int32(dtype);
  if (t.tensorShape) {
    w.tag(TENSOR_PROTO.tensorShape, LEN).fork();
    encodeShape(w, t.tensorShape);
    w.join();
  }
  if (t.tensorContent) {
    w.tag(TENSOR_PROTO.tensorContent, LEN).bytes(
      typeof t.tensorContent === "string"
        ? Uint8Array.fromBase64(t.tensorContent)
        : t.tensorContent,
    );
  }
  // Number(): the JSON mapping spells non-finite floats "NaN", "Infinity", "-Infinity".
  writePacked(w, TENSOR_PROTO.floatVal, t.floatVal ?? [], (w, x) => w.float(Number(x)));
  writePacked(w, TENSOR_PROTO.intVal, t.intVal ?? [], (w, x) => w.int32(x));
  for (const s of t.stringVal ?? []) {
    w.tag(TENSOR_PROTO.stringVal, LEN).bytes(Uint8Array.fromBase64(s));
  }
  writePacked(w, TENSOR_PROTO.int64Val, t.int64Val ?? [], (w, x) => w.int64(x));
  writePacked(w, TENSOR_PROTO.boolVal, t.boolVal ?? [], (w, x) => w.bool(x));
  writePacked(w, TENSOR_PROTO.halfVal, t.halfVal ?? [], (w, x) => w.int32(x));
}

function typeNumber(v: string | number, node: string, key?: string): number {
  const n = dataTypeNumber(v);
  if (n === undefined) {
    const what = key ? `attribute '${key}'` : "a tensor";
    throw new EdgeflowError(
      `${what} has data type ${JSON.stringify(v)}, not a TensorFlow DataType`,
      {
        node,
      },
    );
  }
  return n;
}
