/**
 * ONNX export of graphs with TensorFlow 1 control flow (what `cond` and `whileLoop` build, or a
 * GraphDef's Switch/Merge/Enter/Exit): each cond becomes an If, each loop frame a Loop.
 *
 * Values are emitted on demand into regions, one per ONNX (sub)graph: a cond's Merges are found
 * from their Switches' predicate (searched backward, passing nested conds and loops), its branch
 * nodes are those reached backward from the Merge inputs up to the Switches on that predicate
 * (whose outputs stand for the outer value in the branch); a loop is found from an Exit, its
 * variables as Enter → Merge → Switch(LoopCond) → Exit with the NextIteration feeding the Merge,
 * its invariants as constant Enters. ONNX's Loop tests its condition before the first iteration
 * only through the `cond` input, so the loop's condition is emitted twice: on the initial values
 * in the enclosing graph, and on the next values at the end of the body.
 */
import { EdgeflowError } from "../../errors.ts";
import { constantValue, type Graph, type Node, type Output } from "../../graph.ts";
import type { Tensor } from "../../tensor.ts";
import type { OnnxNodeOut, OnnxSubgraphOut, OnnxValueOut } from "./onnx_encode.ts";
import { Exporter, type ExportFn, valueName } from "./onnx_export_context.ts";
import { dtypeToOnnx } from "./onnx_tensor.ts";

/** One ONNX (sub)graph being written, or a renamed copy inside one (`suffix`). */
interface Region {
  ex: Exporter;
  /** The region a subgraph reads outer values from (undefined: the model's graph). */
  parent?: Region;
  /** Appended to the names of the values this region computes (a second copy of them). */
  suffix: string;
  /** Values that stand for other regions' (a branch's Switch output: the outer value). */
  leaf?: (o: Output) => string | undefined;
}

/** What the control-flow export needs from the graph: consumers, and per cond merge its pred. */
class Structure {
  private readonly readers = new Map<Node, Node[]>();
  private readonly preds = new Map<Node, Output | null>();

  constructor(readonly graph: Graph) {
    for (const n of graph.nodes) {
      for (const i of n.inputs) {
        const list = this.readers.get(i.node) ?? [];
        list.push(n);
        this.readers.set(i.node, list);
      }
    }
  }

  consumers(n: Node): Node[] {
    return this.readers.get(n) ?? [];
  }

  /** The predicate a cond's Merge joins the branches of (undefined: not a cond's Merge). */
  predOf(merge: Node): Output | undefined {
    if (!this.preds.has(merge)) this.preds.set(merge, findPred(merge) ?? null);
    return this.preds.get(merge) ?? undefined;
  }

  /** Every cond Merge on `pred`, in graph order. */
  mergesOn(pred: Output): Node[] {
    return this.graph.nodes.filter((n) =>
      n.op.controlFlow === "Merge" && !isLoopMerge(n) && this.predOf(n) === pred
    );
  }
}

function isLoopMerge(m: Node): boolean {
  return m.inputs.some((i) =>
    i.node.op.controlFlow === "NextIteration" || i.node.op.controlFlow === "Enter"
  );
}

function isLoopSwitch(s: Node): boolean {
  return s.inputs[1].node.op.controlFlow === "LoopCond";
}

/**
 * Backward from a Merge's inputs (and control inputs: a branch's Consts hang on its pivot) to the
 * first Switch not paired with a nested cond's Merge on the way; loops on the way are passed from
 * Exit to Enter.
 */
