/**
 * The subset of TensorFlow's GraphDef schema Edgeflow reads and writes, as field numbers
 * (tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,versions}.proto),
 * and the JSON-mapping shapes of the parts the JSON importer's types leave out (func,
 * placeholder, list(tensor)). Facts only: the codec is graphdef_decode.ts / graphdef_encode.ts.
 */
import type { AttrJson } from "../attr_json.ts";
import type { TensorJson } from "../tensor_proto.ts";

export const GRAPH_DEF = { node: 1, library: 2, version: 3, versions: 4 } as const;
export const VERSION_DEF = { producer: 1, minConsumer: 2, badConsumers: 3 } as const;
export const NODE_DEF = { name: 1, op: 2, input: 3, device: 4, attr: 5 } as const;
/** A map<string, V> field is a repeated message of key = 1, value = 2. */
export const MAP_ENTRY = { key: 1, value: 2 } as const;
/**
 * The value fields AttrValue and its ListValue number alike: attr_value.proto gives ListValue's
 * repeated fields the numbers of AttrValue's singular ones.
 */
const VALUE_FIELDS = { s: 2, i: 3, f: 4, b: 5, type: 6, shape: 7, tensor: 8 } as const;
export const ATTR_VALUE = { list: 1, ...VALUE_FIELDS, placeholder: 9, func: 10 } as const;
export const LIST_VALUE = { ...VALUE_FIELDS, func: 9 } as const;
export const NAME_ATTR_LIST = { name: 1, attr: 2 } as const;
export const TENSOR_PROTO = {
  dtype: 1,
  tensorShape: 2,
  versionNumber: 3,
  tensorContent: 4,
  floatVal: 5,
  doubleVal: 6,
  intVal: 7,
  stringVal: 8,
  scomplexVal: 9,
  int64Val: 10,
  boolVal: 11,
  dcomplexVal: 12,
  halfVal: 13,
  resourceHandleVal: 14,
  variantVal: 15,
  uint32Val: 16,
  uint64Val: 17,
} as const;
export const TENSOR_SHAPE = { dim: 2, unknownRank: 3 } as const;
export const TENSOR_SHAPE_DIM = { size: 1, name: 2 } as const;

/** NameAttrList in the JSON mapping: a function and the attrs it is instantiated with. */
export interface NameAttrListJson {
  name?: string;
  attr?: Record<string, AttrValueJson>;
}

/** AttrValue in the JSON mapping, with every case of its oneof. */
export interface AttrValueJson extends Omit<AttrJson, "list"> {
  placeholder?: string;
  func?: NameAttrListJson;
  list?: AttrJson["list"] & { tensor?: TensorJson[]; func?: NameAttrListJson[] };
}
