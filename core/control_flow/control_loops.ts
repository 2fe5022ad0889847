/**
 * Control loops for frames that span devices (TensorFlow's AddControlFlow / AddControlLoop in
 * graph_partition.cc). A partition holding nodes of a loop frame must run that frame's
 * iterations itself: its Recvs inside the frame must fire once per iteration, its loop
 * invariants must reach every iteration, and the frame must end when the loop does. So each
 * device a spanning frame touches gets a copy of the loop's control skeleton:
 *
 *     Const (root) or the parent frame's skeleton Merge
 *       → Enter(frame) → Merge ⇄ NextIteration ← Switch(Merge, pred):1
 *
 * where `pred` is the frame's LoopCond output, read through a Send/Recv inside the frame (keyed
 * by frame and iteration) when the LoopCond lives on another device. The skeleton's Merge is
 * live in every iteration; every Recv of the frame on that device hangs on it by a control edge,
 * so it runs once per iteration (receiving a dead token where the sender's value is dead). When
 * the predicate turns false the Switch's true output is dead, the NextIteration does not deliver
 * and the frame ends on that device as it does on the LoopCond's.
 *
 * A nested frame's skeleton Enter reads its parent frame's skeleton Merge, so it is entered once
 * per parent iteration on every device; a device holding only an inner frame's nodes gets the
 * outer frames' skeletons too.
 */
import type { Device } from "../device.ts";
import { EdgeflowError } from "../errors.ts";
import { Node, type Output } from "../graph.ts";
import type { Attrs, OpDef, TensorSpec } from "../op.ts";
import { Const } from "../ops/const.ts";
import { Enter, Merge, NextIteration, Switch } from "../ops/control_flow.ts";
import { Tensor } from "../tensor.ts";
import type { FrameMap, StaticFrame } from "./static_frames.ts";

/** The frame a node's outputs are in: an Enter's child frame, an Exit's parent, else its own. */
export function outputFrame(frames: FrameMap, n: Node): StaticFrame {
  const f = frames.of.get(n)!;
  if (n.op.controlFlow === "Exit") return f.parent!;
  if (n.op.controlFlow === "Enter") {
    return frames.frames.find((c) => c.parent === f && c.name === n.attrs.frame_name)!;
  }
  return f;
}

/** A frame that spans devices: where its skeletons go and the predicate they follow. */
export interface SpanningFrame {
  /** Devices that get a control loop for the frame, in the order first met. */
  readonly devices: readonly Device[];
  /** The frame's LoopCond. */
  readonly loopCond: Node;
}

/**
 * The frames whose nodes (or whose nested frames' nodes) sit on more than one device, each with
 * the devices it touches. A frame on one device needs nothing: its partition runs it alone.
 */
export function spanningFrames(
  nodes: readonly Node[],
  frames: FrameMap,
  deviceOf: (n: Node) => Device,
): Map<StaticFrame, SpanningFrame> {
  const touched = new Map<StaticFrame, Set<Device>>();
  const conds = new Map<StaticFrame, Node[]>();
  for (const n of nodes) {
    const of = frames.of.get(n)!;
    for (const f of new Set([of, outputFrame(frames, n)])) {
      if (f === frames.root) continue;
      let set = touched.get(f);
      if (!set) touched.set(f, set = new Set());
      set.add(deviceOf(n));
    }
    if (n.op.controlFlow === "LoopCond") conds.set(of, [...(conds.get(of) ?? []), n]);
  }
  const spanning = new Map<StaticFrame, SpanningFrame>();
  // Children were created after their parents: inner frames first hand their devices outward.
  for (const f of [...frames.frames].reverse()) {
    const devices = touched.get(f) ?? new Set<Device>();
    for (const [child, span] of spanning) {
      if (child.parent === f) { for (const d of span.devices) devices.add(d); }
    }
    if (devices.size < 2) continue;
    const found = conds.get(f) ?? [];
    if (found.length !== 1) {
      throw new EdgeflowError(
        `loop frame '${f.name}' spans devices ${[...devices].map((d) => d.name).join(", ")} ` +
          `but has ${found.length} LoopCond nodes: a control loop on each device follows ` +
          `exactly one predicate; place the loop on one device`,
      );
    }
    spanning.set(f, { devices: [...devices], loopCond: found[0] });
  }
  return spanning;
}

interface Skeleton {
  readonly enter: Node;
  readonly merge: Node;
  closed: boolean;
}

const SPEC: TensorSpec = { dtype: "bool", shape: [] };
const short = (name: string) => name.replace(/^.*\/device:/, "");

