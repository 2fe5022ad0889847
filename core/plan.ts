/**
 * An executable plan: a placed graph turned into arrays the executor walks without looking at the
 * graph again. Built once per run signature and cached by the session.
 */
import type { Device } from "./device.ts";
import { EdgeflowError, withContext } from "./errors.ts";
import type { Node, Output } from "./graph.ts";
import { hostInputsOf, instantiate, type Kernel, type KernelInstance } from "./kernel.ts";
import { type Attrs, type InputCheck, resolvesTo } from "./op.ts";
import type { ResourceTable } from "./resources.ts";
import { isFullyDefined, type Shape } from "./shape.ts";
import { RecvOp, SendOp } from "./partition.ts";
import { buildControlPlan, type ControlPlan, MERGE } from "./control_flow/control_plan.ts";

function transferOf(node: Node): Transfer | undefined {
  if (node.op !== SendOp && node.op !== RecvOp) return undefined;
  const a = node.attrs as Record<string, unknown>;
  return {
    kind: node.op === SendOp ? "send" : "recv",
    tensor: a.tensor_name as string,
    src: a.send_device as string,
    dst: a.recv_device as string,
    control: a.N === 0,
    host: a.host === true,
    lazy: node.op === RecvOp && node.controlInputs.length === 0,
  };
}

export interface PlanNode {
  readonly index: number;
  readonly node: Node;
  /** null for a feed: its output slot is filled by the session. */
  readonly kernel: Kernel | null;
  /** The node's kernel instance, made once with the plan (null for a feed). */
  readonly instance: KernelInstance | null;
  readonly device: Device;
  readonly resources: ResourceTable;
  /** The slot each data input reads. */
  readonly inputSlots: readonly number[];
  /** Per input: read on the host (the op's HostMemory, or the kernel's override). */
  readonly hostInputs: readonly boolean[];
  /** Per output: kept in host memory (the op's HostMemory). */
  readonly hostOutputs: readonly boolean[];
  /** The op's run-time checks that apply to this node, run before its kernel. */
  readonly checks: readonly InputCheck<Attrs>[];
  /** Per input: read by one of `checks`. */
  readonly checkReads: readonly boolean[];
  /**
   * Output shapes known when the plan was built (every input and output shape fully defined),
   * so runs do not infer them again; undefined where they depend on the run.
   */
  readonly outputShapes?: readonly Shape[];
  /** Output i lives in slot outputBase + i. */
  readonly outputBase: number;
  readonly outputCount: number;
  /** Distinct plan nodes that wait on this one (data or control). */
  readonly consumers: readonly number[];
  /** How many distinct plan nodes this one waits on. */
  readonly pendingInit: number;
  /** For a _Send or _Recv: what it carries between which devices. */
  readonly transfer?: Transfer;
  /** The distinct _Recv nodes this one reads (they start once everything else it waits on is done). */
  readonly recvProducers: readonly number[];
}

/** What a _Send or _Recv plan node moves: the rendezvous key's parts and how to land it. */
export interface Transfer {
  readonly kind: "send" | "recv";
  readonly tensor: string;
  readonly src: string;
  readonly dst: string;
  /** A control edge: a token, no value. */
  readonly control: boolean;
  /** A Recv whose readers all read it in host memory: no device copy. */
  readonly host: boolean;
  /**
   * A Recv that starts when its readers' other producers are done (as late as possible). A Recv
   * inside a loop frame instead waits on its frame's control loop (a control edge), so it runs
   * once per iteration: it is an ordinary producer.
   */
  readonly lazy: boolean;
}

export interface Plan {
  readonly nodes: readonly PlanNode[];
  readonly slotCount: number;
  /** Per slot: readers (input edges) plus fetches; the value is released when this reaches 0. */
  readonly slotRefs: Int32Array;
  /** Per plan node: its pendingInit, copied (not mapped) into each iteration's counters. */
  readonly pendingCounts: Int32Array;
  /** Nodes with nothing to wait on (_Recv nodes excepted: they start as late as possible). */
  readonly roots: readonly number[];
  /**
   * Per plan node: how many of the nodes it waits on are not _Recvs. When that reaches zero the
   * node's Recvs start (section 5.2 of the 2015 paper: a Recv runs just before its value is
   * needed, so received values do not pile up in memory).
   */
  readonly otherCounts: Int32Array;
  /** How many _Recv nodes the plan has (0: the executor keeps no Recv bookkeeping). */
  readonly recvCount: number;
  /** Plan node index of each feed, in the order of the session's feed list. */
  readonly feedNodes: readonly number[];
  /** Per plan node: its position in the feed list, or -1. */
  readonly feedIndex: Int32Array;
  /** The slot of each fetch. */
  readonly fetchSlots: readonly number[];
  /** Frames, Merges and deadness: present only where the plan has control-flow nodes. */
  readonly control?: ControlPlan;
}

export interface PlanInput {
  /** Nodes in topological order. */
  readonly nodes: readonly Node[];
  /** Feed placeholders, in feed order (they must be among `nodes`). */
  readonly feeds: readonly Node[];
  readonly fetches: readonly Output[];
  /**
   * Whether dead values may reach this plan though it has no control-flow node (another
   * partition of the step has, and sends it dead values): it then tracks deadness too.
   */
  readonly deadness?: boolean;
  /** The device and kernel for each node (kernel null for feeds). */
  place(node: Node): { device: Device; kernel: Kernel | null; resources: ResourceTable };
}