function findPred(merge: Node): Output | undefined {
  const stack: [Node, number][] = [];
  const push = (n: Node, depth: number) => stack.push([n, depth]);
  for (const i of merge.inputs) push(i.node, 0);
  for (const c of merge.controlInputs) push(c, 0);
  const seen = new Set<string>();
  while (stack.length > 0) {
    const [n, depth] = stack.pop()!;
    const key = `${n.id}:${depth}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let inputs: Node[] = [...n.inputs.map((i) => i.node), ...n.controlInputs];
    let next = depth;
    switch (n.op.controlFlow) {
      case "Switch":
        if (isLoopSwitch(n)) inputs = [n.inputs[0].node];
        else if (depth === 0) return n.inputs[1];
        else next = depth - 1;
        break;
      case "Merge":
        if (isLoopMerge(n)) inputs = [n.inputs[0].node];
        else next = depth + 1;
        break;
      case "NextIteration":
        continue;
    }
    for (const i of inputs) push(i, next);
  }
  return undefined;
}

function valueInfo(name: string, o: Output): OnnxValueOut {
  dtypeToOnnx(o.dtype);
  return { name, dtype: o.dtype, shape: o.shape };
}

/** Builds the ONNX graph of `outputs` with Ifs and Loops for the conds and loops they need. */
export function exportWithControlFlow(
  graph: Graph,
  outputs: readonly Output[],
  exporters: Readonly<Record<string, ExportFn>>,
): {
  nodes: OnnxNodeOut[];
  initializers: { name: string; value: Tensor }[];
  inputs: OnnxValueOut[];
  outputs: OnnxValueOut[];
} {
  const s = new Structure(graph);
  const top: Region = { ex: new Exporter(), suffix: "" };
  const constants = new Set<string>();
  const fail = (n: Node, why: string) =>
    new EdgeflowError(`ONNX export: ${why}`, { node: n.name, op: n.op.name });

  const emit = (r: Region, o: Output): string => {
    const name = valueName(o);
    let known = r.ex.names.get(name);
    if (known === undefined && r.leaf) {
      known = r.leaf(o);
      // Stored, for the exporters' `in()`.
      if (known !== undefined) r.ex.names.set(name, known);
    }
    if (known !== undefined) return known;
    const n = o.node;
    if (n.op.name === "Const") {
      if (!constants.has(name)) {
        constants.add(name);
        top.ex.initializer(name, constantValue(o)!);
      }
      return name;
    }
    if (n.op.name === "Placeholder") {
      if (r.parent || r.suffix) {
        // A Placeholder is the model's input: its name reads the same from any subgraph.
        return emit(top, o);
      }
      top.ex.inputs.push(valueInfo(name, o));
      top.ex.names.set(name, name);
      return name;
    }
    switch (n.op.controlFlow) {
      case "Exit":
        emitLoop(r, n);
        break;
      case "Merge":
        if (isLoopMerge(n)) throw fail(n, "a loop variable read outside its loop's body and cond");
        emitIf(r, n);
        break;
      case undefined: {
        const fn = exporters[n.op.name];
        if (!fn) throw fail(n, `${n.op.name} has no ONNX form`);
        for (const i of n.inputs) emit(r, i);
        for (const out of n.outputs) r.ex.names.set(valueName(out), valueName(out) + r.suffix);
        r.ex.node = n;
        fn(r.ex, n);
        break;
      }
      default:
        throw fail(n, `a ${n.op.name} outside the cond or loop structure Edgeflow builds`);
    }
    const got = r.ex.names.get(name);
    if (got === undefined) throw fail(n, `output ${o.index} has no ONNX form`);
    return got;
  };

  /** A region for a subgraph of `r` (its own nodes) or a renamed copy in `r` (`suffix`). */
  const child = (r: Region, suffix?: string): Region => {
    const ex = new Exporter();
    ex.counter = r.ex.counter;
    ex.names = new Map(r.ex.names);
    if (suffix !== undefined) {
      ex.nodes = r.ex.nodes;
      return { ex, parent: r.parent, suffix: r.suffix + suffix, leaf: r.leaf };
    }
    return { ex, parent: r, suffix: "", leaf: r.leaf };
  };

  const identity = (r: Region, from: string, to: string) =>
    r.ex.nodes.push({ op: "Identity", name: to, inputs: [from], outputs: [to] });

  const emitIf = (r: Region, merge: Node) => {
    const pred = s.predOf(merge);
    if (!pred) throw fail(merge, "a Merge whose cond's Switches were not found");
    const merges = s.mergesOn(pred);
    const p = emit(r, pred);
    const branch = (side: 0 | 1): OnnxSubgraphOut => {
      const b = child(r);
      const outer = r;
      b.leaf = (o) => {
        const n = o.node;
        if (n.op.controlFlow !== "Switch" || n.inputs[1] !== pred) return outer.leaf?.(o);
        if (o.index !== side) throw fail(n, "a branch reads the other branch's side of a Switch");
        return emit(outer, n.inputs[0]);
      };
      const outs = merges.map((m, k) => {
        const v = emit(b, m.inputs[side]);
        const out = `${m.name}/${side ? "then" : "else"}_${k}${r.suffix}`;
        identity(b, v, out);
        return valueInfo(out, m.inputs[side]);
      });
      return {
        name: `${merge.name}/${side ? "then" : "else"}`,
        nodes: b.ex.nodes,
        initializers: [],
        inputs: [],
        outputs: outs,
      };
    };
    const thenBranch = branch(1), elseBranch = branch(0);
    const names = merges.map((m) => valueName(m.outputs[0]) + r.suffix);
    merges.forEach((m, k) => r.ex.names.set(valueName(m.outputs[0]), names[k]));
    r.ex.nodes.push({
      op: "If",
      name: `${merge.name}/if${r.suffix}`,
      inputs: [p],
      outputs: names,
      attrs: { then_branch: { graph: thenBranch }, else_branch: { graph: elseBranch } },
    });
  };

  const emitLoop = (r: Region, exit: Node) => {
    const sw = exit.inputs[0].node;
    const loopCond = sw.inputs[1].node;
    const first = sw.inputs[0].node.inputs[0].node;
    if (loopCond.op.controlFlow !== "LoopCond" || first.op.controlFlow !== "Enter") {
      throw fail(exit, "an Exit whose loop is not Enter → Merge → Switch(LoopCond) → Exit");
    }
    const frame = String(first.attrs.frame_name);
    const enters = s.graph.nodes.filter((n) =>
      n.op.controlFlow === "Enter" && n.attrs.frame_name === frame
    );
    const invariants = enters.filter((e) => e.attrs.is_constant);
    const vars = enters.filter((e) => !e.attrs.is_constant).map((e) => {
      const merge = s.consumers(e).find((n) => n.op.controlFlow === "Merge");
      const swi = merge &&
        s.consumers(merge).find((n) =>
          n.op.controlFlow === "Switch" && n.inputs[1].node === loopCond
        );
      const ex = swi && s.consumers(swi).find((n) => n.op.controlFlow === "Exit");
      const next = merge?.inputs[1]?.node;
      if (!merge || !swi || !ex || next?.op.controlFlow !== "NextIteration") {
        throw fail(
          e,
          `a variable of loop '${frame}' without its Merge, Switch, Exit or NextIteration`,
        );
      }
      return { enter: e, merge, sw: swi, exit: ex, next };
    });
    const outerNames = invariants.map((c) => emit(r, c.inputs[0]));
    const alias = (region: Region, values: readonly string[]) => {
      invariants.forEach((c, k) => region.ex.names.set(valueName(c.outputs[0]), outerNames[k]));
      vars.forEach((v, k) => region.ex.names.set(valueName(v.merge.outputs[0]), values[k]));
    };
    // The condition on the initial values, in the enclosing graph.
    const initial = vars.map((v) => emit(r, v.enter.inputs[0]));
    const init = child(r, `/${frame}/initial`);
    alias(init, initial);
    const cond0 = emit(init, loopCond.inputs[0]);
    // The body: (iteration, condition, variables...) → (condition on the next values, next...).
    const body = child(r);
    const params = vars.map((_, k) => `${frame}/var_${k}${r.suffix}`);
    alias(body, params);
    vars.forEach((v, k) => body.ex.names.set(valueName(v.sw.outputs[1]), params[k]));
    const next = vars.map((v) => emit(body, v.next.inputs[0]));
    const again = child(body, `/${frame}/next`);
    alias(again, next);
    const cond1 = emit(again, loopCond.inputs[0]);
    const condOut = `${frame}/cond_out${r.suffix}`;
    identity(body, cond1, condOut);
    const outs = next.map((n, k) => {
      const out = `${frame}/var_${k}_out${r.suffix}`;
      identity(body, n, out);
      return valueInfo(out, vars[k].merge.outputs[0]);
    });
    const bodyGraph: OnnxSubgraphOut = {
      name: `${frame}/body`,
      nodes: body.ex.nodes,
      initializers: [],
      inputs: [
        { name: `${frame}/iteration${r.suffix}`, dtype: "int64", shape: [] },
        { name: `${frame}/cond_in${r.suffix}`, dtype: "bool", shape: [] },
        ...vars.map((v, k) => valueInfo(params[k], v.merge.outputs[0])),
      ],
      outputs: [{ name: condOut, dtype: "bool", shape: [] }, ...outs],
    };
    const results = vars.map((v) => valueName(v.exit.outputs[0]) + r.suffix);
    vars.forEach((v, k) => r.ex.names.set(valueName(v.exit.outputs[0]), results[k]));
    r.ex.nodes.push({
      op: "Loop",
      name: `${frame}/loop${r.suffix}`,
      inputs: ["", cond0, ...initial],
      outputs: results,
      attrs: { body: { graph: bodyGraph } },
    });
  };

  const names = outputs.map((o) => emit(top, o));
  const nodes = [...top.ex.nodes];
  // A requested output an earlier node's value stands for (a Placeholder, a renamed value).
  const graphOutputs = outputs.map((o, i) => {
    const want = valueName(o);
    if (names[i] !== want) {
      nodes.push({ op: "Identity", name: want, inputs: [names[i]], outputs: [want] });
    }
    return valueInfo(want, o);
  });
  const used = new Set<string>();
  const collect = (list: readonly OnnxNodeOut[]) => {
    for (const n of list) {
      n.inputs.forEach((i) => used.add(i));
      for (const v of Object.values(n.attrs ?? {})) {
        if (typeof v === "object" && v !== null && "graph" in v) collect(v.graph.nodes);
      }
    }
  };
  collect(nodes);
  outputs.forEach((o) => used.add(valueName(o)));
  return {
    nodes,
    initializers: top.ex.initializers.filter((t) => used.has(t.name)),
    inputs: top.ex.inputs,
    outputs: graphOutputs,
  };
}

/** Whether exporting `nodes` needs the control-flow export. */
export function hasControlFlow(nodes: readonly Node[]): boolean {
  return nodes.some((n) => n.op.controlFlow !== undefined);
}
