/**
 * The runner side of bench/train.ts (the protocol of bench/wasm_engine.ts): each runner is a
 * long-lived process reading one JSON command per line ({ workload, windowMs }) and answering
 * with one JSON line: the median milliseconds of one training step over a window, and the
 * runner's `stats` (memory, simulated time). A model is prepared on first use and trained for
 * PREPARE_MS unmeasured; each window first trains WARMUP_MS unmeasured. The command
 * { workload: "race" } runs bench/train_race.ts's time-to-97% race instead, where the runner has one.
 */
import process from "node:process";
import { median } from "./stats.ts";
import type { ModelName } from "./train_models.ts";
import type { RaceResult } from "./train_race.ts";

export interface Trainer {
  /** One training step, its loss read on the host. */
  step(): unknown | Promise<unknown>;
  /** Figures about a step (bytes, simulated seconds), measured once after preparing. */
  stats?(): Record<string, number> | Promise<Record<string, number>>;
}

export interface StepWindow {
  workload: string;
  median: number;
  runs: number;
  /**
   * CPU time of the whole process (every thread: workers spinning or computing) per step, the
   * window's mean: what a step costs the machine, which a loaded host's wall times hide.
   */
  cpuMs?: number;
  stats?: Record<string, number>;
}

const PREPARE_MS = 300, PREPARE_RUNS = 5, WARMUP_MS = 100, WARMUP_RUNS = 2, MIN_RUNS = 3;

async function runFor(fn: () => unknown, ms: number, minRuns: number): Promise<number[]> {
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < ms) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return times;
}

export async function serveTrainers(
  prepare: (model: ModelName) => Trainer | Promise<Trainer>,
  race?: () => Promise<RaceResult>,
): Promise<void> {
  const prepared = new Map<string, { t: Trainer; stats?: Record<string, number> }>();
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      if (!line.trim()) continue;
      const cmd = JSON.parse(line) as { workload: ModelName; windowMs: number };
      // A runner that cannot train a model (a peer lacking a gradient kernel) answers with the
      // error, and the table shows n/a with it.
      let answer: StepWindow | RaceResult | { workload: string; error: string };
      try {
        if (cmd.workload === ("race" as string)) {
          // bench/train_race.ts: the time-to-97% race (a runner without one says so).
          if (!race) throw new Error("this runner does not run the race");
          console.log(JSON.stringify(await race()));
          continue;
        }
        let p = prepared.get(cmd.workload);
        if (!p) {
          const t = await prepare(cmd.workload);
          await runFor(() => t.step(), PREPARE_MS, PREPARE_RUNS);
          p = { t, stats: t.stats ? await t.stats() : undefined };
          prepared.set(cmd.workload, p);
        }
        await runFor(() => p!.t.step(), WARMUP_MS, WARMUP_RUNS);
        const c0 = process.cpuUsage();
        const times = await runFor(() => p!.t.step(), cmd.windowMs, MIN_RUNS);
        const cpu = process.cpuUsage(c0);
        answer = {
          workload: cmd.workload,
          median: median(times),
          runs: times.length,
          cpuMs: (cpu.user + cpu.system) / 1000 / times.length,
          stats: p.stats,
        };
      } catch (e) {
        answer = {
          workload: cmd.workload,
          error: String((e as Error)?.message ?? e).split("\n")[0],
        };
      }
      console.log(JSON.stringify(answer));
    }
  }
  // stdin closed: the bench is over. Exit outright: a peer's worker threads (jax-js) would keep
  // the process, and the parent waiting for it, alive.
  Deno.exit(0);
}
