/**
 * TensorFlow's queues (section 4.6 of the 2015 paper) as host state: a FIFO, a seeded random
 * shuffle, and a FIFO that pads batches. Elements are tuples of host tensors. Blocking is a list
 * of pending attempts served in arrival order (TensorFlow's QueueBase: enqueue and dequeue
 * attempts flushed until none makes progress); a blocked attempt is a promise that settles when
 * it completes, when the queue closes, or when its step is cancelled. The host runs one thread,
 * so no lock is needed: every change runs `flush` to completion.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { philox } from "../philox.ts";
import { formatShape, isCompatible, type PartialShape, type Shape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import type { Storage } from "../dtype.ts";

export type QueueKind = "FIFOQueue" | "RandomShuffleQueue" | "PaddingFIFOQueue";

/** A queue's element: one host tensor per component. */
export type Tuple = readonly Tensor[];

/** What a queue-creating op declares; a second op naming the same queue must declare the same. */
export interface QueueSpec {
  readonly kind: QueueKind;
  readonly name: string;
  readonly dtypes: readonly DType[];
  /** One shape per component, or empty (unspecified: FIFO and random shuffle only). */
  readonly shapes: readonly PartialShape[];
  /** The most elements the queue holds; -1 for no bound. */
  readonly capacity: number;
  readonly minAfterDequeue: number;
  readonly seed: number;
  readonly seed2: number;
}

/** TensorFlow's OutOfRange: a dequeue from a closed queue with too few elements left. */
export class QueueOutOfRangeError extends EdgeflowError {
  readonly code = "OUT_OF_RANGE";
}
/** TensorFlow's Cancelled: an enqueue to a closed queue, or a pending attempt the close cancelled. */
export class QueueCancelledError extends EdgeflowError {
  readonly code = "CANCELLED";
}

interface EnqueueAttempt {
  readonly elements: Tuple[];
  next: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly detach: () => void;
}
interface DequeueAttempt {
  /** Elements wanted; `batched` false for QueueDequeueV2 (one element, not stacked). */
  readonly n: number;
  readonly batched: boolean;
  readonly taken: Tuple[];
  readonly resolve: (t: Tensor[]) => void;
  readonly reject: (e: Error) => void;
  readonly detach: () => void;
}

export class Queue {
  private readonly elements: Tuple[] = [];
  private closed = false;
  private readonly enqueues: EnqueueAttempt[] = [];
  private readonly dequeues: DequeueAttempt[] = [];
  /** Random shuffle: Philox counter position of the next draw. */
  private counter = 0;
  private readonly bits = new Uint32Array(4);
  private buffered = 0;
  /** Philox's key: the seeds, or fresh random ones where both are 0 (TensorFlow's rule). */
  private readonly key: readonly [number, number, number];

  constructor(readonly spec: QueueSpec) {
    const fresh = spec.seed === 0 && spec.seed2 === 0;
    const r = fresh ? crypto.getRandomValues(new Uint32Array(3)) : undefined;
    this.key = r ? [r[0], r[1], r[2]] : [spec.seed >>> 0, spec.seed2 >>> 0, 0];
  }

