/**
 * Splits a placed graph into one subgraph per device (section 3.2.2 of the 2015 paper): every
 * edge whose ends sit on two devices becomes a `_Send` on the producer's side and a `_Recv` on the
 * consumer's, one pair per (tensor, destination device) however many consumers read it there. A
 * control edge across devices becomes a pair carrying no value. A Recv whose readers all take the
 * value in host memory (a shape, an axis) is marked `host`: the value travels without a device
 * copy. Nodes whose inputs stay on their device are the placed graph's own nodes; the others are
 * copies reading the Recvs. Names of Send/Recv nodes say what they carry and where.
 */
import { ANY_DTYPES, type DType } from "./dtype.ts";
import type { Device } from "./device.ts";
import { EdgeflowError } from "./errors.ts";
import { Node, type Output } from "./graph.ts";
import { defineOp } from "./op.ts";
import { staticFrames } from "./control_flow/static_frames.ts";
import { ControlLoopBuilder, outputFrame, spanningFrames } from "./control_flow/control_loops.ts";
import { isBackEdge } from "./passes/topo.ts";

type TransferAttrs = {
  /** The tensor carried ("layer1/Relu:0"), or "^node" for a control edge. */
  tensor_name: string;
  send_device: string;
  recv_device: string;
  T: DType;
  /** 1 for a value, 0 for a control edge's token. */
  N: number;
};

/** TensorFlow's _Send: hands its input (or, for a control edge, a token) to the rendezvous. */
export const SendOp = defineOp<TransferAttrs>({
  name: "_Send",
  inputs: [{ name: "tensor", type: "T", numberAttr: "N" }],
  outputs: [],
  attrs: {
    tensor_name: { kind: "string" },
    send_device: { kind: "string" },
    recv_device: { kind: "string" },
    T: { kind: "type", allowed: ANY_DTYPES },
    N: { kind: "int", default: 1 },
  },
  stateful: true,
  infer: () => [],
  reference: () => {
    throw new EdgeflowError("_Send runs in the executor, through the step's rendezvous");
  },
  testDTypes: [],
});

/** TensorFlow's _Recv: the value its Send handed over, on this node's device (or the host). */
export const RecvOp = defineOp<TransferAttrs & { host: boolean }>({
  name: "_Recv",
  inputs: [],
  outputs: [{ name: "tensor", type: "T", numberAttr: "N" }],
  attrs: {
    tensor_name: { kind: "string" },
    send_device: { kind: "string" },
    recv_device: { kind: "string" },
    T: { kind: "type", allowed: ANY_DTYPES },
    N: { kind: "int", default: 1 },
    host: { kind: "bool", default: false },
  },
  stateful: true,
  infer: () => [],
  reference: () => {
    throw new EdgeflowError("_Recv runs in the executor, through the step's rendezvous");
  },
  testDTypes: [],
});

export interface Partition {
  readonly device: Device;
  /** Topological order, Sends and Recvs included. */
  readonly nodes: readonly Node[];
  /** The feed placeholders placed here, in the session's feed order. */
  readonly feeds: readonly Node[];
  /** The fetches this partition returns, with their position in the session's fetch list. */
  readonly fetches: readonly { readonly output: Output; readonly index: number }[];
  readonly sends: readonly Node[];
  readonly recvs: readonly Node[];
  /** The control-loop skeleton nodes made here for loop frames spanning devices. */
  readonly controlLoops: readonly Node[];
}

export interface PartitionInput {
  /** The placed graph's nodes in topological order. */
  readonly nodes: readonly Node[];
  readonly feeds: readonly Node[];
  readonly fetches: readonly Output[];
  readonly deviceOf: (node: Node) => Device;
  /** Whether `node` reads input `i` in host memory (its kernel's HostMemory). */
  readonly hostRead: (node: Node, i: number) => boolean;
}

const short = (name: string) => name.replace(/^.*\/device:/, "");

