// Shared by the WebGPU tests: devices with options (skipped with a printed reason where there is
// no adapter, failing in CI, as tests/kernels/devices.ts does), and comparisons with the reference.
import type { WebGpuDevice, WebGpuOptions } from "../../devices/webgpu/device.ts";
import { webgpuPlugin } from "../../kernels_gpu/plugin.ts";
import { reportMissing } from "../kernels/devices.ts";

export const NO_ADAPTER = "no WebGPU adapter on this machine";

/** A fresh device with `options`, disposed after `fn`; null (and a printed skip) without one. */
export async function withDevice(
  t: Deno.TestContext,
  options: WebGpuOptions,
  fn: (device: WebGpuDevice) => Promise<void>,
): Promise<void> {
  const device = await webgpuPlugin.create(options);
  if (!device) return reportMissing(t, NO_ADAPTER);
  try {
    await fn(device);
  } finally {
    await device[Symbol.asyncDispose]();
  }
}

/** Deterministic values in [-1, 1). */
export function values(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Largest |a - b| over two arrays of the same length. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
