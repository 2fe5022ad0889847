/**
 * A tfjs graph model's model.json, parsed and checked field by field: the GraphDef (in
 * TensorFlow's JSON mapping) as modelTopology, the weights manifest, and the signature. Each
 * error names the file and the field, e.g. "model.json: weightsManifest[0].weights[3].shape".
 */
import { EdgeflowError } from "../../errors.ts";
import type { GraphDefJson } from "../graphdef_json.ts";
import type { ShapeJson } from "../tensor_proto.ts";

/** How tfjs stores a weight: its own dtype, or quantized to a narrower one. */
export type WeightDType = "float32" | "int32" | "bool" | "string";
export type QuantizedDType = "uint8" | "uint16" | "float16";

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: WeightDType;
  /** Stored as `dtype` here; uint8/uint16 values mean `q * scale + min`. */
  quantization?: { dtype: QuantizedDType; min: number; scale: number };
}
export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}
export interface SignatureTensorJson {
  name?: string;
  dtype?: string | number;
  tensorShape?: ShapeJson;
}
export interface ModelJson {
  modelTopology: GraphDefJson;
  weightsManifest: WeightGroup[];
  signature?: {
    inputs?: Record<string, SignatureTensorJson>;
    outputs?: Record<string, SignatureTensorJson>;
  };
}

const WEIGHT_DTYPES = new Set<string>(["float32", "int32", "bool", "string"]);
const QUANTIZED_DTYPES = new Set<string>(["uint8", "uint16", "float16"]);

export function parseModelJson(bytes: Uint8Array, file: string): ModelJson {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new EdgeflowError(`${file} is not JSON: ${e instanceof Error ? e.message : e}`);
  }
  const at = (path: string, why: string) => new EdgeflowError(`${file}: ${path} ${why}`);
  const root = object(json, "the model", at);
  if (root.format === "layers-model" || isKerasTopology(root.modelTopology)) {
    throw at(
      "format",
      "is a tfjs layers model; Edgeflow loads graph models (tensorflowjs_converter " +
        "--output_format=tfjs_graph_model)",
    );
  }
  const topology = object(root.modelTopology, "modelTopology", at);
  if (topology.node !== undefined && !Array.isArray(topology.node)) {
    throw at("modelTopology.node", "is not a list of NodeDefs");
  }
  const initializer = root.modelInitializer as { node?: unknown[] } | undefined;
  if (Array.isArray(initializer?.node) && initializer.node.length > 0) {
    throw at(
      "modelInitializer",
      "holds an initializer graph (hash tables); Edgeflow does not run model initializers",
    );
  }
  const manifest = root.weightsManifest ?? [];
  if (!Array.isArray(manifest)) throw at("weightsManifest", "is not a list");
  return {
    modelTopology: topology as GraphDefJson,
    weightsManifest: manifest.map((g, i) => weightGroup(g, `weightsManifest[${i}]`, at)),
    signature: root.signature === undefined || root.signature === null
      ? undefined
      : signature(root.signature, at),
  };
}

type At = (path: string, why: string) => EdgeflowError;

function object(v: unknown, path: string, at: At): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw at(path, "is not an object");
  return v as Record<string, unknown>;
}

function isKerasTopology(v: unknown): boolean {
  return typeof v === "object" && v !== null && ("class_name" in v || "model_config" in v);
}

function weightGroup(v: unknown, path: string, at: At): WeightGroup {
  const g = object(v, path, at);
  if (!Array.isArray(g.paths) || g.paths.some((p) => typeof p !== "string")) {
    throw at(`${path}.paths`, "is not a list of file paths");
  }
  if (!Array.isArray(g.weights)) throw at(`${path}.weights`, "is not a list");
  return {
    paths: g.paths as string[],
    weights: g.weights.map((w, i) => weightSpec(w, `${path}.weights[${i}]`, at)),
  };
}

function weightSpec(v: unknown, path: string, at: At): WeightSpec {
  const w = object(v, path, at);
  if (typeof w.name !== "string") throw at(`${path}.name`, "is not a string");
  const shape = w.shape;
  if (
    !Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)
  ) {
    throw at(`${path}.shape`, `of '${w.name}' is not a list of sizes: ${JSON.stringify(shape)}`);
  }
  if (typeof w.dtype !== "string" || !WEIGHT_DTYPES.has(w.dtype)) {
    throw at(
      `${path}.dtype`,
      `of '${w.name}' is ${
        JSON.stringify(w.dtype)
      }; tfjs weights are float32, int32, bool or string`,
    );
  }
  const spec: WeightSpec = {
    name: w.name,
    shape: shape as number[],
    dtype: w.dtype as WeightDType,
  };
  if (w.quantization !== undefined && w.quantization !== null) {
    const q = object(w.quantization, `${path}.quantization`, at);
    if (typeof q.dtype !== "string" || !QUANTIZED_DTYPES.has(q.dtype)) {
      throw at(
        `${path}.quantization.dtype`,
        `of '${w.name}' is ${JSON.stringify(q.dtype)}; tfjs quantizes to uint8, uint16 or float16`,
      );
    }
    const linear = q.dtype !== "float16";
    // Which stored dtype fits which weight dtype follows tfjs's decodeWeight.
    if (linear ? spec.dtype !== "float32" && spec.dtype !== "int32" : spec.dtype !== "float32") {
      throw at(
        `${path}.quantization`,
        `${q.dtype} cannot hold the ${spec.dtype} weight '${w.name}'`,
      );
    }
    if (linear && !(Number.isFinite(q.min) && Number.isFinite(q.scale))) {
      throw at(`${path}.quantization`, `of '${w.name}' needs finite numbers 'min' and 'scale'`);
    }
    spec.quantization = {
      dtype: q.dtype as QuantizedDType,
      min: linear ? q.min as number : 0,
      scale: linear ? q.scale as number : 1,
    };
  }
  return spec;
}

function signature(v: unknown, at: At): ModelJson["signature"] {
  const s = object(v, "signature", at);
  const side = (key: "inputs" | "outputs") => {
    if (s[key] === undefined) return undefined;
    const entries = object(s[key], `signature.${key}`, at);
    for (const [name, info] of Object.entries(entries)) {
      const t = object(info, `signature.${key}['${name}']`, at);
      if (t.name !== undefined && typeof t.name !== "string") {
        throw at(`signature.${key}['${name}'].name`, "is not a tensor name");
      }
    }
    return entries as Record<string, SignatureTensorJson>;
  };
  return { inputs: side("inputs"), outputs: side("outputs") };
}
