/**
 * Copying nodes into a new graph, optionally rewriting each one: the mechanism prune, constant
 * folding and CSE share. Names, requested devices and colocation are kept.
 */
import { Graph, groupInputs, type Node, type Output } from "../graph.ts";
import { isBackEdge } from "./topo.ts";

/** Returns the outputs that replace `node` in the copy, or undefined to copy it as it is. */
export type Rewrite = (
  node: Node,
  inputs: Output[],
  control: Node[],
  target: Graph,
) => Output[] | undefined;

export interface Copy {
  readonly graph: Graph;
  /** The copy of an output of the source graph. */
  map(o: Output): Output;
  /** The copy of a node (for targets); a node rewritten away maps to its replacement's node. */
  mapNode(n: Node): Node;
}

/**
 * Copies `nodes` (in topological order) into `target`. `bound` supplies outputs already present in
 * the target (feeds) in place of source outputs; `boundNodes` likewise for control inputs (a fed
 * Placeholder's control edges leave from its feed, as in TensorFlow's FeedInputs).
 */
export function copyNodes(
  nodes: readonly Node[],
  target: Graph,
  bound: ReadonlyMap<Output, Output> = new Map(),
  rewrite?: Rewrite,
  boundNodes: ReadonlyMap<Node, Node> = new Map(),
): Copy {
  const outputs = new Map<Node, readonly Output[]>();
  const nodeMap = new Map<Node, Node>(boundNodes);
  const map = (o: Output): Output => bound.get(o) ?? outputs.get(o.node)![o.index];
  // A loop's back edge comes from a NextIteration copied after its Merge: the Merge is copied
  // reading its first input there, and the edge is set once the NextIteration exists.
  const backEdges: { merge: Node; source: Node; index: number }[] = [];
  for (const node of nodes) {
    const inputs = node.inputs.map((o, i) => {
      if (bound.has(o) || outputs.has(o.node) || !isBackEdge(node, o)) return map(o);
      backEdges.push({ merge: node, source: node, index: i });
      return map(node.inputs.find((x) => !isBackEdge(node, x))!);
    });
    const control = node.controlInputs.map((c) => nodeMap.get(c)!).filter((c) => c !== undefined);
    const replaced = rewrite?.(node, inputs, control, target);
    if (replaced) {
      outputs.set(node, replaced);
      nodeMap.set(node, replaced[0]?.node ?? node);
      continue;
    }
    const copy = copyNode(node, inputs, control, target);
    outputs.set(node, copy.outputs);
    nodeMap.set(node, copy);
    let merge = false;
    for (const b of backEdges) {
      if (b.source === node) [b.merge, merge] = [copy, true];
    }
    // The Merge keeps the shapes it had (a shape invariant may have relaxed them) before
    // anything reading it is copied: inferred from its first input only, a loop variable's
    // shape would read as its initial one (and a Shape of it would fold to that).
    if (merge) target.setOutputSpecs(copy, node.outputSpecs);
  }
  for (const { merge, source, index } of backEdges) {
    target.updateInput(merge, index, map(source.inputs[index]));
  }
  return { graph: target, map, mapNode: (n) => nodeMap.get(n)! };
}

export function copyNode(node: Node, inputs: Output[], control: Node[], target: Graph): Node {
  const copy = target.addNode(node.op, groupInputs(node.op, node.attrs, inputs), node.attrs, {
    name: node.name,
    controlInputs: control,
  });
  copy.requestedDevice = node.requestedDevice;
  copy.colocation = node.colocation;
  return copy;
}

export function newGraphLike(source: Graph): Graph {
  const g = new Graph();
  g.seed = source.seed;
  return g;
}
