/**
 * TensorFlow 2's functional control flow in a GraphDef: If/StatelessIf and While/StatelessWhile
 * nodes name their branches, condition and body as functions of the GraphDef's library. Import
 * inlines them with `cond` and `whileLoop` (TensorFlow's lower_control_flow pass does the same:
 * functional ops become Switch/Merge/Enter/Exit), so the executor runs them like TensorFlow 1's.
 */
import { EdgeflowError, withContext } from "../errors.ts";
import type { Graph, Node, Output } from "../graph.ts";
import { cond, whileLoop } from "../control_flow/builders.ts";
import { NoOp } from "../ops/basic.ts";
import { toOutput } from "../ops/build.ts";
import { identity } from "../ops/basic.ts";
import type { NodeDefJson } from "./graphdef_json.ts";
import { isJsonObject } from "./json_value.ts";

interface ArgDefJson {
  name: string;
}
/** A FunctionDef in the JSON mapping (camelCase, or the proto's snake_case field names). */
export interface FunctionDefJson {
  signature: { name: string; inputArg?: ArgDefJson[]; outputArg?: ArgDefJson[] };
  nodeDef?: NodeDefJson[];
  ret?: Record<string, string>;
}

export const FUNCTIONAL_OPS = new Set(["If", "StatelessIf", "While", "StatelessWhile"]);

/** Reads the library's functions by name (either JSON spelling of the fields). */
export function functionLibrary(library: unknown): Map<string, FunctionDefJson> {
  const out = new Map<string, FunctionDefJson>();
  if (library === undefined) return out;
  if (!isJsonObject(library)) throw new EdgeflowError("a GraphDef's 'library' must be an object");
  const list = (library.function ?? []) as unknown[];
  if (!Array.isArray(list)) throw new EdgeflowError("the library's 'function' must be a list");
  for (const raw of list) {
    if (!isJsonObject(raw) || !isJsonObject(raw.signature)) {
      throw new EdgeflowError("a library function needs a 'signature'");
    }
    const s = raw.signature as Record<string, unknown>;
    const fn: FunctionDefJson = {
      signature: {
        name: String(s.name),
        inputArg: (s.inputArg ?? s.input_arg ?? []) as ArgDefJson[],
        outputArg: (s.outputArg ?? s.output_arg ?? []) as ArgDefJson[],
      },
      nodeDef: (raw.nodeDef ?? raw.node_def ?? []) as NodeDefJson[],
      ret: (raw.ret ?? {}) as Record<string, string>,
    };
    out.set(fn.signature.name, fn);
  }
  return out;
}

/** What imports one NodeDef (graphdef_json.ts's addNode), with a lookup by graph node name. */
export type AddNodeDef = (def: NodeDefJson, lookup: (name: string) => Node) => Node;

/** A function's name from a `func` attr ({ func: { name } }). */
function funcName(n: NodeDefJson, attr: string): string {
  const v = (n.attr as Record<string, unknown> | undefined)?.[attr] as
    | { func?: { name?: string } }
    | undefined;
  const name = v?.func?.name;
  if (typeof name !== "string") throw new EdgeflowError(`attr '${attr}' must name a function`);
  return name;
}

/**
 * Adds the function's nodes, reading `args`, under a unique name scope; returns its results.
 * Inputs inside a FunctionDef are "arg", "node:output_arg:index" or "^node".
 */
