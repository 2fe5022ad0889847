/**
 * An Edgeflow graph as a tfjs graph model (model.json and one weight shard), what
 * tensorflowjs_converter writes and @tensorflow/tfjs-converter's loadGraphModel reads: the
 * GraphDef in TensorFlow's JSON mapping with each Const's value moved into the shard.
 */
import { EdgeflowError } from "../../errors.ts";
import type { Graph, Output } from "../../graph.ts";
import type { Tensor } from "../../tensor.ts";
import { type NodeDefJson, toGraphDef } from "../graphdef_json.ts";
import { dtypeToJson, shapeToJson } from "../tensor_proto.ts";

/** The dtypes tfjs keeps as they are in weight shards (its other dtypes are no Edgeflow's). */
const WEIGHT_DTYPES = new Set(["float32", "int32", "bool"]);
export const SHARD_NAME = "group1-shard1of1.bin";

export interface GraphModelExportOptions {
  /** Tensors ("node:0") the signature lists as outputs; default: every output no node reads. */
  outputs?: readonly string[];
}

/** The model's files: "model.json" and its one shard. */
export function toGraphModel(
  graph: Graph,
  options: GraphModelExportOptions = {},
): Record<string, Uint8Array> {
  const def = toGraphDef(graph);
  const weights: { name: string; shape: number[]; dtype: string }[] = [];
  const data: Uint8Array[] = [];
  const bad: string[] = [];
  const node = (def.node ?? []).map((n): NodeDefJson => {
    if (n.op !== "Const") return n;
    const t = graph.node(n.name).attrs.value as Tensor;
    if (!WEIGHT_DTYPES.has(t.dtype)) {
      bad.push(`'${n.name}' (${t.dtype})`);
      return n;
    }
    weights.push({ name: n.name, shape: t.shape.slice(), dtype: t.dtype });
    const d = t.data as ArrayBufferView;
    data.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    const value = { tensor: { dtype: dtypeToJson(t.dtype), tensorShape: shapeToJson(t.shape) } };
    return { ...n, attr: { ...n.attr, value } };
  });
  if (bad.length > 0) {
    throw new EdgeflowError(
      `a tfjs graph model holds float32, int32 and bool weights; these Consts are not: ${
        bad.join(", ")
      }`,
    );
  }
  const outputs = options.outputs?.map((n) => graph.tensor(n)) ?? unread(graph);
  const side = (o: Output) => ({
    name: o.name,
    dtype: dtypeToJson(o.dtype),
    tensorShape: shapeToJson(o.shape),
  });
  const placeholders = graph.nodes.filter((n) => n.op.name === "Placeholder");
  const json = {
    format: "graph-model",
    generatedBy: "edgeflow",
    convertedBy: "edgeflow",
    modelTopology: { ...def, node },
    weightsManifest: [{ paths: [SHARD_NAME], weights }],
    signature: {
      inputs: Object.fromEntries(placeholders.map((n) => [n.name, side(n.outputs[0])])),
      outputs: Object.fromEntries(outputs.map((o) => [o.node.name, side(o)])),
    },
  };
  const shard = new Uint8Array(data.reduce((a, d) => a + d.byteLength, 0));
  let at = 0;
  for (const d of data) {
    shard.set(d, at);
    at += d.byteLength;
  }
  return {
    "model.json": new TextEncoder().encode(JSON.stringify(json)),
    [SHARD_NAME]: shard,
  };
}

/** Writes the model's files into `dir` (each to a temporary name, then renamed). */
export async function saveGraphModel(
  graph: Graph,
  dir: string,
  options: GraphModelExportOptions = {},
): Promise<void> {
  const files = toGraphModel(graph, options);
  // The shard first: a reader that sees the new model.json finds its weights.
  for (const name of [SHARD_NAME, "model.json"]) {
    const tmp = `${dir}/.${name}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, files[name]);
    await Deno.rename(tmp, `${dir}/${name}`);
  }
}

function unread(graph: Graph): Output[] {
  const read = new Set(graph.nodes.flatMap((n) => n.inputs.map((i) => i.node)));
  return graph.nodes.filter((n) => !read.has(n) && n.op.name !== "NoOp").flatMap((n) => n.outputs);
}
