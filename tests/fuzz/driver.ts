// Runs the fuzz property over many cases with fast-check, for the CI test and `deno task fuzz`:
// creates the devices once, bounds every case, and watches the process's memory.
import fc from "npm:fast-check@4";
import type { Device } from "../../core/device.ts";
import type { DeviceType } from "../../core/device_spec.ts";
import type { KernelRegistry } from "../../core/kernel.ts";
import { checkCase, FuzzStats } from "./check.ts";
import { type CaseRecipe, caseRecipe, DEFAULT_LIMITS } from "./recipe.ts";

export interface FuzzRun {
  registry: KernelRegistry;
  /** The devices to compare with REF (created by the caller; REF is required). */
  devices: readonly Device[];
  cases: number;
  seed: number;
  /** fast-check's replay path of a counterexample. */
  path?: string;
  every?: Partial<Record<DeviceType, number>>;
  timeoutMs?: number;
  /**
   * Collect mode: failures do not stop the run; they are grouped by their first line (numbers
   * and names blurred), each group keeping its first case's message and run index (replay it,
   * shrinking, with `path` = that index).
   */
  collect?: boolean;
  /** Called after each case (shrinking included) with the number run so far. */
  progress?: (done: number, stats: FuzzStats) => void;
}

export interface FuzzResult {
  failed: boolean;
  /** The shrunk counterexample's failure, its recipe and how to replay it. */
  failure?: { message: string; recipe: CaseRecipe; seed: number; path: string; shrinks: number };
  numRuns: number;
  stats: FuzzStats;
  /** In collect mode: the failures by group. */
  groups: Map<string, { count: number; message: string; runIndex: number }>;
  /** Resident memory (MiB) after the first tenth of the cases and at the end. */
  rssMiB: { warm: number; end: number; peak: number };
}

export async function fuzz(r: FuzzRun): Promise<FuzzResult> {
  const ref = r.devices.find((d) => d.type === "REF");
  if (!ref) throw new Error("the fuzzer needs a REF device: its results are the expected ones");
  const stats = new FuzzStats();
  const warmAt = Math.max(1, Math.floor(r.cases / 10));
  const rss = () => Deno.memoryUsage().rss / 2 ** 20;
  const rssMiB = { warm: rss(), end: 0, peak: 0 };
  let done = 0;
  const groups: FuzzResult["groups"] = new Map();
  const property = fc.asyncProperty(caseRecipe(DEFAULT_LIMITS), async (recipe) => {
    const started = performance.now();
    const why = await checkCase(recipe, {
      registry: r.registry,
      ref,
      devices: r.devices,
      every: r.every,
      timeoutMs: r.timeoutMs ?? 10_000,
      stats,
    });
    done++;
    const ms = performance.now() - started;
    if (ms > 1000) stats.slow.push({ runIndex: done - 1, ms: Math.round(ms) });
    if (done === warmAt) rssMiB.warm = rss();
    if (done % 50 === 0) rssMiB.peak = Math.max(rssMiB.peak, rss());
    r.progress?.(done, stats);
    if (why === undefined) return;
    if (!r.collect) throw new Error(why);
    const key = groupKey(why);
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { count: 1, message: why, runIndex: done - 1 });
  });
  const details = await fc.check(property, {
    numRuns: r.cases,
    seed: r.seed,
    path: r.path,
    endOnFailure: false,
  });
  rssMiB.end = rss();
  rssMiB.peak = Math.max(rssMiB.peak, rssMiB.end);
  const result: FuzzResult = {
    failed: details.failed || groups.size > 0,
    numRuns: details.numRuns,
    stats,
    rssMiB,
    groups,
  };
  if (details.failed && details.counterexample) {
    const error = details.errorInstance;
    result.failure = {
      message: error instanceof Error ? error.message : String(error),
      recipe: details.counterexample[0],
      seed: details.seed,
      path: details.counterexamplePath ?? "",
      shrinks: details.numShrinks,
    };
  }
  return result;
}

/** Creates the devices of these types that this machine has; reports the missing ones. */
export async function createDevices(
  registry: KernelRegistry,
  types: readonly DeviceType[],
): Promise<{ devices: Device[]; missing: DeviceType[] }> {
  const devices: Device[] = [];
  const missing: DeviceType[] = [];
  for (const type of types) {
    const device = await registry.plugin(type)?.create();
    if (device) devices.push(device);
    else missing.push(type);
  }
  return { devices, missing };
}

export async function disposeDevices(devices: readonly Device[]): Promise<void> {
  for (const d of devices) await d[Symbol.asyncDispose]();
}

/** A failure's first line with numbers and quoted names blurred: failures of one cause group. */
function groupKey(why: string): string {
  return why.split("\n")[0].replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/g, "N").replace(/'[^']*'/g, "'…'")
    .slice(0, 160);
}
