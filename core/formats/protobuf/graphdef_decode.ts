/**
 * Binary GraphDef → GraphDef in TensorFlow's JSON mapping (the shape `fromGraphDef` imports), so
 * the binary and JSON formats share one importer. Bytes fields become base64 and int64 fields
 * strings, as the JSON mapping has them. Unknown fields are skipped, as protobuf parsers do.
 */
import type { GraphDefJson, NodeDefJson } from "../graphdef_json.ts";
import { ownedContent, type ShapeJson, type TensorJson } from "../tensor_proto.ts";
import { dataTypeName } from "./data_type.ts";
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
import {
  type DecodeScope,
  expectWire,
  LEN,
  readMessage,
  readRepeated,
  VARINT,
  WireType,
} from "./wire.ts";

/** Decodes a binary GraphDef; `file` names it in errors. */
export function decodeGraphDef(
  bytes: Uint8Array,
  file = "GraphDef",
  { rawContent = false }: { rawContent?: boolean } = {},
): GraphDefJson {
  const scope: DecodeScope = { file, maxDepth: 32, rawContent };
  const node: NodeDefJson[] = [];
  const def: GraphDefJson = { node };
  readMessage(scope, bytes, "", 0, GRAPH_DEF, (field, wire, r) => {
    if (field === GRAPH_DEF.node) {
      const path = `node[${node.length}]`;
      expectWire(scope, path, wire, LEN);
      node.push(decodeNode(scope, r.bytes(), path));
    } else if (field === GRAPH_DEF.versions) {
      expectWire(scope, "versions", wire, LEN);
      def.versions = decodeVersions(scope, r.bytes());
    } else r.skip(wire, field); // library (functions) and the deprecated version
  });
  return def;
}

function decodeVersions(scope: DecodeScope, bytes: Uint8Array): GraphDefJson["versions"] {
  const v: NonNullable<GraphDefJson["versions"]> = {};
  readMessage(scope, bytes, "versions", 1, VERSION_DEF, (field, wire, r, path) => {
    if (field === VERSION_DEF.producer) {
      expectWire(scope, `${path}.producer`, wire, VARINT);
      v.producer = r.int32();
    } else if (field === VERSION_DEF.minConsumer) {
      expectWire(scope, `${path}.minConsumer`, wire, VARINT);
      v.minConsumer = r.int32();
    } else if (field === VERSION_DEF.badConsumers) {
      readRepeated(
        scope,
        `${path}.badConsumers`,
        wire,
        VARINT,
        r,
        (r) => r.int32(),
        v.badConsumers ??= [],
      );
    } else r.skip(wire, field);
  });
  return v;
}

function decodeNode(scope: DecodeScope, bytes: Uint8Array, at: string): NodeDefJson {
  const n: NodeDefJson = { name: "", op: "" };
  readMessage(scope, bytes, at, 1, NODE_DEF, (field, wire, r, path) => {
    switch (field) {
      case NODE_DEF.name:
        expectWire(scope, `${path}.name`, wire, LEN);
        n.name = r.string();
        break;
      case NODE_DEF.op:
        expectWire(scope, `${path}.op`, wire, LEN);
        n.op = r.string();
        break;
      case NODE_DEF.input:
        expectWire(scope, `${path}.input`, wire, LEN);
        (n.input ??= []).push(r.string());
        break;
      case NODE_DEF.device:
        expectWire(scope, `${path}.device`, wire, LEN);
        n.device = r.string();
        break;
      case NODE_DEF.attr:
        expectWire(scope, `${path}.attr`, wire, LEN);
        decodeAttrEntry(scope, r.bytes(), `${path}.attr`, 2, n.attr ??= {});
        break;
      default:
        r.skip(wire, field);
    }
  });
  return n;
}

/** One entry of a map<string, AttrValue>; a repeated key keeps the last value, as protobuf does. */
function decodeAttrEntry(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
  into: Record<string, AttrValueJson>,
): void {
  let key = "";
  let value: AttrValueJson = {};
  readMessage(scope, bytes, at, depth, MAP_ENTRY, (field, wire, r, path) => {
    if (field === MAP_ENTRY.key) {
      expectWire(scope, `${path} key`, wire, LEN);
      key = r.string();
    } else if (field === MAP_ENTRY.value) {
      expectWire(scope, `${path}['${key}']`, wire, LEN);
      value = decodeAttrValue(scope, r.bytes(), `${path}['${key}']`, depth + 1);
    } else r.skip(wire, field);
  });
  // Object.defineProperty, not assignment: a key "__proto__" must stay an ordinary key.
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}

