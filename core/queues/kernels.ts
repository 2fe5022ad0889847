/**
 * The queue ops' kernels: asynchronous where TensorFlow's are (enqueue and dequeue block until
 * they complete), the queue found in the session's table (`ctx.queues`) and the wait cancelled
 * with the step (`ctx.signal`: the step's first error, or the session closing). Valid on any
 * device whose buffers the host reads; the REF plugin lists them, so the queue's state lives on
 * the host as TensorFlow's CPU-resident queues do.
 */
import { HostBuffer } from "../buffer.ts";
import { EdgeflowError } from "../errors.ts";
import { defineKernel, type Kernel, type KernelContext } from "../kernel.ts";
import type { OpDef } from "../op.ts";
import {
  countOf,
  FIFOQueueV2,
  PaddingFIFOQueueV2,
  QueueCloseV2,
  QueueDequeueManyV2,
  QueueDequeueV2,
  QueueEnqueueManyV2,
  QueueEnqueueV2,
  QueueSizeV2,
  queueSpecOf,
  RandomShuffleQueueV2,
  tuplesOf,
} from "../ops/queue.ts";
import { handleOf } from "../ops/state.ts";
import type { QueueKind, QueueTable } from "./queue.ts";
import { Tensor } from "../tensor.ts";

function tableOf(ctx: KernelContext): QueueTable {
  if (!ctx.queues) throw new EdgeflowError("queue kernels need a session's queue table");
  return ctx.queues;
}

// deno-lint-ignore no-explicit-any
function createKernel(kind: QueueKind, op: OpDef<any>): Kernel {
  return defineKernel(op, {
    run(ctx) {
      const spec = queueSpecOf(kind, ctx.attrs as never, ctx.node.name);
      tableOf(ctx).lookupOrCreate(spec);
      ctx.setOutput(0, new HostBuffer(new Tensor("resource", [], [spec.name])));
    },
  });
}

/** The components a kernel was given, as host tensors (its device's buffers are host memory). */
function components(ctx: KernelContext, from: number): Tensor[] {
  return ctx.inputs.slice(from).map((b, i) => {
    if (!(b instanceof HostBuffer)) {
      throw new EdgeflowError(
        `component ${i} is in ${ctx.device.name} memory; queue kernels run where buffers are host tensors`,
      );
    }
    return b.tensor;
  });
}

async function setOutputs(ctx: KernelContext, values: readonly Tensor[]) {
  for (let i = 0; i < values.length; i++) {
    const b = ctx.device.upload(values[i]);
    ctx.setOutput(i, b instanceof Promise ? await b : b);
  }
}

function enqueueKernel(op: typeof QueueEnqueueV2, many: boolean): Kernel {
  return defineKernel(op, {
    run(ctx) {
      const q = tableOf(ctx).get(handleOf(ctx.hostInput(0)));
      return q.enqueue(tuplesOf(q, components(ctx, 1), many), ctx.signal);
    },
  });
}

export const QUEUE_KERNELS: readonly Kernel[] = [
  createKernel("FIFOQueue", FIFOQueueV2),
  createKernel("RandomShuffleQueue", RandomShuffleQueueV2),
  createKernel("PaddingFIFOQueue", PaddingFIFOQueueV2),
  enqueueKernel(QueueEnqueueV2, false),
  enqueueKernel(QueueEnqueueManyV2, true),
  defineKernel(QueueDequeueV2, {
    async run(ctx) {
      const q = tableOf(ctx).get(handleOf(ctx.hostInput(0)));
      await setOutputs(ctx, await q.dequeue(1, false, ctx.signal));
    },
  }),
  defineKernel(QueueDequeueManyV2, {
    async run(ctx) {
      const q = tableOf(ctx).get(handleOf(ctx.hostInput(0)));
      const n = countOf(ctx.hostInput(1));
      await setOutputs(ctx, await q.dequeue(n, true, ctx.signal));
    },
  }),
  defineKernel(QueueCloseV2, {
    run(ctx) {
      tableOf(ctx).get(handleOf(ctx.hostInput(0))).close(ctx.attrs.cancel_pending_enqueues);
    },
  }),
  defineKernel(QueueSizeV2, {
    run(ctx) {
      const size = tableOf(ctx).get(handleOf(ctx.hostInput(0))).size;
      ctx.setOutput(0, new HostBuffer(Tensor.fromNumbers("int32", [], [size])));
    },
  }),
];
