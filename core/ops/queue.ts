/**
 * TensorFlow's V2 queue ops (resource handles): FIFOQueueV2, RandomShuffleQueueV2,
 * PaddingFIFOQueueV2 make or find a queue and output its handle; QueueEnqueueV2,
 * QueueEnqueueManyV2, QueueDequeueV2, QueueDequeueManyV2, QueueCloseV2 and QueueSizeV2 act on
 * it. Queues are host state (core/queues/queue.ts), as TensorFlow keeps them on the CPU: the
 * kernels (core/queues/kernels.ts) run on REF, whose buffers are host tensors, and any session
 * adds REF when a graph uses a queue (values cross to other devices through Send/Recv). Blocking needs a session's scheduler, so the reference
 * implementations are the non-blocking meaning on a HostContext's queue table: an attempt that
 * would wait is refused (constant folding never calls them: the ops are stateful).
 */
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type HostContext, type TensorSpec } from "../op.ts";
import { formatShape, isFullyDefined, type PartialShape } from "../shape.ts";
import { numberAt, Tensor } from "../tensor.ts";
import { handleName, handleOf } from "./state.ts";
import { Queue, type QueueKind, type QueueSpec, QueueTable, type Tuple } from "../queues/queue.ts";

const COMPONENT_DTYPES: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

type QueueAttrs = {
  component_types: readonly DType[];
  shapes: readonly PartialShape[];
  capacity: number;
  container: string;
  shared_name: string;
};
type ShuffleAttrs = QueueAttrs & { min_after_dequeue: number; seed: number; seed2: number };

const componentTypes = {
  kind: "list(type)",
  validate: (v: readonly DType[]) =>
    v.length === 0
      ? "must list at least one dtype"
      : v.some((d) => !COMPONENT_DTYPES.includes(d))
      ? "may not hold resource handles"
      : undefined,
} as const;
const capacityAttr = {
  kind: "int",
  default: -1,
  validate: (v: number) => (v < -1 ? "must be -1 (no bound) or at least 0" : undefined),
} as const;

/** The queue declared by a creating op's attrs; refuses what TensorFlow's constructors refuse. */
export function queueSpecOf(
  kind: QueueKind,
  attrs: QueueAttrs & Partial<ShuffleAttrs>,
  nodeName: string,
): QueueSpec {
  const { component_types: dtypes, shapes } = attrs;
  if (shapes.length !== 0 && shapes.length !== dtypes.length) {
    throw new EdgeflowError(
      `shapes lists ${shapes.length} shapes for ${dtypes.length} component types`,
    );
  }
  if (kind === "PaddingFIFOQueue" && shapes.length === 0) {
    throw new EdgeflowError("a PaddingFIFOQueue needs one shape per component (rank known)");
  }
  shapes.forEach((s, i) => {
    if (s === null) {
      throw new EdgeflowError(`shape ${i} has unknown rank; queues need ranks`);
    }
    if (kind !== "PaddingFIFOQueue" && !isFullyDefined(s)) {
      throw new EdgeflowError(
        `shape ${i} is ${formatShape(s)}: a ${kind} needs fully defined shapes ` +
          `(PaddingFIFOQueue takes unknown dims)`,
      );
    }
  });
  const minAfterDequeue = attrs.min_after_dequeue ?? 0;
  if (minAfterDequeue < 0) throw new EdgeflowError("min_after_dequeue must be at least 0");
  if (attrs.capacity >= 0 && minAfterDequeue >= attrs.capacity && kind === "RandomShuffleQueue") {
    throw new EdgeflowError(
      `min_after_dequeue ${minAfterDequeue} must be less than capacity ${attrs.capacity}`,
    );
  }
  return {
    kind,
    name: handleName(attrs, nodeName),
    dtypes,
    shapes,
    capacity: attrs.capacity,
    minAfterDequeue,
    seed: attrs.seed ?? 0,
    seed2: attrs.seed2 ?? 0,
  };
}

/** The handle's spec carries the queue's components, so a dequeue's outputs have shapes. */
function handleSpec(dtypes: readonly DType[], shapes: readonly PartialShape[]): TensorSpec {
  return {
    dtype: "resource",
    shape: [],
    queue: dtypes.map((dtype, i) => ({ dtype, shape: shapes[i] ?? null })),
  };
}

/** A HostContext that holds queues (a session's kernel context, or a test's MapHostContext). */
export interface QueueHost {
  readonly queues?: QueueTable;
}
function tableOf(ctx: HostContext): QueueTable {
  const t = (ctx as HostContext & QueueHost).queues;
  if (!t) throw new EdgeflowError("queues need a session (this context holds no queue table)");
  return t;
}

