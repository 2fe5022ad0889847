/**
 * The memory bound of devices whose buffers live in host memory (REF, the emulated TPU): the
 * `memoryLimit` device option, in bytes. Past it a device refuses an allocation with an
 * EdgeflowError naming the node, op and bytes asked, instead of the host killing the process.
 */
import type { DeviceOptions } from "./device.ts";
import { EdgeflowError } from "./errors.ts";

/** What the bound is when the host's memory size cannot be read (no --allow-sys): WASM's 4 GiB. */
const FALLBACK_LIMIT = 4 * 2 ** 30;

/**
 * The default limit: a quarter of the host's memory. Not half: a reference kernel holds
 * temporaries beside the buffers counted (an index per output element for movement ops, 4 bytes
 * or 8 past 2^31; number arrays for conversions), so the host needs room for more than the counted
 * bytes, and other processes share it.
 */
export function defaultMemoryLimit(): number {
  try {
    const total = Deno.systemMemoryInfo().total;
    if (Number.isFinite(total) && total > 0) return Math.floor(total / 4);
  } catch {
    // No permission to read the host's memory size: fall through to the fixed bound.
  }
  return FALLBACK_LIMIT;
}

/** The `memoryLimit` option of a device's options, checked, or the default. */
export function memoryLimitOf(options: DeviceOptions | undefined, device: string): number {
  const limit = options?.memoryLimit;
  if (limit === undefined) return defaultMemoryLimit();
  if (typeof limit !== "number" || !(limit > 0)) {
    throw new EdgeflowError(
      `${device} option memoryLimit must be a positive number of bytes, got ${String(limit)}`,
    );
  }
  return limit;
}

/** Bytes and binary units: "4194304 bytes (4.00 MiB)". */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = bytes, u = -1;
  while (v >= 1024 && u < units.length - 1) (v /= 1024), u++;
  return u < 0 ? `${bytes} bytes` : `${bytes} bytes (${v.toFixed(2)} ${units[u]})`;
}