  get size(): number {
    return this.elements.length;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  private get label(): string {
    return `${this.spec.kind} '${this.spec.name}'`;
  }
  private get capacity(): number {
    return this.spec.capacity < 0 ? Infinity : this.spec.capacity;
  }

  /** Checks one element against the queue's dtypes and shapes (TensorFlow's ValidateTuple). */
  validate(tuple: Tuple, many: boolean): void {
    const { dtypes, shapes } = this.spec;
    if (tuple.length !== dtypes.length) {
      throw new EdgeflowError(
        `${this.label} has ${dtypes.length} components, got ${tuple.length} tensors`,
      );
    }
    tuple.forEach((t, i) => {
      if (t.dtype !== dtypes[i]) {
        throw new EdgeflowError(
          `type mismatch in component ${i} of ${this.label}: expected ${dtypes[i]}, got ${t.dtype}`,
        );
      }
      const shape = many ? t.shape.slice(1) : t.shape;
      if (many && t.rank === 0) {
        throw new EdgeflowError(
          `enqueue_many needs components of rank 1 or more; component ${i} is a scalar`,
        );
      }
      if (shapes.length > 0 && !isCompatible(shape, shapes[i])) {
        throw new EdgeflowError(
          `shape mismatch in component ${i} of ${this.label}: expected ${
            formatShape(shapes[i])
          }, got ${formatShape(shape)}`,
        );
      }
    });
    if (many) {
      const n = tuple[0].shape[0];
      const other = tuple.findIndex((t) => t.shape[0] !== n);
      if (other >= 0) {
        throw new EdgeflowError(
          `enqueue_many needs the same 0th dimension in every component: component 0 has ${n}, ` +
            `component ${other} has ${tuple[other].shape[0]}`,
        );
      }
    }
  }

  /**
   * Adds elements (one, or the slices of enqueue_many); resolves once all are in. Refused at once
   * (Cancelled, as TensorFlow) when the queue is closed.
   */
  enqueue(elements: Tuple[], signal?: AbortSignal): Promise<void> {
    if (this.closed) {
      return Promise.reject(new QueueCancelledError(`${this.label} is closed`));
    }
    return this.attempt<void>(signal, (resolve, reject, detach) => {
      this.enqueues.push({ elements, next: 0, resolve, reject, detach });
    }, this.enqueues);
  }

  /**
   * Removes `n` elements (stacked when `batched`); resolves with one tensor per component. On a
   * closed queue holding too few, OutOfRange; elements it had taken go back to the front.
   */
  dequeue(n: number, batched: boolean, signal?: AbortSignal): Promise<Tensor[]> {
    if (batched && this.spec.shapes.length === 0) {
      return Promise.reject(
        new EdgeflowError(
          `DequeueMany from ${this.label} requires the components to have specified shapes`,
        ),
      );
    }
    if (batched && n === 0) return Promise.resolve(this.assemble([], 0));
    return this.attempt<Tensor[]>(signal, (resolve, reject, detach) => {
      this.dequeues.push({ n, batched, taken: [], resolve, reject, detach });
    }, this.dequeues);
  }

  /**
   * Serves a dequeue now where it can (no attempt waits ahead of it), else undefined: the
   * non-blocking meaning the op's reference implementation uses.
   */
  tryDequeue(n: number, batched: boolean): Tensor[] | undefined {
    if (batched && this.spec.shapes.length === 0) {
      throw new EdgeflowError(
        `DequeueMany from ${this.label} requires the components to have specified shapes`,
      );
    }
    if (batched && n === 0) return this.assemble([], 0);
    if (this.dequeues.length > 0) return undefined;
    const have = this.elements.length;
    if (this.closed && have < n) {
      throw new QueueOutOfRangeError(
        `${this.label} is closed and has insufficient elements (requested ${n}, current size ${have})`,
      );
    }
    const shuffling = this.spec.kind === "RandomShuffleQueue" && !this.closed;
    if ((shuffling ? have - this.spec.minAfterDequeue : have) < n) return undefined;
    const taken = Array.from({ length: n }, () => this.take());
    this.flush();
    return batched ? this.assemble(taken, n) : [...taken[0]];
  }

  /** Closes the queue; pending enqueues are cancelled only with `cancelPendingEnqueues`. */
  close(cancelPendingEnqueues: boolean): void {
    this.closed = true;
    if (cancelPendingEnqueues) {
      for (const e of this.enqueues.splice(0)) {
        e.detach();
        e.reject(new QueueCancelledError(`${this.label} is closed: pending enqueue cancelled`));
      }
    }
    this.flush();
  }

  /** Session close: every pending attempt fails and the queue closes. */
  cancelAll(reason: string): void {
    this.closed = true;
    for (const e of this.enqueues.splice(0)) {
      e.detach();
      e.reject(new QueueCancelledError(`${this.label}: ${reason}`));
    }
    for (const d of this.dequeues.splice(0)) {
      this.restore(d.taken);
      d.detach();
      d.reject(new QueueCancelledError(`${this.label}: ${reason}`));
    }
  }

  /** Registers an attempt, wires the step's cancellation to it, and serves what it can now. */
  private attempt<T>(
    signal: AbortSignal | undefined,
    push: (resolve: (v: T) => void, reject: (e: Error) => void, detach: () => void) => void,
    list: (EnqueueAttempt | DequeueAttempt)[],
  ): Promise<T> {
    if (signal?.aborted) return Promise.reject(cancelled(signal));
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const at = list.indexOf(entry);
        if (at < 0) return;
        list.splice(at, 1);
        if ("taken" in entry) this.restore(entry.taken);
        reject(cancelled(signal!));
        // Another attempt may now make progress (a dequeue waiting behind this one).
        this.flush();
      };
      const detach = () => signal?.removeEventListener("abort", onAbort);
      push(resolve, reject, detach);
      const entry = list[list.length - 1];
      signal?.addEventListener("abort", onAbort, { once: true });
      this.flush();
    });
  }

  /** Serves attempts in arrival order until none makes progress. */
  private flush(): void {
    for (let progress = true; progress;) {
      progress = false;
      while (this.enqueues.length > 0) {
        const e = this.enqueues[0];
        while (e.next < e.elements.length && this.elements.length < this.capacity) {
          this.elements.push(e.elements[e.next++]);
          progress = true;
        }
        if (e.next < e.elements.length) break;
        this.enqueues.shift();
        e.detach();
        e.resolve();
        progress = true;
      }
      while (this.dequeues.length > 0) {
        const d = this.dequeues[0];
        if (this.closed && this.elements.length + d.taken.length < d.n) {
          const have = this.elements.length + d.taken.length;
          this.restore(d.taken);
          this.dequeues.shift();
          d.detach();
          d.reject(
            new QueueOutOfRangeError(
              `${this.label} is closed and has insufficient elements (requested ${d.n}, ` +
                `current size ${have})`,
            ),
          );
          progress = true;
          continue;
        }
        while (d.taken.length < d.n && this.available()) {
          d.taken.push(this.take());
          progress = true;
        }
        if (d.taken.length < d.n) break;
        this.dequeues.shift();
        d.detach();
        let out: Tensor[];
        try {
          out = d.batched ? this.assemble(d.taken, d.n) : [...d.taken[0]];
        } catch (e) {
          d.reject(e as Error);
          continue;
        }
        d.resolve(out);
        progress = true;
      }
    }
  }

  /** Whether a dequeue may take an element now (random shuffle keeps min_after_dequeue back). */
  private available(): boolean {
    const size = this.elements.length;
    if (this.spec.kind !== "RandomShuffleQueue" || this.closed) return size > 0;
    return size > this.spec.minAfterDequeue;
  }

  private take(): Tuple {
    if (this.spec.kind !== "RandomShuffleQueue") return this.elements.shift()!;
    // TensorFlow's RandomShuffleQueue: a uniform index, swapped with the last element.
    const i = this.draw() % this.elements.length;
    const last = this.elements.length - 1;
    [this.elements[i], this.elements[last]] = [this.elements[last], this.elements[i]];
    return this.elements.pop()!;
  }

  /** Elements an attempt had taken go back where they came from: the queue's front. */
  private restore(taken: Tuple[]): void {
    if (taken.length > 0) this.elements.unshift(...taken.splice(0));
  }

  /** The next uint32 of Philox keyed by (seed, seed2), four per block. */
  private draw(): number {
    if (this.buffered === 0) {
      const [k0, k1, c2] = this.key;
      const c = this.counter++;
      philox(c >>> 0, Math.floor(c / 2 ** 32), c2, 0, k0, k1, this.bits);
      this.buffered = 4;
    }
    return this.bits[4 - this.buffered--];
  }

  /** Stacks n elements per component; a padding queue pads each to the batch's largest dims. */
  private assemble(taken: readonly Tuple[], n: number): Tensor[] {
    return this.spec.dtypes.map((dtype, c) => {
      const declared = this.spec.shapes[c];
      let shape: Shape;
      if (this.spec.kind === "PaddingFIFOQueue") {
        shape = declared!.map((d, k) =>
          d >= 0 ? d : taken.reduce((m, t) => Math.max(m, t[c].shape[k]), 0)
        );
      } else shape = declared as Shape;
      const out = Tensor.zeros(dtype, [n, ...shape]);
      const per = shape.reduce((a, b) => a * b, 1);
      taken.forEach((t, i) => pasteInto(out.data, i * per, t[c], shape));
      return out;
    });
  }
}

