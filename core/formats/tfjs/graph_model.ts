/**
 * tfjs graph models (tensorflowjs_converter --output_format=tfjs_graph_model): model.json plus
 * weight shards. The weights become the values of the topology's Const nodes and the whole
 * GraphDef goes through `fromGraphDef`, after the checks a model from outside needs.
 */
import type { DType } from "../../dtype.ts";
import { EdgeflowError } from "../../errors.ts";
import type { Graph, Node } from "../../graph.ts";
import { release } from "../../buffer.ts";
import type { Device, DeviceBuffer } from "../../device.ts";
import type { Tensor } from "../../tensor.ts";
import type { PartialShape } from "../../shape.ts";
import { fromGraphDef, type NodeDefJson } from "../graphdef_json.ts";
import {
  inFile,
  type ModelFiles,
  type ModelSource,
  openModel,
  type ReadLimits,
} from "../model_source.ts";
import { dataTypeNumber } from "../protobuf/data_type.ts";
import { checkTensorSize, checkTensorSizes, DEFAULT_MAX_TENSOR_BYTES } from "../tensor_limits.ts";
import { dtypeFromJson, shapeFromJson, type TensorJson } from "../tensor_proto.ts";
import { checkOpsSupported } from "../unsupported_ops.ts";
import { type ModelJson, parseModelJson, type SignatureTensorJson } from "./model_json.ts";
import { decodeWeightGroup, ShardStream } from "./weights.ts";

/** One input or output of a model's signature. */
export interface SignatureTensor {
  /** The signature's key (e.g. "input_1"); the node name when the model has no signature. */
  key: string;
  /** The graph tensor, e.g. "input_1:0", to feed or fetch in `Session.run`. */
  name: string;
  dtype?: DType;
  shape?: PartialShape;
}

export interface GraphModel {
  graph: Graph;
  inputs: SignatureTensor[];
  outputs: SignatureTensor[];
  /**
   * Releases the weights held on `GraphModelOptions.device` (nothing otherwise); the graph's
   * weights are views of them, so the graph must not run after this.
   */
  dispose(): void;
}

export interface GraphModelOptions extends ReadLimits {
  /** The largest tensor the topology itself may spell out (default 1 GiB). */
  maxTensorBytes?: number;
  /**
   * A device with host-addressable memory (WASM, TPU) to hold the weights: each is copied there once
   * and the graph's Const holds a view of it, so no host copy remains and a Session given this
   * device (`devices: [device]`) runs on the weights in place. Dispose the model to release them.
   * May be a promise of the device: the files are read and parsed while it starts (the WASM
   * device compiles its modules and boots its workers), and it is awaited only to place them.
   */
  device?: Device | Promise<Device>;
}

/**
 * Loads a tfjs graph model from a path to its model.json, a URL of it, or its files in memory
 * ({"model.json": bytes, "group1-shard1of1.bin": bytes, ...}).
 */
export async function loadGraphModel(
  source: ModelSource,
  options: GraphModelOptions = {},
): Promise<GraphModel> {
  const files = await openModel(source, "model.json", options);
  const file = files.mainName;
  const model = parseModelJson(files.main, file);
  // Refuse unsupported ops before reading megabytes of weights for nothing.
  inFile(file, () => checkOpsSupported(model.modelTopology.node ?? [], file));
  const weights = await readWeights(model, files);
  const weightNames = new Set(weights.keys());
  const nodes = attachWeights(model.modelTopology.node ?? [], weights, file);
  const graph = inFile(file, () => {
    const def = { ...model.modelTopology, node: nodes };
    checkTensorSizes(def, file, options.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES);
    return fromGraphDef(def);
  });
  // A device still starting is awaited only now: reading and parsing overlapped its start.
  const device = await options.device;
  return inFile(file, () => {
    const resident = device ? placeWeights(graph, weightNames, device) : [];
    return {
      graph,
      dispose: () => resident.splice(0).forEach(release),
      inputs: signatureSide(graph, model.signature?.inputs, "inputs", file) ??
        graph.nodes.filter((n) => n.op.name === "Placeholder").map(fromNode),
      outputs: signatureSide(graph, model.signature?.outputs, "outputs", file) ??
        unconsumed(graph).map(fromNode),
    };
  });
}

async function readWeights(model: ModelJson, files: ModelFiles): Promise<Map<string, TensorJson>> {
  const all = new Map<string, TensorJson>();
  for (const [g, group] of model.weightsManifest.entries()) {
    const path = `weightsManifest[${g}]`;
    const shards: Uint8Array[] = [];
    for (const [p, shard] of group.paths.entries()) {
      shards.push(await files.read(shard, `${path}.paths[${p}]`));
    }
    const where = group.paths.map(files.nameOf).join(" + ") || `${files.mainName} ${path}`;
    for (const [name, tensor] of decodeWeightGroup(group, new ShardStream(shards), path, where)) {
      if (all.has(name)) {
        throw new EdgeflowError(`${files.mainName}: weight '${name}' appears in two groups`);
      }
      all.set(name, tensor);
    }
  }
  return all;
}

