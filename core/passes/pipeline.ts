/** The passes a session runs on a pruned graph, in order, each switchable. */
import type { Node, Output } from "../graph.ts";
import type { Pruned } from "./prune.ts";
import { foldConstants } from "./constant_folding.ts";
import { eliminateCommonSubexpressions } from "./cse.ts";
import type { PassResult } from "./pass.ts";
import { topologicalOrder } from "./topo.ts";

export interface PassOptions {
  /** Evaluate all-constant subgraphs once, at plan time (default on). */
  constantFolding?: boolean;
  /** Merge identical stateless nodes (default on). */
  cse?: boolean;
}

export function runPasses(pruned: Pruned, options: PassOptions = {}): Pruned {
  let current = pruned;
  if (options.constantFolding !== false) current = apply(current, foldConstants);
  if (options.cse !== false) current = apply(current, eliminateCommonSubexpressions);
  return current;
}

function apply(
  p: Pruned,
  pass: (input: { graph: Pruned["graph"]; nodes: readonly Node[] }) => PassResult,
): Pruned {
  const roots = [...p.fetches.map((o: Output) => o.node), ...p.targets, ...p.feeds];
  const result = pass({ graph: p.graph, nodes: topologicalOrder(roots) });
  return {
    graph: result.graph,
    feeds: p.feeds.map(result.mapNode),
    fetches: p.fetches.map(result.map),
    targets: p.targets.map(result.mapNode),
  };
}
