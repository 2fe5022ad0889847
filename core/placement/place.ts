/**
 * The placer (section 3.2.1 of the 2015 paper). Constraints first: a node's request (full or
 * partial, "CPU"/"GPU" meaning WASM/WEBGPU) narrows it to the matching devices, kernels narrow it
 * to devices with a kernel for its dtype, a colocation group takes the intersection of its
 * members, and a node fixed by an earlier plan (a variable) stays. Then greedy simulated
 * execution: in topological order each node goes to the device where its estimated finish time
 * is earliest, counting the device's queue and the transfers of its inputs. Sources with no
 * inputs (Consts, feeds) float: they follow their first consumer, so they cost no transfer.
 *
 * REF is the host fallback: an unrequested node goes there only when no device of the session's
 * default set has a kernel for it, and `strict` refuses that. Deterministic: devices are compared
 * in the order given, ties go to the earlier one.
 */
import type { Device } from "../device.ts";
import { deviceMatches, parseDeviceSpec } from "../device_spec.ts";
import { EdgeflowError } from "../errors.ts";
import type { Node } from "../graph.ts";
import { type Kernel, type KernelRegistry, requireKernel } from "../kernel.ts";
import { colocationGroups } from "./colocation.ts";
import { bytesOfSpec, type CostModel } from "./cost.ts";

export interface PlacementInput {
  /** Nodes in topological order. */
  readonly nodes: readonly Node[];
  /** Feed placeholders: they need no kernel. */
  readonly feeds: ReadonlySet<Node>;
  readonly registry: KernelRegistry;
  /** Every device nodes may go to, in the order ties are broken (REF included where present). */
  readonly devices: readonly Device[];
  /** Where unrequested nodes go: the session's default devices (REF only when it is one). */
  readonly defaults: readonly Device[];
  /** Devices earlier plans fixed nodes to (variables), by node name. */
  readonly pinned?: ReadonlyMap<string, string>;
  /** Move a node whose request cannot be met instead of refusing (TensorFlow's option). */
  readonly allowSoftPlacement: boolean;
  /** Refuse to fall back to REF for nodes the default devices have no kernel for. */
  readonly strict: boolean;
  readonly cost: CostModel;
}

/** Why a node went where it did. */
export type PlacementReason =
  | "request"
  | "colocation"
  | "pinned"
  | "only-kernel"
  | "ref-fallback"
  | "cost"
  | "follows-consumer";

export interface NodePlacement {
  readonly device: Device;
  /** null for a feed. */
  readonly kernel: Kernel | null;
  readonly reason: PlacementReason;
  /** Words for the reason: the request, the group's leader, the soft move. */
  readonly detail: string;
  /** The simulated finish time on the chosen device, seconds from the step's start. */
  readonly finish: number;
  /** The best other device and its simulated finish time, where the cost decided. */
  readonly runnerUp?: { readonly device: string; readonly finish: number };
}

export interface Placement {
  readonly nodes: ReadonlyMap<Node, NodePlacement>;
  /** Nodes on REF because no default device has a kernel for them. */
  readonly fallback: readonly Node[];
  /** The simulated step time: the last finish. */
  readonly makespan: number;
}

interface Constraint {
  readonly devices: readonly Device[];
  readonly reason: PlacementReason;
  readonly detail: string;
}

const short = (d: Device) => d.name.replace("/job:localhost/replica:0/task:0", "");

