/**
 * The main thread's side of a WASM device whose kernels run off the JavaScript thread (the
 * `launch: "worker"` mode): a kernel's TypeScript still runs here (shapes, allocation, argument
 * words), but each `launch` is recorded in a command ring (control.ts) instead of run, and when
 * the kernel returns its commands are published to the device's launcher worker as one segment.
 * Like a GPU's queue, the device is then done with the kernel as far as the executor knows: the
 * JavaScript thread goes on recording the kernels after it (they run after it, in order) and
 * other devices' kernels, while the launcher computes. Two such devices compute at once, each on
 * its own threads and memory, and a chain of kernels runs back to back without a round trip.
 *
 * What must see a kernel's results waits for it: reading memory from JavaScript (a kernel's own
 * reads after a launch, `peek`, the views) calls `sync`, which blocks in Atomics.wait until the
 * launcher has run everything recorded; `download`, a copy to another device and the end of an
 * executor's run wait without blocking (`drained`). Memory freed while commands are pending goes
 * back to the allocator only once they are done (`defer`). A task that fails in the launcher
 * fails the kernel's segment; the failure, naming the kernel's node and op, is thrown by the next
 * `sync` or `drained`, at the latest when the step's run ends.
 */
import { EdgeflowError } from "../../core/errors.ts";
import {
  C_ARGS,
  C_FAILED,
  C_LAST,
  C_NT,
  C_TASK,
  C_WAKE,
  Q_ASLEEP,
  Q_ERROR,
  Q_ERROR_LENGTH,
  Q_HEAD,
  Q_TAIL,
  Q_WANT,
  queueBytes,
  RING,
  slotWord,
  TIMES_BYTE,
} from "./control.ts";

interface Pending {
  /** The index after the segment's last command. */
  readonly end: number;
  readonly span: LaunchSpan;
  readonly node?: string;
  readonly op?: string;
}

/** When a kernel's commands ran on the launcher: epoch milliseconds, as the launcher saw them. */
export interface LaunchSpan {
  launcherStart: number;
  launcherEnd: number;
}

/**
 * A never-firing interval, referenced while something awaits the launcher: Atomics.waitAsync
 * alone does not keep Deno's event loop alive, and a run awaiting a kernel must not end the
 * process.
 */
const KEEP_ALIVE = 2 ** 31 - 1;

