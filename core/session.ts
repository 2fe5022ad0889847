/**
 * Session: runs a graph. `run(fetches, feeds, targets)` prunes the graph to what the call needs,
 * runs the passes, places nodes, builds an executor plan and caches it under the call's signature,
 * so a second call with the same signature does no graph work. Variables live on their devices
 * across runs; `close()` frees everything the session allocated.
 */
import { HostBuffer, release } from "./buffer.ts";
import type { Device, DeviceBuffer, DeviceOptions, PreparedKernel } from "./device.ts";
import { type DeviceType, parseDeviceSpec } from "./device_spec.ts";
import { EdgeflowError, withContext } from "./errors.ts";
import { execute, type StepStats } from "./executor.ts";
import { type Graph, Node, Output } from "./graph.ts";
import { defaultRegistry, type KernelRegistry, requireKernel } from "./kernel.ts";
import type { SessionState } from "./kernel_context.ts";
import { buildPlan, disposePlan, type Plan } from "./plan.ts";
import { type PassOptions, runPasses } from "./passes/pipeline.ts";
import { checkSessionArgs } from "./session_options.ts";
import { prune } from "./passes/prune.ts";
import { topologicalOrder } from "./passes/topo.ts";
import { placeSimple } from "./placement/simple.ts";
import { ResourceTable } from "./resources.ts";
import { formatShape, isCompatible } from "./shape.ts";
import { describeValue, type NestedArray, Tensor, tensorArg } from "./tensor.ts";
import { checkRunOptions, runObserver } from "./trace/run_options.ts";
import type { ReferenceComparison } from "./trace/compare_reference.ts";
import type { StepTrace } from "./trace/step_recorder.ts";

export interface SessionOptions {
  /** The default device ("WASM", "/device:WEBGPU:0"); WASM where installed, else REF. */
  device?: string;
  /** Kernels and device plugins; mod.ts's defaultRegistry unless given. */
  registry?: KernelRegistry;
  passes?: PassOptions;
  /** Options for each device type's `create`. */
  deviceOptions?: Partial<Record<DeviceType, DeviceOptions>>;
  /** Devices created elsewhere to run on (shared between sessions; not disposed on close). */
  devices?: readonly Device[];
}

export type Fetch = Output | string;
export type Target = Node | Output | string;
export type FeedValue = Tensor | NestedArray;
export type Feeds =
  | ReadonlyMap<Output | string, FeedValue>
  | Readonly<Record<string, FeedValue>>
  | readonly (readonly [Output | string, FeedValue])[];

/** Per-call options (TensorFlow's RunOptions). */
export interface RunOptions {
  /** When given, filled with one StepStats per executed node (TensorFlow's RunMetadata). */
  metadata?: RunMetadata;
  /**
   * Records the step's trace into `metadata.trace` (metadata is then required): per node its
   * device, wall-clock span, output bytes and simulated cycles, and every cross-device copy.
   * `toChromeTrace` / `saveChromeTrace` (core/trace/chrome_trace.ts) export it.
   */
  trace?: boolean;
  /**
   * Stops at the first node whose floating-point output holds a NaN or Inf, with an
   * EdgeflowError naming it, its op, its device and its inputs' ranges.
   */
  checkNumerics?: boolean;
  /**
   * Runs each non-REF kernel's op reference on the kernel's own inputs and throws for the first
   * node (topological order) whose outputs differ beyond the kernel's declared tolerance.
   */
  compareWithReference?: boolean;
}
export interface RunMetadata {
  steps: StepStats[];
  /** With `trace: true`: the step's trace. */
  trace?: StepTrace;
  /** With `compareWithReference: true`: what was compared and what differed. */
  comparison?: ReferenceComparison;
}

interface CachedPlan {
  readonly plan: Plan;
  /** Feed placeholders of the plan's graph, in signature order. */
  readonly feedSpecs: readonly Node[];
}

