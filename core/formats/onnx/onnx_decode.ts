/**
 * Binary ONNX ModelProto → the plain structures of onnx_schema.ts, through wire.ts (the
 * @bufbuild/protobuf reader with field-naming errors). Unknown fields are skipped, as protobuf
 * parsers do; sizes are only recorded here and checked against the bytes by onnx_tensor.ts
 * before anything is allocated.
 */
import {
  ATTRIBUTE_PROTO,
  GRAPH_PROTO,
  MODEL_PROTO,
  NODE_PROTO,
  type OnnxAttribute,
  type OnnxGraphProto,
  type OnnxModelProto,
  type OnnxNodeProto,
  type OnnxTensorProto,
  type OnnxValueInfo,
  OPERATOR_SET_ID,
  STRING_STRING_ENTRY,
  TENSOR_PROTO,
  TENSOR_SHAPE,
  TENSOR_SHAPE_DIM,
  TYPE_PROTO,
  TYPE_TENSOR,
  VALUE_INFO,
} from "./onnx_schema.ts";
import {
  type BinaryReader,
  corrupt,
  type DecodeScope,
  expectWire,
  LEN,
  readMessage,
  readRepeated,
  VARINT,
  WireType,
} from "../protobuf/wire.ts";

/** Decodes a binary ModelProto; `file` names it in errors. */
export function decodeOnnxModel(bytes: Uint8Array, file = "model.onnx"): OnnxModelProto {
  const scope: DecodeScope = { file, maxDepth: 24 };
  const m: OnnxModelProto = { irVersion: 0, producerName: "", opsetImport: [], functions: 0 };
  readMessage(scope, bytes, "", 0, MODEL_PROTO, (field, wire, r) => {
    switch (field) {
      case MODEL_PROTO.irVersion:
        expectWire(scope, "ir_version", wire, VARINT);
        m.irVersion = safeInt(scope, "ir_version", r.int64());
        break;
      case MODEL_PROTO.producerName:
        expectWire(scope, "producer_name", wire, LEN);
        m.producerName = r.string();
        break;
      case MODEL_PROTO.opsetImport: {
        const path = `opset_import[${m.opsetImport.length}]`;
        expectWire(scope, path, wire, LEN);
        const o = { domain: "", version: 0 };
        readMessage(scope, r.bytes(), path, 1, OPERATOR_SET_ID, (field, wire, r, path) => {
          if (field === OPERATOR_SET_ID.domain) {
            expectWire(scope, `${path}.domain`, wire, LEN);
            o.domain = r.string();
          } else if (field === OPERATOR_SET_ID.version) {
            expectWire(scope, `${path}.version`, wire, VARINT);
            o.version = safeInt(scope, `${path}.version`, r.int64());
          } else r.skip(wire, field);
        });
        m.opsetImport.push(o);
        break;
      }
      case MODEL_PROTO.graph:
        expectWire(scope, "graph", wire, LEN);
        m.graph = decodeGraph(scope, r.bytes(), "graph", 1);
        break;
      case MODEL_PROTO.functions:
        m.functions++;
        r.skip(wire, field);
        break;
      default:
        r.skip(wire, field);
    }
  });
  return m;
}

/** Decodes a lone TensorProto (the test data's input_0.pb files). */
export function decodeOnnxTensor(bytes: Uint8Array, file = "tensor.pb"): OnnxTensorProto {
  return decodeTensor({ file, maxDepth: 4 }, bytes, "", 0);
}

