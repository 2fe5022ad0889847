/**
 * The dataflow executor (section 3 of the 2015 paper): every node has a count of the nodes it
 * waits on; a node whose count reaches zero is ready; a finished node decrements its consumers.
 * Kernels may return promises: the executor keeps scheduling other ready nodes meanwhile, so
 * independent asynchronous kernels overlap, and it awaits only where a value must reach the host
 * (a host input, a cross-device copy). A slot's buffer is released after its last reader ran.
 *
 * Ready entries carry their frame and iteration (TensorFlow's TaggedNode), and all per-run
 * counters live in an IterationState, so control flow frames fit in without a rewrite.
 *
 * One executor runs one partition (one device's subgraph); core/step.ts runs the partitions of a
 * step concurrently. Values cross devices only through `_Send`/`_Recv` nodes and the step's
 * rendezvous (keyed with the entry's frame and iteration); a `_Recv` starts only when everything
 * else its reader waits on is done, so received values do not wait in memory (section 5.2).
 */
import { HostBuffer, release, retain } from "./buffer.ts";
import type { Device, DeviceBuffer } from "./device.ts";
import { asEdgeflowError, EdgeflowError } from "./errors.ts";
import { RunKernelContext, type SessionState } from "./kernel_context.ts";
import type { Plan, PlanNode } from "./plan.ts";
import type { Rendezvous, RendezvousKey } from "./rendezvous.ts";
import { Tensor } from "./tensor.ts";
import { toHost, transfer } from "./transfer.ts";
import type { ExecutionObserver } from "./trace/observer.ts";
import {
  CONTROL_TRIGGER,
  type ControlPlan,
  ENTER,
  EXIT,
  MERGE,
  NEXT_ITERATION,
  PLAIN,
  SWITCH,
} from "./control_flow/control_plan.ts";
import { childFrameId, type Delivery, FrameState } from "./control_flow/frame_state.ts";

/** What a control-edge Send hands over: a token no device holds. */
const CONTROL_TOKEN = new HostBuffer(Tensor.zeros("bool", []));
/** Nodes a run with control flow processes between two yields to the event loop. */
const YIELD_EVERY = 8192;

/** What a dead Send hands over (TensorFlow's is_dead flag): its Recv's outputs are dead. */
const DEAD_TOKEN = new HostBuffer(Tensor.zeros("bool", []));

/** The counters and values of one iteration of one frame; the root frame has one iteration. */
export class IterationState {
  readonly values: (DeviceBuffer | undefined)[];
  readonly pending: Int32Array;
  readonly refs: Int32Array;
  /** Uploads of host-memory values (feeds, Consts) to the partition's device, released with the slot. */
  readonly copies = new Map<number, Map<Device, DeviceBuffer | Promise<DeviceBuffer>>>();
  /** Per node: producers other than _Recvs still to finish (only where the plan has Recvs). */
  readonly others?: Int32Array;
  /** Per _Recv node: whether it was started. */
  readonly started?: Uint8Array;
  // Control flow only (plan.control):
  /** Per slot: the value is dead. */
  readonly dead?: Uint8Array;
  /** Per node: a producer it waits on was dead (its control edges carry deadness too). */
  readonly deadIn?: Uint8Array;
  /** Per Merge: the input chosen (the first live one), or -1. */
  readonly chosen?: Int32Array;
  /** Per Merge: dead data inputs so far. */
  readonly deadInputs?: Int32Array;
  /** Per Merge: made ready already (later inputs are ignored). */
  readonly fired?: Uint8Array;
  /** Nodes of this iteration ready or running (an iteration is done at 0). */
  outstanding = 0;
  /** Loop frames entered from this iteration, alive, by frame name. */
  readonly children = new Map<string, FrameState>();

