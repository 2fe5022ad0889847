/**
 * The placement used until the cost-model placer lands: honour a node's requested device type
 * where that type is installed and has a kernel (soft placement otherwise, as TensorFlow 2's
 * default), keep colocation groups on their leader's device, put everything else on the session's
 * default device, and fall back to REF (the host) for ops the default device has no kernel for.
 */
import type { DeviceType } from "../device_spec.ts";
import { parseDeviceSpec } from "../device_spec.ts";
import { EdgeflowError } from "../errors.ts";
import type { Node } from "../graph.ts";
import { type KernelRegistry, requireKernel } from "../kernel.ts";

export interface SimplePlacementInput {
  readonly nodes: readonly Node[];
  /** Feed placeholders: they need no kernel and go to the default device. */
  readonly feeds: ReadonlySet<Node>;
  readonly registry: KernelRegistry;
  readonly defaultType: DeviceType;
}

export function placeSimple(input: SimplePlacementInput): Map<Node, DeviceType> {
  const { registry, defaultType } = input;
  const placed = new Map<Node, DeviceType>();
  const byName = new Map(input.nodes.map((n) => [n.name, n]));
  const canRun = (node: Node, type: DeviceType) =>
    registry.plugin(type) !== undefined && registry.kernelFor(node, type) !== undefined;

  for (const node of input.nodes) {
    if (input.feeds.has(node)) {
      placed.set(node, defaultType);
      continue;
    }
    const leader = node.colocation.map((name) => byName.get(name)).find((n) => n && placed.has(n));
    const requested = node.requestedDevice ? parseDeviceSpec(node.requestedDevice).type : undefined;
    const choices = [
      leader ? placed.get(leader) : undefined,
      requested,
      defaultType,
      "REF" as const,
    ];
    const type = choices.find((t): t is DeviceType => t !== undefined && canRun(node, t));
    if (!type) {
      requireKernel(registry, node, defaultType); // throws the detailed message
      throw new EdgeflowError(`no installed device can run it`, {
        node: node.name,
        op: node.op.name,
      });
    }
    placed.set(node, type);
  }
  return placed;
}
