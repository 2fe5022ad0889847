/**
 * ONNX models (opsets up to 21) as Edgeflow graphs: initializers become Const nodes (the
 * weights, resident on their device once a session places them), graph inputs Placeholders,
 * and each graph output an Identity named after it. Every op Edgeflow does not map is listed in
 * one error before anything is built; external data is read only from the model's directory.
 */
import type { Device } from "../../device.ts";
import { EdgeflowError, withContext } from "../../errors.ts";
import { Graph, type Output } from "../../graph.ts";
import type { Tensor } from "../../tensor.ts";
import {
  inFile,
  type ModelFiles,
  type ModelSource,
  openModel,
  type ReadLimits,
} from "../model_source.ts";
import { DEFAULT_MAX_TENSOR_BYTES } from "../tensor_limits.ts";
import { checkWeightDevice, placeGraphWeights, releaseWeights } from "../device_weights.ts";
import { getOp } from "../../ops/registry.ts";
import type { SignatureTensor } from "../tfjs/graph_model.ts";
import { editDistance } from "../unsupported_ops.ts";
import { OnnxNodeContext, sanitizeName } from "./onnx_context.ts";
import { decodeOnnxModel } from "./onnx_decode.ts";
import { isMappedOnnxOp, ONNX_MAPPERS, onnxMapper } from "./onnx_ops.ts";
import { CONTROL_MAPPERS } from "./onnx_ops_control.ts";
import { allOnnxGraphs, allOnnxNodes, onnxSubgraphs } from "./onnx_subgraph.ts";
import { toNchwWithTwin, twinInputs } from "./onnx_layout.ts";
import {
  DATA_LOCATION,
  type OnnxGraphProto,
  type OnnxModelProto,
  type OnnxTensorProto,
} from "./onnx_schema.ts";
import { dtypeFromOnnx, OnnxUnsupportedError, tensorFromOnnx } from "./onnx_tensor.ts";

/** The opsets this importer knows: the ops' meanings through opset 21. */
export const MAX_ONNX_OPSET = 21;

export interface OnnxModel {
  graph: Graph;
  /** The graph inputs to feed: key is the ONNX name, name the Placeholder's tensor. */
  inputs: SignatureTensor[];
  /** The graph outputs: key is the ONNX name, name the tensor to fetch. */
  outputs: SignatureTensor[];
  /** The model's version of the default domain. */
  opset: number;
  /**
   * Releases the weights held on `OnnxModelOptions.device` (nothing otherwise); the graph's
   * weights are views of them, so the graph must not run after this.
   */
  dispose(): void;
}

export interface OnnxModelOptions extends ReadLimits {
  /** How errors name the model (default: its path or URL, or "model.onnx"). */
  file?: string;
  /** The largest tensor the model may hold, in bytes (default 1 GiB). */
  maxTensorBytes?: number;
  /**
   * Graph inputs bound to values: they become Const nodes, as if the model had them as
   * initializers (for arguments Edgeflow takes as attributes, such as Slice's bounds).
   */
  constantInputs?: Readonly<Record<string, Tensor>>;
  /**
   * A device with host-addressable memory (WASM, TPU) to hold the weights, as loadGraphModel's
   * `device`: the initializers (in the layout the kernels read: the weight transposes a Session
   * would fold are folded first) are copied there once and the graph's Consts view them, so no
   * host copy remains and a Session given this device runs on them in place. `dispose` frees
   * them. loadOnnxModel takes a promise too: it reads the files while the device starts.
   */
  device?: Device | Promise<Device>;
}

/** Reads an ONNX model from bytes, a file path or a URL (external data beside it). */
export async function loadOnnxModel(
  source: Uint8Array | ModelSource,
  options: OnnxModelOptions = {},
): Promise<OnnxModel> {
  if (source instanceof Uint8Array) {
    return fromOnnxBinary(source, { ...options, device: await options.device });
  }
  const files = await openModel(source, "model.onnx", options);
  const file = options.file ?? files.mainName;
  const proto = inFile(file, () => decodeOnnxModel(files.main, file));
  await resolveExternalData(proto, files, file, options.maxFileBytes);
  return buildModel(proto, { ...options, file, device: await options.device });
}

/** Builds a graph from ModelProto bytes; a model with external data needs `loadOnnxModel`. */
export function fromOnnxBinary(
  bytes: Uint8Array,
  options: OnnxModelOptions & { device?: Device } = {},
): OnnxModel {
  const file = options.file ?? "model.onnx";
  const proto = inFile(file, () => decodeOnnxModel(bytes, file));
  return buildModel(proto, { ...options, file });
}

