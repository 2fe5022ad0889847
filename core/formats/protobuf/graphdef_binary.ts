/**
 * TensorFlow's frozen-graph format: a GraphDef serialized as binary protobuf (.pb). Read by
 * transcoding to the JSON mapping and importing with `fromGraphDef`, after the checks a file from
 * outside needs (every unsupported op at once, tensor sizes before allocation).
 */
import type { Device } from "../../device.ts";
import type { Graph } from "../../graph.ts";
import { checkWeightDevice, placeGraphWeights } from "../device_weights.ts";
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
  /**
   * A device with host-addressable memory (WASM, TPU) to hold the weights, as loadGraphModel's
   * `device`: every Const is decoded onto it once (after folding what a Session would fold) and
   * the graph's Consts view it there, so no host copy remains and a Session given this device
   * (`devices: [device]`) runs on them in place. `releaseWeights(graph)` frees them.
   */
  device?: Device;
}

/** loadGraphDef's options: the device may still be starting (awaited once the file is read). */
export interface LoadGraphDefOptions extends Omit<GraphDefBinaryOptions, "device">, ReadLimits {
  device?: Device | Promise<Device>;
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
    if (options.device) checkWeightDevice(options.device, "loadGraphDef");
    const graph = fromGraphDef(def);
    return options.device ? placeGraphWeights(graph, options.device) : graph;
  });
}

/** Reads a binary GraphDef from bytes, a file path or a URL. */
export async function loadGraphDef(
  source: Uint8Array | string | URL,
  options: LoadGraphDefOptions = {},
): Promise<Graph> {
  const files = source instanceof Uint8Array
    ? undefined
    : await openModel(source, "model.pb", options);
  // A device still starting is awaited only now: reading the file overlapped its start.
  const device = await options.device;
  const file = options.file ?? files?.mainName;
  return fromGraphDefBinary(files?.main ?? source as Uint8Array, { ...options, file, device });
}
