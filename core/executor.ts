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

/** What a control-edge Send hands over: a token no device holds. */
const CONTROL_TOKEN = new HostBuffer(Tensor.zeros("bool", []));

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

  constructor(readonly frame: string, readonly iteration: number, plan: Plan) {
    this.values = new Array(plan.slotCount);
    // A typed-array copy: Int32Array.from with a map function was a tenth of a 1000-op run.
    this.pending = plan.pendingCounts.slice();
    this.refs = plan.slotRefs.slice();
    if (plan.recvCount > 0) {
      this.others = plan.otherCounts.slice();
      this.started = new Uint8Array(plan.nodes.length);
    }
  }
}

/** A node ready to run, tagged with the frame iteration it runs in. */
interface ReadyEntry {
  readonly node: number;
  readonly iter: IterationState;
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

/** What one partition's executor shares with the step: the rendezvous and the step's failure. */
export interface StepLink {
  readonly rendezvous: Rendezvous;
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

  constructor(
    private readonly plan: Plan,
    private readonly feeds: readonly DeviceBuffer[],
    private readonly state: SessionState,
    private readonly observer?: ExecutionObserver,
    private readonly link?: StepLink,
  ) {
    this.root = new IterationState("", 0, plan);
  }

  async run(): Promise<DeviceBuffer[]> {
    if (this.root.others) {
      // Readers with nothing but Recvs to wait on start their Recvs now.
      for (let i = 0; i < this.plan.nodes.length; i++) {
        if (this.root.others[i] === 0) this.startRecvs(this.plan.nodes[i], this.root);
      }
    }
    for (const r of this.plan.roots) this.ready.push({ node: r, iter: this.root });
    for (;;) {
      while (this.ready.length > 0 && !this.error) this.process(this.ready.pop()!);
      if (this.outstanding === 0) break;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.error) {
      this.releaseAll(this.root);
      throw this.error;
    }
    const fetched = this.plan.fetchSlots.map((s) => this.root.values[s]);
    const missing = fetched.findIndex((b) => b === undefined);
    if (missing < 0) { for (const b of fetched) retain(b!); }
    // Every reader has run; what is left is the fetches' own references (and copies of them).
    this.releaseAll(this.root);
    if (missing >= 0) {
      throw new EdgeflowError(`fetch ${missing} was never computed (a dead branch or a cycle)`);
    }
    return fetched as DeviceBuffer[];
  }

  private process(entry: ReadyEntry): void {
    const pn = this.plan.nodes[entry.node];
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
      const inputs = this.gather(pn, entry.iter);
      if (inputs instanceof Promise) {
        this.track(
          pn,
          entry.iter,
          inputs.then((ins) => this.launch(pn, ins)),
        );
      } else {
        if (pn.checks.length > 0) runChecks(pn, inputs);
        const ctx = new RunKernelContext(pn, inputs.buffers, inputs.hosts, this.state);
        ctx.inferRunTimeShapes();
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
    ctx.inferRunTimeShapes();
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
        if (this.error) this.dropOutputs(outputs);
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
        const copy = this.upload(iter, slot, b, pn.device);
        if (copy instanceof Promise) (waits ??= []).push(copy.then((c) => void (buffers[i] = c)));
        else buffers[i] = copy;
      }
    }
    const sources = pn.checks.length > 0 ? pn.inputSlots.map((s) => iter.values[s]!) : buffers;
    const inputs: Inputs = { buffers, hosts, checked, sources };
    return waits ? Promise.all(waits).then(() => inputs) : inputs;
  }

  /** The device copy of a host-memory value (a feed, a Const), made once per slot. */
  private upload(iter: IterationState, slot: number, b: HostBuffer, device: Device) {
    let perDevice = iter.copies.get(slot);
    const cached = perDevice?.get(device);
    if (cached) return cached;
    const began = this.observer ? performance.now() : 0;
    let owned = transfer(b, device);
    if (this.observer) owned = this.observer.transfer(this.plan, slot, b, device, began, owned);
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
    const others = pn.transfer?.kind === "recv" ? undefined : iter.others;
    for (const c of pn.consumers) {
      if (others && --others[c] === 0) this.startRecvs(this.plan.nodes[c], iter);
      if (--iter.pending[c] === 0) this.ready.push({ node: c, iter });
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

  private dropOutputs(outputs: readonly (DeviceBuffer | undefined)[]): void {
    for (const b of outputs) if (b) release(b);
  }

  private fail(pn: PlanNode, e: unknown): void {
    if (this.error) return;
    this.error = asEdgeflowError(e, { node: pn.node.name, op: pn.node.op.name });
    this.link?.fail(this.error);
  }

  private releaseAll(iter: IterationState): void {
    for (let s = 0; s < iter.values.length; s++) this.releaseSlot(iter, s);
  }
}
