// The fuzz property: a case run on any device ends in an EdgeflowError or in REF's result (within
// the kernel's tolerance), never in another error, a hang, or a result where REF refused.
import type { Device } from "../../core/device.ts";
import type { DeviceType } from "../../core/device_spec.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Node, Output } from "../../core/graph.ts";
import type { KernelRegistry, Tolerance } from "../../core/kernel.ts";
import { Session } from "../../core/session.ts";
import type { Tensor } from "../../core/tensor.ts";
import { mismatch } from "../kernels/compare.ts";
import { runOnDevice } from "../kernels/run_case.ts";
import { buildCase, type BuiltCase, describeCase } from "./build.ts";
import type { CaseRecipe } from "./recipe.ts";

export interface FuzzOptions {
  registry: KernelRegistry;
  /** The devices to run on; REF (the expected results) is run whether listed or not. */
  ref: Device;
  devices: readonly Device[];
  /** Each device runs on one case in `every[type]` (by a hash of the case): slow adapters. */
  every?: Partial<Record<DeviceType, number>>;
  /** Bound of one run on one device. */
  timeoutMs: number;
  stats: FuzzStats;
}

/** What happened over a run, for the summary: how many cases got how far. */
export class FuzzStats {
  cases = 0;
  nodesBuilt = 0;
  nodesRefused = 0;
  refRan = 0;
  refRefused = 0;
  deviceRuns = new Map<DeviceType, number>();
  compared = 0;
  /** Why outputs were not compared (declared differences, refused single-node reruns). */
  notCompared = new Map<string, number>();
  /** Reasons devices refused cases REF ran (allowed, but worth reading). */
  refusedWhereRefRan = new Map<string, number>();
  /** Reasons REF refused cases, for seeing what the generator reaches. */
  refRefusals = new Map<string, number>();
  /** Cases that took over a second (run index and milliseconds). */
  slow: { runIndex: number; ms: number }[] = [];

  count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  summary(top = 8): string {
    const lines = [
      `${this.cases} cases: ${this.nodesBuilt} nodes built, ${this.nodesRefused} refused while building; ` +
      `REF ran ${this.refRan}, refused ${this.refRefused}; ${this.compared} outputs compared`,
      `device runs: ${[...this.deviceRuns].map(([t, n]) => `${t} ${n}`).join(", ")}`,
    ];
    const list = (title: string, m: Map<string, number>) => {
      if (m.size === 0) return;
      lines.push(title);
      for (const [k, n] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
        lines.push(`  ${n}× ${k}`);
      }
    };
    list("devices refused cases REF ran:", this.refusedWhereRefRan);
    list("not compared:", this.notCompared);
    if (this.slow.length > 0) {
      lines.push(`${this.slow.length} cases took over 1 s (run index: ms):`);
      lines.push("  " + this.slow.slice(0, top).map((c) => `${c.runIndex}: ${c.ms}`).join(", "));
    }
    list("most common REF refusals:", this.refRefusals);
    return lines.join("\n");
  }
}

type Outcome =
  | { kind: "ok"; values: Tensor[] }
  | { kind: "refused"; error: EdgeflowError }
  | { kind: "bug"; why: string };

/** Runs the case; returns why it fails the property, or undefined when it holds. */
export async function checkCase(recipe: CaseRecipe, o: FuzzOptions): Promise<string | undefined> {
  o.stats.cases++;
  let built: BuiltCase;
  try {
    built = buildCase(recipe);
  } catch (e) {
    return `graph building threw ${describeError(e)}`;
  }
  o.stats.nodesBuilt += recipe.nodes.length - built.refused.length;
  o.stats.nodesRefused += built.refused.length;
  const why = await checkBuilt(built, recipe, o);
  return why === undefined ? undefined : `${why}\ngraph:\n${describeCase(built)}`;
}

