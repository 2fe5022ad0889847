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
  const parts = new Map<Device, { nodes: Node[]; sends: Node[]; recvs: Node[] }>();
  const partOf = (d: Device) => {
    let p = parts.get(d);
    if (!p) parts.set(d, p = { nodes: [], sends: [], recvs: [] });
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
      [],
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

  // Loops run in one partition: values crossing devices inside a frame would need the frame's
  // control structure in each partition (TensorFlow's AddControlFlow), which is not built yet.
  const frames = input.nodes.some((n) => n.op.controlFlow) ? staticFrames(input.nodes) : undefined;
  const crossing = (node: Node, from: Node, d: Device, src: Device) => {
    const f = frames?.of.get(node) ?? frames?.of.get(from);
    const inner = frames &&
      (frames.of.get(node) !== frames.root || frames.of.get(from) !== frames.root);
    if (inner) {
      throw new EdgeflowError(
        `a value from ${from.name} on ${src.name} crosses to ${d.name} inside loop frame ` +
          `'${f!.name}': place a loop's nodes on one device`,
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
      if (src !== d) crossing(node, o.node, d, src);
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
      crossing(node, c, d, src);
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
  }));
}