function decodeGraph(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): OnnxGraphProto {
  const g: OnnxGraphProto = {
    name: "",
    node: [],
    initializer: [],
    input: [],
    output: [],
    sparseInitializers: 0,
  };
  readMessage(scope, bytes, at, depth, GRAPH_PROTO, (field, wire, r, path) => {
    switch (field) {
      case GRAPH_PROTO.node: {
        const p = `${path}.node[${g.node.length}]`;
        expectWire(scope, p, wire, LEN);
        g.node.push(decodeNode(scope, r.bytes(), p, depth + 1));
        break;
      }
      case GRAPH_PROTO.name:
        expectWire(scope, `${path}.name`, wire, LEN);
        g.name = r.string();
        break;
      case GRAPH_PROTO.initializer: {
        const p = `${path}.initializer[${g.initializer.length}]`;
        expectWire(scope, p, wire, LEN);
        g.initializer.push(decodeTensor(scope, r.bytes(), p, depth + 1));
        break;
      }
      case GRAPH_PROTO.input:
      case GRAPH_PROTO.output: {
        const list = field === GRAPH_PROTO.input ? g.input : g.output;
        const p = `${path}.${field === GRAPH_PROTO.input ? "input" : "output"}[${list.length}]`;
        expectWire(scope, p, wire, LEN);
        list.push(decodeValueInfo(scope, r.bytes(), p, depth + 1));
        break;
      }
      case GRAPH_PROTO.sparseInitializer:
        g.sparseInitializers++;
        r.skip(wire, field);
        break;
      default:
        r.skip(wire, field); // doc_string, value_info, quantization annotations
    }
  });
  return g;
}

function decodeNode(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): OnnxNodeProto {
  const n: OnnxNodeProto = {
    name: "",
    opType: "",
    domain: "",
    input: [],
    output: [],
    attribute: [],
    path: at,
  };
  readMessage(scope, bytes, at, depth, NODE_PROTO, (field, wire, r, path) => {
    switch (field) {
      case NODE_PROTO.input:
        expectWire(scope, `${path}.input`, wire, LEN);
        n.input.push(r.string());
        break;
      case NODE_PROTO.output:
        expectWire(scope, `${path}.output`, wire, LEN);
        n.output.push(r.string());
        break;
      case NODE_PROTO.name:
        expectWire(scope, `${path}.name`, wire, LEN);
        n.name = r.string();
        break;
      case NODE_PROTO.opType:
        expectWire(scope, `${path}.op_type`, wire, LEN);
        n.opType = r.string();
        break;
      case NODE_PROTO.domain:
        expectWire(scope, `${path}.domain`, wire, LEN);
        n.domain = r.string();
        break;
      case NODE_PROTO.attribute: {
        const p = `${path}.attribute[${n.attribute.length}]`;
        expectWire(scope, p, wire, LEN);
        n.attribute.push(decodeAttribute(scope, r.bytes(), p, depth + 1));
        break;
      }
      default:
        r.skip(wire, field);
    }
  });
  return n;
}

function decodeAttribute(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): OnnxAttribute {
  const a: OnnxAttribute = {
    name: "",
    type: 0,
    floats: [],
    ints: [],
    strings: [],
    tensors: [],
    path: at,
  };
  readMessage(scope, bytes, at, depth, ATTRIBUTE_PROTO, (field, wire, r, path) => {
    switch (field) {
      case ATTRIBUTE_PROTO.name:
        expectWire(scope, `${path}.name`, wire, LEN);
        a.name = r.string();
        break;
      case ATTRIBUTE_PROTO.type:
        expectWire(scope, `${path}.type`, wire, VARINT);
        a.type = r.int32();
        break;
      case ATTRIBUTE_PROTO.f:
        expectWire(scope, `${path}.f`, wire, WireType.Bit32);
        a.f = r.float();
        break;
      case ATTRIBUTE_PROTO.i:
        expectWire(scope, `${path}.i`, wire, VARINT);
        a.i = BigInt(r.int64());
        break;
      case ATTRIBUTE_PROTO.s:
        expectWire(scope, `${path}.s`, wire, LEN);
        a.s = r.bytes();
        break;
      case ATTRIBUTE_PROTO.t:
        expectWire(scope, `${path}.t`, wire, LEN);
        a.t = decodeTensor(scope, r.bytes(), `${path}.t`, depth + 1);
        break;
      case ATTRIBUTE_PROTO.g:
        expectWire(scope, `${path}.g`, wire, LEN);
        a.g = decodeGraph(scope, r.bytes(), `${path}.g`, depth + 1);
        break;
      case ATTRIBUTE_PROTO.floats:
        readRepeated(scope, `${path}.floats`, wire, WireType.Bit32, r, (r) => r.float(), a.floats);
        break;
      case ATTRIBUTE_PROTO.ints:
        readRepeated(scope, `${path}.ints`, wire, VARINT, r, (r) => BigInt(r.int64()), a.ints);
        break;
      case ATTRIBUTE_PROTO.strings:
        expectWire(scope, `${path}.strings`, wire, LEN);
        a.strings.push(r.bytes());
        break;
      case ATTRIBUTE_PROTO.tensors:
        expectWire(scope, `${path}.tensors`, wire, LEN);
        a.tensors.push(
          decodeTensor(scope, r.bytes(), `${path}.tensors[${a.tensors.length}]`, depth + 1),
        );
        break;
      default:
        r.skip(wire, field); // graphs, sparse tensors, type protos: refused by the mapper by type
    }
  });
  return a;
}