/** Disposes the kernel instances of a plan (when its session closes). */
export function disposePlan(plan: Plan): void {
  for (const n of plan.nodes) n.instance?.dispose?.();
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

  const placed = input.nodes.map((node) => input.place(node));
  const hostInputs = input.nodes.map((node, i) => {
    const kernel = placed[i].kernel;
    return kernel ? hostInputsOf(kernel, node.inputs.length) : node.inputs.map(() => false);
  });
  // Per slot: whether a kernel on the producer's own device computes on it (reads it outside
  // host memory). A Const nobody computes on stays in host memory.
  const computedOn = new Uint8Array(slotCount);
  input.nodes.forEach((node, i) => {
    node.inputs.forEach((o, j) => {
      const producer = index.get(o.node);
      if (producer === undefined || hostInputs[i][j]) return;
      if (placed[producer].device === placed[i].device) computedOn[slotOf(o)] = 1;
    });
  });

  const statefulPlan = input.nodes.some((n) => n.op.stateful === true);
  // Recvs in a loop frame hang on its control loop: only the others start lazily.
  const lazyRecv = input.nodes.map((n) => n.op === RecvOp && n.controlInputs.length === 0);
  const recvProducers: number[][] = input.nodes.map(() => []);
  const others = new Array<number>(input.nodes.length).fill(0);
  const nodes: Omit<PlanNode, "consumers" | "pendingInit" | "recvProducers">[] = [];
  try {
    input.nodes.forEach((node, i) => {
      const { device, kernel, resources } = placed[i];
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
        if (lazyRecv[pi]) recvProducers[i].push(pi);
        else others[i]++;
      }
      const n = node.inputs.length;
      const checks = kernel && !kernel.uncheckedReason
        ? (node.op.checks ?? []).filter((c) => !c.applies || c.applies(node.attrs))
        : [];
      const inputSpecs = node.inputs.map((o) => o.node.outputSpecs[o.index]);
      // Output shapes are fixed when every shape is known and every host-memory argument (a
      // shape, an axis; a resource handle decides no shape) is a Const: inference checked those values when the graph was built. A
      // fed or computed argument is checked by inference on each run (a fed shape of [] for 4
      // elements must be refused, though the output's rank-0 shape was known).
      const static_ = inputSpecs.every((s) => isFullyDefined(s.shape)) &&
        node.outputSpecs.every((s) => isFullyDefined(s.shape)) &&
        node.inputs.every((o, j) =>
          !hostInputs[i][j] || o.node.op.name === "Const" || inputSpecs[j].dtype === "resource"
        );
      const instance = kernel &&
        withContext({ node: node.name, op: node.op.name }, () =>
          instantiate(kernel, {
            node,
            attrs: node.attrs,
            device,
            inputs: inputSpecs,
            outputs: node.outputSpecs,
            computedOn: node.outputs.map((_, k) => computedOn[bases[i] + k] === 1),
            statefulPlan,
          }));
      nodes.push({
        index: i,
        node,
        kernel,
        instance,
        device,
        resources,
        inputSlots,
        hostInputs: hostInputs[i],
        hostOutputs: node.outputs.map((_, j, all) =>
          resolvesTo(node.op.hostMemory?.outputs, j, all.length)
        ),
        checks,
        checkReads: node.inputs.map((_, j) => checks.some((c) => resolvesTo(c.reads, j, n))),
        outputShapes: static_ ? node.outputSpecs.map((s) => s.shape as Shape) : undefined,
        outputBase: bases[i],
        outputCount: node.outputs.length,
        transfer: transferOf(node),
      });
    });
  } catch (e) {
    for (const n of nodes) n.instance?.dispose?.();
    throw e;
  }
  const control = buildControlPlan(input.nodes, index, input.deadness ?? false);
  if (control) {
    // A Merge waits on its control inputs only; its data inputs are counted apart (the first
    // live one, or all of them dead, makes it ready).
    for (const m of control.merges) pending[m] = control.controlFrom[m]!.size;
  }
  const fetchSlots = input.fetches.map(slotOf);
  const feedNodes = input.feeds.map((f) => index.get(f)!);
  const feedIndex = new Int32Array(input.nodes.length).fill(-1);
  feedNodes.forEach((n, k) => (feedIndex[n] = k));
  for (const s of fetchSlots) slotRefs[s]++;
  return {
    nodes: nodes.map((n, i) => ({
      ...n,
      consumers: consumers[i],
      pendingInit: pending[i],
      recvProducers: recvProducers[i],
    })),
    slotCount,
    slotRefs,
    pendingCounts: Int32Array.from(pending),
    roots: pending.flatMap((p, i) =>
      p === 0 && !lazyRecv[i] && !(control && control.kind[i] === MERGE) ? [i] : []
    ),
    otherCounts: Int32Array.from(others),
    recvCount: input.nodes.filter((n) => n.op === RecvOp).length,
    feedNodes,
    feedIndex,
    fetchSlots,
    control,
  };
}