export class LaunchQueue {
  readonly buffer = new SharedArrayBuffer(queueBytes());
  private readonly q = new Int32Array(this.buffer);
  private readonly times = new Float64Array(this.buffer, TIMES_BYTE, 2 * RING);
  /** Commands recorded; those below `published` the launcher may run. */
  private head = 0;
  private published = 0;
  /** Commands whose completion was processed here: their slots and argument blocks are free. */
  private acked = 0;
  /** A kernel is being recorded (between `begin` and `end`). */
  recording = false;
  /** The current kernel's span, from its first synced segment on. */
  private span?: LaunchSpan;
  private readonly pending: Pending[] = [];
  private readonly frees: { at: number; release: () => void }[] = [];
  /** The first failure not reported yet. */
  private failed?: EdgeflowError;
  /** Callers awaiting `drained`, to fail if the device closes. */
  private readonly waiters = new Set<(e: Error) => void>();
  private keepAlive?: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    readonly deviceName: string,
    /** Argument blocks: one of `argsBytes` per ring slot from `argsBase` in device memory. */
    private readonly argsBase: number,
    private readonly argsBytes: number,
  ) {}

  /** Whether commands are recorded or running: memory read now must wait for them (`sync`). */
  get busy(): boolean {
    return this.head > this.acked;
  }

  /** Commands recorded so far: a kernel's commands are done once `done` reaches this. */
  get recorded(): number {
    return this.head;
  }

  /** Commands known done (taking in what the launcher finished since it last looked). */
  get done(): number {
    if (this.acked < this.published) this.ack(Atomics.load(this.q, Q_TAIL));
    return this.acked;
  }

  /** The argument block of the next command, after waiting for a free slot if the ring is full. */
  reserve(): number {
    if (this.head - this.acked >= RING) this.sync();
    return this.argsBase + (this.head % RING) * this.argsBytes;
  }

  /** Records a command whose arguments are at `args` (from `reserve`). */
  push(task: number, args: number, nt: number, wake: boolean): void {
    const q = this.q, s = slotWord(this.head);
    q[s + C_TASK] = task;
    q[s + C_ARGS] = args;
    q[s + C_NT] = nt;
    q[s + C_WAKE] = wake ? 1 : 0;
    q[s + C_LAST] = 0;
    this.head++;
  }

  /** Starts recording a kernel; first takes in what the launcher finished meanwhile. */
  begin(): void {
    if (this.closed) throw new EdgeflowError(`${this.deviceName} is closed`);
    if (this.acked < this.published) this.ack(Atomics.load(this.q, Q_TAIL));
    this.recording = true;
    this.span = undefined;
  }

  /**
   * Ends the kernel: what it recorded since its last sync is published as a segment. Returns
   * its span on the launcher (filled in once the launcher has run it), if it launched anything.
   */
  end(node?: string, op?: string): LaunchSpan | undefined {
    this.recording = false;
    const span = this.span;
    this.span = undefined;
    if (this.head === this.published) return span;
    this.publish();
    const pending = {
      end: this.head,
      span: span ?? { launcherStart: NaN, launcherEnd: NaN },
      node,
      op,
    };
    this.pending.push(pending);
    return pending.span;
  }

  /** The kernel threw while recording: what it recorded is dropped (it never published it). */
  abandon(): void {
    this.recording = false;
    this.span = undefined;
    this.head = this.published;
    for (const f of this.frees) f.at = Math.min(f.at, this.head);
  }

  /**
   * Publishes what is recorded and blocks until the launcher has run everything (or the first
   * `upTo` commands, where that is all a reader needs); throws the first failure not reported.
   */
  sync(upTo = Infinity): void {
    if (this.closed) throw new EdgeflowError(`${this.deviceName} is closed`);
    if (upTo <= this.published) return this.wait(upTo);
    const own = this.head > this.published;
    if (own) this.publish();
    const q = this.q, target = this.head;
    const tail = this.block(target);
    const seg = this.segmentSpan(target - 1);
    const failed = own && q[slotWord(target - 1) + C_FAILED] === 1;
    this.ack(tail);
    if (own && this.recording) {
      // A segment of the kernel being recorded: its span starts with its first.
      if (failed) this.failed ??= this.failure(this.recordingNode);
      this.span ??= { launcherStart: seg.launcherStart, launcherEnd: NaN };
      this.span.launcherEnd = seg.launcherEnd;
    } else if (failed) this.failed ??= this.failure();
    this.report();
  }

  /** Blocks until the launcher has run the first `target` commands (all published). */
  private wait(target: number): void {
    this.ack(this.block(target));
    this.report();
  }

  /** Blocks in Atomics.wait until TAIL reaches `target`; returns TAIL. */
  private block(target: number): number {
    const q = this.q;
    let tail = Atomics.load(q, Q_TAIL);
    while (tail < target) {
      this.want(target);
      tail = Atomics.load(q, Q_TAIL);
      if (tail >= target) break;
      Atomics.wait(q, Q_TAIL, tail);
      tail = Atomics.load(q, Q_TAIL);
    }
    return tail;
  }

  /**
   * Asks the launcher to notify TAIL when it reaches `target` (the lowest any waiter asks for; a
   * waiter woken short of its own target asks again). Stored before TAIL is read again, so
   * either the launcher sees the request or the waiter sees TAIL past it.
   */
  private want(target: number): void {
    const q = this.q, now = Atomics.load(q, Q_WANT);
    if (now === 0 || target < now || now <= Atomics.load(q, Q_TAIL)) {
      Atomics.store(q, Q_WANT, target);
    }
  }

  /** The node being recorded, for a failure seen by `sync` inside its kernel. */
  recordingNode?: { node?: string; op?: string };

  /**
   * Settles once the launcher has run the first `upTo` commands (everything published so far by
   * default); rejects with the first failure not reported yet.
   */
  async drained(upTo = Infinity): Promise<void> {
    if (this.head > this.published && !this.recording) this.publish();
    const target = Math.min(upTo, this.published);
    const q = this.q;
    for (;;) {
      if (this.closed) throw new EdgeflowError(`${this.deviceName} was closed`);
      let tail = Atomics.load(q, Q_TAIL);
      this.ack(tail);
      if (tail >= target) break;
      this.want(target);
      tail = Atomics.load(q, Q_TAIL);
      if (tail >= target) continue;
      const w = Atomics.waitAsync(q, Q_TAIL, tail);
      if (!w.async) continue;
      let fail!: (e: Error) => void;
      const closed = new Promise<never>((_, reject) => (fail = reject));
      this.waiters.add(fail);
      this.hold(1);
      try {
        await Promise.race([w.value, closed]);
      } finally {
        this.hold(-1);
        this.waiters.delete(fail);
      }
    }
    this.report();
  }

  /**
   * Frees `release`s memory now if nothing is pending, else once everything recorded so far is
   * done (a command may still read or write it).
   */
  defer(release: () => void): void {
    if (this.head > this.acked) this.frees.push({ at: this.head, release });
    else release();
  }

  /** Fails whoever awaits the launcher; the pool stops the launcher itself. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const e = new EdgeflowError(`${this.deviceName} was closed with kernels in flight`);
    for (const reject of this.waiters) reject(e);
    this.waiters.clear();
    this.frees.length = 0;
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
  }

  private holders = 0;

  /** Keeps the event loop alive while someone awaits the launcher. */
  private hold(delta: number): void {
    this.holders += delta;
    if (this.holders > 0) {
      this.keepAlive ??= setInterval(() => {}, KEEP_ALIVE);
      Deno.refTimer(this.keepAlive);
    } else if (this.keepAlive !== undefined) Deno.unrefTimer(this.keepAlive);
  }

  /** Marks the last recorded command as a segment's end and lets the launcher run it. */
  private publish(): void {
    const q = this.q;
    q[slotWord(this.head - 1) + C_LAST] = 1;
    this.published = this.head;
    Atomics.store(q, Q_HEAD, this.head);
    if (Atomics.load(q, Q_ASLEEP)) Atomics.notify(q, Q_HEAD, 1);
  }

  private segmentSpan(index: number): LaunchSpan {
    const t = 2 * (index % RING);
    return { launcherStart: this.times[t], launcherEnd: this.times[t + 1] };
  }

  private failure(where?: { node?: string; op?: string }): EdgeflowError {
    const q = this.q, n = q[Q_ERROR_LENGTH];
    let text = "";
    for (let i = 0; i < n; i++) text += String.fromCharCode(q[Q_ERROR + i]);
    return new EdgeflowError(`${this.deviceName}: ${text}`, where ?? {});
  }

  /** Throws the first failure not reported yet. */
  private report(): void {
    const e = this.failed;
    if (!e) return;
    this.failed = undefined;
    throw e;
  }

  /** Takes in the segments done by `tail`: their spans, failures, and the memory they held. */
  private ack(tail: number): void {
    const q = this.q;
    let k = 0;
    for (; k < this.pending.length && this.pending[k].end <= tail; k++) {
      const p = this.pending[k];
      const seg = this.segmentSpan(p.end - 1);
      if (Number.isNaN(p.span.launcherStart)) p.span.launcherStart = seg.launcherStart;
      p.span.launcherEnd = seg.launcherEnd;
      if (q[slotWord(p.end - 1) + C_FAILED] === 1) this.failed ??= this.failure(p);
    }
    if (k > 0) this.pending.splice(0, k);
    let f = 0;
    for (; f < this.frees.length && this.frees[f].at <= tail; f++) this.frees[f].release();
    if (f > 0) this.frees.splice(0, f);
    if (tail > this.acked) this.acked = tail;
  }
}