interface DeviceEntry {
  readonly device: Device;
  readonly resources: ResourceTable;
  /** Whether the session created the device (and so disposes it). */
  readonly owned: boolean;
}

export class Session implements AsyncDisposable {
  readonly registry: KernelRegistry;
  /** Work counters, for tests and tracing. */
  readonly stats = { plansBuilt: 0, runs: 0 };
  /** Plans by signature, as promises: concurrent first runs of one signature share one build. */
  private readonly plans = new Map<string, Promise<CachedPlan>>();
  private readonly devices = new Map<DeviceType, Promise<DeviceEntry>>();
  private readonly state: SessionState = { randomCounters: new Map() };
  private readonly defaultType: DeviceType;
  private closed = false;

  constructor(readonly graph: Graph, readonly options: SessionOptions = {}) {
    checkSessionArgs(graph, options);
    this.registry = options.registry ?? defaultRegistry;
    const requested = options.device ? parseDeviceSpec(options.device).type : undefined;
    const fallback = options.devices?.[0]?.type ?? (this.registry.plugin("WASM") ? "WASM" : "REF");
    this.defaultType = requested ?? fallback;
    if (!this.registry.plugin(this.defaultType)) {
      throw new EdgeflowError(
        `option 'device': no ${this.defaultType} device plugin is installed (installed: ${
          this.registry.pluginTypes().join(", ")
        })`,
      );
    }
  }

  /** Runs the graph: computes `fetches` given `feeds`, and runs `targets` for their effects. */
  run(
    fetches: Fetch,
    feeds?: Feeds,
    targets?: readonly Target[],
    options?: RunOptions,
  ): Promise<Tensor>;
  run(
    fetches: readonly Fetch[],
    feeds?: Feeds,
    targets?: readonly Target[],
    options?: RunOptions,
  ): Promise<Tensor[]>;
  async run(
    fetches: Fetch | readonly Fetch[],
    feeds: Feeds = [],
    targets: readonly Target[] = [],
    options: RunOptions = {},
  ): Promise<Tensor | Tensor[]> {
    this.checkOpen();
    const single = !Array.isArray(fetches);
    const fetchOutputs = (single ? [fetches as Fetch] : fetches as readonly Fetch[]).map((f) =>
      this.output(f)
    );
    const feedList = this.feedList(feeds);
    const targetNodes = targetList(targets, "run").map((t) => this.targetNode(t));
    checkRunOptions(options);
    const { plan, feedSpecs } = await this.planFor(
      fetchOutputs,
      feedList.map(([o]) => o),
      targetNodes,
    );
    const feedBuffers = feedList.map(([o, v], i) => new HostBuffer(checkFeed(o, v, feedSpecs[i])));
    const observed = runObserver(options, feedList.map(([o]) => o.name), feedBuffers);
    const buffers = await execute(plan, feedBuffers, this.state, observed?.observer);
    this.stats.runs++;
    if (observed) {
      try {
        observed.finish();
      } catch (e) {
        for (const b of buffers) release(b);
        throw e;
      }
    }
    const results = await this.download(buffers);
    return single ? results[0] : results;
  }

  /** Builds (and caches) the plan for a signature without running it: compiles kernels early. */
  async prepare(
    fetches: readonly Fetch[],
    feeds: readonly (Output | string)[] = [],
    targets: readonly Target[] = [],
  ) {
    this.checkOpen();
    const feedOutputs = [...new Set(feeds.map((f) => this.output(f)))].sort(byName);
    await this.planFor(
      fetches.map((f) => this.output(f)),
      feedOutputs,
      targetList(targets, "prepare").map((t) => this.targetNode(t)),
    );
  }

  /** The session's device of a type (created on first use). */
  async device(type: DeviceType): Promise<Device> {
    this.checkOpen();
    return (await this.deviceEntry(type)).device;
  }

