/**
 * Partial execution: copy just what the fetches and targets need. A fed tensor cuts off its
 * producer; in the copy it becomes a Placeholder the session fills.
 */
import type { Graph, Node, Output } from "../graph.ts";
import { Placeholder } from "../ops/basic.ts";
import { copyNodes, newGraphLike } from "./copy.ts";
import { topologicalOrder } from "./topo.ts";

export interface Pruned {
  readonly graph: Graph;
  /** Feed placeholders in the copy, in the order of `feeds`. */
  readonly feeds: readonly Node[];
  readonly fetches: readonly Output[];
  readonly targets: readonly Node[];
}

export function prune(
  source: Graph,
  fetches: readonly Output[],
  feeds: readonly Output[],
  targets: readonly Node[],
): Pruned {
  const fed = new Set(feeds);
  // A fed Placeholder is replaced whole: its control edges leave from the feed instead (TensorFlow's
  // FeedInputs does the same; converters write `^input` on constants that follow the input).
  const fedPlaceholders = new Set(
    feeds.filter((o) => o.node.op === Placeholder && o.index === 0).map((o) => o.node),
  );
  const roots = [...fetches.filter((o) => !fed.has(o)).map((o) => o.node), ...targets];
  const order = topologicalOrder(roots, (o) => fed.has(o), (n) => fedPlaceholders.has(n));
  const graph = newGraphLike(source);
  const bound = new Map<Output, Output>();
  const boundNodes = new Map<Node, Node>();
  const feedNodes = feeds.map((o) => {
    // A fed Placeholder keeps its name, so errors about it read as the user wrote the graph.
    const name = o.node.op === Placeholder && o.index === 0
      ? o.node.name
      : `_feed/${o.node.name}_${o.index}`;
    const node = graph.addNode(Placeholder, [], { dtype: o.dtype, shape: o.shape }, { name });
    bound.set(o, node.outputs[0]);
    if (fedPlaceholders.has(o.node)) boundNodes.set(o.node, node);
    return node;
  });
  const copy = copyNodes(order, graph, bound, undefined, boundNodes);
  return {
    graph,
    feeds: feedNodes,
    fetches: fetches.map(copy.map),
    targets: targets.map(copy.mapNode),
  };
}