function buildModel(
  proto: OnnxModelProto,
  options: OnnxModelOptions & { file: string; device?: Device },
): OnnxModel {
  if (options.device) checkWeightDevice(options.device, "loadOnnxModel");
  const model = buildGraph(proto, options);
  if (!options.device) return { ...model, dispose: () => {} };
  const graph = inFile(options.file, () => placeGraphWeights(model.graph, options.device!));
  return { ...model, graph, dispose: () => releaseWeights(graph) };
}

function buildGraph(
  proto: OnnxModelProto,
  options: OnnxModelOptions & { file: string },
): Omit<OnnxModel, "dispose"> {
  const file = options.file;
  const maxBytes = options.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES;
  return inFile(file, () => {
    const g = proto.graph;
    if (!g) throw new EdgeflowError(`${file}: the model has no graph`);
    checkOnnxOpsSupported(g, file);
    const opset = defaultOpset(proto, g, file);
    if (g.sparseInitializers > 0) {
      throw new OnnxUnsupportedError(`${file}: graph.sparse_initializer is not supported`);
    }
    const graph = new Graph();
    const values = new Map<string, Output>();
    const constNode = (t: Tensor, name: string) =>
      graph.addNode(
        constOp(),
        [],
        { value: t, dtype: t.dtype },
        { name: sanitizeName(name) },
      ).outputs[0];
    for (const t of g.initializer) {
      values.set(t.name, constNode(tensorFromOnnx(t, file, maxBytes), t.name));
    }
    const inputs: OnnxModel["inputs"] = [];
    for (const [i, v] of g.input.entries()) {
      if (values.has(v.name)) continue; // an initializer with a default (IR < 4 lists both)
      const bound = options.constantInputs?.[v.name];
      if (bound) {
        values.set(v.name, constNode(bound, v.name));
        continue;
      }
      if (v.nonTensor) {
        throw new OnnxUnsupportedError(
          `${file}: graph.input[${i}] '${v.name}' is a ${v.nonTensor}`,
        );
      }
      const dtype = dtypeFromOnnx(v.elemType ?? 0, `${file}: graph.input[${i}] '${v.name}'`);
      const shape = v.shape ?? null;
      const ph = graph.addNode(placeholderOp(), [], { dtype, shape }, {
        name: sanitizeName(v.name),
      });
      values.set(v.name, ph.outputs[0]);
      inputs.push({ key: v.name, name: ph.outputs[0].name, dtype, shape: shape ?? undefined });
    }
    for (const node of g.node) mapNode(graph, node, opset, file, values, maxBytes);
    const outputs = g.output.map((v, i) => {
      const o = values.get(v.name);
      if (!o) {
        throw new EdgeflowError(`${file}: graph.output[${i}] '${v.name}' is computed by no node`);
      }
      const id = graph.addNode(identityOp(), [o], {}, { name: sanitizeName(v.name) });
      const out = id.outputs[0];
      return { key: v.name, name: out.name, dtype: out.dtype, shape: out.shape ?? undefined };
    });
    return { graph, inputs, outputs, opset };
  });
}

const constOp = () => getOp("Const");
const placeholderOp = () => getOp("Placeholder");
const identityOp = () => getOp("Identity");

function mapNode(
  graph: Graph,
  node: OnnxGraphProto["node"][number],
  opset: number,
  file: string,
  /** The names in scope: the graph's, or a subgraph's OnnxScope over its enclosing ones. */
  values: Map<string, Output>,
  maxBytes: number,
): void {
  const where = { node: node.name || node.output[0] || node.path, op: node.opType };
  const inputs = node.input.map((name, i) => {
    if (name === "") return undefined;
    const o = values.get(name);
    if (!o) {
      throw new EdgeflowError(
        `${file}: ${node.path}.input[${i}] '${name}' is no graph input, initializer or earlier node's output`,
        where,
      );
    }
    return o;
  });
  for (const a of node.attribute) {
    if (a.name === "broadcast" || a.name === "consumed_inputs") {
      throw new OnnxUnsupportedError(
        `${file}: ${node.path}: attribute '${a.name}' (opset < 7 semantics)`,
        where,
      );
    }
  }
  const mapper = onnxMapper(node.domain ?? "", node.opType);
  const control = mapper ? undefined : CONTROL_MAPPERS.get(node.opType);
  // A layout-free op on NHWC twins stays in NHWC (onnx_layout.ts), its result transposed once.
  const twins = twinInputs(node.opType, inputs, node.output);
  const c = new OnnxNodeContext(graph, node, opset, file, twins ?? inputs, maxBytes);
  const outs = withContext(where, () => {
    // If, Loop and Scan map their subgraphs' nodes with this function, in a nested scope.
    const out = control
      ? control(
        c,
        onnxSubgraphs(
          values,
          (g, nodes, scope) => {
            for (const n of nodes) mapNode(g, n, opset, file, scope, maxBytes);
          },
          file,
          node.path,
          where,
          maxBytes,
        ),
      )
      : mapper!(c);
    if (!twins) return out;
    return out.slice(0, 1).map((o) => o && (o.shape?.length === 4 ? toNchwWithTwin(c, o) : o));
  });
  node.output.forEach((name, i) => {
    if (name === "") return;
    const o = outs[i];
    if (!o) {
      throw new OnnxUnsupportedError(`${file}: ${node.path}: output ${i} ('${name}')`, where);
    }
    values.set(name, o);
  });
}

