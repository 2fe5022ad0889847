/** Topological order of the nodes a set of roots needs, with cycle detection. */
import { EdgeflowError } from "../errors.ts";
import type { Node, Output } from "../graph.ts";

/** A loop's back edge: a NextIteration feeding a Merge (the one kind of cycle a graph may have). */
export function isBackEdge(consumer: Node, input: Output): boolean {
  return consumer.op.controlFlow === "Merge" && input.node.op.controlFlow === "NextIteration";
}

/**
 * The nodes `roots` depend on (data and control edges), producers first. `stopAt` returns true
 * for an input edge that is cut (a fed tensor). A loop's back edges (NextIteration → Merge) do
 * not order: the NextIteration comes after its Merge, reached as a root of its own. Any other
 * cycle is an EdgeflowError that names it.
 */
export function topologicalOrder(
  roots: readonly Node[],
  stopAt: (o: Output) => boolean = () => false,
  stopAtNode: (n: Node) => boolean = () => false,
): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, 1 | 2>(); // 1: on the current path, 2: done
  const path: Node[] = [];
  // Iterative DFS: deep chains (10,000 nodes) would overflow the call stack.
  const stack: { node: Node; next: number; deps: Node[] }[] = [];
  const later: Node[] = [];
  const push = (node: Node) => {
    state.set(node, 1);
    path.push(node);
    const deps = [
      ...node.inputs.filter((o) => {
        if (stopAt(o)) return false;
        if (!isBackEdge(node, o)) return true;
        later.push(o.node);
        return false;
      }).map((o) => o.node),
      ...node.controlInputs.filter((n) => !stopAtNode(n)),
    ];
    stack.push({ node, next: 0, deps });
  };
  const all = [...roots];
  for (let r = 0; r < all.length || later.length > 0; r++) {
    if (r >= all.length) all.push(...later.splice(0));
    const root = all[r];
    if (state.has(root)) continue;
    push(root);
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (top.next < top.deps.length) {
        const dep = top.deps[top.next++];
        const s = state.get(dep);
        if (s === 1) throw cycleError(path, dep);
        if (s === undefined) push(dep);
      } else {
        stack.pop();
        path.pop();
        state.set(top.node, 2);
        order.push(top.node);
      }
    }
  }
  return order;
}

function cycleError(path: Node[], back: Node): EdgeflowError {
  const cycle = path.slice(path.indexOf(back)).map((n) => n.name);
  return new EdgeflowError(`the graph has a cycle: ${[...cycle, back.name].join(" → ")}`, {
    node: back.name,
    op: back.op.name,
  });
}