function defineQueueOp<A extends QueueAttrs>(
  kind: QueueKind,
  extra: Record<string, unknown>,
) {
  return defineOp<A>({
    name: `${kind}V2`,
    inputs: [],
    outputs: [{ name: "handle", type: "resource" }],
    hostMemory: { outputs: [0] },
    attrs: {
      component_types: componentTypes,
      shapes: { kind: "list(shape)", default: [] },
      capacity: capacityAttr,
      container: { kind: "string", default: "" },
      shared_name: { kind: "string", default: "" },
      ...extra,
    } as never,
    stateful: true,
    infer: (_, attrs) => {
      queueSpecOf(kind, attrs, "");
      return [handleSpec(attrs.component_types, attrs.shapes)];
    },
    reference: (_, attrs, ctx) => {
      const spec = queueSpecOf(kind, attrs, ctx.node.name);
      tableOf(ctx).lookupOrCreate(spec);
      return [new Tensor("resource", [], [spec.name])];
    },
  });
}

export const FIFOQueueV2 = defineQueueOp<QueueAttrs>("FIFOQueue", {});
export const PaddingFIFOQueueV2 = defineQueueOp<QueueAttrs>("PaddingFIFOQueue", {});
export const RandomShuffleQueueV2 = defineQueueOp<ShuffleAttrs>("RandomShuffleQueue", {
  min_after_dequeue: { kind: "int", default: 0 },
  seed: { kind: "int", default: 0 },
  seed2: { kind: "int", default: 0 },
});

const HANDLE = { name: "handle", type: "resource" } as const;
const timeoutAttr = { kind: "int", default: -1 } as const;

/** Refuses a handle input that is not a queue's; returns the queue's declared components. */
function queueComponents(h: TensorSpec): readonly TensorSpec[] | undefined {
  if (h.dtype !== "resource") throw new EdgeflowError(`handle must be a resource, got ${h.dtype}`);
  return h.queue;
}

function checkComponents(
  h: TensorSpec,
  given: readonly TensorSpec[],
  types: readonly DType[],
  many: boolean,
) {
  const q = queueComponents(h);
  if (!q) return;
  if (types.length !== q.length || types.some((t, i) => t !== q[i].dtype)) {
    throw new EdgeflowError(
      `enqueues (${types.join(", ")}) into a queue of (${q.map((s) => s.dtype).join(", ")})`,
    );
  }
  given.forEach((g, i) => {
    if (g.shape === null || q[i].shape === null) return;
    const shape = many ? g.shape.slice(1) : g.shape;
    if (many && g.shape.length === 0) {
      throw new EdgeflowError(
        `enqueue_many needs components of rank ≥ 1; component ${i} is a scalar`,
      );
    }
    const want = q[i].shape!;
    const ok = shape.length === want.length &&
      shape.every((d, k) => d < 0 || want[k] < 0 || d === want[k]);
    if (!ok) {
      throw new EdgeflowError(
        `component ${i} has shape ${formatShape(shape)}, the queue holds ${formatShape(want)}`,
      );
    }
  });
}

type EnqueueAttrs = { Tcomponents: readonly DType[]; timeout_ms: number };
function defineEnqueue(name: string, many: boolean) {
  return defineOp<EnqueueAttrs>({
    name,
    inputs: [HANDLE, { name: "components", type: "Tcomponents", typeListAttr: "Tcomponents" }],
    outputs: [],
    hostMemory: { inputs: [0] },
    attrs: { Tcomponents: componentTypes, timeout_ms: timeoutAttr },
    stateful: true,
    infer: ([h, ...components], { Tcomponents }) => {
      checkComponents(h, components, Tcomponents, many);
      return [];
    },
    reference: ([h, ...components], _, ctx) => {
      const q = tableOf(ctx).get(handleOf(h));
      const elements = tuplesOf(q, components, many);
      // The reference cannot wait: an enqueue that finds no room is refused.
      if (q.isClosed) throw new EdgeflowError(`queue '${q.spec.name}' is closed`);
      const room = q.spec.capacity < 0 ? Infinity : q.spec.capacity - q.size;
      if (elements.length > room) {
        throw new EdgeflowError(`queue '${q.spec.name}' is full (the reference does not block)`);
      }
      q.enqueue(elements);
      return [];
    },
  });
}

/** Checks and slices an enqueue's components into elements. */
export function tuplesOf(q: Queue, components: readonly Tensor[], many: boolean): Tuple[] {
  q.validate(components, many);
  if (!many) return [components];
  const n = components[0].shape[0];
  return Array.from({ length: n }, (_, i) => components.map((t) => sliceRow(t, i)));
}

function sliceRow(t: Tensor, i: number): Tensor {
  const per = t.size / t.shape[0];
  const data = t.data.slice(i * per, (i + 1) * per) as Tensor["data"];
  return new Tensor(t.dtype, t.shape.slice(1), data);
}

