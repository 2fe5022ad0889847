/**
 * A cost profile: the device speeds `bench/calibrate.ts` measured on this machine, which the
 * placer reads in place of each device's built-in figures. Keys are device types ("WASM") or full
 * device names (which win); pairs are "SRC->DST" by type and give a transfer's latency and
 * bandwidth between the two (through the host unless the pair has a direct path).
 */
import type { DevicePerformance } from "../device.ts";
import { EdgeflowError } from "../errors.ts";

export interface PairCost {
  /** Seconds a transfer costs however small. */
  latency: number;
  /** Bytes per second. */
  bandwidth: number;
}

export interface CostProfile {
  readonly version: 1;
  /** Where and when it was measured, for the reader. */
  readonly measured?: string;
  readonly devices: Readonly<Record<string, Partial<DevicePerformance>>>;
  readonly pairs?: Readonly<Record<string, PairCost>>;
  /**
   * Measured FLOP/s of particular ops per device type ({ WASM: { Conv2D: 2e10 } }) or full
   * device name (which wins): one throughput per device misjudges ops whose kernels reach very
   * different fractions of it.
   */
  readonly ops?: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

const PERF_KEYS = ["flops", "bandwidth", "transfer", "launch"] as const;

function positive(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x) && x > 0;
}

/** Checks a parsed profile field by field; an EdgeflowError names the first bad one. */
export function checkCostProfile(x: unknown, where = "cost profile"): CostProfile {
  const fail = (field: string, why: string): never => {
    throw new EdgeflowError(`${where}: ${field} ${why}`);
  };
  if (typeof x !== "object" || x === null) fail("", "must be an object");
  const p = x as Record<string, unknown>;
  if (p.version !== 1) fail("version", `must be 1, got ${JSON.stringify(p.version)}`);
  if (typeof p.devices !== "object" || p.devices === null) fail("devices", "must be an object");
  for (const [name, perf] of Object.entries(p.devices as Record<string, unknown>)) {
    if (typeof perf !== "object" || perf === null) fail(`devices.${name}`, "must be an object");
    for (const [k, v] of Object.entries(perf as Record<string, unknown>)) {
      if (!(PERF_KEYS as readonly string[]).includes(k)) {
        fail(`devices.${name}.${k}`, `is not one of ${PERF_KEYS.join(", ")}`);
      }
      if (!positive(v)) fail(`devices.${name}.${k}`, `must be a positive number, got ${v}`);
    }
  }
  if (p.pairs !== undefined) {
    if (typeof p.pairs !== "object" || p.pairs === null) fail("pairs", "must be an object");
    for (const [pair, c] of Object.entries(p.pairs as Record<string, unknown>)) {
      if (!/^[A-Z][A-Z0-9_]*->[A-Z][A-Z0-9_]*$/.test(pair)) {
        fail(`pairs.${pair}`, "must be named SRC->DST by device type");
      }
      const cost = c as Record<string, unknown> | null;
      if (!cost || !(cost.latency === 0 || positive(cost.latency)) || !positive(cost.bandwidth)) {
        fail(`pairs.${pair}`, "must have a latency >= 0 and a positive bandwidth");
      }
    }
  }
  if (p.ops !== undefined) {
    if (typeof p.ops !== "object" || p.ops === null) fail("ops", "must be an object");
    for (const [type, ops] of Object.entries(p.ops as Record<string, unknown>)) {
      if (typeof ops !== "object" || ops === null) fail(`ops.${type}`, "must be an object");
      for (const [op, v] of Object.entries(ops as Record<string, unknown>)) {
        if (!positive(v)) fail(`ops.${type}.${op}`, `must be a positive FLOP/s, got ${v}`);
      }
    }
  }
  return p as unknown as CostProfile;
}

/** Reads and checks a profile file written by bench/calibrate.ts. */
export async function readCostProfile(path: string): Promise<CostProfile> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new EdgeflowError(`cost profile ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new EdgeflowError(`cost profile ${path}: not JSON (${(e as Error).message})`);
  }
  return checkCostProfile(parsed, `cost profile ${path}`);
}
