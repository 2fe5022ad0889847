/**
 * What the executor tells an observer about a run (TensorFlow's StepStatsCollector seam): a node
 * starts, a node's kernel finished (its outputs still held, its inputs not yet released), a value
 * is copied to another device. The executor takes one observer or none; with none it does no
 * bookkeeping at all. Observers: run metadata and traces (step_recorder.ts), NaN/Inf checks
 * (numerics.ts), comparison with the reference (compare_reference.ts).
 */
import type { Device, DeviceBuffer } from "../device.ts";
import type { Plan, PlanNode } from "../plan.ts";

export type Copy = DeviceBuffer | Promise<DeviceBuffer>;

/**
 * A finished node's buffers: the kernel's context (a RunKernelContext, which devices key their
 * kernelStats by), or for a node without a kernel (a _Recv) its outputs alone.
 */
export interface NodeRun {
  readonly inputs: readonly DeviceBuffer[];
  readonly outputs: readonly (DeviceBuffer | undefined)[];
}

export interface ExecutionObserver {
  /** The node is about to gather its inputs and run. Feeds are not nodes that run. */
  nodeStart(pn: PlanNode): void;
  /** Its inputs are on its device and checked: the kernel starts now. */
  kernelStart(pn: PlanNode): void;
  /** The kernel returned (or its promise resolved); `nodeEnd` follows, maybe a little later. */
  kernelEnd(pn: PlanNode): void;
  /**
   * The node finished; `run.inputs` and `run.outputs` are still held. A promise delays the
   * node's consumers until it settles; a throw (or rejection) stops the run with that error.
   */
  nodeEnd(pn: PlanNode, run: NodeRun): void | Promise<void>;
  /**
   * The value of `plan`'s `slot` (in `from`) is being copied to `to`, started at `began`
   * (performance.now()); returns the copy, which the observer may wrap to see it finish. One
   * observer may watch several plans at once (the partitions of a step).
   */
  transfer(
    plan: Plan,
    slot: number,
    from: DeviceBuffer,
    to: Device,
    began: number,
    copy: Copy,
  ): Copy;
}

/** One node's execution, for tracing (TensorFlow's NodeExecStats). */
export interface StepStats {
  node: string;
  op: string;
  device: string;
  /** The kernel's wall-clock start and end, in ms since the run began. */
  start: number;
  end: number;
  /**
   * When the node left the ready queue (ms since the run began): from there to `start` it
   * waited for its inputs (copies, readbacks of host-memory inputs).
   */
  ready?: number;
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
    kernelStart(pn) {
      for (const o of list) o.kernelStart(pn);
    },
    kernelEnd(pn) {
      for (const o of list) o.kernelEnd(pn);
    },
    nodeEnd(pn, run) {
      let pending: Promise<void> | undefined;
      for (const o of list) {
        if (pending) pending = pending.then(() => o.nodeEnd(pn, run));
        else {
          const r = o.nodeEnd(pn, run);
          if (r instanceof Promise) pending = r;
        }
      }
      return pending;
    },
    transfer(plan, slot, from, to, began, copy) {
      for (const o of list) copy = o.transfer(plan, slot, from, to, began, copy);
      return copy;
    },
  };
}