export function partition(input: PartitionInput): Partition[] {
  const parts = new Map<
    Device,
    { nodes: Node[]; sends: Node[]; recvs: Node[]; controlLoops: Node[] }
  >();
  const partOf = (d: Device) => {
    let p = parts.get(d);
    if (!p) parts.set(d, p = { nodes: [], sends: [], recvs: [], controlLoops: [] });
    return p;
  };
  const mapped = new Map<Node, Node>();
  const recvs = new Map<string, Node>();
  /** Per Recv: whether every reader so far takes it in host memory. */
  const hostOnly = new Map<Node, boolean>();
  let ids = 0;

  const pair = (key: string, src: Device, dst: Device, data?: Output, control?: Node): Node => {
    const k = `${key}|${dst.name}`;
    const known = recvs.get(k);
    if (known) return known;
    const spec = data ? data.node.outputSpecs[data.index] : undefined;
    const attrs = {
      tensor_name: key,
      send_device: src.name,
      recv_device: dst.name,
      T: spec?.dtype ?? "bool",
      N: data ? 1 : 0,
    };
    const base = (data ? data.name : key.slice(1)).replace(/:/g, "_");
    const from = data ? mapped.get(data.node)!.outputs[data.index] : undefined;
    const send = new Node(
      (from?.node ?? mapped.get(control!)!).graph,
      --ids,
      `${base}/_send_to_${short(dst.name)}`,
      SendOp,
      attrs,
      from ? [from] : [],
      control ? [mapped.get(control)!] : [],
      [],
      src.name,
    );
    send.assignedDevice = src.name;
    const recv = new Node(
      send.graph,
      --ids,
      `${base}/_recv_from_${short(src.name)}_on_${short(dst.name)}`,
      RecvOp,
      { ...attrs, host: false },
      [],
      loopGate(data ? data.node : control!, dst),
      spec ? [spec] : [],
      dst.name,
    );
    recv.assignedDevice = dst.name;
    partOf(src).nodes.push(send);
    partOf(src).sends.push(send);
    partOf(dst).nodes.push(recv);
    partOf(dst).recvs.push(recv);
    recvs.set(k, recv);
    hostOnly.set(recv, true);
    return recv;
  };

  // A loop frame whose nodes sit on several devices gets a control loop on each of them
  // (core/control_flow/control_loops.ts): its Recvs there hang on the skeleton's Merge, so they
  // run once per iteration, and the frame's iterations run and end on every device.
  const frames = input.nodes.some((n) => n.op.controlFlow) ? staticFrames(input.nodes) : undefined;
  const loops = frames &&
    new ControlLoopBuilder(
      frames,
      spanningFrames(input.nodes, frames, input.deviceOf),
      () => --ids,
      (d, n) => {
        partOf(d).nodes.push(n);
        partOf(d).controlLoops.push(n);
      },
    );
  /** The control inputs of a Recv of `from`'s value on `dst`: its frame's skeleton Merge there. */
  const loopGate = (from: Node, dst: Device): Node[] => {
    if (!frames || !loops) return [];
    const f = outputFrame(frames, from);
    if (f === frames.root) return [];
    if (!loops.has(f, dst)) {
      throw new EdgeflowError(
        `internal: a value of loop frame '${f.name}' crosses to ${dst.name}, which has no ` +
          `control loop for it`,
        { node: from.name, op: from.op.name },
      );
    }
    return [loops.merge(f, dst)];
  };
  /** Edges a per-iteration Send/Recv cannot carry: they must stay on one device. */
  const crossing = (node: Node, o: Output, d: Device, src: Device) => {
    if (!frames) return;
    const why = isBackEdge(node, o)
      ? "a loop's back edge (NextIteration to Merge)"
      : o.node.op.controlFlow === "Enter" && !o.node.attrs.is_constant
      ? "a loop variable's Enter (its value exists in iteration 0 only)"
      : undefined;
    if (why) {
      throw new EdgeflowError(
        `${why} from ${o.node.name} on ${src.name} crosses to ${d.name}: a loop variable's ` +
          `Enter, Merge and NextIteration must be on one device`,
        { node: node.name, op: node.op.name },
      );
    }
  };
  const backEdges: { merge: Node; index: number; from: Node }[] = [];
  for (const node of input.nodes) {
    const d = input.deviceOf(node);
    let changed = false;
    const inputs = node.inputs.map((o, i) => {
      const src = input.deviceOf(o.node);
      if (src !== d) crossing(node, o, d, src);
      if (src === d && !mapped.has(o.node) && isBackEdge(node, o)) {
        // The NextIteration is placed later: the edge is set once it is.
        backEdges.push({ merge: node, index: i, from: o.node });
        return o;
      }
      if (src === d) {
        const m = mapped.get(o.node)!;
        if (m !== o.node) changed = true;
        return m.outputs[o.index];
      }
      changed = true;
      const recv = pair(o.name, src, d, o);
      if (!input.hostRead(node, i)) hostOnly.set(recv, false);
      return recv.outputs[0];
    });
    const controls = node.controlInputs.map((c) => {
      const src = input.deviceOf(c);
      if (src === d) {
        const m = mapped.get(c)!;
        if (m !== c) changed = true;
        return m;
      }
      changed = true;
      return pair(`^${c.name}`, src, d, undefined, c);
    });
    const placed = changed
      ? new Node(
        node.graph,
        node.id,
        node.name,
        node.op,
        node.attrs,
        inputs,
        controls,
        node.outputSpecs,
        node.requestedDevice,
      )
      : node;
    if (changed) placed.colocation = node.colocation;
    placed.assignedDevice = d.name;
    mapped.set(node, placed);
    partOf(d).nodes.push(placed);
    const span = node.op.controlFlow === "LoopCond" && loops?.spanning.get(frames!.of.get(node)!);
    if (span) {
      // The frame's skeletons follow this predicate: read here, or through a Recv in the frame.
      const pred = node.outputs[0];
      loops!.close(
        frames!.of.get(node)!,
        (dev) => dev === d ? placed.outputs[0] : pair(pred.name, d, dev, pred).outputs[0],
      );
    }
  }
  const open = loops?.unclosed() ?? [];
  if (open.length > 0) {
    throw new EdgeflowError(`internal: loop frame '${open[0].name}' has no LoopCond placed`);
  }
  for (const { merge, index, from } of backEdges) {
    const placed = mapped.get(from)!;
    if (placed !== from) (mapped.get(merge)!.inputs as Output[])[index] = placed.outputs[0];
  }
  for (const [recv, host] of hostOnly) {
    (recv.attrs as { host: boolean }).host = host && recv.outputs.length > 0;
  }
  const feedIndex = new Map(input.feeds.map((f, i) => [f, i]));
  return [...parts].map(([device, p]) => ({
    device,
    nodes: p.nodes,
    feeds: input.feeds.filter((f) => input.deviceOf(f) === device).map((f) => mapped.get(f)!)
      .sort((a, b) => feedIndex.get(a)! - feedIndex.get(b)!),
    fetches: input.fetches.flatMap((output, index) =>
      input.deviceOf(output.node) === device
        ? [{ output: mapped.get(output.node)!.outputs[output.index], index }]
        : []
    ),
    sends: p.sends,
    recvs: p.recvs,
    controlLoops: p.controlLoops,
  }));
}
