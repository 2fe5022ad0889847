/**
 * Records a run for run metadata and traces: per node its device, wall-clock start and end, the
 * bytes of its outputs and what the device reports (the TPU's simulated cycles); per cross-device
 * copy its tensor, devices, bytes and wall-clock span.
 */
import { bytesOf } from "../buffer.ts";
import type { Device, DeviceBuffer } from "../device.ts";
import { RunKernelContext } from "../kernel_context.ts";
import type { Plan, PlanNode } from "../plan.ts";
import {
  type Copy,
  type ExecutionObserver,
  type NodeRun,
  RENDEZVOUS_OPS,
  type StepStats,
} from "./observer.ts";

/** A value copied between devices (today the executor's copies; Send/Recv pairs are nodes). */
export interface TransferStats {
  /** The tensor copied, "node:output". */
  tensor: string;
  /** The node that produced it. */
  producer: string;
  from: string;
  to: string;
  bytes: number;
  /** Wall-clock start and end, in ms since the run began. */
  start: number;
  end: number;
}

/** One run's record: what `trace: true` leaves in the run metadata. */
export interface StepTrace {
  /** performance.timeOrigin + the run's start: when the run began, in ms since the epoch. */
  startedAt: number;
  steps: StepStats[];
  transfers: TransferStats[];
}

export class StepRecorder implements ExecutionObserver {
  readonly steps: StepStats[] = [];
  readonly transfers: TransferStats[] = [];
  private readonly began = performance.now();
  /** Ready and kernel start times by plan node: one recorder watches every partition of a step. */
  private readonly readies = new Map<PlanNode, number>();
  private readonly starts = new Map<PlanNode, number>();
  private readonly ends = new Map<PlanNode, number>();
  /** Per plan, the node producing each slot (built on the plan's first transfer). */
  private readonly producers = new WeakMap<Plan, Int32Array>();

  nodeStart(pn: PlanNode): void {
    this.readies.set(pn, performance.now() - this.began);
  }

  kernelStart(pn: PlanNode): void {
    this.starts.set(pn, performance.now() - this.began);
  }

  kernelEnd(pn: PlanNode): void {
    this.ends.set(pn, performance.now() - this.began);
  }

  nodeEnd(pn: PlanNode, run: NodeRun): void {
    let outputBytes = 0;
    for (const b of run.outputs) if (b) outputBytes += bytesOf(b);
    // A node without a kernel (a _Recv) ends when the executor sees it finish.
    const end = this.ends.get(pn) ?? performance.now() - this.began;
    const ready = this.readies.get(pn) ?? end;
    const step: StepStats = {
      node: pn.node.name,
      op: pn.node.op.name,
      device: pn.device.name,
      // A node without a kernel (a _Recv) spans its whole wait.
      start: this.starts.get(pn) ?? ready,
      end,
      ready,
      outputBytes,
      // Devices key what they know by the kernel's context; a node without a kernel has none.
      deviceStats: run instanceof RunKernelContext ? pn.device.kernelStats?.(run) : undefined,
    };
    const key = (pn.node.attrs as Record<string, unknown>).tensor_name;
    if (typeof key === "string" && RENDEZVOUS_OPS.test(step.op)) step.rendezvous = key;
    this.steps.push(step);
  }

  transfer(
    plan: Plan,
    slot: number,
    from: DeviceBuffer,
    to: Device,
    began: number,
    copy: Copy,
  ): Copy {
    const producer = plan.nodes[this.producerOf(plan, slot)];
    const record: TransferStats = {
      tensor: `${producer.node.name}:${slot - producer.outputBase}`,
      producer: producer.node.name,
      from: from.device?.name ?? "host",
      to: to.name,
      bytes: bytesOf(from),
      start: began - this.began,
      end: 0,
    };
    this.transfers.push(record);
    const done = () => void (record.end = performance.now() - this.began);
    if (!(copy instanceof Promise)) {
      done();
      return copy;
    }
    return copy.then((c) => (done(), c));
  }

  trace(): StepTrace {
    return {
      startedAt: performance.timeOrigin + this.began,
      steps: this.steps,
      transfers: this.transfers,
    };
  }

  private producerOf(plan: Plan, slot: number): number {
    let producers = this.producers.get(plan);
    if (!producers) {
      producers = new Int32Array(plan.slotCount);
      for (const pn of plan.nodes) {
        producers.fill(pn.index, pn.outputBase, pn.outputBase + pn.outputCount);
      }
      this.producers.set(plan, producers);
    }
    return producers[slot];
  }
}
