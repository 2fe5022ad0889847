/**
 * The queue ops' kernels, on the CPU devices (REF and WASM), as TensorFlow registers its queue
 * kernels on CPU only: every argument is in host memory. A queue lives in the session's state
 * (`SessionState.queues`), made by the first run of its queue op; enqueue and dequeue wait
 * asynchronously, ended by the step's or the session's abort signal.
 */
import { HostBuffer } from "./buffer.ts";
import { EdgeflowError } from "./errors.ts";
import { defineKernel, type Kernel, type KernelContext } from "./kernel.ts";
import type { Attrs } from "./op.ts";
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
} from "./ops/queue.ts";
import { handleName, handleOf } from "./ops/state.ts";
import { type QueueKind, type QueueSpec, TensorQueue } from "./queues/tensor_queue.ts";
import { Tensor } from "./tensor.ts";

function queues(ctx: KernelContext): Map<string, TensorQueue> {
  const q = ctx.session?.queues;
  if (!q) throw new EdgeflowError("queues need a session (they live in its state)");
  return q;
}

function queueOf(ctx: KernelContext, i = 0): TensorQueue {
  const name = handleOf(ctx.hostInput(i));
  const q = queues(ctx).get(name);
  if (!q) throw new EdgeflowError(`queue '${name}' does not exist: run its queue op first`);
  return q;
}

function makeKernel(op: typeof FIFOQueueV2, kind: QueueKind): Kernel {
  return defineKernel(op as typeof FIFOQueueV2, {
    run(ctx) {
      const a = ctx.attrs as Attrs & Record<string, unknown>;
      const name = handleName(
        { container: a.container as string, shared_name: a.shared_name as string },
        ctx.node.name,
      );
      const spec: QueueSpec = {
        kind,
        dtypes: a.component_types as QueueSpec["dtypes"],
        shapes: a.shapes as QueueSpec["shapes"],
        capacity: a.capacity as number,
        minAfterDequeue: (a.min_after_dequeue as number | undefined) ?? 0,
        seed: ((a.seed as number | undefined) ?? 0) * 7919 + ((a.seed2 as number | undefined) ?? 0),
      };
      if (kind === "padding" && spec.shapes.length !== spec.dtypes.length) {
        throw new EdgeflowError("a PaddingFIFOQueue needs a shape per component (-1 where padded)");
      }
      const all = queues(ctx);
      const known = all.get(name);
      if (known && !known.matches(spec)) {
        throw new EdgeflowError(`queue '${name}' exists with other component types or shapes`);
      }
      if (!known) all.set(name, new TensorQueue(name, spec));
      ctx.setOutput(0, new HostBuffer(new Tensor("resource", [], [name])));
    },
  });
}

function components(ctx: KernelContext, from: number): Tensor[] {
  const n = (ctx.attrs.Tcomponents as readonly string[]).length;
  return Array.from({ length: n }, (_, i) => ctx.hostInput(from + i));
}

/** The slices of each component along its first dim, as elements. */
function unbatch(parts: readonly Tensor[]): Tensor[][] {
  const n = parts[0].shape[0];
  for (const p of parts) {
    if (p.shape.length === 0 || p.shape[0] !== n) {
      throw new EdgeflowError(
        `enqueue-many needs components with one first dim; got shapes ${
          parts.map((q) => `[${q.shape}]`).join(", ")
        }`,
      );
    }
  }
  return Array.from({ length: n }, (_, b) =>
    parts.map((p) => {
      const inner = p.shape.slice(1);
      const per = inner.reduce((x, d) => x * d, 1);
      const data = (p.data as unknown as { slice(a: number, b: number): unknown }).slice(
        b * per,
        (b + 1) * per,
      );
      return new Tensor(p.dtype, inner, data as Tensor["data"]);
    }));
}

export const queueKernels: readonly Kernel[] = [
  makeKernel(FIFOQueueV2, "fifo"),
  makeKernel(RandomShuffleQueueV2 as unknown as typeof FIFOQueueV2, "shuffle"),
  makeKernel(PaddingFIFOQueueV2, "padding"),
  defineKernel(QueueEnqueueV2, {
    run: (ctx) => queueOf(ctx).enqueue([components(ctx, 1)], ctx.signal),
  }),
  defineKernel(QueueEnqueueManyV2, {
    run: (ctx) => queueOf(ctx).enqueue(unbatch(components(ctx, 1)), ctx.signal),
  }),
  defineKernel(QueueDequeueV2, {
    run(ctx) {
      const got = queueOf(ctx).dequeue(1, false, ctx.signal);
      const set = (ts: Tensor[]) => ts.forEach((t, i) => ctx.setOutput(i, new HostBuffer(t)));
      return got instanceof Promise ? got.then(set) : set(got);
    },
  }),
  defineKernel(QueueDequeueManyV2, {
    run(ctx) {
      const n = Number(ctx.hostInput(1).data[0]);
      const got = queueOf(ctx).dequeue(n, true, ctx.signal);
      const set = (ts: Tensor[]) => ts.forEach((t, i) => ctx.setOutput(i, new HostBuffer(t)));
      return got instanceof Promise ? got.then(set) : set(got);
    },
  }),
  defineKernel(QueueCloseV2, {
    run: (ctx) => queueOf(ctx).close(ctx.attrs.cancel_pending_enqueues),
  }),
  defineKernel(QueueSizeV2, {
    run: (ctx) =>
      ctx.setOutput(0, new HostBuffer(Tensor.fromNumbers("int32", [], [queueOf(ctx).size]))),
  }),
];
