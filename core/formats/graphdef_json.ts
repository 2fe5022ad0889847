/**
 * GraphDef in TensorFlow's protobuf JSON mapping: what `json_format.MessageToJson(graph_def)`
 * writes and what tfjs graph models carry as modelTopology.
 */
import { EdgeflowError, withContext } from "../errors.ts";
import { Graph, type Node, type Output } from "../graph.ts";
import type { Attrs, AttrSpec, AttrValue } from "../op.ts";
import { defaultOpRegistry, type OpRegistry } from "../ops/registry.ts";
import {
  attrFromJson,
  type AttrJson,
  attrToJson,
  colocationFromJson,
  colocationToJson,
} from "./attr_json.ts";
import { addInTopologicalOrder } from "./graphdef_order.ts";
import {
  type AddNodeDef,
  FUNCTIONAL_OPS,
  functionLibrary,
  importNode,
  realNode,
} from "./functional_control_flow.ts";
import { HARMLESS_ATTRS } from "./harmless_attrs.ts";
import { badField, isJsonObject, jsonList, jsonObject, jsonString } from "./json_value.ts";
import { describeValue, Tensor } from "../tensor.ts";

export interface NodeDefJson {
  name: string;
  op: string;
  input?: string[];
  device?: string;
  attr?: Record<string, AttrJson>;
}
export interface GraphDefJson {
  node?: NodeDefJson[];
  versions?: { producer?: number; minConsumer?: number; badConsumers?: number[] };
  library?: unknown;
}

/** The GraphDef version TensorFlow 2.15 writes; tools read `producer` to pick compatibility shims. */
const PRODUCER = 1645;

export function toGraphDef(graph: Graph): GraphDefJson {
  return { node: graph.nodes.map(nodeToJson), versions: { producer: PRODUCER, minConsumer: 12 } };
}

function nodeToJson(node: Node): NodeDefJson {
  const specs = node.op.attrs as Record<string, AttrSpec<AttrValue>>;
  const attr: Record<string, AttrJson> = {};
  for (const [k, v] of Object.entries(node.attrs as Attrs)) attr[k] = attrToJson(specs[k].kind, v);
  if (node.colocation.length > 0) attr._class = colocationToJson(node.colocation);
  const json: NodeDefJson = { name: node.name, op: node.op.name };
  const inputs = [...node.inputs.map(tensorName), ...node.controlInputs.map((c) => `^${c.name}`)];
  if (inputs.length > 0) json.input = inputs;
  if (node.requestedDevice) json.device = node.requestedDevice;
  if (Object.keys(attr).length > 0) json.attr = attr;
  return json;
}

function tensorName(o: Output): string {
  return o.index === 0 ? o.node.name : `${o.node.name}:${o.index}`;
}

/** Builds a Graph from GraphDef JSON (ops looked up in `ops`); nodes may come in any order. */
export function fromGraphDef(
  def: GraphDefJson,
  graph = new Graph(),
  ops: OpRegistry = defaultOpRegistry,
): Graph {
  // The value usually comes from JSON.parse of a user's file: refuse what is not a GraphDef
  // before reading it, rather than importing nothing or failing inside a loop.
  if (typeof def !== "object" || def === null || Array.isArray(def)) {
    throw new EdgeflowError(`a GraphDef is a JSON object with a 'node' list, not ${typeof def}`);
  }
  if (def.node !== undefined && !Array.isArray(def.node)) {
    throw new EdgeflowError("a GraphDef's 'node' must be a list of NodeDefs");
  }
  const defs = def.node ?? [];
  const byName = new Map<string, NodeDefJson>();
  defs.forEach((n, i) => {
    checkNodeDef(n, i);
    if (byName.has(n.name)) {
      throw new EdgeflowError(`two GraphDef nodes are named '${n.name}'`, {
        node: n.name,
        op: n.op,
      });
    }
    byName.set(n.name, n);
  });
  const library = functionLibrary(def.library);
  const add: AddNodeDef = (n, lookup) => addNode(graph, ops, n, lookup);
  addInTopologicalOrder(
    defs,
    byName,
    (n, lookup) =>
      FUNCTIONAL_OPS.has(n.op) ? importNode(graph, n, add, library, lookup) : add(n, lookup),
  );
  return graph;
}

/**
 * Checks a NodeDef's fields before anything reads them: a name and op that are non-empty
 * strings, `input` a list of tensor names, `device` a string, `attr` an object. Errors name the
 * node (or its index when it has no name) and the field.
 */
