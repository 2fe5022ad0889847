/**
 * Python TensorFlow's queue classes: `new FIFOQueue({ capacity, dtypes, shapes })` adds the
 * creating op, and its methods add the ops that use the handle (enqueue, enqueueMany, dequeue,
 * dequeueMany, close, size). Each run of a graph finds the session's one queue by name.
 */
import type { DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { Graph, type Node, type Output } from "../graph.ts";
import { type BuildOptions, type TensorLike, toOutput } from "../ops/build.ts";
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
import type { Attrs } from "../op.ts";

export interface QueueOptions {
  /** Component dtypes, one per component. */
  dtypes: readonly DType[];
  /** Component shapes (required for dequeueMany, and by PaddingFIFOQueue, where -1 is padded). */
  shapes?: readonly PartialShape[];
  /** The most elements held; unbounded when absent. */
  capacity?: number;
  /** Node name of the creating op ("fifo_queue" and so on by default). */
  name?: string;
  /** Runs of graphs naming the same shared name use one queue. */
  sharedName?: string;
  graph?: Graph;
}

export interface RandomShuffleQueueOptions extends QueueOptions {
  minAfterDequeue?: number;
  /** The op seed; with the graph's seed, as TensorFlow's random ops (unseeded: fresh numbers). */
  seed?: number;
}

/** Handle and methods shared by the three queue kinds. */
export class QueueBase {
  readonly handle: Output;
  readonly dtypes: readonly DType[];
  readonly graph: Graph;

  protected constructor(node: Node, dtypes: readonly DType[]) {
    this.handle = node.outputs[0];
    this.dtypes = dtypes;
    this.graph = node.graph;
  }

  /** Adds one element (a tensor per component); the node runs as a target. */
  enqueue(
    components: readonly TensorLike[],
    options: BuildOptions & Record<string, unknown> = {},
  ): Node {
    return this.add(QueueEnqueueV2, [this.handle, this.values(components)], options);
  }
  /** Adds the slices along dim 0 of each component, in order. */
  enqueueMany(
    components: readonly TensorLike[],
    options: BuildOptions & Record<string, unknown> = {},
  ): Node {
    return this.add(QueueEnqueueManyV2, [this.handle, this.values(components)], options);
  }
  /** Removes one element; blocks while the queue is empty. */
  dequeue(options: BuildOptions & Record<string, unknown> = {}): Output[] {
    return [
      ...this.add(QueueDequeueV2, [this.handle], { ...options, component_types: this.dtypes })
        .outputs,
    ];
  }
  /** Removes n elements stacked along a new dim 0; blocks until n are there. */
  dequeueMany(n: TensorLike, options: BuildOptions & Record<string, unknown> = {}): Output[] {
    const count = toOutput(this.graph, n, "int32", "input 'n'", QueueDequeueManyV2.name);
    return [
      ...this.add(QueueDequeueManyV2, [this.handle, count], {
        ...options,
        component_types: this.dtypes,
      }).outputs,
    ];
  }
  /** Closes the queue: later enqueues fail, dequeues drain what is left then fail (OutOfRange). */
  close(options: BuildOptions & { cancelPendingEnqueues?: boolean } = {}): Node {
    const { cancelPendingEnqueues = false, ...rest } = options;
    return this.add(QueueCloseV2, [this.handle], {
      ...rest,
      cancel_pending_enqueues: cancelPendingEnqueues,
    });
  }
  size(options: BuildOptions & Record<string, unknown> = {}): Output {
    return this.add(QueueSizeV2, [this.handle], options).outputs[0];
  }

  private values(components: readonly TensorLike[]): Output[] {
    if (components.length !== this.dtypes.length) {
      throw new EdgeflowError(
        `the queue has ${this.dtypes.length} components, got ${components.length} values`,
      );
    }
    return components.map((c, i) =>
      toOutput(this.graph, c, this.dtypes[i], `component ${i}`, "QueueEnqueueV2")
    );
  }

  // deno-lint-ignore no-explicit-any
  private add(op: any, inputs: unknown[], options: BuildOptions & Record<string, unknown>): Node {
    const { name, device, controlInputs, graph: _, ...attrs } = options;
    return this.graph.addNode(op, inputs as Output[], attrs as Attrs, {
      name,
      device,
      controlInputs,
    });
  }
}

function graphOf(options: QueueOptions): Graph {
  const g = options.graph ?? Graph.current();
  if (!g) {
    throw new EdgeflowError("no graph to build the queue in: pass `graph` or use g.asDefault()");
  }
  return g;
}

function creating(
  // deno-lint-ignore no-explicit-any
  op: any,
  options: QueueOptions,
  defaultName: string,
  extra: Record<string, unknown> = {},
): Node {
  return graphOf(options).addNode(op, [], {
    component_types: options.dtypes,
    shapes: options.shapes ?? [],
    capacity: options.capacity ?? -1,
    shared_name: options.sharedName ?? "",
    ...extra,
  }, { name: options.name ?? defaultName });
}

export class FIFOQueue extends QueueBase {
  constructor(options: QueueOptions) {
    super(creating(FIFOQueueV2, options, "fifo_queue"), options.dtypes);
  }
}

export class PaddingFIFOQueue extends QueueBase {
  constructor(options: QueueOptions) {
    super(creating(PaddingFIFOQueueV2, options, "padding_fifo_queue"), options.dtypes);
  }
}

export class RandomShuffleQueue extends QueueBase {
  constructor(options: RandomShuffleQueueOptions) {
    const g = graphOf(options);
    // TensorFlow's op-seed rule (random_seed.get_seed): op seed with the graph's (or the default
    // graph seed), the graph seed with a counter, or unseeded.
    const seeds = options.seed !== undefined
      ? { seed: g.seed ?? 87654321, seed2: options.seed }
      : g.seed !== undefined
      ? { seed: g.seed, seed2: g.nodes.length }
      : { seed: 0, seed2: 0 };
    super(
      creating(RandomShuffleQueueV2, { ...options, graph: g }, "random_shuffle_queue", {
        min_after_dequeue: options.minAfterDequeue ?? 0,
        ...seeds,
      }),
      options.dtypes,
    );
  }
}
