/**
 * The placer's cost model: how long a node would run on a device and how long its inputs take to
 * get there. A node's work is its kernel's `cost`, the FLOPs of the products and convolutions
 * computed here from static shapes, or one flop per output element (core/cost_model.ts); a
 * device's speeds are the calibrated profile's, else the device's own figures (the TPU's come
 * from its cycle model's parameters).
 */
import { byteSize } from "../dtype.ts";
import type { Device, DevicePerformance } from "../device.ts";
import { estimateSeconds, workOf } from "../cost_model.ts";
import type { Node } from "../graph.ts";
import type { Cost, Kernel } from "../kernel.ts";
import type { TensorSpec } from "../op.ts";
import type { CostProfile, PairCost } from "./profile.ts";

function elements(spec: TensorSpec): number {
  return (spec.shape ?? []).reduce((n, d) => n * Math.max(d, 1), 1);
}

/** Bytes of a tensor as far as its static shape tells (unknown dims count 1). */
export function bytesOfSpec(spec: TensorSpec): number {
  return spec.dtype === "resource" || spec.dtype === "string"
    ? 8
    : elements(spec) * byteSize(spec.dtype);
}

/** FLOPs of the ops whose work is not one per output element. */
function productFlops(node: Node): number | undefined {
  const ins = node.inputs.map((o) => o.node.outputSpecs[o.index]);
  const out = node.outputSpecs[0];
  const a = node.attrs as Record<string, unknown>;
  switch (node.op.name) {
    case "MatMul":
    case "_FusedMatMul": {
      const s = ins[0].shape;
      const k = s ? Math.max(1, s[a.transpose_a ? 0 : 1] ?? 1) : 1;
      return 2 * elements(out) * k;
    }
    case "BatchMatMulV2": {
      const s = ins[0].shape;
      const k = s ? Math.max(1, s[s.length - (a.adj_x ? 2 : 1)] ?? 1) : 1;
      return 2 * elements(out) * k;
    }
    case "Conv2D":
    case "_FusedConv2D":
    case "DepthwiseConv2dNative":
    case "FusedDepthwiseConv2dNative": {
      // The fused ops' epilogue adds a few flops per output, nothing beside the contraction.
      const f = ins[1].shape;
      const taps = f ? Math.max(1, f[0]) * Math.max(1, f[1]) : 1;
      const dense = node.op.name === "Conv2D" || node.op.name === "_FusedConv2D";
      const cin = dense && f ? Math.max(1, f[2]) : 1;
      return 2 * elements(out) * taps * cin;
    }
    case "Conv2DBackpropInput":
    case "Conv2DBackpropFilter": {
      const big = Math.max(...[...ins, out].map(elements));
      const f = node.op.name === "Conv2DBackpropInput" ? ins[1].shape : out.shape;
      const taps = f ? f.reduce((n, d) => n * Math.max(1, d), 1) : 1;
      return 2 * big * Math.sqrt(taps);
    }
  }
  return undefined;
}

/** The work of running `node` with `kernel`. */
export function nodeWork(node: Node, kernel: Kernel): Cost {
  const inputs = node.inputs.map((o) => o.node.outputSpecs[o.index]);
  const base = workOf(kernel, inputs, node.outputSpecs, node.attrs);
  const flops = kernel.cost ? undefined : productFlops(node);
  return flops === undefined ? base : { flops, bytes: base.bytes };
}

export class CostModel {
  constructor(readonly profile?: CostProfile) {}

  /** The speeds placement assumes for a device. */
  performance(device: Device): DevicePerformance {
    const p = this.profile?.devices;
    return { ...device.performance, ...p?.[device.type], ...p?.[device.name] };
  }

  /** Seconds `node` takes on `device` with `kernel`. */
  nodeSeconds(node: Node, kernel: Kernel, device: Device): number {
    const perf = this.performance(device);
    const ops = this.profile?.ops;
    const opFlops = ops?.[device.name]?.[node.op.name] ?? ops?.[device.type]?.[node.op.name];
    return estimateSeconds(opFlops ? { ...perf, flops: opFlops } : perf, nodeWork(node, kernel));
  }

  /** Seconds to move `bytes` from one device to another (0 on the same device). */
  transferSeconds(from: Device, to: Device, bytes: number): number {
    if (from === to) return 0;
    const pair: PairCost | undefined = this.profile?.pairs?.[`${from.type}->${to.type}`];
    if (pair) return pair.latency + bytes / pair.bandwidth;
    // Through the host: out of one device's memory, into the other's.
    return bytes / this.performance(from).transfer + bytes / this.performance(to).transfer +
      this.performance(to).launch;
  }
}
