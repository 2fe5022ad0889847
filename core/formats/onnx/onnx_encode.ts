/**
 * ONNX ModelProto bytes from a plain description, through @bufbuild/protobuf's BinaryWriter and
 * the field numbers of onnx_schema.ts: the inverse of onnx_decode.ts for what the exporter
 * writes (tensor inputs and outputs, raw_data initializers, int/ints/float/string attributes,
 * tensor attributes and subgraph attributes: If's branches, Loop's and Scan's bodies).
 */
import type { DType } from "../../dtype.ts";
import type { Tensor } from "../../tensor.ts";
import { BinaryWriter, LEN, VARINT, WireType } from "../protobuf/wire.ts";
import {
  ATTRIBUTE_PROTO,
  ATTRIBUTE_TYPE,
  GRAPH_PROTO,
  MODEL_PROTO,
  NODE_PROTO,
  OPERATOR_SET_ID,
  TENSOR_PROTO,
  TENSOR_SHAPE,
  TENSOR_SHAPE_DIM,
  TYPE_PROTO,
  TYPE_TENSOR,
  VALUE_INFO,
} from "./onnx_schema.ts";
import { dtypeToOnnx, rawBytes } from "./onnx_tensor.ts";

export type OnnxAttrValue =
  | number
  | readonly number[]
  | string
  | { float: number }
  | { tensor: Tensor }
  | { graph: OnnxSubgraphOut };

export interface OnnxNodeOut {
  op: string;
  /** Absent: the default domain. Others get an opset_import of version 1. */
  domain?: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, OnnxAttrValue>;
}

export interface OnnxValueOut {
  name: string;
  /** Absent: the value info has no type (allowed for a subgraph's values). */
  dtype?: DType;
  /** -1 for an unknown dim; null (or absent) for an unknown rank. */
  shape?: readonly number[] | null;
}

/** A graph without its model: a subgraph attribute's value. */
export interface OnnxSubgraphOut {
  name: string;
  nodes: readonly OnnxNodeOut[];
  initializers: readonly { name: string; value: Tensor }[];
  inputs: readonly OnnxValueOut[];
  outputs: readonly OnnxValueOut[];
}

export interface OnnxGraphOut extends OnnxSubgraphOut {
  opset: number;
}

/** The IR version of ONNX 1.12 to 1.14, which every onnxruntime since 1.12 reads. */
const IR_VERSION = 8;

export function encodeOnnxModel(g: OnnxGraphOut): Uint8Array {
  const w = new BinaryWriter();
  w.tag(MODEL_PROTO.irVersion, VARINT).int64(IR_VERSION);
  w.tag(MODEL_PROTO.producerName, LEN).string("edgeflow");
  w.tag(MODEL_PROTO.opsetImport, LEN).fork();
  w.tag(OPERATOR_SET_ID.domain, LEN).string("");
  w.tag(OPERATOR_SET_ID.version, VARINT).int64(g.opset);
  w.join();
  for (const domain of new Set(g.nodes.flatMap((n) => (n.domain ? [n.domain] : [])))) {
    w.tag(MODEL_PROTO.opsetImport, LEN).fork();
    w.tag(OPERATOR_SET_ID.domain, LEN).string(domain);
    w.tag(OPERATOR_SET_ID.version, VARINT).int64(1);
    w.join();
  }
  w.tag(MODEL_PROTO.graph, LEN).fork();
  encodeGraph(w, g);
  w.join();
  return w.finish();
}

function encodeGraph(w: BinaryWriter, g: OnnxSubgraphOut): void {
  for (const n of g.nodes) {
    w.tag(GRAPH_PROTO.node, LEN).fork();
    encodeNode(w, n);
    w.join();
  }
  w.tag(GRAPH_PROTO.name, LEN).string(g.name);
  for (const t of g.initializers) {
    w.tag(GRAPH_PROTO.initializer, LEN).fork();
    encodeTensor(w, t.name, t.value);
    w.join();
  }
  for (
    const [field, list] of [[GRAPH_PROTO.input, g.inputs], [GRAPH_PROTO.output, g.outputs]] as const
  ) {
    for (const v of list) {
      w.tag(field, LEN).fork();
      encodeValueInfo(w, v);
      w.join();
    }
  }
}