/** The topology's nodes with each weight as its Const node's value (the input is not changed). */
function attachWeights(
  nodes: readonly NodeDefJson[],
  weights: Map<string, TensorJson>,
  file: string,
): NodeDefJson[] {
  const out = nodes.map((n) => {
    const tensor = weights.get(n?.name);
    if (!tensor) {
      if (n?.op === "Const") checkHasValue(n, file);
      return n;
    }
    weights.delete(n.name);
    const where = { node: n.name, op: n.op };
    if (n.op !== "Const") {
      throw new EdgeflowError(`${file}: has a weight, but is not a Const node`, where);
    }
    const declared = n.attr?.dtype?.type;
    if (declared !== undefined && dataTypeNumber(declared) !== dataTypeNumber(tensor.dtype)) {
      throw new EdgeflowError(
        `${file}: the node's dtype is ${declared}, its weight's ${tensor.dtype}`,
        where,
      );
    }
    return { ...n, attr: { ...n.attr, dtype: { type: tensor.dtype }, value: { tensor } } };
  });
  const unused = [...weights.keys()];
  if (unused.length > 0) {
    throw new EdgeflowError(
      `${file}: weights ${unused.slice(0, 5).map((w) => `'${w}'`).join(", ")}${
        unused.length > 5 ? ` and ${unused.length - 5} more` : ""
      } name no node of modelTopology`,
    );
  }
  return out;
}

/**
 * Moves each weight's Const value onto `device` (its `adopt`): the node keeps a view of the
 * device's copy and the host copy is dropped. Returns the buffers, for `dispose`.
 */
function placeWeights(graph: Graph, names: ReadonlySet<string>, device: Device): DeviceBuffer[] {
  if (!device.adopt) {
    throw new EdgeflowError(
      `loadGraphModel: the ${device.type} device cannot hold weights the host reads in place ` +
        "(option 'device' takes a device with host-addressable memory: WASM or TPU)",
    );
  }
  const held: DeviceBuffer[] = [];
  for (const name of names) {
    const node = graph.node(name);
    const value = node.attrs.value as Tensor;
    if (value.dtype === "string" || value.size === 0) continue;
    const { buffer, view } = device.adopt(value);
    held.push(buffer);
    (node.attrs as { value: Tensor }).value = view;
  }
  return held;
}

/** A Const without a weight must carry its value in the topology (tfjs writes shapes only). */
function checkHasValue(n: NodeDefJson, file: string): void {
  const t = n.attr?.value?.tensor;
  const has = t && (t.tensorContent || t.floatVal?.length || t.intVal?.length ||
    t.int64Val?.length || t.boolVal?.length || t.halfVal?.length || t.stringVal?.length);
  if (!t || has) return;
  checkTensorSize(t, DEFAULT_MAX_TENSOR_BYTES, `${file}: node '${n.name}'`);
  const empty = (t.tensorShape?.dim ?? []).some((d) => Number(d.size) === 0);
  if (!empty) {
    throw new EdgeflowError(`${file}: the Const has no weight in weightsManifest`, {
      node: n.name,
      op: n.op,
    });
  }
}

function signatureSide(
  graph: Graph,
  side: Record<string, SignatureTensorJson> | undefined,
  what: string,
  file: string,
): SignatureTensor[] | undefined {
  if (!side || Object.keys(side).length === 0) return undefined;
  return Object.entries(side).map(([key, info]) => {
    const name = info.name ?? key;
    try {
      graph.tensor(name);
    } catch {
      throw new EdgeflowError(
        `${file}: signature.${what}['${key}'] names '${name}', not a tensor of the graph`,
      );
    }
    const t: SignatureTensor = { key, name };
    if (info.dtype !== undefined) t.dtype = dtypeFromJson(info.dtype);
    if (info.tensorShape !== undefined) t.shape = shapeFromJson(info.tensorShape);
    return t;
  });
}

function fromNode(n: Node): SignatureTensor {
  const o = n.outputs[0];
  return { key: n.name, name: `${n.name}:0`, dtype: o.dtype, shape: o.shape };
}

/** Nodes with outputs that no node reads: what tfjs takes as outputs without a signature. */
function unconsumed(graph: Graph): Node[] {
  const read = new Set<Node>();
  for (const n of graph.nodes) for (const i of n.inputs) read.add(i.node);
  return graph.nodes.filter((n) => n.outputs.length > 0 && !read.has(n));
}
