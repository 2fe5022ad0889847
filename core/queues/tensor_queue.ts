/**
 * The queues of section 4.6 of the 2015 paper (TensorFlow's FIFOQueue, RandomShuffleQueue and
 * PaddingFIFOQueue): tuples of tensors, shared by every step of a session. Enqueue waits while
 * the queue is full, dequeue while it holds too few elements; waits end with the value, with the
 * queue's close, or with an abort (the step failed, the session closed).
 *
 * Waiters are served in arrival order. A RandomShuffleQueue hands out a random element (Philox-free:
 * a seeded xorshift, so a seeded queue repeats its order) and keeps `minAfterDequeue` elements
 * until it is closed. A PaddingFIFOQueue's dequeueMany pads each component to the batch's largest
 * shape with zeros.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { formatShape, isCompatible, type PartialShape, type Shape, sizeOf } from "../shape.ts";
import { Tensor } from "../tensor.ts";

export type QueueKind = "fifo" | "shuffle" | "padding";

export interface QueueSpec {
  readonly kind: QueueKind;
  readonly dtypes: readonly DType[];
  /** Per component; empty: any shape (a PaddingFIFOQueue needs them, -1 for padded dims). */
  readonly shapes: readonly PartialShape[];
  /** Elements it holds at most; -1: unbounded. */
  readonly capacity: number;
  readonly minAfterDequeue: number;
  readonly seed: number;
}

type Element = readonly Tensor[];

interface Waiter {
  /** Tries to complete; returns true when it did (and is removed). */
  readonly attempt: () => boolean;
  readonly fail: (e: EdgeflowError) => void;
}

export class TensorQueue {
  private readonly items: Element[] = [];
  private readonly enqueuers: Waiter[] = [];
  private readonly dequeuers: Waiter[] = [];
  private closed = false;
  private random: number;

  constructor(readonly name: string, readonly spec: QueueSpec) {
    this.random = (spec.seed >>> 0) || 0x9e3779b9;
  }