function decodeValueInfo(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): OnnxValueInfo {
  const v: OnnxValueInfo = { name: "" };
  readMessage(scope, bytes, at, depth, VALUE_INFO, (field, wire, r, path) => {
    if (field === VALUE_INFO.name) {
      expectWire(scope, `${path}.name`, wire, LEN);
      v.name = r.string();
    } else if (field === VALUE_INFO.type) {
      expectWire(scope, `${path}.type`, wire, LEN);
      decodeType(scope, r.bytes(), `${path}.type`, depth + 1, v);
    } else r.skip(wire, field);
  });
  return v;
}

function decodeType(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
  into: OnnxValueInfo,
): void {
  readMessage(scope, bytes, at, depth, TYPE_PROTO, (field, wire, r, path) => {
    if (field === TYPE_PROTO.tensorType) {
      expectWire(scope, `${path}.tensor_type`, wire, LEN);
      readMessage(
        scope,
        r.bytes(),
        `${path}.tensor_type`,
        depth + 1,
        TYPE_TENSOR,
        (field, wire, r, path) => {
          if (field === TYPE_TENSOR.elemType) {
            expectWire(scope, `${path}.elem_type`, wire, VARINT);
            into.elemType = r.int32();
          } else if (field === TYPE_TENSOR.shape) {
            expectWire(scope, `${path}.shape`, wire, LEN);
            into.shape = decodeShape(scope, r.bytes(), `${path}.shape`, depth + 2);
          } else r.skip(wire, field);
        },
      );
    } else if (
      field === TYPE_PROTO.sequenceType || field === TYPE_PROTO.mapType ||
      field === TYPE_PROTO.optionalType || field === TYPE_PROTO.sparseTensorType
    ) {
      into.nonTensor = Object.entries(TYPE_PROTO).find(([, n]) => n === field)![0];
      r.skip(wire, field);
    } else r.skip(wire, field);
  });
}

function decodeShape(scope: DecodeScope, bytes: Uint8Array, at: string, depth: number): number[] {
  const dims: number[] = [];
  readMessage(scope, bytes, at, depth, TENSOR_SHAPE, (field, wire, r, path) => {
    if (field !== TENSOR_SHAPE.dim) return r.skip(wire, field);
    const p = `${path}.dim[${dims.length}]`;
    expectWire(scope, p, wire, LEN);
    let dim = -1; // a dim_param (symbolic) or nothing: unknown
    readMessage(scope, r.bytes(), p, depth + 1, TENSOR_SHAPE_DIM, (field, wire, r, path) => {
      if (field === TENSOR_SHAPE_DIM.dimValue) {
        expectWire(scope, `${path}.dim_value`, wire, VARINT);
        const d = safeInt(scope, `${path}.dim_value`, r.int64());
        dim = d >= 0 ? d : -1;
      } else r.skip(wire, field);
    });
    dims.push(dim);
  });
  return dims;
}

