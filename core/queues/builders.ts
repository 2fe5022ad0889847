/**
 * Queue builders (TensorFlow's tf.queue.FIFOQueue and friends) and QueueRunner: a producer that
 * runs enqueue ops on a session again and again, concurrently with the steps that dequeue, until
 * the queue is closed or a run fails (section 4.6 of the 2015 paper: input pipelines).
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { Graph, type Node, type Output } from "../graph.ts";
import { type TensorLike, toOutput } from "../ops/build.ts";
import {
  FIFOQueueV2,
  PaddingFIFOQueueV2,
  QueueCloseV2,
  QueueDequeueManyV2,
  QueueDequeueV2,
  QueueEnqueueManyV2,
  QueueEnqueueV2,
  QueueSizeV2,
  RandomShuffleQueueV2,
} from "../ops/queue.ts";
import type { PartialShape } from "../shape.ts";
import type { Session } from "../session.ts";

export interface QueueOptions {
  shapes?: readonly PartialShape[];
  /** Elements held at most (default unbounded). */
  capacity?: number;
  name?: string;
  sharedName?: string;
}

/** A queue in a graph: its handle and builders of the ops on it. */
export class Queue {
  constructor(readonly handle: Output, readonly dtypes: readonly DType[]) {}

  get graph(): Graph {
    return this.handle.graph;
  }

  private values(vs: TensorLike | readonly TensorLike[]): Output[] {
    const list = Array.isArray(vs) ? vs as readonly TensorLike[] : [vs as TensorLike];
    return list.map((v, i) => toOutput(this.graph, v, this.dtypes[i], `component ${i}`));
  }

  enqueue(values: TensorLike | readonly TensorLike[], name?: string): Node {
    return this.graph.addNode(QueueEnqueueV2, [this.handle, this.values(values)], {}, { name });
  }
  enqueueMany(values: TensorLike | readonly TensorLike[], name?: string): Node {
    return this.graph.addNode(QueueEnqueueManyV2, [this.handle, this.values(values)], {}, {
      name,
    });
  }
  dequeue(name?: string): Output[] {
    return [
      ...this.graph.addNode(QueueDequeueV2, [this.handle], { component_types: this.dtypes }, {
        name,
      }).outputs,
    ];
  }
  dequeueMany(n: TensorLike, name?: string): Output[] {
    const count = toOutput(this.graph, n, "int32", "n");
    return [
      ...this.graph.addNode(QueueDequeueManyV2, [this.handle, count], {
        component_types: this.dtypes,
      }, { name }).outputs,
    ];
  }
  close(cancelPendingEnqueues = false, name?: string): Node {
    return this.graph.addNode(QueueCloseV2, [this.handle], {
      cancel_pending_enqueues: cancelPendingEnqueues,
    }, { name });
  }
  size(name?: string): Output {
    return this.graph.addNode(QueueSizeV2, [this.handle], {}, { name }).outputs[0];
  }
}

function currentGraph(g: Graph | undefined): Graph {
  const graph = g ?? Graph.current();
  if (!graph) throw new EdgeflowError("a queue needs a graph (pass one, or use graph.asDefault)");
  return graph;
}

function make(
  op: typeof FIFOQueueV2,
  graph: Graph | undefined,
  dtypes: readonly DType[],
  options: QueueOptions,
  extra: Record<string, number> = {},
): Queue {
  const g = currentGraph(graph);
  const node = g.addNode(op, [], {
    component_types: dtypes,
    shapes: options.shapes ?? [],
    capacity: options.capacity ?? -1,
    shared_name: options.sharedName ?? "",
    ...extra,
  }, { name: options.name });
  return new Queue(node.outputs[0], dtypes);
}

export function fifoQueue(
  g: Graph | undefined,
  dtypes: readonly DType[],
  options: QueueOptions = {},
) {
  return make(FIFOQueueV2, g, dtypes, options);
}
export function paddingFifoQueue(
  g: Graph | undefined,
  dtypes: readonly DType[],
  options: QueueOptions & { shapes: readonly PartialShape[] },
) {
  return make(PaddingFIFOQueueV2, g, dtypes, options);
}
export function randomShuffleQueue(
  g: Graph | undefined,
  dtypes: readonly DType[],
  options: QueueOptions & { minAfterDequeue?: number; seed?: number } = {},
) {
  return make(RandomShuffleQueueV2 as unknown as typeof FIFOQueueV2, g, dtypes, options, {
    min_after_dequeue: options.minAfterDequeue ?? 0,
    seed: options.seed ?? 0,
  });
}

/**
 * TensorFlow's QueueRunner: `start` runs each enqueue op in a loop of its own on the session
 * (feeds from `feeds()` on each run, when given) until a run fails; a failure after the queue
 * was closed (the enqueue refused) ends the loop quietly. `join` waits for the loops and returns
 * the first other error, if any.
 */
export class QueueRunner {
  private loops: Promise<EdgeflowError | undefined>[] = [];
  private stopped = false;

  constructor(
    readonly enqueueOps: readonly Node[],
    readonly feeds?: () => Record<string, unknown>,
  ) {}

  start(session: Session): void {
    this.loops = this.enqueueOps.map(async (op) => {
      while (!this.stopped) {
        try {
          await session.run([], (this.feeds?.() ?? {}) as never, [op]);
        } catch (e) {
          if (this.stopped || /is closed|was closed|cancelled/.test(String((e as Error).message))) {
            return undefined;
          }
          return e as EdgeflowError;
        }
      }
      return undefined;
    });
  }

  /** Ends the loops after their current run. */
  stop(): void {
    this.stopped = true;
  }

  async join(): Promise<void> {
    const errors = (await Promise.all(this.loops)).filter((e) => e !== undefined);
    if (errors.length > 0) throw errors[0];
  }
}