function checkNodeDef(n: unknown, index: number): asserts n is NodeDefJson {
  if (!isJsonObject(n)) {
    throw new EdgeflowError(`GraphDef node ${index} must be an object, got ${describeValue(n)}`);
  }
  if (typeof n.name !== "string" || n.name === "" || typeof n.op !== "string" || n.op === "") {
    throw new EdgeflowError(
      `GraphDef node ${index} needs a non-empty string 'name' and 'op', got ${
        JSON.stringify(n).slice(0, 200)
      }`,
    );
  }
  const context = { node: n.name, op: n.op };
  withContext(context, () => {
    jsonList(n.input, "field 'input'").forEach((input, i) => {
      if (typeof input !== "string" || input === "" || input === "^") {
        throw badField(`field 'input'[${i}]`, `must be a tensor name, got ${describeValue(input)}`);
      }
    });
    if (n.device !== undefined) jsonString(n.device, "field 'device'");
    if (n.attr !== undefined) jsonObject(n.attr, "field 'attr'");
  });
}

function addNode(
  graph: Graph,
  ops: OpRegistry,
  n: NodeDefJson,
  lookup: (name: string) => Node,
): Node {
  return withContext({ node: n.name, op: n.op }, () => {
    const op = ops.get(n.op, n.name);
    const specs = op.attrs as Record<string, AttrSpec<AttrValue>>;
    // A null-prototype map: attribute names from the file ("__proto__", "constructor") are data.
    const attrs: Attrs = Object.create(null);
    let colocation: string[] = [];
    for (const k of Object.keys(n.attr ?? {})) {
      const v = (n.attr as Record<string, unknown>)[k];
      if (k === "_class") colocation = colocationFromJson(v);
      // TensorFlow's internal attrs (_output_shapes, ...) are skipped; "__proto__" is not one.
      else if (k.startsWith("_") && k !== "__proto__") continue;
      else if (!Object.hasOwn(specs, k)) {
        const harmless = Object.hasOwn(HARMLESS_ATTRS, k) ? HARMLESS_ATTRS[k] : undefined;
        if (!harmless) {
          throw new EdgeflowError(`has attribute '${k}', which ${op.name} does not define`);
        }
        // Parsed (so a malformed value is still an error), then dropped where it changes nothing.
        if (!harmless.harmless(attrFromJson(harmless.kind, v, k))) {
          throw new EdgeflowError(
            `has attribute '${k}', which ${op.name} does not define and which Edgeflow accepts ` +
              `only where it changes nothing: ${harmless.why}`,
          );
        }
      } else attrs[k] = attrFromJson(specs[k].kind, v, k);
    }
    checkConstDType(op.name, attrs);
    const data: Output[] = [];
    const control: Node[] = [];
    for (const input of n.input ?? []) {
      if (input.startsWith("^")) control.push(realNode(lookup(input.slice(1))));
      else {
        const [name, index] = splitTensorName(input);
        const producer = lookup(name);
        if (index >= producer.outputs.length) {
          throw new EdgeflowError(
            `input '${input}': node '${name}' has ${producer.outputs.length} outputs`,
          );
        }
        data.push(producer.outputs[index]);
      }
    }
    const grouped = groupByCounts(op.inputs, attrs, data, n.name);
    const node = graph.addNode(op, grouped, attrs, {
      name: n.name,
      controlInputs: control,
      device: n.device ?? "",
    });
    // A name ending in "/" is taken exactly (inlined function bodies name their nodes so).
    if (node.name !== n.name.replace(/\/$/, "")) {
      throw new EdgeflowError(`name '${n.name}' is already taken in the target graph`);
    }
    node.colocation = colocation;
    return node;
  });
}

/** A Const's dtype attr must be its value's dtype: an int32 label over float data is refused. */
function checkConstDType(op: string, attrs: Attrs): void {
  if (op !== "Const" || attrs.dtype === undefined || !(attrs.value instanceof Tensor)) return;
  if (attrs.dtype !== attrs.value.dtype) {
    throw new EdgeflowError(
      `attr 'dtype' says ${attrs.dtype} but attr 'value' holds a ${attrs.value.dtype} tensor`,
    );
  }
}

function splitTensorName(s: string): [string, number] {
  const m = /^(.*):(\d+)$/.exec(s);
  return m ? [m[1], Number(m[2])] : [s, 0];
}

/** Splits flat inputs over list inputs using the count attrs (or the leftover count when absent). */
function groupByCounts(
  specs: readonly { numberAttr?: string; typeListAttr?: string }[],
  attrs: Attrs,
  flat: Output[],
  node: string,
) {
  const single = specs.filter((s) => !s.numberAttr && !s.typeListAttr).length;
  const grouped: (Output | Output[])[] = [];
  let i = 0;
  for (const spec of specs) {
    if (spec.numberAttr || spec.typeListAttr) {
      const given = spec.numberAttr
        ? attrs[spec.numberAttr] as number | undefined
        : (attrs[spec.typeListAttr!] as readonly string[] | undefined)?.length;
      const n = given ?? flat.length - single;
      grouped.push(flat.slice(i, i + n));
      i += n;
    } else grouped.push(flat[i++]);
  }
  if (i !== flat.length || grouped.some((g) => g === undefined)) {
    throw new EdgeflowError(`has ${flat.length} inputs, its op expects ${specs.length}`, { node });
  }
  return grouped;
}
