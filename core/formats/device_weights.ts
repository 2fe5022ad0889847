/**
 * The loaders' `device` option: a model's weights decoded onto a device whose memory the host
 * addresses (WASM, the TPU's emulated HBM; `Device.adopt`), the graph's Consts viewing them there,
 * so that no host copy remains and a Session given the device runs on them in place. The tfjs
 * loader places each weight as it decodes it (tfjs/graph_model.ts); the binary GraphDef and ONNX
 * loaders build their graph first and place its Consts here (`placeGraphWeights`).
 */
import { release } from "../buffer.ts";
import type { Device, DeviceBuffer } from "../device.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph, Node } from "../graph.ts";
import { foldConstants } from "../passes/constant_folding.ts";
import { copyNodes, newGraphLike } from "../passes/copy.ts";
import { topologicalOrder } from "../passes/topo.ts";
import type { Tensor } from "../tensor.ts";

/** `device` checked for the option: one whose memory the host addresses. */
export function checkWeightDevice(device: Device, loader: string): Device {
  if (!device.adopt) {
    throw new EdgeflowError(
      `${loader}: the ${device.type} device cannot hold weights the host reads in place ` +
        "(option 'device' takes a device with host-addressable memory: WASM or TPU)",
    );
  }
  return device;
}

/** The device buffers behind each loaded graph's weights, for `releaseWeights`. */
const HELD = new WeakMap<Graph, DeviceBuffer[]>();

/** Records the buffers a loader placed for `graph`'s weights (released by `releaseWeights`). */
export function holdWeights(graph: Graph, buffers: DeviceBuffer[]): void {
  HELD.set(graph, [...(HELD.get(graph) ?? []), ...buffers]);
}

/**
 * Releases the weights a loader's `device` option placed for `graph` (nothing otherwise; a second
 * call does nothing). The graph's Consts view them, so the graph must not run after this.
 */
export function releaseWeights(graph: Graph): void {
  const held = HELD.get(graph);
  HELD.delete(graph);
  held?.forEach(release);
}

/**
 * Places every numeric Const of `graph` on `device` and returns the graph that views them. The
 * Consts a Session would fold anyway (ONNX's weight transposes into TensorFlow's filter layout,
 * under the folding pass's size cap) are folded first, so that the device holds the weights in
 * the layout the kernels read and no host copy stays for the folded values; Consts that only
 * the folded nodes read are dropped. Names are kept, so tensors keep their names.
 */
export function placeGraphWeights(graph: Graph, device: Device): Graph {
  checkWeightDevice(device, "placing weights");
  const folded = foldConstants({ graph, nodes: topologicalOrder(graph.nodes) }).graph;
  const readBefore = readNames(graph);
  const readAfter = readNames(folded);
  // Roots: what nobody reads, except a Const that only folded nodes read.
  const roots = folded.nodes.filter((n) =>
    !readAfter.has(n.name) && !(n.op.name === "Const" && readBefore.has(n.name))
  );
  const placed = roots.length === folded.nodes.length
    ? folded
    : copyNodes(topologicalOrder(roots), newGraphLike(folded)).graph;
  const buffers: DeviceBuffer[] = [];
  try {
    for (const n of placed.nodes) {
      if (n.op.name !== "Const") continue;
      const value = n.attrs.value as Tensor;
      // Host objects (strings, handles, variants) stay on the host; so does an empty tensor.
      if (
        value.dtype === "string" || value.dtype === "resource" || value.dtype === "variant" ||
        value.size === 0
      ) continue;
      const { buffer, view } = device.adopt!(value);
      buffers.push(buffer);
      (n.attrs as { value: Tensor }).value = view;
    }
  } catch (e) {
    buffers.forEach(release);
    throw e;
  }
  holdWeights(placed, buffers);
  return placed;
}

/** Names of the nodes some node reads (a data or a control input). */
function readNames(graph: Graph): Set<string> {
  const read = new Set<string>();
  const add = (n: Node) => read.add(n.name);
  for (const n of graph.nodes) {
    for (const i of n.inputs) add(i.node);
    n.controlInputs.forEach(add);
  }
  return read;
}