function instantiate(
  graph: Graph,
  fn: FunctionDefJson,
  args: readonly Output[],
  add: AddNodeDef,
  library: Map<string, FunctionDefJson>,
): Output[] {
  const params = fn.signature.inputArg ?? [];
  if (params.length !== args.length) {
    throw new EdgeflowError(
      `function '${fn.signature.name}' takes ${params.length} arguments, got ${args.length}`,
    );
  }
  const byArg = new Map(params.map((p, i) => [p.name, args[i]]));
  const defs = new Map((fn.nodeDef ?? []).map((d) => [d.name, d]));
  const built = new Map<string, Node>();
  // Names are exact (a trailing "/"), under the builders' current scope.
  const outer = graph.scopeName;
  const scope = graph.uniqueName(outer ? `${outer}/${fn.signature.name}` : fn.signature.name);
  const tensorName = (input: string): string => {
    if (input.startsWith("^")) {
      const n = built.get(input.slice(1));
      if (!n) throw new EdgeflowError(`function input '${input}' names no node of the function`);
      return `^${n.name}`;
    }
    const parts = input.split(":");
    if (parts.length === 1) {
      const a = byArg.get(parts[0]);
      if (a) return `${a.node.name}:${a.index}`;
    }
    const node = built.get(parts[0]);
    if (!node) throw new EdgeflowError(`function input '${input}' names no argument or node`);
    // An inlined functional op: its results by position.
    if ((node as { __node?: Node }).__node) return node.outputs[Number(parts.at(-1))].name;
    if (parts.length === 2) return `${node.name}:${parts[1]}`;
    // "node:output_arg:index": the output arg's position among the op's outputs, plus index.
    let flat = 0;
    for (const spec of node.op.outputs) {
      const count = spec.numberAttr ? Number(node.attrs[spec.numberAttr]) : 1;
      if (spec.name === parts[1]) return `${node.name}:${flat + Number(parts[2] ?? 0)}`;
      flat += count;
    }
    throw new EdgeflowError(
      `function input '${input}': ${node.op.name} has no output '${parts[1]}'`,
    );
  };
  const visit = (name: string, path: Set<string>) => {
    if (built.has(name)) return;
    const d = defs.get(name)!;
    if (path.has(name)) throw new EdgeflowError(`function '${fn.signature.name}' has a cycle`);
    path.add(name);
    for (const i of d.input ?? []) {
      const dep = i.replace(/^\^/, "").split(":")[0];
      if (defs.has(dep) && !byArg.has(i)) visit(dep, path);
    }
    path.delete(name);
    const copy: NodeDefJson = {
      ...d,
      name: `${scope}/${d.name}/`,
      input: (d.input ?? []).map(tensorName),
    };
    built.set(name, importNode(graph, copy, add, library));
  };
  for (const name of defs.keys()) visit(name, new Set());
  return (fn.signature.outputArg ?? []).map((o) => {
    const r = fn.ret?.[o.name];
    if (r === undefined) {
      throw new EdgeflowError(`function '${fn.signature.name}' returns no '${o.name}'`);
    }
    return graph.tensor(tensorName(r));
  });
}

/** Imports one NodeDef: a functional If/While is inlined, any other node added as it is. */
export function importNode(
  graph: Graph,
  n: NodeDefJson,
  add: AddNodeDef,
  library: Map<string, FunctionDefJson>,
  lookup: (name: string) => Node = (name) => graph.node(name),
): Node {
  if (!FUNCTIONAL_OPS.has(n.op)) return add(n, lookup);
  return withContext({ node: n.name, op: n.op }, () => {
    const tensor = (i: string): Output => {
      const m = /^(.*?)(?::(\d+))?$/.exec(i)!;
      const out = lookup(m[1]).outputs[Number(m[2] ?? 0)];
      if (!out) throw new EdgeflowError(`input '${i}' is not an output of ${m[1]}`);
      return out;
    };
    const data = (n.input ?? []).filter((i) => !i.startsWith("^")).map(tensor);
    const control = (n.input ?? []).filter((i) => i.startsWith("^")).map((i) =>
      realNode(lookup(i.slice(1)))
    );
    const fn = (attr: string) => {
      const f = library.get(funcName(n, attr));
      if (!f) throw new EdgeflowError(`function '${funcName(n, attr)}' is not in the library`);
      return f;
    };
    const run = (): Output[] => {
      if (n.op === "If" || n.op === "StatelessIf") {
        const [pred, ...args] = data;
        const p = pred.dtype === "bool" ? pred : graph.asDefault(() => toOutput(graph, pred));
        return cond(
          p,
          () => instantiate(graph, fn("then_branch"), args, add, library),
          () => instantiate(graph, fn("else_branch"), args, add, library),
          { name: n.name },
        );
      }
      const attrs = n.attr as Record<string, { i?: string | number }> | undefined;
      const parallel = Number(attrs?.parallel_iterations?.i ?? 10);
      return whileLoop(
        (...vars) => instantiate(graph, fn("cond"), vars, add, library)[0],
        (...vars) => instantiate(graph, fn("body"), vars, add, library),
        data,
        // TensorFlow 2 checks shapes when tracing: here the loop variables' shapes may vary.
        { parallelIterations: parallel, name: n.name, shapeInvariants: data.map(() => null) },
      );
    };
    const results = graph.withControlDependencies(control, run).map((o, i) =>
      identity(o, { name: `${n.name}/output_${i}` })
    );
    // The node the rest of the GraphDef names: a NoOp after every result (for "^name"), whose
    // outputs read as the results ("name:i").
    const done = graph.addNode(NoOp, [], {}, {
      name: `${n.name}/`,
      controlInputs: results,
    });
    return Object.create(done, { outputs: { value: results }, __node: { value: done } });
  });
}

/** The graph node behind what importNode returned (the NoOp of an inlined functional op). */
export function realNode(n: Node): Node {
  return (n as Node & { __node?: Node }).__node ?? n;
}