async function checkBuilt(
  c: BuiltCase,
  recipe: CaseRecipe,
  o: FuzzOptions,
): Promise<string | undefined> {
  const ref = await run(o.ref, c, c.fetches, o.timeoutMs);
  if (ref.kind === "bug") return `REF: ${ref.why}`;
  if (ref.kind === "refused") {
    o.stats.refRefused++;
    o.stats.count(o.stats.refRefusals, errorKey(ref.error));
  } else o.stats.refRan++;
  const refValue = new Map<Output, Tensor>();
  if (ref.kind === "ok") {
    // Every output the fetches depend on, so nodes can be judged (and rerun) on REF's inputs.
    // It may refuse where the fetches alone did not (a Shape folded from static shapes never
    // runs its input); then only the fetched values are known.
    const all = ancestors(c.fetches).flatMap((n) => n.outputs);
    const more = await run(o.ref, c, all, o.timeoutMs);
    if (more.kind === "bug") return `REF (fetching every intermediate): ${more.why}`;
    if (more.kind === "ok") all.forEach((out, i) => refValue.set(out, more.values[i]));
    c.fetches.forEach((out, i) => refValue.set(out, ref.values[i]));
  }

  const hash = hashOf(recipe);
  for (const device of o.devices) {
    if (device.type === "REF") continue;
    if (hash % (o.every?.[device.type] ?? 1) !== 0) continue;
    o.stats.count(o.stats.deviceRuns as Map<string, number>, device.type);
    const got = await run(device, c, c.fetches, o.timeoutMs);
    if (got.kind === "bug") return `${device.type}: ${got.why}`;
    if (ref.kind === "refused") {
      if (got.kind === "ok") {
        return `${device.type} returned a result where REF refused: ${ref.error.message}`;
      }
      continue;
    }
    if (got.kind === "refused") {
      o.stats.count(o.stats.refusedWhereRefRan, `${device.type}: ${errorKey(got.error)}`);
      continue;
    }
    const why = await compare(device, c, got.values, refValue, o);
    if (why) return `${device.type}: ${why}`;
  }
  return undefined;
}

/** Compares a device's fetched values with REF's, per output within the kernel's tolerance. */
async function compare(
  device: Device,
  c: BuiltCase,
  values: readonly Tensor[],
  refValue: Map<Output, Tensor>,
  o: FuzzOptions,
): Promise<string | undefined> {
  const judge = new Judge(device.type, o.registry, refValue);
  for (let i = 0; i < c.fetches.length; i++) {
    const out = c.fetches[i], node = out.node;
    const expected = refValue.get(out)!;
    const tol = judge.tolerance(node);
    if (tol === "differs" || tol === "unknown") {
      const why = tol === "differs" ? "declared difference" : "REF's inputs unknown";
      o.stats.count(o.stats.notCompared, `${node.op.name} on ${device.type}: ${why}`);
      continue;
    }
    let actual = values[i];
    if (!node.inputs.every((x) => judge.exactPath(x.node))) {
      if (node.inputs.some((x) => !refValue.has(x))) {
        o.stats.count(
          o.stats.notCompared,
          `${node.op.name} on ${device.type}: REF's inputs unknown`,
        );
        continue;
      }
      // An inexact value flowed in: the node is rechecked alone on REF's inputs.
      const alone = await runAlone(device, node, refValue, o);
      if (alone.kind === "bug") return `${node.name} (${node.op.name}) alone: ${alone.why}`;
      if (alone.kind === "refused") {
        o.stats.count(o.stats.notCompared, `${node.op.name} alone on ${device.type} refused`);
        continue;
      }
      actual = alone.values[out.index];
    }
    o.stats.compared++;
    const why = mismatch(actual, expected, tol);
    if (why) return `${out.name} (${node.op.name}): ${why}`;
  }
  return undefined;
}

/** Per node on one device type: its kernel's tolerance on REF's inputs, and exact paths. */
class Judge {
  private readonly exact = new Map<Node, boolean>();
  constructor(
    private readonly type: DeviceType,
    private readonly registry: KernelRegistry,
    private readonly refValue: Map<Output, Tensor>,
  ) {}

