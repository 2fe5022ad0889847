/**
 * The machine's limits as bench/wasm.ts measures them (probes run by bench/wasm_limits.ts), and a
 * workload's share of its roofline: attainable FLOP/s = min(peak FLOP/s, intensity × bandwidth),
 * share = achieved / attainable, i.e. (least time the limits allow) / (measured time).
 */

/** What a probe measures: SIMD multiply-add FLOP/s, or bytes/s read + written by a copy. */
export type ProbeKind = "fma" | "copy" | "stream";

export interface Probe {
  name: string;
  kind: ProbeKind;
  threads: number;
}

/** MiB copied by the copy probes (BENCH_COPY_MIB): meant to be larger than the last-level cache. */
export const COPY_MIB = Number(Deno.env.get("BENCH_COPY_MIB") ?? 256);

export const PROBE_KINDS: readonly ProbeKind[] = ["fma", "copy", "stream"];

export function probe(kind: ProbeKind, threads: number): Probe {
  return { name: `limit ${kind} ${threads}T`, kind, threads };
}

export function probeNamed(name: string): Probe | undefined {
  const m = /^limit (fma|copy|stream) (\d+)T$/.exec(name);
  return m ? probe(m[1] as ProbeKind, Number(m[2])) : undefined;
}

/** One round's limits at one thread count, in FLOP/s and bytes/s. */
export interface Limits {
  flops: number;
  bandwidth: number;
}

/**
 * Limits from one round's probe rates (work per second by kind). Bandwidth is the better of
 * memory.copy and the SIMD load/store stream: the roof is what the machine can do.
 */
export function limitsOf(rates: ReadonlyMap<ProbeKind, number>): Limits | undefined {
  const flops = rates.get("fma");
  const bandwidth = Math.max(rates.get("copy") ?? NaN, rates.get("stream") ?? NaN);
  if (flops === undefined || !Number.isFinite(bandwidth)) return undefined;
  return { flops, bandwidth };
}

/** The least seconds a run of `flops` FLOPs moving `bytes` bytes can take, and its bound. */
export function roofTime(
  limits: Limits,
  flops: number,
  bytes: number,
): { seconds: number; bound: "compute" | "memory" } {
  const compute = flops / limits.flops, memory = bytes / limits.bandwidth;
  return compute >= memory
    ? { seconds: compute, bound: "compute" }
    : { seconds: memory, bound: "memory" };
}

/** A share as a percentage with enough digits to tell small ones apart. */
export function percent(share: number): string {
  const p = share * 100;
  if (!Number.isFinite(p)) return "n/a";
  return p >= 10 ? `${p.toFixed(0)}%` : p >= 1 ? `${p.toFixed(1)}%` : `${p.toPrecision(2)}%`;
}