  constructor(
    readonly frame: string,
    readonly iteration: number,
    plan: Plan,
    /** The frame this iteration belongs to; null for the root frame. */
    readonly flow: FrameState | null = null,
  ) {
    this.values = new Array(plan.slotCount);
    // A typed-array copy: Int32Array.from with a map function was a tenth of a 1000-op run.
    this.pending = plan.pendingCounts.slice();
    this.refs = plan.slotRefs.slice();
    if (plan.recvCount > 0) {
      this.others = plan.otherCounts.slice();
      this.started = new Uint8Array(plan.nodes.length);
    }
    if (plan.control) {
      this.dead = new Uint8Array(plan.slotCount);
      this.deadIn = new Uint8Array(plan.nodes.length);
      this.chosen = new Int32Array(plan.nodes.length).fill(-1);
      this.deadInputs = new Int32Array(plan.nodes.length);
      this.fired = new Uint8Array(plan.nodes.length);
    }
  }
}

/** A node ready to run, tagged with the frame iteration it runs in. */
interface ReadyEntry {
  readonly node: number;
  readonly iter: IterationState;
  /** A dead node: it runs no kernel, and its outputs are dead (control flow only). */
  readonly dead?: boolean;
}

interface Inputs {
  buffers: DeviceBuffer[];
  hosts: (Tensor | undefined)[];
  /** Values read back for the node's checks, from devices that cannot be peeked. */
  checked?: (Tensor | undefined)[];
  /** The inputs as they arrived, before copies to the node's device (what checks peek at). */
  sources: DeviceBuffer[];
}

/**
 * Applies the op's run-time checks to a node's inputs before its kernel runs, the same way on
 * every device: values come from host memory, a view of host-addressable device memory, or a
 * readback made while gathering the inputs.
 */
function runChecks(pn: PlanNode, inputs: Inputs): void {
  const n = pn.inputSlots.length;
  const values = new Array<Tensor | undefined>(n);
  for (let i = 0; i < n; i++) {
    if (!pn.checkReads[i]) continue;
    const b = inputs.sources[i];
    values[i] = inputs.hosts[i] ?? inputs.checked?.[i] ??
      (b instanceof HostBuffer ? b.tensor : b.device!.peek!(b));
  }
  for (const c of pn.checks) c.run(values, inputs.buffers, pn.node.attrs);
}

export type { StepStats } from "./trace/observer.ts";

const queuing = new WeakMap<Plan, readonly Device[]>();

/** The devices of a plan that may hold queued kernels when its nodes are done (`Device.sync`). */
function queuingDevices(plan: Plan): readonly Device[] {
  let devices = queuing.get(plan);
  if (!devices) {
    devices = [...new Set(plan.nodes.map((pn) => pn.device))].filter((d) => d.sync);
    queuing.set(plan, devices);
  }
  return devices;
}

/** What one partition's executor shares with the step: the rendezvous and the step's failure. */
export interface StepLink {
  readonly rendezvous: Rendezvous;
  /** Aborted when any partition of the step fails. */
  readonly aborted?: AbortSignal;
  /** Called with the first error of this partition, to abort the step everywhere. */
  readonly fail: (e: EdgeflowError) => void;
}

/**
 * Runs a plan once. Returns the fetched buffers; the caller releases them. An observer (run
 * metadata, traces, numeric checks; core/trace/) sees each node start and end and each upload;
 * without one the executor does no bookkeeping for it.
 */
export function execute(
  plan: Plan,
  feeds: readonly DeviceBuffer[],
  state: SessionState,
  observer?: ExecutionObserver,
  link?: StepLink,
): Promise<DeviceBuffer[]> {
  return new ExecutorRun(plan, feeds, state, observer, link).run();
}

class ExecutorRun {
  private readonly ready: ReadyEntry[] = [];
  private readonly root: IterationState;
  private outstanding = 0;
  private error?: EdgeflowError;
  private wake?: () => void;
  private readonly control?: ControlPlan;
  /** Nodes processed so far (control-flow runs yield to the event loop every YIELD_EVERY). */
  private processed = 0;
  /** Aborted on the run's first error, a peer partition's, or the session's close. */
  private readonly abort = new AbortController();
  /** Iterations of loop frames alive (released if the run fails). */
  private readonly alive = new Set<IterationState>();
  /**
   * Host-memory loop invariants (a fed tensor entering a loop) and their device copies, made once
   * per run rather than once per iteration: a loop's body, and its gradient's backward body,
   * read them in every iteration. Released when the run ends.
   */
  private readonly invariantCopies = new Map<
    HostBuffer,
    Map<Device, DeviceBuffer | Promise<DeviceBuffer>>
  >();

