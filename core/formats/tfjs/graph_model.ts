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
import { checkWeightDevice, holdWeights, releaseWeights } from "../device_weights.ts";
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
import {
  dtypeFromJson,
  ownedContent,
  shapeFromJson,
  tensorFromJson,
  type TensorJson,
} from "../tensor_proto.ts";
import { checkOpsSupported } from "../unsupported_ops.ts";
import { type ModelJson, parseModelJson, type SignatureTensorJson } from "./model_json.ts";
import { decodeWeightGroup, ShardStream, type WeightPlacement } from "./weights.ts";

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
  /**
   * Drop the nodes' device requests (default true), as tfjs does: it ignores them, and the
   * converter leaves grappler's "/device:CPU:0" on fused convolutions and MatMuls, which Edgeflow
   * would honour (CPU means WASM) and so run them off a session's chosen device. False keeps
   * them (TensorFlow's `clear_devices=False`).
   */
  clearDevices?: boolean;
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
  const shards = await readShards(model, files);
  // A device still starting is awaited only now: reading the files overlapped its start.
  const device = await options.device;
  if (device) checkWeightDevice(device, "loadGraphModel");
  const placed = new Map<string, { buffer: DeviceBuffer; view: Tensor }>();
  try {
    const weights = decodeWeights(model, files, shards, device && onDevice(device, placed));
    const weightNames = new Set(weights.keys());
    const nodes = attachWeights(model.modelTopology.node ?? [], weights, file);
    weights.clear();
    const graph = inFile(file, () => {
      const def = { ...model.modelTopology, node: nodes };
      checkTensorSizes(def, file, options.maxTensorBytes ?? DEFAULT_MAX_TENSOR_BYTES);
      return fromGraphDef(def);
    });
    if (options.clearDevices !== false) { for (const n of graph.nodes) n.requestedDevice = ""; }
    nodes.length = 0; // the TensorJsons can go before the model is built
    const inputs = signatureSide(graph, model.signature?.inputs, "inputs", file) ??
      graph.nodes.filter((n) => n.op.name === "Placeholder").map(fromNode);
    const outputs = signatureSide(graph, model.signature?.outputs, "outputs", file) ??
      unconsumed(graph).map(fromNode);
    return modelOf(graph, weightNames, placed, inputs, outputs);
  } catch (e) {
    for (const p of placed.values()) release(p.buffer);
    throw e;
  }
}

/**
 * The loaded model; each weight's Const gets the view `adopt` returned (the importer's tensor covers
 * the same bytes, but the device recognises its own view: its upload is the buffer, no copy).
 * Its own function, so that `dispose` closes over nothing of the loading.
 */
function modelOf(
  graph: Graph,
  names: ReadonlySet<string>,
  placed: Map<string, { buffer: DeviceBuffer; view: Tensor }>,
  inputs: SignatureTensor[],
  outputs: SignatureTensor[],
): GraphModel {
  const held: DeviceBuffer[] = [];
  for (const name of names) {
    const p = placed.get(name);
    if (!p) continue;
    (graph.node(name).attrs as { value: Tensor }).value = p.view;
    held.push(p.buffer);
  }
  holdWeights(graph, held);
  return { graph, inputs, outputs, dispose: () => releaseWeights(graph) };
}

/** Each weight group's shard files, in order. */
async function readShards(model: ModelJson, files: ModelFiles): Promise<Uint8Array[][]> {
  const groups: Uint8Array[][] = [];
  for (const [g, group] of model.weightsManifest.entries()) {
    const shards: Uint8Array[] = [];
    for (const [p, shard] of group.paths.entries()) {
      shards.push(await files.read(shard, `weightsManifest[${g}].paths[${p}]`));
    }
    groups.push(shards);
  }
  return groups;
}

/**
 * Weights decoded into one reused host scratch and copied onto `device` (its `adopt`) one by one,
 * so the host never holds more than one decoded weight (mobilenet_v2_mid's 4.3 MB of uint8
 * shards dequantize to 16.4 MiB of float32); the TensorJson keeps the device copy's bytes, which
 * the importer makes the Const's storage without a copy.
 */
function onDevice(
  device: Device,
  placed: Map<string, { buffer: DeviceBuffer; view: Tensor }>,
): WeightPlacement {
  let scratch = new Uint8Array(0);
  return {
    scratch(bytes) {
      if (scratch.byteLength < bytes) {
        scratch = new Uint8Array(Math.max(bytes, 2 * scratch.byteLength));
      }
      return scratch.subarray(0, bytes);
    },
    place(name, t) {
      if (!(t.tensorContent instanceof Uint8Array) || dtypeFromJson(t.dtype) === "string") return t;
      const { buffer, view } = device.adopt!(tensorFromJson(t));
      // A name seen twice is refused later with the file's message; this copy is freed then.
      const twice = placed.get(name);
      if (twice) release(twice.buffer);
      placed.set(name, { buffer, view });
      const data = view.data as ArrayBufferView;
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      return { dtype: t.dtype, tensorShape: t.tensorShape, tensorContent: ownedContent(bytes) };
    },
  };
}

function decodeWeights(
  model: ModelJson,
  files: ModelFiles,
  shards: Uint8Array[][],
  placement?: WeightPlacement,
): Map<string, TensorJson> {
  const all = new Map<string, TensorJson>();
  for (const [g, group] of model.weightsManifest.entries()) {
    const path = `weightsManifest[${g}]`;
    const where = group.paths.map(files.nameOf).join(" + ") || `${files.mainName} ${path}`;
    const stream = new ShardStream(shards[g]);
    for (const [name, tensor] of decodeWeightGroup(group, stream, path, where, placement)) {
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
