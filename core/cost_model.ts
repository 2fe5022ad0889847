/**
 * The cost model placement reads: a kernel's work (its `cost`, or an elementwise estimate from
 * the tensor sizes) divided by the device's measured speeds, plus the launch cost.
 */
import { byteSize } from "./dtype.ts";
import type { DevicePerformance } from "./device.ts";
import type { Cost, Kernel } from "./kernel.ts";
import type { Attrs, TensorSpec } from "./op.ts";

function elements(spec: TensorSpec): number {
  // Unknown dims count as 1: the estimate is a lower bound until shapes are known.
  return (spec.shape ?? []).reduce((n, d) => n * Math.max(d, 1), 1);
}

/** The kernel's work, or one flop per output element and every byte read and written once. */
export function workOf(
  kernel: Kernel,
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  attrs: Attrs,
): Cost {
  if (kernel.cost) return kernel.cost(inputs, attrs);
  const bytes = [...inputs, ...outputs].reduce((n, s) => n + elements(s) * byteSize(s.dtype), 0);
  return { flops: outputs.reduce((n, s) => n + elements(s), 0), bytes };
}

/** Estimated seconds for a kernel on a device: the slower of compute and memory, plus launch. */
export function estimateSeconds(perf: DevicePerformance, work: Cost): number {
  return perf.launch + Math.max(work.flops / perf.flops, work.bytes / perf.bandwidth);
}

/** Estimated seconds to move `bytes` between the host and a device. */
export function transferSeconds(perf: DevicePerformance, bytes: number): number {
  return bytes / perf.transfer;
}