  /** Frees every buffer the session allocated (variables included) and disposes its devices. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const plans = [...this.plans.values()];
    this.plans.clear();
    for (const p of plans) {
      // A failed build left no plan to dispose.
      await p.then(({ plan }) => disposePlan(plan), () => {});
    }
    for (const entry of this.devices.values()) {
      const { device, resources, owned } = await entry;
      resources.clear();
      if (owned) await device[Symbol.asyncDispose]();
    }
    this.devices.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A closed session creates nothing: no plan, no device nobody would dispose. */
  private checkOpen(): void {
    if (this.closed) throw new EdgeflowError("the session is closed");
  }

  // ---- signature and plan ----------------------------------------------------------------

  private async planFor(
    fetches: readonly Output[],
    feeds: readonly Output[],
    targets: readonly Node[],
  ) {
    const key = [
      fetches.map((o) => o.name).join(","),
      feeds.map((o) => o.name).join(","),
      targets.map((n) => n.name).join(","),
      this.graph.mutations,
    ].join("|");
    let cached = this.plans.get(key);
    if (!cached) {
      cached = this.buildPlan(fetches, feeds, targets);
      this.plans.set(key, cached);
      // A failed build is not cached: the next call reports the error afresh.
      cached.catch(() => {
        if (this.plans.get(key) === cached) this.plans.delete(key);
      });
    }
    return await cached;
  }

  private async buildPlan(
    fetches: readonly Output[],
    feeds: readonly Output[],
    targets: readonly Node[],
  ) {
    const pruned = runPasses(prune(this.graph, fetches, feeds, targets), this.options.passes);
    const nodes = topologicalOrder([
      ...pruned.fetches.map((o) => o.node),
      ...pruned.targets,
      ...pruned.feeds,
    ]);
    const feedSet = new Set(pruned.feeds);
    for (const n of nodes) {
      if (n.op.name === "Placeholder" && !feedSet.has(n)) {
        throw new EdgeflowError("must be fed: the fetches need it and no value was given for it", {
          node: n.name,
          op: n.op.name,
        });
      }
    }
    const placement = placeSimple({
      nodes,
      feeds: feedSet,
      registry: this.registry,
      defaultType: this.defaultType,
    });
    const entries = new Map<DeviceType, DeviceEntry>();
    for (const type of new Set(placement.values())) entries.set(type, await this.deviceEntry(type));
    const plan = buildPlan({
      nodes,
      feeds: pruned.feeds,
      fetches: pruned.fetches,
      place: (node) => {
        const entry = entries.get(placement.get(node)!)!;
        node.assignedDevice = entry.device.name;
        if (feedSet.has(node)) return { ...entry, kernel: null };
        return { ...entry, kernel: requireKernel(this.registry, node, entry.device.type) };
      },
    });
    const prepared = new Map<Device, PreparedKernel[]>();
    for (const { kernel, instance, node, device } of plan.nodes) {
      if (!kernel || !instance) continue;
      const list = prepared.get(device) ?? [];
      list.push({ kernel, instance, node });
      prepared.set(device, list);
    }
    try {
      for (const [device, kernels] of prepared) await device.prepare?.(kernels);
    } catch (e) {
      disposePlan(plan);
      throw e;
    }
    this.stats.plansBuilt++;
    return { plan, feedSpecs: pruned.feeds };
  }

  private deviceEntry(type: DeviceType): Promise<DeviceEntry> {
    this.checkOpen();
    let entry = this.devices.get(type);
    if (!entry) {
      entry = this.createDevice(type);
      this.devices.set(type, entry);
      entry.catch(() => this.devices.delete(type));
    }
    return entry;
  }

  private async createDevice(type: DeviceType): Promise<DeviceEntry> {
    const given = this.options.devices?.find((d) => d.type === type);
    if (given) return { device: given, resources: new ResourceTable(), owned: false };
    const plugin = this.registry.plugin(type);
    if (!plugin) throw new EdgeflowError(`no ${type} device plugin is installed`);
    const device = await plugin.create(this.options.deviceOptions?.[type]);
    if (!device) throw new EdgeflowError(`the ${type} device is not available on this machine`);
    return { device, resources: new ResourceTable(), owned: true };
  }

