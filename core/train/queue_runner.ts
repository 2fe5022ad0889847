/**
 * Feeding training from a producer (TensorFlow's tf.train.QueueRunner and Coordinator): each
 * enqueue op runs in its own loop of `session.run` calls, concurrent with the training loop's
 * runs that dequeue; when every loop is done the runner closes the queue, so the consumer drains
 * what is left and then gets OutOfRange. A stop request (the consumer is done, or a loop failed)
 * closes the queue with its pending enqueues cancelled, so no loop stays blocked on a full queue.
 */
import { EdgeflowError } from "../errors.ts";
import type { Node } from "../graph.ts";
import type { QueueBase } from "../queues/builders.ts";
import type { Feeds, Session } from "../session.ts";

/** Whether `e` is a queue's close (OutOfRange for a dequeue, Cancelled for an enqueue). */
export function isQueueClosed(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === "OUT_OF_RANGE" || code === "CANCELLED";
}

/** Stops a set of loops together and keeps the first error (tf.train.Coordinator). */
export class Coordinator {
  private stop = false;
  private error?: unknown;
  private readonly listeners: (() => void)[] = [];

  shouldStop(): boolean {
    return this.stop;
  }

  /** Asks every loop to stop; the first error given is the one `join` throws. */
  requestStop(error?: unknown): void {
    if (error !== undefined && this.error === undefined) this.error = error;
    if (this.stop) return;
    this.stop = true;
    for (const f of this.listeners.splice(0)) f();
  }

  /** Calls `f` once a stop is requested (at once if it was). */
  onStop(f: () => void): void {
    if (this.stop) f();
    else this.listeners.push(f);
  }

  /** Waits for the loops; throws the first error a loop reported. */
  async join(loops: readonly Promise<void>[]): Promise<void> {
    await Promise.allSettled(loops);
    if (this.error !== undefined) throw this.error;
  }
}

export interface QueueRunnerOptions {
  queue: QueueBase;
  /** Enqueue nodes; each runs in its own loop. */
  enqueueOps: readonly Node[];
  /**
   * Feeds for the `step`-th run of loop `loop` (the producer): null ends that loop. Without it the
   * loops run their enqueue ops unfed until a stop is requested.
   */
  feed?: (step: number, loop: number) => Feeds | null;
}

export class QueueRunner {
  readonly queue: QueueBase;
  readonly enqueueOps: readonly Node[];
  private readonly feed?: QueueRunnerOptions["feed"];
  private readonly closeOp: Node;
  private readonly cancelOp: Node;

  constructor(options: QueueRunnerOptions) {
    if (options.enqueueOps.length === 0) {
      throw new EdgeflowError("a QueueRunner needs at least one enqueue op");
    }
    this.queue = options.queue;
    this.enqueueOps = options.enqueueOps;
    this.feed = options.feed;
    this.closeOp = options.queue.close();
    this.cancelOp = options.queue.close({ cancelPendingEnqueues: true });
  }

  /** Starts one loop per enqueue op; returns their promises (for `coord.join`). */
  start(session: Session, coord: Coordinator): Promise<void>[] {
    let running = this.enqueueOps.length;
    coord.onStop(() => void session.run([], [], [this.cancelOp]).catch(() => {}));
    return this.enqueueOps.map(async (op, loop) => {
      try {
        for (let step = 0; !coord.shouldStop(); step++) {
          const feeds = this.feed ? this.feed(step, loop) : [];
          if (feeds === null) break;
          await session.run([], feeds, [op]);
        }
      } catch (e) {
        // A closed queue ends the loop quietly; anything else stops everyone.
        if (!isQueueClosed(e) && !coord.shouldStop()) coord.requestStop(e);
      } finally {
        if (--running === 0) {
          await session.run([], [], [this.closeOp]).catch((e) => {
            if (!coord.shouldStop()) coord.requestStop(e);
          });
        }
      }
    });
  }
}
