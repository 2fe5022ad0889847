/**
 * An executable plan: a placed graph turned into arrays the executor walks without looking at the
 * graph again. Built once per run signature and cached by the session.
 */
import type { Device } from "./device.ts";
import { EdgeflowError } from "./errors.ts";
import type { Node, Output } from "./graph.ts";
import type { Kernel } from "./kernel.ts";
import type { ResourceTable } from "./resources.ts";

export interface PlanNode {
  readonly index: number;
  readonly node: Node;
  /** null for a feed: its output slot is filled by the session. */
  readonly kernel: Kernel | null;
  readonly device: Device;
  readonly resources: ResourceTable;
  /** The slot each data input reads. */
  readonly inputSlots: readonly number[];
  /** Per input: read on the host (the kernel's hostInputs). */
  readonly hostInputs: readonly boolean[];
  /** Output i lives in slot outputBase + i. */
  readonly outputBase: number;
  readonly outputCount: number;
  /** Distinct plan nodes that wait on this one (data or control). */
  readonly consumers: readonly number[];
  /** How many distinct plan nodes this one waits on. */
  readonly pendingInit: number;
}

export interface Plan {
  readonly nodes: readonly PlanNode[];
  readonly slotCount: number;
  /** Per slot: readers (input edges) plus fetches; the value is released when this reaches 0. */
  readonly slotRefs: Int32Array;
  /** Per plan node: its pendingInit, copied (not mapped) into each iteration's counters. */
  readonly pendingCounts: Int32Array;
  /** Nodes with nothing to wait on. */
  readonly roots: readonly number[];
  /** Plan node index of each feed, in the order of the session's feed list. */
  readonly feedNodes: readonly number[];
  /** Per plan node: its position in the feed list, or -1. */
  readonly feedIndex: Int32Array;
  /** The slot of each fetch. */
  readonly fetchSlots: readonly number[];
}

export interface PlanInput {
  /** Nodes in topological order. */
  readonly nodes: readonly Node[];
  /** Feed placeholders, in feed order (they must be among `nodes`). */
  readonly feeds: readonly Node[];
  readonly fetches: readonly Output[];
  /** The device and kernel for each node (kernel null for feeds). */
  place(node: Node): { device: Device; kernel: Kernel | null; resources: ResourceTable };
}

export function buildPlan(input: PlanInput): Plan {
  const index = new Map<Node, number>();
  let slotCount = 0;
  const bases: number[] = [];
  input.nodes.forEach((n, i) => {
    index.set(n, i);
    bases.push(slotCount);
    slotCount += n.outputs.length;
  });
  const slotOf = (o: Output): number => {
    const i = index.get(o.node);
    if (i === undefined) throw new EdgeflowError(`tensor ${o.name} is not part of the plan`);
    return bases[i] + o.index;
  };
  const slotRefs = new Int32Array(slotCount);
  const consumers: number[][] = input.nodes.map(() => []);
  const pending = new Array<number>(input.nodes.length).fill(0);

  const nodes = input.nodes.map((node, i): Omit<PlanNode, "consumers" | "pendingInit"> => {
    const { device, kernel, resources } = input.place(node);
    const inputSlots = node.inputs.map(slotOf);
    for (const s of inputSlots) slotRefs[s]++;
    const producers = new Set([...node.inputs.map((o) => o.node), ...node.controlInputs]);
    for (const p of producers) {
      const pi = index.get(p);
      if (pi === undefined) {
        throw new EdgeflowError(`input node '${p.name}' is not part of the plan`);
      }
      consumers[pi].push(i);
      pending[i]++;
    }
    const host = new Set(kernel?.hostInputs ?? []);
    return {
      index: i,
      node,
      kernel,
      device,
      resources,
      inputSlots,
      hostInputs: node.inputs.map((_, j, all) => host.has(j) || host.has(j - all.length)),
      outputBase: bases[i],
      outputCount: node.outputs.length,
    };
  });
  const fetchSlots = input.fetches.map(slotOf);
  const feedNodes = input.feeds.map((f) => index.get(f)!);
  const feedIndex = new Int32Array(input.nodes.length).fill(-1);
  feedNodes.forEach((n, k) => (feedIndex[n] = k));
  for (const s of fetchSlots) slotRefs[s]++;
  return {
    nodes: nodes.map((n, i) => ({ ...n, consumers: consumers[i], pendingInit: pending[i] })),
    slotCount,
    slotRefs,
    pendingCounts: Int32Array.from(pending),
    roots: pending.flatMap((p, i) => (p === 0 ? [i] : [])),
    feedNodes,
    feedIndex,
    fetchSlots,
  };
}