  // ---- arguments ---------------------------------------------------------------------------

  private output(f: Fetch): Output {
    if (typeof f !== "string" && !(f instanceof Output)) {
      throw new EdgeflowError(
        `a fetch or feed key must be an Output or a tensor name, got ${describeValue(f)}`,
      );
    }
    const o = typeof f === "string" ? this.graph.tensor(f) : f;
    if (o.graph !== this.graph) {
      throw new EdgeflowError(`tensor ${o.name} belongs to another graph`);
    }
    return o;
  }

  private targetNode(t: Target): Node {
    if (typeof t === "string") return this.graph.node(t.replace(/^\^/, "").replace(/:\d+$/, ""));
    if (!(t instanceof Output) && !(t instanceof Node)) {
      throw new EdgeflowError(
        `a target must be a Node, an Output or a name, got ${describeValue(t)}`,
      );
    }
    const node = "node" in t ? t.node : t;
    if (node.graph !== this.graph) {
      throw new EdgeflowError(`target ${node.name} belongs to another graph`);
    }
    return node;
  }

  /** Feeds as [output, value] pairs sorted by tensor name: the order plans are built in. */
  private feedList(feeds: Feeds): [Output, FeedValue][] {
    if (typeof feeds !== "object" || feeds === null) {
      throw new EdgeflowError(
        `feeds must be a Map, an object or a list of pairs, got ${describeValue(feeds)}`,
      );
    }
    const entries: [Output | string, FeedValue][] = feeds instanceof Map
      ? [...feeds.entries()]
      : Array.isArray(feeds)
      ? feeds.map(([k, v]) => [k, v])
      : Object.entries(feeds);
    const list = entries.map(([k, v]): [Output, FeedValue] => [this.output(k), v]);
    const names = new Set<string>();
    for (const [o] of list) {
      if (names.has(o.name)) throw new EdgeflowError(`tensor ${o.name} is fed twice`);
      names.add(o.name);
    }
    return list.sort(([a], [b]) => byName(a, b));
  }

  private async download(buffers: DeviceBuffer[]): Promise<Tensor[]> {
    for (const entry of this.devices.values()) (await entry).device.flush?.();
    try {
      return await Promise.all(
        buffers.map((b) => (b instanceof HostBuffer ? b.tensor : b.device!.download(b))),
      );
    } finally {
      for (const b of buffers) release(b);
    }
  }
}

function byName(a: Output, b: Output): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Converts a fed value and checks it against what the graph expects there. */
function checkFeed(o: Output, value: FeedValue, placeholder: Node): Tensor {
  const context = { node: o.node.name, op: o.node.op.name };
  const t = value instanceof Tensor
    ? value
    : withContext(context, () =>
      tensorArg(`the value fed for ${o.name}`, value, undefined, o.dtype));
  const spec = placeholder.outputSpecs[0];
  if (t.dtype !== spec.dtype) {
    throw new EdgeflowError(
      `fed a ${t.dtype} value for ${o.name}, expected ${spec.dtype}`,
      context,
    );
  }
  if (!isCompatible(t.shape, spec.shape)) {
    throw new EdgeflowError(
      `fed a value of shape ${formatShape(t.shape)} for ${o.name}, expected ${
        formatShape(spec.shape)
      }`,
      context,
    );
  }
  return t;
}

/**
 * The targets argument as a list: `{ metadata }` passed third instead of fourth (the run options)
 * is named, not a raw "targets.map is not a function".
 */
function targetList(targets: unknown, call: string): readonly Target[] {
  if (Array.isArray(targets)) return targets;
  throw new EdgeflowError(
    `${call}: targets (3rd argument) must be a list of nodes or names, got ${
      typeof targets === "object" ? JSON.stringify(targets)?.slice(0, 80) : typeof targets
    }; run options such as { metadata } go 4th`,
  );
}
