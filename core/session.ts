/**
 * Session: runs a graph. `run(fetches, feeds, targets)` prunes the graph to what the call needs,
 * runs the passes, places nodes on the session's devices (core/placement/), splits the graph per
 * device with Send/Recv pairs (core/partition.ts), builds one executor plan per partition and
 * caches all of it under the call's signature, so a second call with the same signature does no
 * graph work; a run then executes the partitions concurrently (core/step.ts). Devices are
 * instances by full name, several of a type when `deviceCount` asks. Variables live on their
 * devices across runs; `close()` frees everything the session allocated.
 */
import { HostBuffer, release } from "./buffer.ts";
import type { Device, DeviceBuffer, DeviceOptions, PreparedKernel } from "./device.ts";
import { deviceMatches, type DeviceType, fullDeviceName, parseDeviceSpec } from "./device_spec.ts";
import { EdgeflowError, withContext } from "./errors.ts";
import type { StepStats } from "./executor.ts";
import { type Graph, Node, Output } from "./graph.ts";
import { defaultRegistry, hostInputsOf, type KernelRegistry, requireKernel } from "./kernel.ts";
import type { SessionState } from "./kernel_context.ts";
import { partition } from "./partition.ts";
import { buildPlan, disposePlan } from "./plan.ts";
import { CostModel } from "./placement/cost.ts";
import { explainPlacement, type PlacementExplanation } from "./placement/explain.ts";
import { place, type Placement } from "./placement/place.ts";
import type { CostProfile } from "./placement/profile.ts";
import { runStep, type StepPartition } from "./step.ts";
import { type PassOptions, runPasses } from "./passes/pipeline.ts";
import { checkSessionArgs } from "./session_options.ts";
import { prune } from "./passes/prune.ts";
import { topologicalOrder } from "./passes/topo.ts";
import { colocateLoops } from "./control_flow/colocate_loops.ts";
import { ResourceTable } from "./resources.ts";
import { QueueTable } from "./queues/queue.ts";
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
  /**
   * How many devices of each type the session holds and places on (TensorFlow's device_count):
   * `{ WASM: 2 }` gives /device:WASM:0 and /device:WASM:1, each with its own memory and threads.
   * Default: one device of the `device` option's type.
   */
  deviceCount?: Readonly<Record<DeviceType, number>>;
  /**
   * Place a node whose requested device does not exist or has no kernel for it elsewhere
   * (TensorFlow's allow_soft_placement); false makes that an error. Default true.
   */
  allowSoftPlacement?: boolean;
  /** Refuse to run nodes on REF because no other device has a kernel for them. Default false. */
  strict?: boolean;
  /** Measured device speeds (bench/calibrate.ts) for the placer's cost model. */
  costProfile?: CostProfile;
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
  /** One plan per device the step uses. */
  readonly parts: readonly StepPartition[];
  /** Feed placeholders of the plan's graph, in signature order. */
  readonly feedSpecs: readonly Node[];
  readonly placement: Placement;
  /** The placed nodes in topological order (what explainPlacement lists). */
  readonly nodes: readonly Node[];
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
  /** Device entries by full name; null where the plugin has no such device here. */
  private readonly devices = new Map<string, Promise<DeviceEntry | null>>();
  /** Cancels in-flight steps when the session closes (a dequeue waiting on an empty queue). */
  private readonly closing = new AbortController();
  private readonly state: SessionState = {
    randomCounters: new Map(),
    closing: this.closing.signal,
    queues: new QueueTable(),
  };
  /** Steps in flight (several runs may be, concurrently): close waits for them to settle. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly defaultType: DeviceType;
  /** Full names of the devices unrequested nodes are placed on, in tie-breaking order. */
  private readonly defaultNames: readonly string[];
  /** Devices earlier plans put variables on, by node name: later plans keep them there. */
  private readonly pinned = new Map<string, string>();
  private readonly cost: CostModel;
  private closed = false;

  constructor(readonly graph: Graph, readonly options: SessionOptions = {}) {
    checkSessionArgs(graph, options);
    this.registry = options.registry ?? defaultRegistry;
    const requested = options.device ? parseDeviceSpec(options.device).type : undefined;
    const counted = options.deviceCount ? Object.keys(options.deviceCount)[0] : undefined;
    const fallback = options.devices?.[0]?.type ?? counted ??
      (this.registry.plugin("WASM") ? "WASM" : "REF");
    this.defaultType = requested ?? fallback;
    if (!this.registry.plugin(this.defaultType)) {
      throw new EdgeflowError(
        `option 'device': no ${this.defaultType} device plugin is installed (installed: ${
          this.registry.pluginTypes().join(", ")
        })`,
      );
    }
    const given = options.devices ?? [];
    const counts = options.deviceCount ??
      (given.some((d) => d.type === this.defaultType) ? {} : { [this.defaultType]: 1 });
    const index = options.device ? parseDeviceSpec(options.device).index : undefined;
    const names = given.map((d) => d.name);
    for (const [type, n] of Object.entries(counts)) {
      if (!this.registry.plugin(type)) {
        throw new EdgeflowError(
          `option 'deviceCount': no ${type} device plugin is installed (installed: ${
            this.registry.pluginTypes().join(", ")
          })`,
        );
      }
      if (n === 1 && type === this.defaultType && index !== undefined) {
        names.push(fullDeviceName(type, index));
      } else for (let i = 0; i < n; i++) names.push(fullDeviceName(type, i));
    }
    this.defaultNames = [...new Set(names)];
    this.cost = new CostModel(options.costProfile);
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
    const { parts, feedSpecs } = await this.planFor(
      fetchOutputs,
      feedList.map(([o]) => o),
      targetNodes,
    );
    const feedBuffers = feedList.map(([o, v], i) => new HostBuffer(checkFeed(o, v, feedSpecs[i])));
    const observed = runObserver(options, feedList.map(([o]) => o.name), feedBuffers);
    const step = runStep(parts, feedBuffers, fetchOutputs.length, this.state, observed?.observer);
    this.inFlight.add(step);
    const buffers = await step.finally(() => this.inFlight.delete(step));
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

  /**
   * Where each node of a run's plan goes and why (request, colocation, only device with a kernel,
   * cost against the runner-up), the nodes that fall back to REF and the simulated step time.
   * Builds (and caches) the plan like `prepare`, with every Placeholder it needs fed unless
   * `feeds` says which; prints the table unless `print` is false.
   */
  async explainPlacement(
    fetches: Fetch | readonly Fetch[],
    feeds: readonly (Output | string)[] = [],
    targets: readonly Target[] = [],
    print = true,
  ): Promise<PlacementExplanation> {
    this.checkOpen();
    const list = Array.isArray(fetches) ? fetches as readonly Fetch[] : [fetches as Fetch];
    const targetNodes = targetList(targets, "explainPlacement").map((t) => this.targetNode(t));
    const fetchOutputs = list.map((f) => this.output(f));
    // Every Placeholder the call needs counts as fed unless feeds are given: nothing runs here.
    const fed = feeds.length > 0 ? feeds.map((f) => this.output(f)) : topologicalOrder([
      ...fetchOutputs.map((o) => o.node),
      ...targetNodes,
    ]).filter((n) => n.op.name === "Placeholder").map((n) => n.outputs[0]);
    const feedOutputs = [...new Set(fed)].sort(byName);
    const cached = await this.planFor(fetchOutputs, feedOutputs, targetNodes);
    const explanation = explainPlacement(cached.nodes, cached.placement, cached.parts);
    if (print) console.log(explanation.text);
    return explanation;
  }

  /**
   * A device of the session by type ("WASM", the first of that type) or name ("/device:WASM:1"),
   * created on first use.
   */
  async device(typeOrName: DeviceType): Promise<Device> {
    this.checkOpen();
    const spec = parseDeviceSpec(typeOrName);
    const name = fullDeviceName(spec.type ?? this.defaultType, spec.index ?? 0);
    const known = spec.index === undefined
      ? [...this.defaultNames, ...this.devices.keys()].find((n) =>
        parseDeviceSpec(n).type === spec.type
      )
      : undefined;
    const entry = await this.deviceEntry(known ?? name);
    if (!entry) throw new EdgeflowError(`the ${name} device is not available on this machine`);
    return entry.device;
  }

  /** The devices the session places unrequested nodes on (created on first use). */
  async defaultDevices(): Promise<Device[]> {
    this.checkOpen();
    const entries = await Promise.all(this.defaultNames.map((n) => this.deviceEntry(n)));
    return entries.flatMap((e) => (e ? [e.device] : []));
  }

  /** Frees every buffer the session allocated (variables included) and disposes its devices. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Waiting kernels (queue dequeues and enqueues) fail and runs still going (a loop that never
    // ends) stop, so every step in flight ends before the plans and devices it uses go.
    this.state.queues!.cancelAll("the session was closed");
    this.closing.abort(new EdgeflowError("the session was closed"));
    await Promise.allSettled([...this.inFlight]);
    const plans = [...this.plans.values()];
    this.plans.clear();
    for (const p of plans) {
      // A failed build left no plan to dispose.
      await p.then(({ parts }) => parts.forEach((x) => disposePlan(x.plan)), () => {});
    }
    for (const pending of this.devices.values()) {
      const entry = await pending.catch(() => null);
      if (!entry) continue;
      entry.resources.clear();
      if (entry.owned) await entry.device[Symbol.asyncDispose]();
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
    this.hintVariables(nodes);
    const devices = await this.placementDevices(nodes, feedSet);
    const defaults = devices.filter((d) => this.defaultNames.includes(d.name));
    // A loop prefers one partition; its nodes requested elsewhere, or with no kernel on the
    // default devices, may leave it (partition gives each device the loop's control skeleton).
    colocateLoops(nodes, {
      runsOnDefaults: (n) =>
        feedSet.has(n) || defaults.some((d) => this.registry.kernelFor(n, d.type)),
      requestMet: (n) => {
        const spec = parseDeviceSpec(n.requestedDevice);
        return devices.some((d) => deviceMatches(spec, parseDeviceSpec(d.name)));
      },
    });
    const placement = place({
      nodes,
      feeds: feedSet,
      registry: this.registry,
      devices,
      defaults,
      pinned: this.pinned,
      allowSoftPlacement: this.options.allowSoftPlacement ?? true,
      strict: this.options.strict ?? false,
      cost: this.cost,
    });
    const at = (n: Node) => placement.nodes.get(n)!;
    const parts = partition({
      nodes,
      feeds: pruned.feeds,
      fetches: pruned.fetches,
      deviceOf: (n) => at(n).device,
      hostRead: (n, i) => {
        const k = at(n).kernel;
        return k ? hostInputsOf(k, n.inputs.length)[i] : false;
      },
    });
    const feedIndex = new Map(pruned.feeds.map((f, i) => [f, i]));
    // Partition copies keep their node's name; Sends and Recvs have no placement (no kernel).
    const byName = new Map(nodes.map((n) => [n.name, placement.nodes.get(n)!]));
    const built: StepPartition[] = [];
    // Dead values may cross to partitions without control flow of their own.
    const deadness = nodes.some((n) => n.op.controlFlow !== undefined);
    const prepared = new Map<Device, PreparedKernel[]>();
    try {
      for (const part of parts) {
        const entry = (await this.deviceEntry(part.device.name))!;
        // Control-loop skeletons (Enter, Merge, Switch, NextIteration) were made by partition.
        const skeleton = new Set(part.controlLoops);
        const plan = buildPlan({
          nodes: part.nodes,
          feeds: part.feeds,
          fetches: part.fetches.map((f) => f.output),
          deadness,
          place: (node) => {
            const transfer = node.op.name === "_Send" || node.op.name === "_Recv";
            const kernel = transfer
              ? null
              : skeleton.has(node)
              ? requireKernel(this.registry, node, part.device.type)
              : byName.get(node.name)?.kernel ?? null;
            return { ...entry, kernel };
          },
        });
        built.push({
          plan,
          feedIndex: part.feeds.map((f) => feedIndex.get(f)!),
          fetchIndex: part.fetches.map((f) => f.index),
        });
        for (const { kernel, instance, node, device } of plan.nodes) {
          if (!kernel || !instance) continue;
          const list = prepared.get(device) ?? [];
          list.push({ kernel, instance, node });
          prepared.set(device, list);
        }
      }
      for (const [device, kernels] of prepared) await device.prepare?.(kernels);
    } catch (e) {
      for (const b of built) disposePlan(b.plan);
      throw e;
    }
    for (const n of nodes) {
      if (n.op.name === "VarHandleOp") this.pinned.set(n.name, at(n).device.name);
    }
    this.stats.plansBuilt++;
    return { parts: built, feedSpecs: pruned.feeds, placement, nodes };
  }

  /**
   * A variable placed for the first time goes where the whole graph's ops on it ask, not only
   * this call's: an initializer run first would otherwise pin it where a later plan's read,
   * requested elsewhere, cannot follow (TensorFlow places the whole graph once for this reason).
   * The hint is a request on the plan's copy of the handle; the user's graph is untouched.
   */
  private hintVariables(nodes: readonly Node[]): void {
    const handles = nodes.filter((n) =>
      n.op.name === "VarHandleOp" && !n.requestedDevice && !this.pinned.has(n.name)
    );
    if (handles.length === 0) return;
    const wanted = new Map<string, string>();
    for (const n of this.graph.nodes) {
      if (!n.requestedDevice) continue;
      for (const o of n.inputs) {
        if (o.node.op.name === "VarHandleOp" && !wanted.has(o.node.name)) {
          wanted.set(o.node.name, n.requestedDevice);
        }
      }
    }
    for (const h of handles) {
      const request = wanted.get(h.name);
      if (request) h.requestedDevice = request;
    }
  }

  /**
   * The devices a plan may use: the default set, every device a node requests (created where
   * its plugin is installed and has one), and REF where some node has a kernel nowhere else.
   */
  private async placementDevices(nodes: readonly Node[], feeds: ReadonlySet<Node>) {
    const names = [...this.defaultNames];
    for (const n of nodes) {
      // A variable an earlier plan put on a requested device is still there.
      const pin = this.pinned.get(n.name);
      if (pin && !names.includes(pin)) names.push(pin);
      if (!n.requestedDevice) continue;
      const spec = parseDeviceSpec(n.requestedDevice);
      if (!spec.type || !this.registry.plugin(spec.type)) continue;
      if ((spec.job ?? "localhost") !== "localhost" || (spec.replica ?? 0) !== 0) continue;
      if ((spec.task ?? 0) !== 0) continue;
      const ofType = names.filter((x) => parseDeviceSpec(x).type === spec.type);
      if (spec.index === undefined ? ofType.length === 0 : true) {
        const name = fullDeviceName(spec.type, spec.index ?? 0);
        const given = this.options.devices?.some((d) => d.name === name);
        // An index past the session's count of that type is not created: a request for
        // /device:WASM:3 in a session of two WASM devices is a constraint that cannot be met.
        const counted = this.options.deviceCount?.[spec.type];
        if (!given && counted !== undefined && (spec.index ?? 0) >= counted) continue;
        if (!names.includes(name)) names.push(name);
      }
    }
    let entries = await Promise.all(names.map((n) => this.deviceEntry(n)));
    let devices = entries.flatMap((e) => (e ? [e.device] : []));
    const homeless = nodes.some((n) =>
      !feeds.has(n) && !devices.some((d) => this.registry.kernelFor(n, d.type))
    );
    if (homeless && this.registry.plugin("REF") && !devices.some((d) => d.type === "REF")) {
      entries = [...entries, await this.deviceEntry(fullDeviceName("REF", 0))];
      devices = entries.flatMap((e) => (e ? [e.device] : []));
    }
    return order(devices);
  }

  private deviceEntry(name: string): Promise<DeviceEntry | null> {
    this.checkOpen();
    let entry = this.devices.get(name);
    if (!entry) {
      entry = this.createDevice(name);
      this.devices.set(name, entry);
      entry.catch(() => this.devices.delete(name));
    }
    return entry;
  }

  private async createDevice(name: string): Promise<DeviceEntry | null> {
    const given = this.options.devices?.find((d) => d.name === name);
    if (given) return { device: given, resources: new ResourceTable(), owned: false };
    const { type, index } = parseDeviceSpec(name);
    const plugin = this.registry.plugin(type!);
    if (!plugin) throw new EdgeflowError(`no ${type} device plugin is installed`);
    const device = await plugin.create({ ...this.options.deviceOptions?.[type!], index });
    if (!device) {
      if (this.defaultNames.includes(name)) {
        throw new EdgeflowError(`the ${type} device is not available on this machine`);
      }
      return null;
    }
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
    for (const entry of this.devices.values()) (await entry)?.device.flush?.();
    try {
      return await Promise.all(
        buffers.map((b) => (b instanceof HostBuffer ? b.tensor : b.device!.download(b))),
      );
    } finally {
      for (const b of buffers) release(b);
    }
  }
}

/** Devices in tie-breaking order: as the session lists them, REF (the host fallback) last. */
function order(devices: readonly Device[]): Device[] {
  return [...devices].sort((a, b) => Number(a.type === "REF") - Number(b.type === "REF"));
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