function encodeNode(w: BinaryWriter, n: OnnxNodeOut): void {
  for (const i of n.inputs) w.tag(NODE_PROTO.input, LEN).string(i);
  for (const o of n.outputs) w.tag(NODE_PROTO.output, LEN).string(o);
  w.tag(NODE_PROTO.name, LEN).string(n.name);
  w.tag(NODE_PROTO.opType, LEN).string(n.op);
  if (n.domain) w.tag(NODE_PROTO.domain, LEN).string(n.domain);
  for (const [name, v] of Object.entries(n.attrs ?? {})) {
    w.tag(NODE_PROTO.attribute, LEN).fork();
    w.tag(ATTRIBUTE_PROTO.name, LEN).string(name);
    if (typeof v === "number") {
      w.tag(ATTRIBUTE_PROTO.i, VARINT).int64(v);
      w.tag(ATTRIBUTE_PROTO.type, VARINT).int32(ATTRIBUTE_TYPE.INT);
    } else if (typeof v === "string") {
      w.tag(ATTRIBUTE_PROTO.s, LEN).bytes(new TextEncoder().encode(v));
      w.tag(ATTRIBUTE_PROTO.type, VARINT).int32(ATTRIBUTE_TYPE.STRING);
    } else if ("float" in v) {
      w.tag(ATTRIBUTE_PROTO.f, WireType.Bit32).float(v.float);
      w.tag(ATTRIBUTE_PROTO.type, VARINT).int32(ATTRIBUTE_TYPE.FLOAT);
    } else if ("tensor" in v) {
      w.tag(ATTRIBUTE_PROTO.t, LEN).fork();
      encodeTensor(w, "", v.tensor);
      w.join();
      w.tag(ATTRIBUTE_PROTO.type, VARINT).int32(ATTRIBUTE_TYPE.TENSOR);
    } else if ("graph" in v) {
      w.tag(ATTRIBUTE_PROTO.g, LEN).fork();
      encodeGraph(w, v.graph);
      w.join();
      w.tag(ATTRIBUTE_PROTO.type, VARINT).int32(ATTRIBUTE_TYPE.GRAPH);
    } else {
      for (const x of v as readonly number[]) w.tag(ATTRIBUTE_PROTO.ints, VARINT).int64(x);
      w.tag(ATTRIBUTE_PROTO.type, VARINT).int32(ATTRIBUTE_TYPE.INTS);
    }
    w.join();
  }
}

function encodeTensor(w: BinaryWriter, name: string, t: Tensor): void {
  for (const d of t.shape) w.tag(TENSOR_PROTO.dims, VARINT).int64(d);
  w.tag(TENSOR_PROTO.dataType, VARINT).int32(dtypeToOnnx(t.dtype));
  w.tag(TENSOR_PROTO.name, LEN).string(name);
  w.tag(TENSOR_PROTO.rawData, LEN).bytes(rawBytes(t));
}

function encodeValueInfo(w: BinaryWriter, v: OnnxValueOut): void {
  w.tag(VALUE_INFO.name, LEN).string(v.name);
  if (v.dtype === undefined) return;
  w.tag(VALUE_INFO.type, LEN).fork();
  w.tag(TYPE_PROTO.tensorType, LEN).fork();
  w.tag(TYPE_TENSOR.elemType, VARINT).int32(dtypeToOnnx(v.dtype));
  if (v.shape !== null && v.shape !== undefined) {
    w.tag(TYPE_TENSOR.shape, LEN).fork();
    v.shape.forEach((d, i) => {
      w.tag(TENSOR_SHAPE.dim, LEN).fork();
      if (d >= 0) w.tag(TENSOR_SHAPE_DIM.dimValue, VARINT).int64(d);
      else w.tag(TENSOR_SHAPE_DIM.dimParam, LEN).string(`${v.name}_dim${i}`);
      w.join();
    });
    w.join();
  }
  w.join();
  w.join();
}
