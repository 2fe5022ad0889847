/**
 * TensorFlow's frozen-graph format: a GraphDef serialized as binary protobuf (.pb). Read by
 * transcoding to the JSON mapping and importing with `fromGraphDef`, after the checks a file from
 * outside needs (every unsupported op at once, tensor sizes before allocation).
 */
import type { Graph } from "../../graph.ts";
import { fromGraphDef, toGraphDef } from "../graphdef_json.ts";
import { inFile, openModel, type ReadLimits } from "../model_source.ts";
import { checkTensorSizes, DEFAULT_MAX_TENSOR_BYTES } from "../tensor_limits.ts";
import { checkOpsSupported } from "../unsupported_ops.ts";
import { decodeGraphDef } from "./graphdef_decode.ts";
import { encodeGraphDef } from "./graphdef_encode.ts";

export interface GraphDefBinaryOptions {
  /** How errors name the bytes (a file name); default "GraphDef". */
  file?: string;
  /** The largest tensor attribute, in bytes, the import may allocate (default 1 GiB). */
  maxTensorBytes?: number;
}

/** The graph as a binary GraphDef, the bytes `tf.io.write_graph(..., as_text=False)` writes. */
export function toGraphDefBinary(graph: Graph): Uint8Array {
  return encodeGraphDef(toGraphDef(graph));
}

/** Builds a Graph from a binary GraphDef (a frozen .pb). */
export function fromGraphDefBinary(bytes: Uint8Array, options: GraphDefBinaryOptions = {}): Graph {
  const file = options.file ?? "GraphDef";
  return inFile(file, () => {
    const def = decodeGraphDef(bytes, file, { rawContent: true });
    checkOpsSupported(def.node ?? [], file);
    checkTensorSizes(def, file, options.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES);
    return fromGraphDef(def);
  });
}

/** Reads a binary GraphDef from bytes, a file path or a URL. */
export async function loadGraphDef(
  source: Uint8Array | string | URL,
  options: GraphDefBinaryOptions & ReadLimits = {},
): Promise<Graph> {
  if (source instanceof Uint8Array) return fromGraphDefBinary(source, options);
  const files = await openModel(source, "model.pb", options);
  return fromGraphDefBinary(files.main, { ...options, file: options.file ?? files.mainName });
}
