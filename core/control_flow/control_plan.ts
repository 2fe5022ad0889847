/**
 * What the executor needs to run control flow, computed once with the plan: each node's role
 * (Switch, Merge, Enter, Exit, NextIteration, LoopCond, ControlTrigger), the frames, each
 * Merge's producers and how many of its inputs must be dead before it is dead.
 */
import type { Node } from "../graph.ts";
import { isBackEdge } from "../passes/topo.ts";
import { type StaticFrame, staticFrames } from "./static_frames.ts";

export const PLAIN = 0,
  SWITCH = 1,
  MERGE = 2,
  ENTER = 3,
  EXIT = 4,
  NEXT_ITERATION = 5,
  LOOP_COND = 6,
  CONTROL_TRIGGER = 7;
const KINDS: Record<string, number> = {
  Switch: SWITCH,
  Merge: MERGE,
  Enter: ENTER,
  Exit: EXIT,
  NextIteration: NEXT_ITERATION,
  LoopCond: LOOP_COND,
  ControlTrigger: CONTROL_TRIGGER,
};

export interface ControlPlan {
  /** Per plan node: PLAIN or one of the control-flow roles. */
  readonly kind: Uint8Array;
  /** Plan indices of the Merge nodes. */
  readonly merges: readonly number[];
  /** Per Merge: the plan index of the producer of each data input. */
  readonly producers: readonly (readonly number[] | undefined)[];
  /** Per Merge: the plan indices of its control inputs. */
  readonly controlFrom: readonly (ReadonlySet<number> | undefined)[];
  /**
   * Per Merge: how many dead data inputs make it dead: its forward inputs (a loop's Merge gets its
   * back edge only in later iterations, and a dead back edge is never delivered).
   */
  readonly deadNeeded: Int32Array;
  /** Per Enter: the frame it enters. */
  readonly enters: readonly (StaticFrame | undefined)[];
  /** Per frame: the plan indices of its Exits (those that never ran live end dead). */
  readonly exits: ReadonlyMap<StaticFrame, readonly number[]>;
  /** Per node: its frame. */
  readonly frameOf: readonly StaticFrame[];
}

/** The control plan of `nodes` (plan order), or undefined when none is a control-flow node. */
export function buildControlPlan(
  nodes: readonly Node[],
  index: ReadonlyMap<Node, number>,
  deadness = false,
): ControlPlan | undefined {
  if (!deadness && !nodes.some((n) => n.op.controlFlow !== undefined)) return undefined;
  const frames = staticFrames(nodes);
  const kind = new Uint8Array(nodes.length);
  const merges: number[] = [];
  const producers: (number[] | undefined)[] = new Array(nodes.length);
  const controlFrom: (Set<number> | undefined)[] = new Array(nodes.length);
  const deadNeeded = new Int32Array(nodes.length);
  const enters: (StaticFrame | undefined)[] = new Array(nodes.length);
  const exits = new Map<StaticFrame, number[]>();
  nodes.forEach((n, i) => {
    const k = n.op.controlFlow ? KINDS[n.op.controlFlow] : PLAIN;
    kind[i] = k;
    if (k === MERGE) {
      merges.push(i);
      producers[i] = n.inputs.map((o) => index.get(o.node) ?? -1);
      controlFrom[i] = new Set(n.controlInputs.map((c) => index.get(c)!));
      deadNeeded[i] = n.inputs.filter((o) => !isBackEdge(n, o)).length;
    } else if (k === ENTER) {
      const parent = frames.of.get(n)!;
      enters[i] = frames.frames.find((f) => f.parent === parent && f.name === n.attrs.frame_name);
    } else if (k === EXIT) {
      const f = frames.of.get(n)!;
      exits.set(f, [...(exits.get(f) ?? []), i]);
    }
  });
  return {
    kind,
    merges,
    producers,
    controlFrom,
    deadNeeded,
    enters,
    exits,
    frameOf: nodes.map((n) => frames.of.get(n)!),
  };
}
