/**
 * The run-time frames of one executor run (TensorFlow's FrameState): one per loop entered, per
 * iteration of the frame it was entered from. A frame holds its live iterations, at most
 * `parallel_iterations` at once; values for an iteration not yet allowed to start wait in
 * `deferred`. Loop invariants (constant Enters) are kept to be handed to every new iteration.
 * Iterations finish in order: one is done when nothing in it is ready or running, no child frame
 * of it is alive and the one before it is done (and, for iteration 0, every Enter arrived).
 */
import type { DeviceBuffer } from "../device.ts";
import type { IterationState } from "../executor.ts";
import type { StaticFrame } from "./static_frames.ts";

/** Outputs of a node, possibly dead, waiting to be delivered to an iteration. */
export interface Delivery {
  readonly node: number;
  readonly outputs: readonly (DeviceBuffer | undefined)[];
  readonly dead: boolean;
}

export class FrameState {
  /** Live iterations by number; iterations below `first` are done. */
  readonly iterations = new Map<number, IterationState>();
  first = 0;
  /** The highest iteration created. */
  last = 0;
  /** Enter nodes still to arrive. */
  pendingEnters: number;
  /** Constant Enters' values, handed to every iteration. */
  readonly invariants: Delivery[] = [];
  /** NextIteration values for the iteration after `last`, waiting for parallel_iterations. */
  readonly deferred: Delivery[] = [];
  /** Exit nodes that delivered a live value to the parent. */
  readonly liveExits = new Set<number>();

  constructor(
    readonly id: string,
    readonly info: StaticFrame,
    readonly parent: IterationState | null,
  ) {
    this.pendingEnters = info.enters.length;
  }

  /** Whether iteration `last + 1` may start now. */
  canStartNext(): boolean {
    return this.last + 1 - this.first < this.info.parallelIterations;
  }
}

/** A child frame's id: unique per parent frame iteration, the same in every partition. */
export function childFrameId(parent: IterationState, name: string): string {
  return `${parent.frame}/${name}#${parent.iteration}`;
}