export function place(input: PlacementInput): Placement {
  const { registry, devices } = input;
  // Per node and device: its kernel, null for a feed (which needs none), undefined for none.
  const kernels = new Map<Node, Map<Device, Kernel | null | undefined>>();
  const kernelOn = (node: Node, d: Device): Kernel | null | undefined => {
    let m = kernels.get(node);
    if (!m) kernels.set(node, m = new Map());
    if (!m.has(d)) m.set(d, input.feeds.has(node) ? null : registry.kernelFor(node, d.type));
    return m.get(d);
  };
  const runnable = (node: Node) => devices.filter((d) => kernelOn(node, d) !== undefined);
  const noKernel = (node: Node) => {
    const typeAttr = node.op.typeAttr;
    const dtype = typeAttr ? ` for dtype ${node.attrs[typeAttr]}` : "";
    const types = registry.deviceTypesFor(node.op.name).filter((t) =>
      registry.find(node.op.name, t, typeAttr ? node.attrs[typeAttr] as never : undefined)
    );
    const here = runnable(node).map(short);
    return `devices with a kernel${dtype}: ${
      here.length ? here.join(", ") : "none in this session"
    }` +
      ` (device types with one: ${types.length ? types.join(", ") : "none"})`;
  };

  const constraintOf = (node: Node): Constraint => {
    const can = runnable(node);
    const pin = input.pinned?.get(node.name);
    if (pin) {
      const d = can.find((x) => x.name === pin);
      if (d) {
        return { devices: [d], reason: "pinned", detail: `kept on ${short(d)} by an earlier run` };
      }
    }
    let soft = "";
    if (node.requestedDevice) {
      const spec = parseDeviceSpec(node.requestedDevice);
      const matching = devices.filter((d) => deviceMatches(spec, parseDeviceSpec(d.name)));
      const ok = matching.filter((d) => can.includes(d));
      if (ok.length > 0) {
        return { devices: ok, reason: "request", detail: `requested '${node.requestedDevice}'` };
      }
      const why = matching.length === 0
        ? "which names no device of this session"
        : "and no device it names has a kernel for it";
      if (!input.allowSoftPlacement) {
        throw new EdgeflowError(
          `cannot place: it requested '${node.requestedDevice}', ${why}; ${noKernel(node)}`,
          { node: node.name, op: node.op.name },
        );
      }
      soft = `soft placement: '${node.requestedDevice}' ${why}; `;
    }
    const defaults = input.defaults.filter((d) => can.includes(d));
    if (defaults.length > 0) {
      return defaults.length === 1
        ? { devices: defaults, reason: "only-kernel", detail: soft }
        : { devices: defaults, reason: "cost", detail: soft };
    }
    const others = can.filter((d) => d.type !== "REF");
    if (others.length > 0) {
      return {
        devices: others,
        reason: others.length === 1 ? "only-kernel" : "cost",
        detail: soft + "no default device has a kernel",
      };
    }
    if (can.length > 0) {
      return { devices: can, reason: "ref-fallback", detail: soft };
    }
    // The default device's own refusal first (what a one-device session has always said).
    let refusal = "cannot place";
    const first = input.defaults[0] ?? devices[0];
    if (first) {
      try {
        requireKernel(registry, node, first.type);
      } catch (e) {
        refusal = (e as EdgeflowError).reason;
      }
    }
    throw new EdgeflowError(`${refusal}; ${noKernel(node)}`, {
      node: node.name,
      op: node.op.name,
    });
  };

  const groups = colocationGroups(input.nodes);
  const groupConstraint = new Map<Node, Constraint>(); // by leader
  const leaderOf = (n: Node) => groups.get(n)![0];
  const constraintOfGroup = (node: Node): Constraint => {
    const leader = leaderOf(node);
    let c = groupConstraint.get(leader);
    if (c) return c;
    const members = groups.get(node)!;
    const each = members.map((m) => [m, constraintOf(m)] as const);
    // A member that asked for nothing goes wherever it has a kernel: only requests, pins and
    // kernels bind a group; the default devices are a preference.
    const binding = (m: Node, mc: Constraint, keepRequests: boolean) =>
      members.length === 1 || mc.reason === "pinned" || (keepRequests && mc.reason === "request")
        ? mc.devices
        : runnable(m);
    const intersect = (keepRequests: boolean) => {
      const all = each.reduce<readonly Device[]>(
        (acc, [m, mc]) => acc.filter((d) => binding(m, mc, keepRequests).includes(d)),
        devices,
      );
      const preferred = all.filter((d) => input.defaults.includes(d));
      const nonRef = all.filter((d) => d.type !== "REF");
      return preferred.length > 0 ? preferred : nonRef.length > 0 ? nonRef : all;
    };
    let common = intersect(true);
    let soft = "";
    if (common.length === 0 && input.allowSoftPlacement && members.length > 1) {
      // Soft placement: members' requests give way to the group (a variable's reads go where
      // the variable lives).
      common = intersect(false);
      soft = "soft placement: the group's requests disagree; ";
    }
    if (common.length === 0) {
      const lines = each.map(([m, mc]) =>
        `'${m.name}' (${m.op.name}): ${mc.detail || mc.reason} on ${
          mc.devices.map(short).join(", ")
        }`
      );
      throw new EdgeflowError(
        `cannot place its colocation group: no device satisfies every member (${lines.join("; ")})`,
        { node: leader.name, op: leader.op.name },
      );
    }
    const strongest = each.find(([, mc]) => mc.reason === "pinned") ??
      each.find(([, mc]) => mc.reason === "request") ??
      each.find(([, mc]) => mc.reason === "ref-fallback") ?? each[0];
    const reason = common.length === 1 && strongest[1].reason === "cost"
      ? "only-kernel"
      : strongest[1].reason;
    c = { devices: common, reason, detail: soft + strongest[1].detail };
    groupConstraint.set(leader, c);
    return c;
  };

  const cost = input.cost;
  const wholeGraph = "every node it can run goes to one device: that simulates faster";

  /**
   * One simulated placement: greedy, or with `prefer` every node whose choice is the cost's put
   * on that device where it can run (the single-device placements greedy is compared with).
   */
  const simulateRun = (prefer?: Device): Placement => {
    const placed = new Map<Node, NodePlacement>();
    const finish = new Map<Node, number>();
    // Devices that share what runs their kernels (the JavaScript thread) share one queue.
    const queue = (d: Device) => d.runsOn ?? d.name;
    const free = new Map<string, number>(devices.map((d) => [queue(d), 0]));
    const groupDevice = new Map<Node, Device>();
    const fallback: Node[] = [];
    const floating = new Set<Node>();

    const isFloating = (n: Node) =>
      (input.feeds.has(n) || n.op.name === "Const") && n.inputs.length === 0 &&
      n.controlInputs.length === 0 && groups.get(n)!.length === 1 && !n.requestedDevice &&
      !input.pinned?.has(n.name);

    const commit = (
      n: Node,
      d: Device,
      reason: PlacementReason,
      detail: string,
      end: number,
      runnerUp?: NodePlacement["runnerUp"],
    ) => {
      placed.set(n, { device: d, kernel: kernelOn(n, d)!, reason, detail, finish: end, runnerUp });
      finish.set(n, end);
      if (reason === "ref-fallback") fallback.push(n);
      groupDevice.set(leaderOf(n), d);
    };

    /**
     * When `n` would finish on `d`. A device whose kernels are issued from a thread it does not
     * run on (`launchesOn`: a WASM device launching from a worker is fed by the JS thread) takes
     * the launch cost from that thread's queue, which every such device shares, and the rest
     * from its own; `issued` is when that thread is free again.
     */
    let issued = 0;
    const simulate = (n: Node, d: Device): number => {
      // `ready`: when the inputs are there; `issuable`: when the issuing thread may queue the
      // kernel, which for an input made on the same queued device is when that was queued.
      let ready = 0, issuable = 0;
      const queued = d.launchesOn !== undefined && d.launchesOn !== queue(d);
      for (const o of n.inputs) {
        const p = o.node;
        const pp = placed.get(p);
        let at: number;
        if (!pp) {
          // A floating source not placed yet follows this node where it has a kernel.
          const can = runnable(p);
          at = can.includes(d)
            ? 0
            : cost.transferSeconds(can[0], d, bytesOfSpec(p.outputSpecs[o.index]));
        } else {
          at = finish.get(p)! +
            cost.transferSeconds(pp.device, d, bytesOfSpec(p.outputSpecs[o.index]));
        }
        if (at > ready) ready = at;
        const queuable = queued && pp?.device === d ? issuedAt.get(p) ?? at : at;
        if (queuable > issuable) issuable = queuable;
      }
      for (const c of n.controlInputs) {
        const pc = placed.get(c);
        if (!pc) continue;
        const at = finish.get(c)! + cost.transferSeconds(pc.device, d, 0);
        if (at > ready) ready = at;
        const queuable = queued && pc.device === d ? issuedAt.get(c) ?? at : at;
        if (queuable > issuable) issuable = queuable;
      }
      const kernel = kernelOn(n, d);
      const run = kernel ? cost.nodeSeconds(n, kernel, d) : 0;
      if (kernel && queued) {
        const launch = Math.min(cost.performance(d).launch, run);
        issued = Math.max(issuable, free.get(d.launchesOn!) ?? 0) + launch;
        return Math.max(issued, ready, free.get(queue(d))!) + run - launch;
      }
      issued = -1;
      return Math.max(ready, free.get(queue(d))!) + run;
    };
    /** When each node was queued, on a device fed by another thread (`launchesOn`). */
    const issuedAt = new Map<Node, number>();
    /** Books `d`'s queue (and its issuing thread's) for `n`, simulated ending at `end`. */
    const book = (n: Node, d: Device, end: number, at: number) => {
      free.set(queue(d), end);
      if (at >= 0) {
        free.set(d.launchesOn!, at);
        issuedAt.set(n, at);
      }
    };

    const settleFloating = (n: Node, d: Device) => {
      for (const o of n.inputs) {
        const p = o.node;
        if (!floating.has(p)) continue;
        floating.delete(p);
        const can = runnable(p);
        const c = constraintOfGroup(p);
        const target = can.includes(d) ? d : c.devices[0];
        if (c.reason === "ref-fallback" && target.type === "REF") {
          commit(p, target, c.reason, c.detail, 0);
        } else commit(p, target, "follows-consumer", `follows its first consumer '${n.name}'`, 0);
      }
    };

    for (const n of input.nodes) {
      const c = constraintOfGroup(n);
      const leader = leaderOf(n);
      const fixed = groupDevice.get(leader);
      if (fixed && leader !== n) {
        settleFloating(n, fixed);
        const end = simulate(n, fixed);
        book(n, fixed, end, issued);
        commit(n, fixed, "colocation", `colocated with '${leader.name}'`, end);
        if (c.reason === "ref-fallback") fallback.push(n);
        continue;
      }
      if (isFloating(n)) {
        floating.add(n);
        continue;
      }
      const scored = c.devices.map((d) => ({ d, end: simulate(n, d), issued }));
      let best = scored[0];
      for (const s of scored) if (s.end < best.end) best = s;
      const forced = prefer && scored.find((s) => s.d === prefer);
      if (forced) best = forced;
      const others = scored.filter((s) => s !== best);
      let runnerUp = others[0];
      for (const s of others) if (s.end < runnerUp.end) runnerUp = s;
      settleFloating(n, best.d);
      book(n, best.d, best.end, best.issued);
      const reason = c.devices.length > 1 ? "cost" : c.reason === "cost" ? "only-kernel" : c.reason;
      commit(
        n,
        best.d,
        reason,
        forced && reason === "cost" ? `${c.detail}${wholeGraph}` : c.detail,
        best.end,
        runnerUp && { device: runnerUp.d.name, finish: runnerUp.end },
      );
    }
    // Sources nobody on this plan consumes (a fetched Const or feed) go to their first choice.
    for (const n of floating) {
      const c = constraintOfGroup(n);
      if (c.reason === "ref-fallback") commit(n, c.devices[0], c.reason, c.detail, 0);
      else commit(n, c.devices[0], "follows-consumer", "fetched directly", 0);
    }
    let makespan = 0;
    for (const t of finish.values()) if (t > makespan) makespan = t;
    return { nodes: placed, fallback, makespan };
  };

  // Greedy is myopic: a node goes where it finishes first even when that slows what follows (a
  // branch sent to a slow device because the fast one is busy). The placement kept is the best
  // simulated of greedy and each default device taking everything it can.
  let result = simulateRun();
  for (const d of input.defaults) {
    if (input.defaults.length < 2) break;
    const alt = simulateRun(d);
    if (alt.makespan < result.makespan) result = alt;
  }
  if (input.strict && result.fallback.length > 0) {
    throw new EdgeflowError(
      `strict placement: ${result.fallback.length} node(s) would run on REF because no other ` +
        `device has a kernel for them: ${
          result.fallback.map((n) => `'${n.name}' (${n.op.name})`).join(", ")
        }`,
    );
  }
  return result;
}