/** Copies `t` into `dst` at `offset` as a block of `shape` (t's dims ≤ shape's; zeros stay). */
function pasteInto(dst: Storage, offset: number, t: Tensor, shape: Shape): void {
  const rank = shape.length;
  if (rank === 0 || t.shape.every((d, k) => d === shape[k])) {
    copy(dst, offset, t.data, 0, t.size);
    return;
  }
  // Padded: copy rows of the innermost dim, walking the outer dims of t.
  const inner = t.shape[rank - 1];
  const rows = t.size / Math.max(inner, 1);
  if (inner === 0) return;
  const outStrides = new Array<number>(rank).fill(1);
  for (let k = rank - 2; k >= 0; k--) outStrides[k] = outStrides[k + 1] * shape[k + 1];
  for (let r = 0; r < rows; r++) {
    let rem = r, at = offset;
    for (let k = rank - 2; k >= 0; k--) {
      const idx = rem % t.shape[k];
      rem = Math.floor(rem / t.shape[k]);
      at += idx * outStrides[k];
    }
    copy(dst, at, t.data, r * inner, inner);
  }
}

function copy(dst: Storage, at: number, src: Storage, from: number, n: number): void {
  if (Array.isArray(dst)) {
    for (let i = 0; i < n; i++) dst[at + i] = (src as string[])[from + i];
  } else {
    (dst as Uint8Array).set((src as Uint8Array).subarray(from, from + n), at);
  }
}