/**
 * Builds the skeletons of one partitioning, node by node as the partitioner needs them: a
 * skeleton's Enter and Merge when a Recv of the frame (or a nested skeleton) needs the Merge,
 * its Switch and NextIteration once the frame's LoopCond has been placed (its Send must follow
 * it). `emit` appends a node to its device's partition; `pred` gives the predicate's output on a
 * device (a Recv where the LoopCond is elsewhere).
 */
export class ControlLoopBuilder {
  private readonly skeletons = new Map<StaticFrame, Map<Device, Skeleton>>();
  /** Every skeleton node made, by device. */
  readonly made = new Map<Device, Node[]>();

  constructor(
    private readonly frames: FrameMap,
    readonly spanning: ReadonlyMap<StaticFrame, SpanningFrame>,
    private readonly newId: () => number,
    private readonly emit: (d: Device, n: Node) => void,
  ) {}

  /** Whether `frame` on `device` runs under a skeleton (Recvs there hang on its Merge). */
  has(frame: StaticFrame, device: Device): boolean {
    return this.spanning.get(frame)?.devices.includes(device) ?? false;
  }

  /** The skeleton Merge of `frame` on `device`, made (with its Enter) on first use. */
  merge(frame: StaticFrame, device: Device): Node {
    let byDevice = this.skeletons.get(frame);
    if (!byDevice) this.skeletons.set(frame, byDevice = new Map());
    const known = byDevice.get(device);
    if (known) return known.merge;
    const graph = this.spanning.get(frame)!.loopCond.graph;
    const base = `_control_loop/${frame.name}/${short(device.name)}`;
    let source: Output;
    if (frame.parent === this.frames.root) {
      const c = this.node(
        device,
        `${base}/start`,
        Const,
        {
          value: Tensor.zeros("bool", []),
          dtype: "bool",
        },
        [],
        graph,
      );
      source = c.outputs[0];
    } else source = this.merge(frame.parent!, device).outputs[0];
    const enter = this.node(
      device,
      `${base}/enter`,
      Enter,
      {
        T: "bool",
        frame_name: frame.name,
        is_constant: false,
        parallel_iterations: frame.parallelIterations,
      },
      [source],
      graph,
    );
    // The back edge is set when the NextIteration is made (close).
    const merge = this.node(
      device,
      `${base}/merge`,
      Merge,
      { T: "bool", N: 2 },
      [
        enter.outputs[0],
        enter.outputs[0],
      ],
      graph,
      [SPEC, { dtype: "int32", shape: [] }],
    );
    byDevice.set(device, { enter, merge, closed: false });
    return merge;
  }

  /** Closes every skeleton of `frame`: Switch on the predicate, NextIteration, the back edge. */
  close(frame: StaticFrame, pred: (d: Device) => Output): void {
    const span = this.spanning.get(frame)!;
    for (const device of span.devices) {
      const merge = this.merge(frame, device);
      const sk = this.skeletons.get(frame)!.get(device)!;
      if (sk.closed) continue;
      sk.closed = true;
      const base = `_control_loop/${frame.name}/${short(device.name)}`;
      const graph = merge.graph;
      // The predicate's Recv (where the LoopCond is elsewhere) hangs on the Merge made above.
      const sw = this.node(
        device,
        `${base}/switch`,
        Switch,
        { T: "bool" },
        [
          merge.outputs[0],
          pred(device),
        ],
        graph,
        [SPEC, SPEC],
      );
      const next = this.node(device, `${base}/next_iteration`, NextIteration, { T: "bool" }, [
        sw.outputs[1],
      ], graph);
      (merge.inputs as Output[])[1] = next.outputs[0];
    }
  }

  /** Frames with a skeleton whose LoopCond was never placed (a bug in the partitioner's input). */
  unclosed(): StaticFrame[] {
    return [...this.skeletons].filter(([, m]) => [...m.values()].some((s) => !s.closed))
      .map(([f]) => f);
  }

  private node(
    device: Device,
    name: string,
    // deno-lint-ignore no-explicit-any
    op: OpDef<any>,
    attrs: Attrs,
    inputs: Output[],
    graph: Node["graph"],
    specs: readonly TensorSpec[] = [SPEC],
  ): Node {
    const n = new Node(graph, this.newId(), name, op, attrs, inputs, [], specs, device.name);
    n.assignedDevice = device.name;
    const list = this.made.get(device) ?? [];
    list.push(n);
    this.made.set(device, list);
    this.emit(device, n);
    return n;
  }
}
