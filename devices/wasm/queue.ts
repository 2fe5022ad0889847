/**
 * The main thread's side of a WASM device whose kernels run off the JavaScript thread (the
 * `launch: "worker"` mode): a kernel's TypeScript still runs here (shapes, allocation, argument
 * words), but each `launch` is recorded in a command ring (control.ts) instead of run, and when
 * the kernel returns its commands are published to the device's launcher worker as one segment.
 * `end` then hands the executor a promise that settles when the launcher reports the segment
 * done, so the JavaScript thread goes on dispatching other nodes, to other devices too, while
 * this one computes: two such devices compute at once, each on its own threads and memory.
 *
 * A kernel written for synchronous launches may read what a launch wrote (batch statistics) or
 * launch outside a kernel: the device then calls `sync`, which publishes what is recorded and
 * blocks in Atomics.wait until the launcher has run it. Memory freed while commands are pending
 * goes back to the allocator only once they are done (`defer`), as a GPU queue holds its buffers.
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
  queueBytes,
  RING,
  slotWord,
  TIMES_BYTE,
} from "./control.ts";

/** When a kernel's commands ran on the launcher: epoch milliseconds, as the launcher saw them. */
export interface LaunchSpan {
  start: number;
  end: number;
}

interface Pending {
  /** The index after the segment's last command. */
  readonly end: number;
  readonly span: LaunchSpan;
  resolve(): void;
  reject(e: Error): void;
}

/** A never-firing interval, referenced while kernels are in flight: Atomics.waitAsync alone does
 * not keep Deno's event loop alive, and a run awaiting a kernel must not end the process. */
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
  /** Commands of the current kernel recorded since its last `sync`: memory reads must wait. */
  dirty = false;
  /** The current kernel's span, from its first synced segment on. */
  private span?: LaunchSpan;
  private readonly pending: Pending[] = [];
  private readonly frees: { at: number; release: () => void }[] = [];
  private waiting = false;
  private keepAlive?: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    readonly deviceName: string,
    /** Argument blocks: one of `argsBytes` per ring slot from `argsBase` in device memory. */
    private readonly argsBase: number,
    private readonly argsBytes: number,
  ) {}

  /** Whether commands are recorded or running: memory freed now must wait for them. */
  get busy(): boolean {
    return this.head > this.acked;
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
    this.dirty = true;
  }

  begin(): void {
    this.recording = true;
    this.span = undefined;
  }

  /**
   * Ends the kernel: `done` is absent when it recorded nothing after its last sync, else a
   * promise that settles when its last segment is done; `span` is filled in by then.
   */
  end(): { done?: Promise<void>; span?: LaunchSpan } {
    this.recording = false;
    const span = this.span;
    this.span = undefined;
    if (this.head === this.published) return { span };
    this.publish();
    this.dirty = false;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const pending = { end: this.head, span: span ?? { start: NaN, end: NaN }, resolve, reject };
    this.pending.push(pending);
    this.pump();
    return { done: promise, span: pending.span };
  }

  /** The kernel threw while recording: what it recorded is dropped (it never published it). */
  abandon(): void {
    this.recording = false;
    this.dirty = false;
    this.span = undefined;
    this.head = this.published;
    for (const f of this.frees) f.at = Math.min(f.at, this.head);
  }

  /**
   * Publishes what is recorded and waits here until the launcher has run everything published;
   * throws if a command of the current segment failed. Earlier kernels' promises settle too.
   */
  sync(): LaunchSpan | undefined {
    if (this.closed) throw new EdgeflowError(`${this.deviceName} is closed`);
    this.dirty = false;
    if (this.head === this.published && this.acked === this.head) return undefined;
    // A segment of its own to publish, or only earlier kernels' commands to wait for.
    const own = this.head > this.published;
    if (own) this.publish();
    const q = this.q, target = this.head;
    let tail = Atomics.load(q, Q_TAIL);
    while (tail < target) {
      Atomics.wait(q, Q_TAIL, tail);
      tail = Atomics.load(q, Q_TAIL);
    }
    const span = this.segmentSpan(target - 1);
    const failed = own && q[slotWord(target - 1) + C_FAILED] === 1;
    this.ack(tail);
    if (!own) return undefined;
    if (this.recording) {
      this.span ??= { start: span.start, end: span.end };
      this.span.end = span.end;
    }
    if (failed) throw this.failure();
    return span;
  }

  /**
   * Frees `release`s memory now if nothing is pending, else once everything recorded so far is
   * done (a command may still read or write it).
   */
  defer(release: () => void): void {
    if (this.head > this.acked) this.frees.push({ at: this.head, release });
    else release();
  }

  /** Fails what is in flight; the launcher is stopped by the pool. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const e = new EdgeflowError(`${this.deviceName} was closed with kernels in flight`);
    for (const p of this.pending.splice(0)) p.reject(e);
    this.frees.length = 0;
    if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
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
    return { start: this.times[t], end: this.times[t + 1] };
  }

  private failure(): EdgeflowError {
    const q = this.q, n = q[Q_ERROR_LENGTH];
    let text = "";
    for (let i = 0; i < n; i++) text += String.fromCharCode(q[Q_ERROR + i]);
    return new EdgeflowError(`${this.deviceName}: ${text}`);
  }

  /** Settles the kernels done by `tail` and frees what waited for them. */
  private ack(tail: number): void {
    const q = this.q;
    let k = 0;
    for (; k < this.pending.length && this.pending[k].end <= tail; k++) {
      const p = this.pending[k];
      const seg = this.segmentSpan(p.end - 1);
      if (Number.isNaN(p.span.start)) p.span.start = seg.start;
      p.span.end = seg.end;
      if (q[slotWord(p.end - 1) + C_FAILED] === 1) p.reject(this.failure());
      else p.resolve();
    }
    if (k > 0) this.pending.splice(0, k);
    let f = 0;
    for (; f < this.frees.length && this.frees[f].at <= tail; f++) this.frees[f].release();
    if (f > 0) this.frees.splice(0, f);
    if (tail > this.acked) this.acked = Math.min(tail, this.head);
  }

  /** Waits (without blocking) for the launcher's next segment end, while kernels are in flight. */
  private pump(): void {
    if (this.waiting || this.closed) return;
    for (;;) {
      const tail = Atomics.load(this.q, Q_TAIL);
      this.ack(tail);
      if (this.pending.length === 0) {
        if (this.keepAlive !== undefined) Deno.unrefTimer(this.keepAlive);
        return;
      }
      const w = Atomics.waitAsync(this.q, Q_TAIL, tail);
      if (!w.async) continue;
      this.waiting = true;
      if (this.keepAlive === undefined) {
        this.keepAlive = setInterval(() => {}, KEEP_ALIVE);
      } else Deno.refTimer(this.keepAlive);
      w.value.then(() => {
        this.waiting = false;
        this.pump();
      });
      return;
    }
  }
}