/** The error a cancelled attempt fails with: the step's own error where it has one. */
function cancelled(signal: AbortSignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new QueueCancelledError(`the step was cancelled: ${String(r)}`);
}

/** The queues of one session, by name (shared name, or the creating node's name). */
export class QueueTable {
  private readonly queues = new Map<string, Queue>();
  private closedReason?: string;

  /** The queue named in `spec`, created on first use; a different declaration is refused. */
  lookupOrCreate(spec: QueueSpec): Queue {
    if (this.closedReason) throw new QueueCancelledError(this.closedReason);
    const q = this.queues.get(spec.name);
    if (!q) {
      const made = new Queue(spec);
      this.queues.set(spec.name, made);
      return made;
    }
    const mismatch = specMismatch(q.spec, spec);
    if (mismatch) {
      throw new EdgeflowError(`shared queue '${spec.name}' ${mismatch}`);
    }
    return q;
  }

  get(name: string): Queue {
    const q = this.queues.get(name);
    if (!q) {
      throw new EdgeflowError(
        `queue '${name}' does not exist (run the op that creates it in this session)`,
      );
    }
    return q;
  }

  /** Session close: every queue closes and every pending attempt fails. */
  cancelAll(reason: string): void {
    this.closedReason = reason;
    for (const q of this.queues.values()) q.cancelAll(reason);
  }
}

function specMismatch(a: QueueSpec, b: QueueSpec): string | undefined {
  if (a.kind !== b.kind) return `is a ${a.kind}, requested as a ${b.kind}`;
  if (a.dtypes.join() !== b.dtypes.join()) {
    return `has component types ${a.dtypes.join(", ")} but requested component types were ${
      b.dtypes.join(", ")
    }`;
  }
  if (JSON.stringify(a.shapes) !== JSON.stringify(b.shapes)) {
    return `has component shapes ${a.shapes.map(formatShape).join(", ")} but requested ${
      b.shapes.map(formatShape).join(", ")
    }`;
  }
  if (a.capacity !== b.capacity) {
    return `has capacity ${a.capacity} but requested capacity was ${b.capacity}`;
  }
  if (a.minAfterDequeue !== b.minAfterDequeue || a.seed !== b.seed || a.seed2 !== b.seed2) {
    return `has min_after_dequeue/seed ${a.minAfterDequeue}/${a.seed}/${a.seed2} but requested ${b.minAfterDequeue}/${b.seed}/${b.seed2}`;
  }
  return undefined;
}
