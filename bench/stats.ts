// Timing helpers shared by the benches: medians over repeated runs, and a table with ratios.

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Prints rows as an aligned Markdown table. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`);
  for (const r of rows) console.log(line(r));
}

export function fixed(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

/**
 * `xs` in a fresh order for every seed, the same in every bench run: interleaved runners take
 * turns in shuffled order, so none always runs right after another (whose threads, garbage or
 * caches it would inherit).
 */
export function shuffled<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  let s = (seed + 1) * 2654435761 >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A runner's times in ms, one per measured round, and each over its round's baseline time. */
export interface RunnerTimes {
  times: number[];
  ratios: number[];
}

/**
 * Runs every runner once a round, in `shuffled` order, for `warmup` unmeasured rounds then
 * `rounds` measured ones; a ratio compares with the baseline in the same round, so a slow spell
 * of the machine moves both sides of it.
 */
export async function timeInRounds(
  runners: readonly (readonly [string, () => Promise<unknown>])[],
  baseline: string,
  warmup: number,
  rounds: number,
): Promise<Map<string, RunnerTimes>> {
  const out = new Map(runners.map(([n]) => [n, { times: [] as number[], ratios: [] as number[] }]));
  for (let r = 0; r < warmup + rounds; r++) {
    const round = new Map<string, number>();
    for (const [name, run] of shuffled(runners, r)) {
      const t0 = performance.now();
      await run();
      round.set(name, performance.now() - t0);
    }
    if (r < warmup) continue;
    for (const [n, t] of round) {
      out.get(n)!.times.push(t);
      out.get(n)!.ratios.push(t / round.get(baseline)!);
    }
  }
  return out;
}
