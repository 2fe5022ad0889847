/** What a graph pass takes and gives: a graph in topological order, and how outputs map. */
import type { Graph, Node, Output } from "../graph.ts";

export interface PassInput {
  readonly graph: Graph;
  /** The graph's nodes in topological order. */
  readonly nodes: readonly Node[];
  /** Outputs the pass must bind as they are (none so far; kept for symmetry with copyNodes). */
  readonly bound?: ReadonlyMap<Output, Output>;
}

export interface PassResult {
  readonly graph: Graph;
  map(o: Output): Output;
  mapNode(n: Node): Node;
}
