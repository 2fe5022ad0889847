/**
 * The engine side of bench/wasm.ts. Each engine configuration is one long-lived process that
 * reads commands on stdin, one JSON line each ({ workload, windowMs }), and answers each with one
 * JSON line (a Window) on stdout: the median of the runs of one measuring window. The parent
 * sends the commands of all engines interleaved, so every engine's windows are spread over the
 * same minutes of a noisy host.
 *
 * Every engine is measured the same way: a workload is prepared on first use and run for
 * PREPARE_MS unmeasured (JIT tiers, allocator pools and packed weights settle: the bench compares
 * steady states); every window then first runs for WARMUP_MS unmeasured (caches, and the threads
 * of the process measured before), then measures at least MIN_RUNS runs and `windowMs`.
 */
import { median } from "./stats.ts";
import { type Workload, WORKLOADS } from "./wasm_workloads.ts";

/** A workload set up on one engine: `run` computes it once and reads the result to the host. */
export interface Prepared {
  run(): unknown | Promise<unknown>;
  release(): unknown | Promise<unknown>;
  /** FLOPs or bytes of one run, where the engine decides them (the limit probes calibrate). */
  work?: number;
}

/** What the parent asks for. */
export interface Command {
  workload: string;
  windowMs: number;
}

/** One measuring window: the median milliseconds of one run, over `runs` runs. */
export interface Window {
  workload: string;
  median: number;
  runs: number;
  /** Prepared.work, where the engine sets it. */
  work?: number;
}

const PREPARE_MS = 300, PREPARE_RUNS = 5;
/**
 * Longer than an idle ORT-web 2T process keeps a core busy after its window (measured: 40-50 ms
 * of its threads spinning), so the next window measures nobody else's threads.
 */
const WARMUP_MS = 100, WARMUP_RUNS = 2;
const MIN_RUNS = 3;

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

/** Lines of stdin as they arrive. */
async function* lines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let i;
    while ((i = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
    }
  }
}

/**
 * Serves the parent's commands until stdin closes, preparing workloads with `prepare`; `find`
 * names what a command may ask for (the limit probes serve their own list).
 */
export async function serve<W extends { name: string } = Workload>(
  prepare: (w: W) => Prepared | Promise<Prepared>,
  find: (name: string) => W | undefined = (name) =>
    WORKLOADS.find((w) => w.name === name) as W | undefined,
): Promise<void> {
  const prepared = new Map<string, Prepared>();
  for await (const line of lines()) {
    if (!line.trim()) continue;
    const cmd = JSON.parse(line) as Command;
    let p = prepared.get(cmd.workload);
    if (!p) {
      const w = find(cmd.workload);
      if (!w) throw new Error(`unknown workload ${cmd.workload}`);
      p = await prepare(w);
      prepared.set(w.name, p);
      await runFor(() => p!.run(), PREPARE_MS, PREPARE_RUNS);
    }
    await runFor(() => p!.run(), WARMUP_MS, WARMUP_RUNS);
    const times = await runFor(() => p!.run(), cmd.windowMs, MIN_RUNS);
    const answer: Window = {
      workload: cmd.workload,
      median: median(times),
      runs: times.length,
      work: p.work,
    };
    console.log(JSON.stringify(answer));
  }
  for (const p of prepared.values()) await p.release();
}