  tolerance(node: Node): Tolerance | undefined | "differs" | "unknown" {
    // Without a kernel here the node runs on REF (the placer's fallback): exact.
    const kernel = this.registry.kernelFor(node, this.type);
    if (!kernel) return undefined;
    if (!kernel.differs && typeof kernel.tolerance !== "function") return kernel.tolerance;
    const inputs = node.inputs.map((x) => this.refValue.get(x));
    if (inputs.some((x) => x === undefined)) return "unknown";
    const kc = { inputs: inputs as Tensor[], attrs: node.attrs };
    if (kernel.differs?.some((d) => d.when(kc))) return "differs";
    return typeof kernel.tolerance === "function" ? kernel.tolerance(kc) : kernel.tolerance;
  }

  /** Whether the node's value, and everything it depends on, must equal REF's exactly. */
  exactPath(node: Node): boolean {
    let e = this.exact.get(node);
    if (e === undefined) {
      e = this.tolerance(node) === undefined && node.inputs.every((x) => this.exactPath(x.node));
      this.exact.set(node, e);
    }
    return e;
  }
}

async function runAlone(
  device: Device,
  node: Node,
  refValue: Map<Output, Tensor>,
  o: FuzzOptions,
): Promise<Outcome> {
  const inputs = node.inputs.map((x) => refValue.get(x)!);
  return await bounded(
    runOnDevice(device, o.registry, node.op, { inputs, attrs: node.attrs }).then((r) => r.outputs),
    o.timeoutMs,
  );
}

/** Runs the graph on one device in a fresh session; the session is closed either way. */
async function run(
  device: Device,
  c: BuiltCase,
  fetches: readonly Output[],
  timeoutMs: number,
): Promise<Outcome> {
  let session: Session | undefined;
  const work = (async () => {
    session = new Session(c.graph, { devices: [device], passes: c.passes });
    return await session.run([...fetches], c.feeds);
  })();
  const outcome = await bounded(work, timeoutMs);
  if (outcome.kind === "bug" && outcome.why.startsWith("timed out")) {
    session?.close().catch(() => {}); // may never settle; not awaited
    return outcome;
  }
  const closed = await bounded(session?.close() ?? Promise.resolve(), timeoutMs);
  if (closed.kind === "bug") return { kind: "bug", why: `closing the session: ${closed.why}` };
  if (closed.kind === "refused") {
    return { kind: "bug", why: `closing the session: ${closed.error}` };
  }
  return outcome;
}

/** Settles `p` within `ms`: its value, its EdgeflowError, or a bug (other error, timeout). */
async function bounded<T>(p: Promise<T>, ms: number): Promise<Outcome> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    const r = await Promise.race([p, timeout]);
    if (r === "timeout") return { kind: "bug", why: `timed out after ${ms} ms` };
    return { kind: "ok", values: (Array.isArray(r) ? r : []) as Tensor[] };
  } catch (e) {
    if (e instanceof EdgeflowError) return { kind: "refused", error: e };
    return { kind: "bug", why: `threw ${describeError(e)}` };
  } finally {
    clearTimeout(timer);
  }
}

function describeError(e: unknown): string {
  if (e instanceof Error) {
    return `${e.name}: ${e.message}\n${e.stack?.split("\n").slice(1, 6).join("\n")}`;
  }
  return `a non-Error value: ${String(e)}`;
}

/** An error's reason with numbers and names blurred, so like refusals group together. */
function errorKey(e: EdgeflowError): string {
  return `${e.op ?? "?"}: ${e.reason.replace(/-?\d+(\.\d+)?/g, "N").replace(/'[^']*'/g, "'…'")}`
    .slice(0, 120);
}

function ancestors(outputs: readonly Output[]): Node[] {
  const seen = new Set<Node>();
  const visit = (n: Node) => {
    if (seen.has(n)) return;
    seen.add(n);
    for (const x of n.inputs) visit(x.node);
  };
  for (const out of outputs) visit(out.node);
  return [...seen];
}

/** FNV-1a of the recipe: picks the cases a sampled device runs, the same on every replay. */
function hashOf(recipe: CaseRecipe): number {
  const s = JSON.stringify(recipe);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