function decodeTensor(
  scope: DecodeScope,
  bytes: Uint8Array,
  at: string,
  depth: number,
): OnnxTensorProto {
  const t: OnnxTensorProto = {
    name: "",
    dims: [],
    dataType: 0,
    floatData: [],
    int32Data: [],
    int64Data: [],
    doubleData: [],
    uint64Data: [],
    stringData: [],
    externalData: [],
    dataLocation: 0,
    path: at,
  };
  readMessage(scope, bytes, at, depth, TENSOR_PROTO, (field, wire, r, path) => {
    switch (field) {
      case TENSOR_PROTO.dims:
        readRepeated(
          scope,
          `${path}.dims`,
          wire,
          VARINT,
          r,
          (r) => safeInt(scope, `${path}.dims`, r.int64()),
          t.dims,
        );
        break;
      case TENSOR_PROTO.dataType:
        expectWire(scope, `${path}.data_type`, wire, VARINT);
        t.dataType = r.int32();
        break;
      case TENSOR_PROTO.name:
        expectWire(scope, `${path}.name`, wire, LEN);
        t.name = r.string();
        break;
      case TENSOR_PROTO.rawData:
        expectWire(scope, `${path}.raw_data`, wire, LEN);
        t.rawData = r.bytes();
        break;
      case TENSOR_PROTO.floatData:
        readRepeated(
          scope,
          `${path}.float_data`,
          wire,
          WireType.Bit32,
          r,
          (r) => r.float(),
          t.floatData,
        );
        break;
      case TENSOR_PROTO.int32Data:
        readRepeated(scope, `${path}.int32_data`, wire, VARINT, r, (r) => r.int32(), t.int32Data);
        break;
      case TENSOR_PROTO.int64Data:
        readRepeated(
          scope,
          `${path}.int64_data`,
          wire,
          VARINT,
          r,
          (r) => BigInt(r.int64()),
          t.int64Data,
        );
        break;
      case TENSOR_PROTO.doubleData:
        readRepeated(
          scope,
          `${path}.double_data`,
          wire,
          WireType.Bit64,
          r,
          (r) => r.double(),
          t.doubleData,
        );
        break;
      case TENSOR_PROTO.uint64Data:
        readRepeated(
          scope,
          `${path}.uint64_data`,
          wire,
          VARINT,
          r,
          (r) => BigInt(r.uint64()),
          t.uint64Data,
        );
        break;
      case TENSOR_PROTO.stringData:
        expectWire(scope, `${path}.string_data`, wire, LEN);
        t.stringData.push(r.bytes());
        break;
      case TENSOR_PROTO.externalData: {
        const p = `${path}.external_data[${t.externalData.length}]`;
        expectWire(scope, p, wire, LEN);
        const e = { key: "", value: "" };
        readMessage(scope, r.bytes(), p, depth + 1, STRING_STRING_ENTRY, (field, wire, r, path) => {
          if (field === STRING_STRING_ENTRY.key) {
            expectWire(scope, `${path}.key`, wire, LEN);
            e.key = r.string();
          } else if (field === STRING_STRING_ENTRY.value) {
            expectWire(scope, `${path}.value`, wire, LEN);
            e.value = r.string();
          } else r.skip(wire, field);
        });
        t.externalData.push(e);
        break;
      }
      case TENSOR_PROTO.dataLocation:
        expectWire(scope, `${path}.data_location`, wire, VARINT);
        t.dataLocation = r.int32();
        break;
      default:
        r.skip(wire, field); // segment, doc_string
    }
  });
  return t;
}

/** An int64 field as a JavaScript number, refused past 2^53 (no dim or version is that big). */
function safeInt(scope: DecodeScope, path: string, v: bigint | string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw corrupt(scope, path, `${v} is out of range`);
  return n;
}

export type { BinaryReader };