function decodeAttrValue(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): AttrValueJson {
  // A oneof: the last case on the wire wins, so each case replaces the whole value.
  let v: AttrValueJson = {};
  readMessage(scope, bytes, at, depth, ATTR_VALUE, (field, wire, r, path) => {
    switch (field) {
      case ATTR_VALUE.s:
        expectWire(scope, `${path}.s`, wire, LEN);
        v = { s: r.bytes().toBase64() };
        break;
      case ATTR_VALUE.i:
        expectWire(scope, `${path}.i`, wire, VARINT);
        v = { i: String(r.int64()) };
        break;
      case ATTR_VALUE.f:
        expectWire(scope, `${path}.f`, wire, WireType.Bit32);
        v = { f: r.float() };
        break;
      case ATTR_VALUE.b:
        expectWire(scope, `${path}.b`, wire, VARINT);
        v = { b: r.bool() };
        break;
      case ATTR_VALUE.type:
        expectWire(scope, `${path}.type`, wire, VARINT);
        v = { type: dataTypeName(r.int32()) };
        break;
      case ATTR_VALUE.shape:
        expectWire(scope, `${path}.shape`, wire, LEN);
        v = { shape: decodeShape(scope, r.bytes(), `${path}.shape`, depth + 1) };
        break;
      case ATTR_VALUE.tensor:
        expectWire(scope, `${path}.tensor`, wire, LEN);
        v = { tensor: decodeTensor(scope, r.bytes(), `${path}.tensor`, depth + 1) };
        break;
      case ATTR_VALUE.placeholder:
        expectWire(scope, `${path}.placeholder`, wire, LEN);
        v = { placeholder: r.string() };
        break;
      case ATTR_VALUE.func:
        expectWire(scope, `${path}.func`, wire, LEN);
        v = { func: decodeNameAttrList(scope, r.bytes(), `${path}.func`, depth + 1) };
        break;
      case ATTR_VALUE.list:
        expectWire(scope, `${path}.list`, wire, LEN);
        v = { list: decodeList(scope, r.bytes(), `${path}.list`, depth + 1) };
        break;
      default:
        r.skip(wire, field);
    }
  });
  return v;
}

function decodeList(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): NonNullable<AttrValueJson["list"]> {
  const l: NonNullable<AttrValueJson["list"]> = {};
  readMessage(scope, bytes, at, depth, LIST_VALUE, (field, wire, r, path) => {
    switch (field) {
      case LIST_VALUE.s:
        expectWire(scope, `${path}.s`, wire, LEN);
        (l.s ??= []).push(r.bytes().toBase64());
        break;
      case LIST_VALUE.i:
        readRepeated(scope, `${path}.i`, wire, VARINT, r, (r) => String(r.int64()), l.i ??= []);
        break;
      case LIST_VALUE.f:
        readRepeated(scope, `${path}.f`, wire, WireType.Bit32, r, (r) => r.float(), l.f ??= []);
        break;
      case LIST_VALUE.b:
        readRepeated(scope, `${path}.b`, wire, VARINT, r, (r) => r.bool(), l.b ??= []);
        break;
      case LIST_VALUE.type:
        readRepeated(
          scope,
          `${path}.type`,
          wire,
          VARINT,
          r,
          (r) => dataTypeName(r.int32()),
          l.type ??= [],
        );
        break;
      case LIST_VALUE.shape:
        expectWire(scope, `${path}.shape`, wire, LEN);
        (l.shape ??= []).push(decodeShape(scope, r.bytes(), `${path}.shape`, depth + 1));
        break;
      case LIST_VALUE.tensor:
        expectWire(scope, `${path}.tensor`, wire, LEN);
        (l.tensor ??= []).push(decodeTensor(scope, r.bytes(), `${path}.tensor`, depth + 1));
        break;
      case LIST_VALUE.func:
        expectWire(scope, `${path}.func`, wire, LEN);
        (l.func ??= []).push(decodeNameAttrList(scope, r.bytes(), `${path}.func`, depth + 1));
        break;
      default:
        r.skip(wire, field);
    }
  });
  return l;
}