  get size(): number {
    return this.items.length;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether `other` describes this queue (a second node naming the same shared queue). */
  matches(other: QueueSpec): boolean {
    return other.kind === this.spec.kind && other.capacity === this.spec.capacity &&
      JSON.stringify(other.dtypes) === JSON.stringify(this.spec.dtypes) &&
      JSON.stringify(other.shapes) === JSON.stringify(this.spec.shapes);
  }

  /** Enqueues elements in order, all or (when closed or aborted) those not yet in stay out. */
  enqueue(elements: readonly Element[], signal?: AbortSignal): void | Promise<void> {
    for (const e of elements) this.check(e);
    if (this.closed) throw this.closedError("enqueue");
    let next = 0;
    // An attempt never serves other waiters itself (serve() calls attempts: no recursion).
    const attempt = () => {
      while (next < elements.length && !this.full()) this.items.push(elements[next++]);
      return next === elements.length;
    };
    const done = attempt();
    this.serve();
    if (done) return;
    // Part may be in: the rest waits, in order, behind earlier waiters.
    const waited = this.wait<void>(this.enqueuers, attempt, signal, "enqueue");
    this.serve();
    return waited;
  }

  /**
   * Dequeues `n` elements (one when `many` is false) as one tuple of tensors: the components, or
   * the components stacked along a new first dim for dequeueMany.
   */
  dequeue(n: number, many: boolean, signal?: AbortSignal): Tensor[] | Promise<Tensor[]> {
    if (!Number.isInteger(n) || n < 0) {
      throw new EdgeflowError(`cannot dequeue ${n} elements`);
    }
    let result: Tensor[] | undefined;
    let failure: EdgeflowError | undefined;
    const attempt = () => {
      const keep = this.closed ? 0 : this.spec.kind === "shuffle" ? this.spec.minAfterDequeue : 0;
      if (this.items.length - keep >= n) {
        const taken: Element[] = [];
        for (let k = 0; k < n; k++) taken.push(this.take());
        try {
          result = many ? this.batch(taken) : [...taken[0]];
        } catch (e) {
          failure = e as EdgeflowError;
        }
        return true;
      }
      if (this.closed) {
        failure = new EdgeflowError(
          `queue '${this.name}' is closed and has insufficient elements (requested ${n}, ` +
            `current size ${this.items.length})`,
        );
        return true;
      }
      return false;
    };
    const done = (): Tensor[] => {
      if (failure) throw failure;
      return result!;
    };
    if (this.dequeuers.length === 0 && attempt()) {
      this.serve();
      return done();
    }
    const waited = this.wait<void>(this.dequeuers, attempt, signal, "dequeue").then(done);
    this.serve();
    return waited;
  }

  /** Closes the queue: waiting dequeues that cannot be served fail; enqueues fail if `cancel`. */
  close(cancelPendingEnqueues: boolean): void {
    this.closed = true;
    if (cancelPendingEnqueues) {
      for (const w of this.enqueuers.splice(0)) w.fail(this.closedError("enqueue"));
    }
    this.serve();
  }

  /** Fails every waiter (the session closes). */
  abortAll(e: EdgeflowError): void {
    for (const w of [...this.enqueuers.splice(0), ...this.dequeuers.splice(0)]) w.fail(e);
  }

  private full(): boolean {
    return this.spec.capacity >= 0 && this.items.length >= this.spec.capacity;
  }

  private take(): Element {
    if (this.spec.kind !== "shuffle") return this.items.shift()!;
    // xorshift32: a seeded queue repeats its order.
    let x = this.random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.random = x >>> 0;
    const i = this.random % this.items.length;
    const [e] = this.items.splice(i, 1);
    return e;
  }

  /** Lets waiters complete while they can (an enqueue may free a dequeue and the reverse). */
  private serve(): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const list of [this.dequeuers, this.enqueuers]) {
        while (list.length > 0 && list[0].attempt()) {
          list.shift();
          progress = true;
        }
      }
    }
  }

  private wait<T>(
    list: Waiter[],
    attempt: () => boolean,
    signal: AbortSignal | undefined,
    what: string,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        reject(
          new EdgeflowError(
            `the ${what} on queue '${this.name}' was cancelled: ${
              (signal!.reason as Error)?.message ?? "the step was aborted"
            }`,
          ),
        );
      };
      const waiter: Waiter = {
        attempt: () => {
          if (!attempt()) return false;
          signal?.removeEventListener("abort", onAbort);
          resolve(undefined as T);
          return true;
        },
        fail: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      list.push(waiter);
    });
  }

  private closedError(what: string): EdgeflowError {
    return new EdgeflowError(`queue '${this.name}' is closed: cannot ${what}`);
  }

  private check(e: Element): void {
    const { dtypes, shapes } = this.spec;
    if (e.length !== dtypes.length) {
      throw new EdgeflowError(
        `queue '${this.name}' holds ${dtypes.length} components, got ${e.length}`,
      );
    }
    e.forEach((t, i) => {
      if (t.dtype !== dtypes[i]) {
        throw new EdgeflowError(
          `queue '${this.name}' component ${i} is ${dtypes[i]}, got ${t.dtype}`,
        );
      }
      if (shapes.length > 0 && !isCompatible(t.shape, shapes[i])) {
        throw new EdgeflowError(
          `queue '${this.name}' component ${i} has shape ${formatShape(shapes[i])}, got ` +
            formatShape(t.shape),
        );
      }
    });
  }

  /** Stacks elements along a new first dim (padding with zeros for a PaddingFIFOQueue). */
  private batch(elements: readonly Element[]): Tensor[] {
    return this.spec.dtypes.map((dtype, c) => {
      const parts = elements.map((e) => e[c]);
      const known = this.spec.shapes[c];
      let shape: Shape;
      if (parts.length === 0) {
        if (known === undefined || known === null || known.some((d) => d < 0)) {
          throw new EdgeflowError(
            `queue '${this.name}': dequeueMany(0) needs component ${c}'s full shape`,
          );
        }
        shape = known;
      } else if (this.spec.kind === "padding") {
        shape = parts[0].shape.map((_, k) => Math.max(...parts.map((p) => p.shape[k])));
      } else {
        shape = parts[0].shape;
        for (const p of parts) {
          if (p.shape.length !== shape.length || p.shape.some((d, k) => d !== shape[k])) {
            throw new EdgeflowError(
              `queue '${this.name}': dequeueMany needs component ${c} of one shape, got ` +
                `${formatShape(shape)} and ${formatShape(p.shape)}`,
            );
          }
        }
      }
      const out = Tensor.zeros(dtype, [parts.length, ...shape]);
      const per = sizeOf(shape);
      const data = out.data as unknown as { [i: number]: unknown };
      parts.forEach((p, b) => {
        const src = p.data as unknown as { [i: number]: unknown };
        // Row-major copy into the (possibly larger) padded slot.
        const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, d) => a * d, 1));
        const pStrides = p.shape.map((_, k) => p.shape.slice(k + 1).reduce((a, d) => a * d, 1));
        for (let i = 0; i < p.size; i++) {
          let rem = i, off = 0;
          for (let k = 0; k < p.shape.length; k++) {
            const q = Math.floor(rem / pStrides[k]);
            rem -= q * pStrides[k];
            off += q * strides[k];
          }
          data[b * per + off] = src[i];
        }
      });
      return out;
    });
  }
}
