/**
 * Just enough of ONNX's protobuf encoding to hand onnxruntime-web the benchmark's graphs: float32
 * inputs and initializers, nodes with int, ints and float attributes. (Edgeflow's own ONNX import
 * is a separate piece; the bench only writes models.)
 */

const encoder = new TextEncoder();

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
function key(field: number, wire: number): number[] {
  return varint(field * 8 + wire);
}
function bytesField(field: number, bytes: ArrayLike<number>): number[] {
  return [...key(field, 2), ...varint(bytes.length), ...Array.from(bytes)];
}
function stringField(field: number, s: string): number[] {
  return bytesField(field, encoder.encode(s));
}
function intField(field: number, v: number): number[] {
  // Negative ints are 10-byte two's complement varints; the bench only needs -1.
  if (v < 0) return [...key(field, 0), 255, 255, 255, 255, 255, 255, 255, 255, 255, 1];
  return [...key(field, 0), ...varint(v)];
}

const FLOAT = 1;

export type Attribute = number | readonly number[] | { float: number };

export interface OnnxNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: Record<string, Attribute>;
}

export interface OnnxGraph {
  inputs: readonly { name: string; shape: readonly number[] }[];
  outputs: readonly { name: string; shape: readonly number[] }[];
  initializers?: readonly { name: string; shape: readonly number[]; data: Float32Array }[];
  nodes: readonly OnnxNode[];
}

function attribute(name: string, a: Attribute): number[] {
  // AttributeProto: name 1, f 2, i 3, ints 8, type 20 (FLOAT 1, INT 2, INTS 7).
  if (typeof a === "number") {
    return [...stringField(1, name), ...intField(3, a), ...intField(20, 2)];
  }
  if ("float" in a) {
    const f = new Uint8Array(new Float32Array([a.float]).buffer);
    return [...stringField(1, name), ...key(2, 5), ...f, ...intField(20, 1)];
  }
  return [
    ...stringField(1, name),
    ...(a as number[]).flatMap((v) => intField(8, v)),
    ...intField(20, 7),
  ];
}

function valueInfo(name: string, shape: readonly number[]): number[] {
  // ValueInfoProto { name 1, type 2 { tensor_type 1 { elem_type 1, shape 2 { dim 1 { value 1 } } } } }
  const dims = shape.flatMap((d) => bytesField(1, intField(1, d)));
  const tensorType = [...intField(1, FLOAT), ...bytesField(2, dims)];
  return [...stringField(1, name), ...bytesField(2, bytesField(1, tensorType))];
}

function tensor(name: string, shape: readonly number[], data: Float32Array): number[] {
  // TensorProto: dims 1, data_type 2, name 8, raw_data 9.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return [
    ...shape.flatMap((d) => intField(1, d)),
    ...intField(2, FLOAT),
    ...stringField(8, name),
    ...bytesField(9, raw),
  ];
}

function node(n: OnnxNode): number[] {
  // NodeProto: input 1, output 2, op_type 4, attribute 5.
  return [
    ...n.inputs.flatMap((s) => stringField(1, s)),
    ...n.outputs.flatMap((s) => stringField(2, s)),
    ...stringField(4, n.op),
    ...Object.entries(n.attrs ?? {}).flatMap(([k, v]) => bytesField(5, attribute(k, v))),
  ];
}

/** A ModelProto (IR version 8, opset 17) holding `g`. */
export function onnxModel(g: OnnxGraph): Uint8Array {
  // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
  const graph = [
    ...g.nodes.flatMap((n) => bytesField(1, node(n))),
    ...stringField(2, "bench"),
    ...(g.initializers ?? []).flatMap((t) => bytesField(5, tensor(t.name, t.shape, t.data))),
    ...g.inputs.flatMap((i) => bytesField(11, valueInfo(i.name, i.shape))),
    ...g.outputs.flatMap((o) => bytesField(12, valueInfo(o.name, o.shape))),
  ];
  // ModelProto: ir_version 1, graph 7, opset_import 8 { domain 1, version 2 }.
  const opset = [...stringField(1, ""), ...intField(2, 17)];
  return new Uint8Array([...intField(1, 8), ...bytesField(8, opset), ...bytesField(7, graph)]);
}