  constructor(
    private readonly plan: Plan,
    private readonly feeds: readonly DeviceBuffer[],
    private readonly state: SessionState,
    private readonly observer?: ExecutionObserver,
    private readonly link?: StepLink,
  ) {
    this.root = new IterationState("", 0, plan);
    this.control = plan.control;
  }

  async run(): Promise<DeviceBuffer[]> {
    // A run with loops stops when the step fails elsewhere or the session closes.
    const outer = this.control
      ? [this.state.closing, this.link?.aborted].filter((s) => s !== undefined)
      : [];
    const stop = (e: Event) => this.abort.abort((e.target as AbortSignal).reason);
    for (const s of outer) {
      if (s.aborted) this.abort.abort(s.reason);
      s.addEventListener("abort", stop);
    }
    try {
      return await this.runNodes();
    } finally {
      for (const s of outer) s.removeEventListener("abort", stop);
    }
  }

  private async runNodes(): Promise<DeviceBuffer[]> {
    if (this.root.others) {
      // Readers with nothing but Recvs to wait on start their Recvs now.
      for (let i = 0; i < this.plan.nodes.length; i++) {
        if (this.root.others[i] === 0) this.startRecvs(this.plan.nodes[i], this.root);
      }
    }
    for (const r of this.plan.roots) {
      if (this.control) this.activate(r, this.root);
      else this.ready.push({ node: r, iter: this.root });
    }
    for (;;) {
      if (this.control) await this.processYielding();
      else while (this.ready.length > 0 && !this.error) this.process(this.ready.pop()!);
      if (this.outstanding === 0) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    // Devices that queue kernels finish them (or report which failed) before the run ends.
    for (const d of queuingDevices(this.plan)) {
      try {
        const done = d.sync!();
        if (done instanceof Promise) await done;
      } catch (e) {
        if (!this.error) this.fail(this.plan.nodes[0], e);
      }
    }
    if (this.error) {
      this.releaseAll(this.root);
      for (const it of this.alive) this.releaseAll(it);
      this.releaseInvariantCopies();
      throw this.error;
    }
    const fetched = this.plan.fetchSlots.map((s) => this.root.values[s]);
    const missing = fetched.findIndex((b) => b === undefined);
    const dead = missing >= 0 && this.root.dead?.[this.plan.fetchSlots[missing]] === 1;
    if (missing < 0) { for (const b of fetched) retain(b!); }
    // Every reader has run; what is left is the fetches' own references (and copies of them).
    this.releaseAll(this.root);
    this.releaseInvariantCopies();
    if (missing >= 0) {
      throw new EdgeflowError(
        dead
          ? `fetch ${missing} (${
            this.plan.nodes.find((n) =>
              n.outputBase <= this.plan.fetchSlots[missing] &&
              this.plan.fetchSlots[missing] < n.outputBase + n.outputCount
            )?.node.name
          }) is dead: it is on a branch of a cond not taken`
          : `fetch ${missing} was never computed (a cycle, or a loop that never ended)`,
      );
    }
    return fetched as DeviceBuffer[];
  }

  /**
   * A loop may run many synchronous kernels back to back: every YIELD_EVERY nodes the executor
   * lets other tasks run (other steps, a session's close), and stops if the run was aborted (a
   * loop that never ends can then be ended by closing the session).
   */
  private async processYielding(): Promise<void> {
    while (this.ready.length > 0 && !this.error) {
      this.process(this.ready.pop()!);
      // Counted over the whole run: a loop of asynchronous kernels yields only to microtasks.
      if (++this.processed % YIELD_EVERY !== 0) continue;
      await new Promise((resolve) => setTimeout(resolve, 0));
      const signal = this.abort.signal;
      if (signal.aborted && !this.error) {
        this.fail(
          this.plan.nodes[0],
          new EdgeflowError(
            `the run was stopped: ${(signal.reason as Error)?.message ?? "aborted"}`,
          ),
        );
      }
    }
  }

  private process(entry: ReadyEntry): void {
    const pn = this.plan.nodes[entry.node];
    if (entry.dead) {
      // A dead value crossing devices still reaches its Recv, as a dead token.
      if (pn.transfer?.kind === "send") {
        this.link?.rendezvous.send(this.key(pn, entry.iter), retain(DEAD_TOKEN));
      }
      this.finishFlow(pn, entry.iter, [], true);
      return;
    }
    const feed = this.plan.feedIndex[entry.node];
    if (feed >= 0) {
      this.finish(pn, entry.iter, [retain(this.feeds[feed])]);
      return;
    }
    this.observer?.nodeStart(pn);
    if (pn.transfer) {
      this.exchange(pn, entry.iter);
      return;
    }
    try {
      const inputs = this.control?.kind[entry.node] === MERGE
        ? this.gatherMerge(pn, entry.iter)
        : this.gather(pn, entry.iter);
      if (inputs instanceof Promise) {
        this.track(
          pn,
          entry.iter,
          inputs.then((ins) => this.launch(pn, ins)),
        );
      } else {
        if (pn.checks.length > 0) runChecks(pn, inputs);
        const ctx = new RunKernelContext(pn, inputs.buffers, inputs.hosts, this.state);
        // Control-flow kernels forward buffers: nothing to infer (a Merge has absent inputs).
        if (!pn.node.op.controlFlow) ctx.inferRunTimeShapes();
        const done = this.invoke(pn, ctx);
        if (done instanceof Promise) this.track(pn, entry.iter, done.then(() => ctx));
        else this.complete(pn, entry.iter, ctx);
      }
    } catch (e) {
      this.fail(pn, e);
    }
  }

  private async launch(pn: PlanNode, inputs: Inputs): Promise<RunKernelContext> {
    if (pn.checks.length > 0) runChecks(pn, inputs);
    const ctx = new RunKernelContext(pn, inputs.buffers, inputs.hosts, this.state);
    if (!pn.node.op.controlFlow) ctx.inferRunTimeShapes();
    await this.invoke(pn, ctx);
    return ctx;
  }

  private key(pn: PlanNode, iter: IterationState): RendezvousKey {
    const t = pn.transfer!;
    return {
      src: t.src,
      dst: t.dst,
      tensor: t.tensor,
      frame: iter.frame,
      iteration: iter.iteration,
    };
  }

  /** A _Send hands its value to the rendezvous; a _Recv waits for it and lands it here. */
  private exchange(pn: PlanNode, iter: IterationState): void {
    const t = pn.transfer!;
    const rendezvous = this.link?.rendezvous;
    if (!rendezvous) {
      this.fail(pn, new EdgeflowError("a partition with Send/Recv nodes ran without a rendezvous"));
      return;
    }
    if (t.kind === "send") {
      try {
        const value = t.control ? CONTROL_TOKEN : iter.values[pn.inputSlots[0]]!;
        rendezvous.send(this.key(pn, iter), retain(value));
        this.complete(pn, iter, undefined, []);
      } catch (e) {
        this.fail(pn, e);
      }
      return;
    }
    const landed = rendezvous.recv(this.key(pn, iter)).then((b) => {
      if (b === DEAD_TOKEN) return undefined;
      if (t.control) {
        release(b);
        return [];
      }
      // A host-memory value, or one every reader takes in host memory: no device copy.
      if (b instanceof HostBuffer && b.device === null) return [b];
      const moved = t.host ? toHost(b) : transfer(b, pn.device);
      const done = (m: DeviceBuffer) => {
        release(b);
        return [m];
      };
      return moved instanceof Promise
        ? moved.then(done, (e) => {
          release(b);
          throw e;
        })
        : done(moved);
    });
    this.outstanding++;
    landed.then(
      (outputs) => {
        if (outputs === undefined) {
          if (!this.error) this.finishFlow(pn, iter, [], true);
        } else if (this.error) this.dropOutputs(outputs);
        else this.complete(pn, iter, undefined, outputs);
      },
      (e) => this.fail(pn, e),
    ).finally(() => {
      this.outstanding--;
      this.wake?.();
    });
  }

  /** Starts the _Recvs a node reads that have not started. */
  private startRecvs(pn: PlanNode, iter: IterationState): void {
    for (const r of pn.recvProducers) {
      if (iter.started![r]) continue;
      iter.started![r] = 1;
      this.ready.push({ node: r, iter });
    }
  }

  /** Runs the kernel; whatever it allocated is released if it fails. */
  private invoke(pn: PlanNode, ctx: RunKernelContext): void | Promise<void> {
    let done: void | Promise<void>;
    // The observer times the kernel itself here: completion may be seen a few microtasks later,
    // after another node's kernel ran.
    this.observer?.kernelStart(pn);
    try {
      done = pn.device.run(pn.instance!, ctx);
    } catch (e) {
      this.dropOutputs(ctx.outputs);
      throw e;
    }
    // The handler is made only for asynchronous kernels: most runs are synchronous.
    if (!(done instanceof Promise)) {
      this.observer?.kernelEnd(pn);
      return;
    }
    return done.then(() => this.observer?.kernelEnd(pn), (e) => {
      this.dropOutputs(ctx.outputs);
      throw e;
    });
  }

  private track(pn: PlanNode, iter: IterationState, work: Promise<RunKernelContext>): void {
    this.outstanding++;
    work.then(
      (ctx) => {
        if (this.error) this.dropOutputs(ctx.outputs);
        else this.complete(pn, iter, ctx);
      },
      (e) => this.fail(pn, e),
    ).finally(() => {
      this.outstanding--;
      this.wake?.();
    });
  }

  /** Inputs on the node's device, copying across devices and reading host inputs as needed. */
  private gather(pn: PlanNode, iter: IterationState): Inputs | Promise<Inputs> {
    const n = pn.inputSlots.length;
    const buffers = new Array<DeviceBuffer>(n);
    const hosts = new Array<Tensor | undefined>(n);
    let waits: Promise<void>[] | undefined;
    let checked: (Tensor | undefined)[] | undefined;
    for (let i = 0; i < n; i++) {
      const slot = pn.inputSlots[i];
      const b = iter.values[slot]!;
      buffers[i] = b;
      if (pn.hostInputs[i]) {
        if (b instanceof HostBuffer) hosts[i] = b.tensor;
        // A predicate (Switch, LoopCond) is read at once and not kept: a view of host-addressable
        // device memory will do, and the loop does not wait a microtask per iteration for it.
        else if (pn.node.op.controlFlow && b.device!.peek) hosts[i] = b.device!.peek(b);
        else (waits ??= []).push(b.device!.download(b).then((t) => void (hosts[i] = t)));
        continue;
      }
      if (pn.checkReads[i] && !(b instanceof HostBuffer) && !b.device!.peek) {
        // A device whose memory the host cannot address (a GPU): the check needs a readback.
        checked ??= new Array(n);
        const at = checked;
        (waits ??= []).push(b.device!.download(b).then((t) => void (at[i] = t)));
      }
      if (b.device !== pn.device) {
        if (!(b instanceof HostBuffer) || b.device !== null) {
          throw new EdgeflowError(
            `input ${i} lives on ${b.device?.name}, not on ${pn.device.name}: the partition ` +
              `should have received it`,
          );
        }
        // Control flow forwards a host-memory value as it is; its reader uploads it if needed.
        if (pn.node.op.controlFlow) continue;
        const copy = this.upload(iter, slot, b, pn.device);
        if (copy instanceof Promise) (waits ??= []).push(copy.then((c) => void (buffers[i] = c)));
        else buffers[i] = copy;
      }
    }
    const sources = pn.checks.length > 0 ? pn.inputSlots.map((s) => iter.values[s]!) : buffers;
    const inputs: Inputs = { buffers, hosts, checked, sources };
    return waits ? Promise.all(waits).then(() => inputs) : inputs;
  }

  /**
   * The device copy of a host-memory value (a feed, a Const), made once per slot; once per run
   * for a loop invariant (each slot then holds a reference to the run's copy).
   */
  private upload(iter: IterationState, slot: number, b: HostBuffer, device: Device) {
    let perDevice = iter.copies.get(slot);
    const cached = perDevice?.get(device);
    if (cached) return cached;
    const shared = this.invariantCopies.get(b);
    let owned: DeviceBuffer | Promise<DeviceBuffer>;
    if (shared && shared.has(device)) {
      const copy = shared.get(device)!;
      owned = copy instanceof Promise ? copy.then(retain) : retain(copy);
    } else {
      const began = this.observer ? performance.now() : 0;
      owned = transfer(b, device);
      if (this.observer) owned = this.observer.transfer(this.plan, slot, b, device, began, owned);
      if (shared) {
        shared.set(device, owned);
        owned = owned instanceof Promise ? owned.then(retain) : retain(owned);
      }
    }
    if (!perDevice) iter.copies.set(slot, perDevice = new Map());
    perDevice.set(device, owned);
    return owned;
  }

  private complete(
    pn: PlanNode,
    iter: IterationState,
    ctx: RunKernelContext | undefined,
    outputs: readonly (DeviceBuffer | undefined)[] = ctx!.outputs,
  ): void {
    if (this.observer) {
      // The observer may read the outputs (a NaN check, a comparison) before consumers run, and
      // stop the run by throwing. A node without a kernel (a _Recv) shows its outputs alone.
      let seen: void | Promise<void>;
      try {
        seen = this.observer.nodeEnd(pn, ctx ?? { inputs: [], outputs });
      } catch (e) {
        this.dropOutputs(outputs);
        this.fail(pn, e);
        return;
      }
      if (seen instanceof Promise) {
        this.outstanding++;
        seen.then(
          () => this.error ? this.dropOutputs(outputs) : this.finish(pn, iter, outputs),
          (e) => {
            this.dropOutputs(outputs);
            this.fail(pn, e);
          },
        ).finally(() => {
          this.outstanding--;
          this.wake?.();
        });
        return;
      }
    }
    this.finish(pn, iter, outputs);
  }

  /** Stores a finished node's outputs, releases its inputs, and readies its consumers. */
  private finish(
    pn: PlanNode,
    iter: IterationState,
    outputs: readonly (DeviceBuffer | undefined)[],
  ): void {
    if (this.control) {
      this.finishFlow(pn, iter, outputs, false);
      return;
    }
    for (let i = 0; i < pn.outputCount; i++) {
      const b = outputs[i];
      if (b === undefined) {
        this.dropOutputs(outputs);
        this.fail(
          pn,
          new EdgeflowError(`the ${pn.device.type} kernel did not produce output ${i}`),
        );
        return;
      }
      const slot = pn.outputBase + i;
      if (iter.refs[slot] === 0) release(b);
      else iter.values[slot] = b;
    }
    for (const slot of pn.inputSlots) if (--iter.refs[slot] === 0) this.releaseSlot(iter, slot);
    const others = pn.transfer?.lazy ? undefined : iter.others;
    for (const c of pn.consumers) {
      if (others && --others[c] === 0) this.startRecvs(this.plan.nodes[c], iter);
      if (--iter.pending[c] === 0) this.ready.push({ node: c, iter });
    }
  }

  /** A Merge's inputs: the chosen live one alone (the others are dead or yet to come). */
  private gatherMerge(pn: PlanNode, iter: IterationState): Inputs {
    const buffers = new Array<DeviceBuffer>(pn.inputSlots.length);
    const chosen = iter.chosen![pn.index];
    buffers[chosen] = iter.values[pn.inputSlots[chosen]]!;
    return { buffers, hosts: [], sources: buffers };
  }

  /**
   * Control flow's finish (TensorFlow's PropagateOutputs): stores a finished node's outputs in the
   * iteration they belong to (an Enter's in its child frame, an Exit's in the parent, a
   * NextIteration's in the next iteration), marks dead values, readies consumers there, and
   * retires iterations and frames that are done.
   */
  private finishFlow(
    pn: PlanNode,
    iter: IterationState,
    outputs: readonly (DeviceBuffer | undefined)[],
    dead: boolean,
  ): void {
    const kind = this.control!.kind[pn.index];
    if (!dead && kind !== SWITCH) {
      for (let i = 0; i < pn.outputCount; i++) {
        if (outputs[i] !== undefined) continue;
        this.dropOutputs(outputs);
        this.fail(
          pn,
          new EdgeflowError(`the ${pn.device.type} kernel did not produce output ${i}`),
        );
        return;
      }
    }
    for (const slot of pn.inputSlots) if (--iter.refs[slot] === 0) this.releaseSlot(iter, slot);
    if (kind === PLAIN || kind === SWITCH || kind === MERGE || kind > NEXT_ITERATION) {
      this.deliver(pn, iter, outputs, dead);
    } else if (kind === ENTER) {
      this.enter(pn, iter, outputs, dead);
    } else if (kind === EXIT) {
      const frame = iter.flow!;
      if (!dead) {
        frame.liveExits.add(pn.index);
        this.deliver(pn, frame.parent!, outputs, false);
      }
      // A dead Exit is delivered when its frame ends, if it never ran live.
    } else if (!dead) {
      // NextIteration: a dead value ends the loop here (it is not delivered).
      const frame = iter.flow!;
      const delivery = { node: pn.index, outputs, dead: false };
      const next = frame.iterations.get(iter.iteration + 1);
      if (next) this.deliver(pn, next, outputs, false);
      else if (frame.last === iter.iteration && frame.canStartNext()) {
        this.deliver(pn, this.newIteration(frame), outputs, false);
      } else frame.deferred.push(delivery);
    }
    iter.outstanding--;
    if (iter.outstanding === 0 && iter.flow) this.retire(iter.flow);
  }

  /** An Enter: into iteration 0 of its child frame, or every iteration for a loop invariant. */
  private enter(
    pn: PlanNode,
    iter: IterationState,
    outputs: readonly (DeviceBuffer | undefined)[],
    dead: boolean,
  ): void {
    const info = this.control!.enters[pn.index]!;
    let frame = iter.children.get(info.name);
    if (!frame) {
      frame = new FrameState(childFrameId(iter, info.name), info, iter);
      iter.children.set(info.name, frame);
      this.newIteration(frame, 0);
    }
    frame.pendingEnters--;
    if (pn.node.attrs.is_constant) {
      const delivery = { node: pn.index, outputs, dead };
      frame.invariants.push(delivery);
      const v = outputs[0];
      if (v instanceof HostBuffer && v.device === null && !this.invariantCopies.has(v)) {
        this.invariantCopies.set(v, new Map());
      }
      for (const it of frame.iterations.values()) this.deliverAll(it, [delivery]);
    } else this.deliver(pn, frame.iterations.get(frame.first)!, outputs, dead);
    // The last Enter may be what iteration 0 waited for to be done.
    if (frame.pendingEnters === 0) this.retire(frame);
  }

  private newIteration(frame: FrameState, n = frame.last + 1): IterationState {
    const it = new IterationState(frame.id, n, this.plan, frame);
    frame.iterations.set(n, it);
    frame.last = n;
    this.alive.add(it);
    // Loop invariants reach every iteration; hold it open while they are handed over.
    it.outstanding++;
    this.deliverAll(it, frame.invariants);
    it.outstanding--;
    return it;
  }

  /** Delivers kept outputs (invariants, deferred NextIterations), each reference retained. */
  private deliverAll(it: IterationState, deliveries: readonly Delivery[]): void {
    for (const d of deliveries) {
      const pn = this.plan.nodes[d.node];
      const outs = d.outputs.map((b) => b && retain(b));
      this.deliver(pn, it, outs, d.dead);
    }
  }

  /** Stores `pn`'s outputs in `target` and readies the consumers there. */
  private deliver(
    pn: PlanNode,
    target: IterationState,
    outputs: readonly (DeviceBuffer | undefined)[],
    dead: boolean,
  ): void {
    const control = this.control!;
    for (let i = 0; i < pn.outputCount; i++) {
      const b = outputs[i];
      const slot = pn.outputBase + i;
      if (b === undefined) target.dead![slot] = 1;
      else if (target.refs[slot] === 0) release(b);
      else target.values[slot] = b;
    }
    const others = pn.transfer?.lazy ? undefined : target.others;
    for (const c of pn.consumers) {
      if (others && --others[c] === 0) this.startRecvs(this.plan.nodes[c], target);
      if (control.kind[c] === MERGE) {
        this.mergeInput(pn.index, c, target, dead);
        continue;
      }
      if (dead) target.deadIn![c] = 1;
      if (--target.pending[c] === 0) this.activate(c, target);
    }
  }

  /** A Merge hears from a producer: ready on its first live input, or when all are dead. */
  private mergeInput(p: number, c: number, it: IterationState, dead: boolean): void {
    const control = this.control!;
    const slots = this.plan.nodes[c].inputSlots;
    control.producers[c]!.forEach((q, j) => {
      if (q !== p) return;
      if (!dead && it.dead![slots[j]] === 0 && it.values[slots[j]] !== undefined) {
        if (it.chosen![c] < 0) it.chosen![c] = j;
      } else it.deadInputs![c]++;
    });
    if (control.controlFrom[c]!.has(p)) it.pending[c]--;
    if (
      !it.fired![c] && it.pending[c] === 0 &&
      (it.chosen![c] >= 0 || it.deadInputs![c] >= control.deadNeeded[c])
    ) {
      it.fired![c] = 1;
      this.activate(c, it);
    }
  }

  private activate(c: number, it: IterationState): void {
    let dead: boolean;
    const kind = this.control!.kind[c];
    if (kind === MERGE) dead = it.chosen![c] < 0;
    else if (kind === CONTROL_TRIGGER) dead = false; // live whatever its inputs carry
    else {
      dead = it.deadIn![c] === 1;
      if (!dead) { for (const s of this.plan.nodes[c].inputSlots) if (it.dead![s]) dead = true; }
    }
    it.outstanding++;
    this.ready.push(dead ? { node: c, iter: it, dead } : { node: c, iter: it });
  }

  /** Retires the frame's done iterations in order, then the frame itself when it is over. */
  private retire(frame: FrameState): void {
    for (;;) {
      const it = frame.iterations.get(frame.first);
      if (!it || it.outstanding > 0 || it.children.size > 0) break;
      if (it.iteration === 0 && frame.pendingEnters > 0) break;
      frame.iterations.delete(frame.first);
      frame.first++;
      this.alive.delete(it);
      this.releaseAll(it);
      if (frame.deferred.length > 0 && frame.canStartNext()) {
        // The iteration that waited for parallel_iterations starts with the values kept for it.
        const next = this.newIteration(frame);
        for (const d of frame.deferred.splice(0)) {
          this.deliver(this.plan.nodes[d.node], next, d.outputs, d.dead);
        }
      }
    }
    if (frame.iterations.size > 0 || frame.pendingEnters > 0 || frame.deferred.length > 0) return;
    // The frame is over: Exits that never ran live end dead in the parent.
    const parent = frame.parent!;
    for (const e of this.control!.exits.get(frame.info) ?? []) {
      if (!frame.liveExits.has(e)) this.deliver(this.plan.nodes[e], parent, [], true);
    }
    for (const inv of frame.invariants) this.dropOutputs(inv.outputs);
    parent.children.delete(frame.info.name);
    if (parent.outstanding === 0 && parent.children.size === 0 && parent.flow) {
      this.retire(parent.flow);
    }
  }

  private releaseSlot(iter: IterationState, slot: number): void {
    const b = iter.values[slot];
    if (b) release(b);
    iter.values[slot] = undefined;
    const copies = iter.copies.get(slot);
    if (!copies) return;
    iter.copies.delete(slot);
    for (const c of copies.values()) {
      if (c instanceof Promise) c.then(release, () => {});
      else release(c);
    }
  }

  private releaseInvariantCopies(): void {
    for (const copies of this.invariantCopies.values()) {
      for (const c of copies.values()) {
        if (c instanceof Promise) c.then(release, () => {});
        else release(c);
      }
    }
    this.invariantCopies.clear();
  }

  private dropOutputs(outputs: readonly (DeviceBuffer | undefined)[]): void {
    for (const b of outputs) if (b) release(b);
  }

  private fail(pn: PlanNode, e: unknown): void {
    if (this.error) return;
    this.error = asEdgeflowError(e, { node: pn.node.name, op: pn.node.op.name });
    this.abort.abort(this.error);
    this.link?.fail(this.error);
  }

  private releaseAll(iter: IterationState): void {
    for (let s = 0; s < iter.values.length; s++) this.releaseSlot(iter, s);
  }
}