export const QueueEnqueueV2 = defineEnqueue("QueueEnqueueV2", false);
export const QueueEnqueueManyV2 = defineEnqueue("QueueEnqueueManyV2", true);

type DequeueAttrs = { component_types: readonly DType[]; timeout_ms: number };

function dequeueSpecs(h: TensorSpec, types: readonly DType[], batch?: number): TensorSpec[] {
  const q = queueComponents(h);
  if (q && (q.length !== types.length || q.some((s, i) => s.dtype !== types[i]))) {
    throw new EdgeflowError(
      `dequeues (${types.join(", ")}) from a queue of (${q.map((s) => s.dtype).join(", ")})`,
    );
  }
  return types.map((dtype, i) => {
    const shape = q?.[i].shape ?? null;
    if (batch === undefined) return { dtype, shape };
    return { dtype, shape: shape === null ? null : [batch, ...shape] };
  });
}

export const QueueDequeueV2 = defineOp<DequeueAttrs>({
  name: "QueueDequeueV2",
  inputs: [HANDLE],
  outputs: [{ name: "components", type: "component_types", typeListAttr: "component_types" }],
  hostMemory: { inputs: [0] },
  attrs: { component_types: componentTypes, timeout_ms: timeoutAttr },
  stateful: true,
  infer: ([h], { component_types }) => dequeueSpecs(h, component_types),
  reference: ([h], _, ctx) => dequeueNow(tableOf(ctx).get(handleOf(h)), 1, false),
});

export const QueueDequeueManyV2 = defineOp<DequeueAttrs>({
  name: "QueueDequeueManyV2",
  inputs: [HANDLE, { name: "n", type: "int32" }],
  outputs: [{ name: "components", type: "component_types", typeListAttr: "component_types" }],
  hostMemory: { inputs: [0, 1] },
  attrs: { component_types: componentTypes, timeout_ms: timeoutAttr },
  stateful: true,
  infer: ([h, n], { component_types }) => {
    if (n.shape !== null && n.shape.length !== 0) {
      throw new EdgeflowError(`n must be a scalar, got shape ${formatShape(n.shape)}`);
    }
    const count = n.value ? numberAt(n.value, 0) : undefined;
    if (count !== undefined && count < 0) {
      throw new EdgeflowError(`n must be at least 0, got ${count}`);
    }
    return dequeueSpecs(h, component_types, count ?? -1);
  },
  reference: ([h, n], _, ctx) => dequeueNow(tableOf(ctx).get(handleOf(h)), countOf(n), true),
});

/** QueueDequeueManyV2's n, checked as TensorFlow does. */
export function countOf(n: Tensor): number {
  if (n.rank !== 0) {
    throw new EdgeflowError(`n must be a scalar, got shape ${formatShape(n.shape)}`);
  }
  const v = numberAt(n, 0);
  if (v < 0) throw new EdgeflowError(`n must be at least 0, got ${v}`);
  return v;
}

/** The reference's dequeue: what is there now, or a refusal where a kernel would wait. */
function dequeueNow(q: Queue, n: number, batched: boolean): Tensor[] {
  const out = q.tryDequeue(n, batched);
  if (out) return out;
  throw new EdgeflowError(
    `queue '${q.spec.name}' has ${q.size} elements, ${n} requested (the reference does not block)`,
  );
}

type CloseAttrs = { cancel_pending_enqueues: boolean };
export const QueueCloseV2 = defineOp<CloseAttrs>({
  name: "QueueCloseV2",
  inputs: [HANDLE],
  outputs: [],
  hostMemory: { inputs: [0] },
  attrs: { cancel_pending_enqueues: { kind: "bool", default: false } },
  stateful: true,
  infer: ([h]) => {
    queueComponents(h);
    return [];
  },
  reference: ([h], { cancel_pending_enqueues }, ctx) => {
    tableOf(ctx).get(handleOf(h)).close(cancel_pending_enqueues);
    return [];
  },
});

// deno-lint-ignore ban-types
export const QueueSizeV2 = defineOp<{}>({
  name: "QueueSizeV2",
  inputs: [HANDLE],
  outputs: [{ name: "size", type: "int32" }],
  hostMemory: { inputs: [0], outputs: [0] },
  attrs: {},
  stateful: true,
  infer: ([h]) => {
    queueComponents(h);
    return [{ dtype: "int32", shape: [] }];
  },
  reference: ([h], _, ctx) => [
    Tensor.fromNumbers("int32", [], [tableOf(ctx).get(handleOf(h)).size]),
  ],
});

export const QUEUE_OPS = [
  FIFOQueueV2,
  RandomShuffleQueueV2,
  PaddingFIFOQueueV2,
  QueueEnqueueV2,
  QueueEnqueueManyV2,
  QueueDequeueV2,
  QueueDequeueManyV2,
  QueueCloseV2,
  QueueSizeV2,
] as const;