function defaultOpset(proto: OnnxModelProto, g: OnnxGraphProto, file: string): number {
  const entry = proto.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx");
  if (!entry) {
    // A model of other domains' ops alone (the training optimizers) needs no default opset.
    const usesDefault = [...allOnnxNodes(g)].some((n) => !n.domain || n.domain === "ai.onnx");
    if (!usesDefault) return MAX_ONNX_OPSET;
    throw new EdgeflowError(`${file}: opset_import has no entry for the default domain`);
  }
  if (entry.version < 1 || entry.version > MAX_ONNX_OPSET) {
    throw new OnnxUnsupportedError(
      `${file}: opset_import version ${entry.version}: Edgeflow reads opsets 1 to ${MAX_ONNX_OPSET}`,
    );
  }
  return entry.version;
}

/**
 * One error naming every op of the graph Edgeflow does not map, with its nodes and the nearest
 * mapped op by name (ops in other domains, such as com.microsoft, are named with their domain).
 */
export function checkOnnxOpsSupported(g: OnnxGraphProto, file: string): void {
  const missing = new Map<string, string[]>();
  // Subgraphs' nodes (If's branches, Loop's and Scan's bodies) included.
  [...allOnnxNodes(g)].forEach((n, i) => {
    if (isMappedOnnxOp(n.domain, n.opType)) return;
    const key = n.domain && n.domain !== "ai.onnx" ? `${n.domain}.${n.opType}` : n.opType;
    const users = missing.get(key) ?? [];
    users.push(n.name || n.output[0] || `node[${i}]`);
    missing.set(key, users);
  });
  if (missing.size === 0) return;
  const lines = [...missing].map(([op, users]) => {
    const shown = users.slice(0, 5).map((u) => `'${u}'`).join(", ");
    const more = users.length > 5 ? ` and ${users.length - 5} more` : "";
    const near = nearestOnnxOp(op);
    return `  ${op} (${users.length === 1 ? "node" : "nodes"} ${shown}${more})${
      near ? `; nearest: ${near}` : ""
    }`;
  });
  throw new OnnxUnsupportedError(
    `${file} uses ${missing.size} ONNX op${missing.size === 1 ? "" : "s"} Edgeflow does not map:\n${
      lines.join("\n")
    }`,
  );
}

function nearestOnnxOp(op: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(op.length / 3)) + 1;
  for (const name of ONNX_MAPPERS.keys()) {
    const d = editDistance(op.toLowerCase(), name.toLowerCase(), bestDistance);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Reads every tensor's external data (confined to the model's directory) into its raw_data. */
async function resolveExternalData(
  proto: OnnxModelProto,
  files: ModelFiles,
  file: string,
  maxFileBytes?: number,
): Promise<void> {
  const cache = new Map<string, Uint8Array>();
  for (const t of externalTensors(proto)) {
    const field = `${t.path}.external_data`;
    const entry = (k: string) => t.externalData.find((e) => e.key === k)?.value;
    const location = entry("location");
    if (location === undefined) throw new EdgeflowError(`${file}: ${field} has no location`);
    let bytes = cache.get(location);
    if (!bytes) {
      bytes = await files.read(location, `${field} location`);
      if (maxFileBytes !== undefined && bytes.byteLength > maxFileBytes) {
        throw new EdgeflowError(`${file}: ${field} '${location}' is over the byte limit`);
      }
      cache.set(location, bytes);
    }
    const offset = Number(entry("offset") ?? 0);
    const length = entry("length") === undefined
      ? bytes.byteLength - offset
      : Number(entry("length"));
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
      offset + length > bytes.byteLength
    ) {
      throw new EdgeflowError(
        `${file}: ${field} offset ${entry("offset")} and length ${
          entry("length")
        } fall outside '${location}' (${bytes.byteLength} bytes)`,
      );
    }
    t.rawData = bytes.subarray(offset, offset + length);
  }
}

function externalTensors(proto: OnnxModelProto): OnnxTensorProto[] {
  const out: OnnxTensorProto[] = [];
  const g = proto.graph;
  if (!g) return out;
  for (const sub of allOnnxGraphs(g)) {
    for (const t of sub.initializer) if (t.dataLocation === DATA_LOCATION.EXTERNAL) out.push(t);
    for (const n of sub.node) {
      for (const a of n.attribute) {
        if (a.t?.dataLocation === DATA_LOCATION.EXTERNAL) out.push(a.t);
      }
    }
  }
  return out;
}

export type { ModelSource };
