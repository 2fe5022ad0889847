/**
 * What the executor tells an observer about a run (TensorFlow's StepStatsCollector seam): a node
 * starts, a node's kernel finished (its outputs still held, its inputs not yet released), a value
 * is copied to another device. The executor takes one observer or none; with none it does no
 * bookkeeping at all. Observers: run metadata and traces (step_recorder.ts), NaN/Inf checks
 * (numerics.ts), comparison with the reference (compare_reference.ts).
 */
import type { Device, DeviceBuffer } from "../device.ts";
import type { RunKernelContext } from "../kernel_context.ts";
import type { PlanNode } from "../plan.ts";

export type Copy = DeviceBuffer | Promise<DeviceBuffer>;

export interface ExecutionObserver {
  /** The node is about to gather its inputs and run. Feeds are not nodes that run. */
  nodeStart(pn: PlanNode): void;
  /**
   * The node's kernel finished; `ctx.inputs` and `ctx.outputs` are still held. A promise delays
   * the node's consumers until it settles; a throw (or rejection) stops the run with that error.
   */
  nodeEnd(pn: PlanNode, ctx: RunKernelContext): void | Promise<void>;
  /**
   * The value of `slot` (in `from`) is being copied to `to`, started at `began`
   * (performance.now()); returns the copy, which the observer may wrap to see it finish.
   */
  transfer(from: DeviceBuffer, to: Device, slot: number, began: number, copy: Copy): Copy;
}

/** One node's execution, for tracing (TensorFlow's NodeExecStats). */
export interface StepStats {
  node: string;
  op: string;
  device: string;
  /** Wall-clock start and end, in ms since the run began. */
  start: number;
  end: number;
  /** Bytes of the outputs the kernel produced (new or forwarded buffers). */
  outputBytes?: number;
  /** What the device reports about the kernel (simulated cycles on the TPU). */
  deviceStats?: Record<string, number>;
  /**
   * For a Send or Recv node (ops named Send/_Send, Recv/_Recv), its `tensor_name` attr: a trace
   * joins the Send and the Recv that share it with a flow.
   */
  rendezvous?: string;
}

/** Ops that move a value between partitions (TensorFlow's _Send/_Recv), not compute one. */
export const RENDEZVOUS_OPS = /^_?(Send|Recv)$/;

/** Several observers as one: each sees every event, in order; promises are chained. */
export function combineObservers(
  list: readonly ExecutionObserver[],
): ExecutionObserver | undefined {
  if (list.length <= 1) return list[0];
  return {
    nodeStart(pn) {
      for (const o of list) o.nodeStart(pn);
    },
    nodeEnd(pn, ctx) {
      let pending: Promise<void> | undefined;
      for (const o of list) {
        if (pending) pending = pending.then(() => o.nodeEnd(pn, ctx));
        else {
          const r = o.nodeEnd(pn, ctx);
          if (r instanceof Promise) pending = r;
        }
      }
      return pending;
    },
    transfer(from, to, slot, began, copy) {
      for (const o of list) copy = o.transfer(from, to, slot, began, copy);
      return copy;
    },
  };
}
