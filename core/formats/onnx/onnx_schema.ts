/**
 * The subset of ONNX's schema (onnx/onnx.proto, IR version 3 to 9) Edgeflow reads and writes, as
 * field numbers, and the decoded shapes of its messages. Facts only: the codec is onnx_decode.ts /
 * onnx_encode.ts.
 */
export const MODEL_PROTO = {
  irVersion: 1,
  producerName: 2,
  producerVersion: 3,
  domain: 4,
  modelVersion: 5,
  docString: 6,
  graph: 7,
  opsetImport: 8,
  metadataProps: 14,
  functions: 25,
} as const;
export const OPERATOR_SET_ID = { domain: 1, version: 2 } as const;
export const GRAPH_PROTO = {
  node: 1,
  name: 2,
  initializer: 5,
  docString: 10,
  input: 11,
  output: 12,
  valueInfo: 13,
  sparseInitializer: 15,
} as const;
export const NODE_PROTO = {
  input: 1,
  output: 2,
  name: 3,
  opType: 4,
  attribute: 5,
  docString: 6,
  domain: 7,
} as const;
export const ATTRIBUTE_PROTO = {
  name: 1,
  f: 2,
  i: 3,
  s: 4,
  t: 5,
  g: 6,
  floats: 7,
  ints: 8,
  strings: 9,
  tensors: 10,
  graphs: 11,
  docString: 13,
  tp: 14,
  typeProtos: 15,
  type: 20,
  refAttrName: 21,
  sparseTensor: 22,
  sparseTensors: 23,
} as const;
/** AttributeProto.AttributeType. */
export const ATTRIBUTE_TYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;
export const VALUE_INFO = { name: 1, type: 2, docString: 3 } as const;
export const TYPE_PROTO = {
  tensorType: 1,
  sequenceType: 4,
  mapType: 5,
  denotation: 6,
  sparseTensorType: 8,
  optionalType: 9,
} as const;
export const TYPE_TENSOR = { elemType: 1, shape: 2 } as const;
export const TENSOR_SHAPE = { dim: 1 } as const;
export const TENSOR_SHAPE_DIM = { dimValue: 1, dimParam: 2, denotation: 3 } as const;
export const TENSOR_PROTO = {
  dims: 1,
  dataType: 2,
  segment: 3,
  floatData: 4,
  int32Data: 5,
  stringData: 6,
  int64Data: 7,
  name: 8,
  rawData: 9,
  doubleData: 10,
  uint64Data: 11,
  docString: 12,
  externalData: 13,
  dataLocation: 14,
} as const;
export const STRING_STRING_ENTRY = { key: 1, value: 2 } as const;
/** TensorProto.DataLocation. */
export const DATA_LOCATION = { DEFAULT: 0, EXTERNAL: 1 } as const;

/** TensorProto.DataType. */
export const ONNX_DTYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
} as const;

/** The name of a TensorProto.DataType number, for errors ("DOUBLE" rather than 11). */
export function onnxDTypeName(n: number): string {
  return Object.entries(ONNX_DTYPE).find(([, v]) => v === n)?.[0] ?? `data type ${n}`;
}

export interface OnnxTensorProto {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData: number[];
  int32Data: number[];
  int64Data: bigint[];
  doubleData: number[];
  uint64Data: bigint[];
  stringData: Uint8Array[];
  externalData: { key: string; value: string }[];
  dataLocation: number;
  /** Where the tensor sits in the file, for errors ("graph.initializer[3]"). */
  path: string;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: bigint;
  s?: Uint8Array;
  t?: OnnxTensorProto;
  g?: OnnxGraphProto;
  floats: number[];
  ints: bigint[];
  strings: Uint8Array[];
  tensors: OnnxTensorProto[];
  /** The attribute's field path, for errors. */
  path: string;
}

export interface OnnxNodeProto {
  name: string;
  opType: string;
  domain: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
  path: string;
}

/** A tensor type: elem_type, and the dims (a number, or -1 for a symbolic or missing one). */
export interface OnnxValueInfo {
  name: string;
  elemType?: number;
  /** undefined: unknown rank. */
  shape?: number[];
  /** Set when the value is not a tensor (a sequence, map or optional). */
  nonTensor?: string;
}

export interface OnnxGraphProto {
  name: string;
  node: OnnxNodeProto[];
  initializer: OnnxTensorProto[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
  /** Present when the graph has sparse_initializers, which Edgeflow refuses. */
  sparseInitializers: number;
}

export interface OnnxModelProto {
  irVersion: number;
  producerName: string;
  opsetImport: { domain: string; version: number }[];
  graph?: OnnxGraphProto;
  /** Model-local functions: counted, so that nodes calling them are reported. */
  functions: number;
}
