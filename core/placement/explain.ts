/**
 * What `session.explainPlacement` returns and prints: per node its device and why, the nodes on
 * REF because no other device has a kernel for them, the Send/Recv pairs the partition made, and
 * the placer's simulated step time.
 */
import type { Node } from "../graph.ts";
import type { StepPartition } from "../step.ts";
import type { Placement, PlacementReason } from "./place.ts";

export interface ExplainedNode {
  readonly node: string;
  readonly op: string;
  readonly device: string;
  readonly reason: PlacementReason;
  /** The reason in words. */
  readonly why: string;
  /** Simulated finish time (seconds from the step's start). */
  readonly finish: number;
}

export interface PlacementExplanation {
  readonly nodes: readonly ExplainedNode[];
  /** "node (op)" for each node on REF because no other device has its kernel. */
  readonly fallback: readonly string[];
  /** Sends per device: how many values leave it each step. */
  readonly sends: Readonly<Record<string, number>>;
  readonly makespan: number;
  readonly text: string;
}

const short = (name: string) => name.replace("/job:localhost/replica:0/task:0", "");

function fmtTime(s: number): string {
  return s >= 1e-3 ? `${(s * 1e3).toFixed(3)} ms` : `${(s * 1e6).toFixed(1)} µs`;
}

function words(p: Placement, n: Node): string {
  const x = p.nodes.get(n)!;
  const detail = x.detail ? ` (${x.detail.replace(/; $/, "")})` : "";
  switch (x.reason) {
    case "cost":
      return `cost: finishes at ${fmtTime(x.finish)}` +
        (x.runnerUp
          ? `, runner-up ${short(x.runnerUp.device)} at ${fmtTime(x.runnerUp.finish)}`
          : "") +
        detail;
    case "request":
      return x.detail;
    case "colocation":
      return x.detail;
    case "pinned":
      return x.detail;
    case "only-kernel":
      return `only device with a kernel${detail}`;
    case "ref-fallback":
      return `REF fallback: no other device has a kernel${detail}`;
    case "follows-consumer":
      return `source: ${x.detail}`;
  }
}

export function explainPlacement(
  nodes: readonly Node[],
  placement: Placement,
  parts: readonly StepPartition[],
): PlacementExplanation {
  const rows = nodes.map((n): ExplainedNode => {
    const x = placement.nodes.get(n)!;
    return {
      node: n.name,
      op: n.op.name,
      device: x.device.name,
      reason: x.reason,
      why: words(placement, n),
      finish: x.finish,
    };
  });
  const sends: Record<string, number> = {};
  for (const p of parts) {
    for (const pn of p.plan.nodes) {
      if (pn.transfer?.kind === "send") sends[pn.device.name] = (sends[pn.device.name] ?? 0) + 1;
    }
  }
  const fallback = placement.fallback.map((n) => `${n.name} (${n.op.name})`);
  const w = (k: keyof ExplainedNode) => Math.max(4, ...rows.map((r) => short(String(r[k])).length));
  const [wn, wo, wd] = [w("node"), w("op"), w("device")];
  const lines = [
    `${"node".padEnd(wn)}  ${"op".padEnd(wo)}  ${"device".padEnd(wd)}  why`,
    ...rows.map((r) =>
      `${r.node.padEnd(wn)}  ${r.op.padEnd(wo)}  ${short(r.device).padEnd(wd)}  ${r.why}`
    ),
    `simulated step time: ${fmtTime(placement.makespan)}`,
    `cross-device transfers per step: ${
      Object.keys(sends).length
        ? Object.entries(sends).map(([d, n]) => `${n} from ${short(d)}`).join(", ")
        : "none"
    }`,
    fallback.length
      ? `on REF because no other device has a kernel: ${fallback.join(", ")}`
      : "no node falls back to REF",
  ];
  return {
    nodes: rows,
    fallback,
    sends,
    makespan: placement.makespan,
    text: lines.join("\n"),
  };
}
