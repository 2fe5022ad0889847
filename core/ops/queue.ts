/**
 * Queue ops (section 4.6 of the 2015 paper; TensorFlow's data_flow_ops): a queue op makes (once
 * per session) and names a queue of tuples of tensors; enqueue, enqueue-many, dequeue,
 * dequeue-many, close and size act on it through its handle. A queue lives in a session and its
 * operations may wait on other steps, so these ops run through their kernels
 * (core/queue_kernels.ts, on the CPU devices, as TensorFlow registers them), never folded:
 * their references refuse to run.
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type OpDef } from "../op.ts";
import type { PartialShape } from "../shape.ts";

/** TensorFlow keeps every queue argument in host memory; lists of up to this many components. */
const ALL_HOST = Array.from({ length: 64 }, (_, i) => i);

function refuse(name: string): () => never {
  return () => {
    throw new EdgeflowError(
      `${name} acts on a session's queue: it runs through its kernel (core/queue_kernels.ts)`,
    );
  };
}

const componentTypes = {
  kind: "list(type)" as const,
  validate: (ts: readonly DType[]) =>
    ts.length === 0
      ? "must name at least one component"
      : ts.some((t) => !ALL_DTYPES.includes(t) || t === "resource")
      ? "must be value dtypes"
      : undefined,
};

type QueueAttrs = {
  component_types: readonly DType[];
  shapes: readonly PartialShape[];
  capacity: number;
  container: string;
  shared_name: string;
};

function queueOp<A extends QueueAttrs>(
  name: string,
  extra: Partial<OpDef<A>["attrs"]>,
): OpDef<A> {
  return defineOp<A>({
    name,
    inputs: [],
    outputs: [{ name: "handle", type: "resource" }],
    attrs: {
      component_types: componentTypes,
      shapes: { kind: "list(shape)", default: [] },
      capacity: { kind: "int", default: -1 },
      container: { kind: "string", default: "" },
      shared_name: { kind: "string", default: "" },
      ...extra,
    } as OpDef<A>["attrs"],
    hostMemory: { outputs: [0] },
    stateful: true,
    infer: (_, attrs) => {
      if (attrs.shapes.length > 0 && attrs.shapes.length !== attrs.component_types.length) {
        throw new EdgeflowError(
          `shapes lists ${attrs.shapes.length} shapes for ${attrs.component_types.length} components`,
        );
      }
      return [{ dtype: "resource", shape: [] }];
    },
    reference: refuse(name),
    testDTypes: [],
  });
}

/** A first-in first-out queue. */
export const FIFOQueueV2 = queueOp<QueueAttrs>("FIFOQueueV2", {});
/** Dequeues a random element, keeping `min_after_dequeue` until closed. */
export const RandomShuffleQueueV2 = queueOp<
  QueueAttrs & { min_after_dequeue: number; seed: number; seed2: number }
>("RandomShuffleQueueV2", {
  min_after_dequeue: { kind: "int", default: 0 },
  seed: { kind: "int", default: 0 },
  seed2: { kind: "int", default: 0 },
});
/** A FIFO queue whose dequeue-many pads each component to the batch's largest shape. */
export const PaddingFIFOQueueV2 = queueOp<QueueAttrs>("PaddingFIFOQueueV2", {});

type EnqueueAttrs = { Tcomponents: readonly DType[]; timeout_ms: number };
function enqueueOp(name: string): OpDef<EnqueueAttrs> {
  return defineOp<EnqueueAttrs>({
    name,
    inputs: [
      { name: "handle", type: "resource" },
      { name: "components", type: "Tcomponents", typeListAttr: "Tcomponents" },
    ],
    outputs: [],
    attrs: { Tcomponents: componentTypes, timeout_ms: { kind: "int", default: -1 } },
    hostMemory: { inputs: ALL_HOST },
    stateful: true,
    blocking: true,
    infer: () => [],
    reference: refuse(name),
    testDTypes: [],
  });
}
/** Enqueues one element (a tuple of components); waits while the queue is full. */
export const QueueEnqueueV2 = enqueueOp("QueueEnqueueV2");
/** Enqueues the slices along the first dim of each component as elements. */
export const QueueEnqueueManyV2 = enqueueOp("QueueEnqueueManyV2");

type DequeueAttrs = { component_types: readonly DType[]; timeout_ms: number };
/** Dequeues one element; waits while the queue is empty. */
export const QueueDequeueV2 = defineOp<DequeueAttrs>({
  name: "QueueDequeueV2",
  inputs: [{ name: "handle", type: "resource" }],
  outputs: [{ name: "components", type: "component_types", typeListAttr: "component_types" }],
  attrs: { component_types: componentTypes, timeout_ms: { kind: "int", default: -1 } },
  hostMemory: { inputs: [0], outputs: ALL_HOST },
  stateful: true,
  blocking: true,
  // The handle carries no shapes: components are of unknown shape, as TensorFlow without them.
  infer: (_, a) => a.component_types.map((dtype) => ({ dtype, shape: null })),
  reference: refuse("QueueDequeueV2"),
  testDTypes: [],
});
/** Dequeues `n` elements stacked along a new first dim; waits until there are `n`. */
export const QueueDequeueManyV2 = defineOp<DequeueAttrs>({
  name: "QueueDequeueManyV2",
  inputs: [{ name: "handle", type: "resource" }, { name: "n", type: "int32" }],
  outputs: [{ name: "components", type: "component_types", typeListAttr: "component_types" }],
  attrs: { component_types: componentTypes, timeout_ms: { kind: "int", default: -1 } },
  hostMemory: { inputs: [0, 1], outputs: ALL_HOST },
  stateful: true,
  blocking: true,
  infer: ([, n], a) => {
    if (n.shape !== null && n.shape.length !== 0) throw new EdgeflowError("n must be a scalar");
    return a.component_types.map((dtype) => ({ dtype, shape: null }));
  },
  reference: refuse("QueueDequeueManyV2"),
  testDTypes: [],
});
/** Closes the queue: later enqueues fail; dequeues fail once too few elements are left. */
export const QueueCloseV2 = defineOp<{ cancel_pending_enqueues: boolean }>({
  name: "QueueCloseV2",
  inputs: [{ name: "handle", type: "resource" }],
  outputs: [],
  attrs: { cancel_pending_enqueues: { kind: "bool", default: false } },
  hostMemory: { inputs: [0] },
  stateful: true,
  infer: () => [],
  reference: refuse("QueueCloseV2"),
  testDTypes: [],
});
/** The number of elements in the queue. */
export const QueueSizeV2 = defineOp<Record<never, never>>({
  name: "QueueSizeV2",
  inputs: [{ name: "handle", type: "resource" }],
  outputs: [{ name: "size", type: "int32" }],
  attrs: {},
  hostMemory: { inputs: [0], outputs: [0] },
  stateful: true,
  infer: () => [{ dtype: "int32", shape: [] }],
  reference: refuse("QueueSizeV2"),
  testDTypes: [],
});

export const QUEUE_OPS: readonly OpDef[] = [
  FIFOQueueV2,
  RandomShuffleQueueV2,
  PaddingFIFOQueueV2,
  QueueEnqueueV2,
  QueueEnqueueManyV2,
  QueueDequeueV2,
  QueueDequeueManyV2,
  QueueCloseV2,
  QueueSizeV2,
] as unknown as OpDef[];
