/**
 * freezeGraph: the inference graph of some outputs with every variable read replaced by a Const
 * holding its current value (TensorFlow's convert_variables_to_constants), ready for toGraphDef.
 * Only the nodes the outputs depend on are copied, under their own names; control inputs among
 * them are kept.
 */
import { EdgeflowError } from "../errors.ts";
import { Graph, groupInputs, type Node, type Output } from "../graph.ts";
import { constant } from "../ops/basic.ts";
import type { Session } from "../session.ts";

export interface FrozenGraph {
  readonly graph: Graph;
  /** The frozen graph's outputs, in the order given. */
  readonly outputs: Output[];
}

export async function freezeGraph(
  session: Session,
  outputs: readonly Output[],
): Promise<FrozenGraph> {
  if (outputs.length === 0) throw new EdgeflowError("freezeGraph needs at least one output");
  const source = outputs[0].graph;
  // The nodes the outputs need, in creation order (a topological order).
  const needed = new Set<Node>();
  const stack = outputs.map((o) => o.node);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (needed.has(n)) continue;
    needed.add(n);
    if (n.op.name === "ReadVariableOp") continue;
    for (const i of n.inputs) stack.push(i.node);
    for (const c of n.controlInputs) stack.push(c);
  }
  const reads = source.nodes.filter((n) => needed.has(n) && n.op.name === "ReadVariableOp");
  const values = reads.length > 0 ? await session.run(reads.map((n) => n.outputs[0])) : [];
  const graph = new Graph();
  const copies = new Map<Node, Node>();
  reads.forEach((n, i) => {
    copies.set(n, constant(values[i], { graph, name: `${n.name}/` }).node);
  });
  for (const n of source.nodes) {
    if (!needed.has(n) || copies.has(n)) continue;
    if (n.op.stateful && n.op.name !== "Placeholder" && n.op.name !== "PlaceholderWithDefault") {
      throw new EdgeflowError(
        `cannot freeze a graph whose outputs depend on stateful op ${n.op.name}`,
        { node: n.name, op: n.op.name },
      );
    }
    const inputs = n.inputs.map((i) => copies.get(i.node)!.outputs[i.index]);
    const copy = graph.addNode(n.op, groupInputs(n.op, n.attrs, inputs), n.attrs, {
      name: `${n.name}/`,
      controlInputs: n.controlInputs.filter((c) => copies.has(c)).map((c) => copies.get(c)!),
    });
    copies.set(n, copy);
  }
  return { graph, outputs: outputs.map((o) => copies.get(o.node)!.outputs[o.index]) };
}