function decodeNameAttrList(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): NameAttrListJson {
  const f: NameAttrListJson = {};
  readMessage(scope, bytes, at, depth, NAME_ATTR_LIST, (field, wire, r, path) => {
    if (field === NAME_ATTR_LIST.name) {
      expectWire(scope, `${path}.name`, wire, LEN);
      f.name = r.string();
    } else if (field === NAME_ATTR_LIST.attr) {
      expectWire(scope, `${path}.attr`, wire, LEN);
      decodeAttrEntry(scope, r.bytes(), `${path}.attr`, depth + 1, f.attr ??= {});
    } else r.skip(wire, field);
  });
  return f;
}

function decodeShape(scope: DecodeScope, bytes: Uint8Array, at: string, depth: number): ShapeJson {
  const s: ShapeJson = {};
  readMessage(scope, bytes, at, depth, TENSOR_SHAPE, (field, wire, r, path) => {
    if (field === TENSOR_SHAPE.dim) {
      expectWire(scope, `${path}.dim`, wire, LEN);
      const dim: { size?: string } = {};
      readMessage(
        scope,
        r.bytes(),
        `${path}.dim`,
        depth + 1,
        TENSOR_SHAPE_DIM,
        (field, wire, r, path) => {
          if (field === TENSOR_SHAPE_DIM.size) {
            expectWire(scope, `${path}.size`, wire, VARINT);
            dim.size = String(r.int64());
          } else r.skip(wire, field); // the dim's name
        },
      );
      (s.dim ??= []).push(dim);
    } else if (field === TENSOR_SHAPE.unknownRank) {
      expectWire(scope, `${path}.unknownRank`, wire, VARINT);
      s.unknownRank = r.bool();
    } else r.skip(wire, field);
  });
  return s;
}

function decodeTensor(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): TensorJson {
  const t: TensorJson = { dtype: "DT_INVALID" };
  readMessage(scope, bytes, at, depth, TENSOR_PROTO, (field, wire, r, path) => {
    switch (field) {
      case TENSOR_PROTO.dtype:
        expectWire(scope, `${path}.dtype`, wire, VARINT);
        t.dtype = dataTypeName(r.int32());
        break;
      case TENSOR_PROTO.tensorShape:
        expectWire(scope, `${path}.tensorShape`, wire, LEN);
        t.tensorShape = decodeShape(scope, r.bytes(), `${path}.tensorShape`, depth + 1);
        break;
      case TENSOR_PROTO.tensorContent:
        expectWire(scope, `${path}.tensorContent`, wire, LEN);
        // A copy either way (the input is the caller's): raw, it becomes the tensor's storage.
        t.tensorContent = scope.rawContent ? ownedContent(r.bytes().slice()) : r.bytes().toBase64();
        break;
      case TENSOR_PROTO.floatVal:
        readRepeated(
          scope,
          `${path}.floatVal`,
          wire,
          WireType.Bit32,
          r,
          (r) => r.float(),
          t.floatVal ??= [],
        );
        break;
      case TENSOR_PROTO.intVal:
        readRepeated(scope, `${path}.intVal`, wire, VARINT, r, (r) => r.int32(), t.intVal ??= []);
        break;
      case TENSOR_PROTO.int64Val:
        readRepeated(
          scope,
          `${path}.int64Val`,
          wire,
          VARINT,
          r,
          (r) => String(r.int64()),
          t.int64Val ??= [],
        );
        break;
      case TENSOR_PROTO.boolVal:
        readRepeated(scope, `${path}.boolVal`, wire, VARINT, r, (r) => r.bool(), t.boolVal ??= []);
        break;
      case TENSOR_PROTO.halfVal:
        readRepeated(
          scope,
          `${path}.halfVal`,
          wire,
          VARINT,
          r,
          (r) => r.int32(),
          t.halfVal ??= [],
        );
        break;
      case TENSOR_PROTO.stringVal:
        expectWire(scope, `${path}.stringVal`, wire, LEN);
        (t.stringVal ??= []).push(r.bytes().toBase64());
        break;
      default:
        // version_number, and the value lists of dtypes Edgeflow lacks (double, complex,
        // uint32/64, resource handles, variants): the importer refuses those dtypes by name.
        r.skip(wire, field);
    }
  });
  return t;
}
