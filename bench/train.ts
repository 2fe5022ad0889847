// Training steps per second (`deno task bench:train`), Edgeflow against its peers in one run:
// an MLP 784-256-10 (batch 128, softmax cross entropy, SGD) and the digits CNN (batch 64, Adam),
// bench/train_models.ts, on
// - Edgeflow: WASM with 1 and 2 threads, WEBGPU, TPU (host time, and the TPU's simulated time);
// - @tensorflow/tfjs on its wasm and cpu backends (optimizer.minimize);
// - @jax-js/jax on its wasm backend (jit(valueAndGrad(loss)));
// - PyTorch CPU from Debian's python3-torch (/usr/bin/python3) with 2 threads on OpenBLAS
//   (libopenblas0; the runner reports the BLAS library it mapped).
// Each runner is a long-lived process (bench/train_engine.ts's protocol); in each round every
// (runner, model) pair measures one window, in an order shuffled per round, so a noisy stretch
// of the shared host costs every runner alike; the table gives medians over rounds and ratios
// paired by round. Edgeflow rows add each step's peak device memory beside the bytes of weights,
// optimizer slots and forward activations.
//
// BENCH_ROUNDS and BENCH_WINDOW_MS (default 5 and 400); `--quick`: 2 and 100 (a check that the
// bench works, not a measurement). BENCH_FILTER=<substring> keeps matching runner labels.
import { Engine } from "./engine_process.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";
import type { StepWindow } from "./train_engine.ts";
import { MLP_STEP_FLOPS, type ModelName, MODELS } from "./train_models.ts";

interface Runner {
  label: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

const quick = Deno.args.includes("--quick");
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? (quick ? 2 : 5));
const WINDOW_MS = Number(Deno.env.get("BENCH_WINDOW_MS") ?? (quick ? 100 : 400));
const FILTER = Deno.env.get("BENCH_FILTER");
const here = (f: string) => new URL(f, import.meta.url).pathname;
const lock = `--lock=${here("../deno.lock")}`;
const deno = (label: string, script: string, ...args: string[]): Runner => ({
  label,
  command: Deno.execPath(),
  args: ["run", "-A", lock, here(script), ...args],
});

const BASELINE = "Edgeflow WASM 2T";
const RUNNERS: Runner[] = [
  deno("Edgeflow WASM 1T", "train_edgeflow.ts", "WASM", "1"),
  deno(BASELINE, "train_edgeflow.ts", "WASM", "2"),
  deno("Edgeflow WEBGPU", "train_edgeflow.ts", "WEBGPU", "1"),
  deno("Edgeflow TPU", "train_edgeflow.ts", "TPU", "1"),
  deno("tfjs wasm", "train_tfjs.ts", "wasm"),
  deno("tfjs cpu", "train_tfjs.ts", "cpu"),
  deno("jax-js wasm", "train_jax.ts"),
  {
    label: "PyTorch 2T OpenBLAS",
    command: "/usr/bin/python3",
    args: [here("train_torch.py"), "2"],
    // OpenBLAS's own pthreads and torch's OpenMP threads each default to every CPU they see, and
    // OpenMP threads spin between parallel regions: on this shared, loaded 2-core host that took
    // an MLP step from 1.8 ms to 20-130 ms (measured). Two threads each, waiting passively.
    env: { OPENBLAS_NUM_THREADS: "2", OMP_NUM_THREADS: "2", OMP_WAIT_POLICY: "PASSIVE" },
  },
].filter((r) => !FILTER || r.label.includes(FILTER) || r.label === BASELINE);

function start(r: Runner): Engine {
  const child = new Deno.Command(r.command, {
    args: r.args,
    env: { MALLOC_MMAP_THRESHOLD_: "134217728", MALLOC_TRIM_THRESHOLD_: "268435456", ...r.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return new Engine({ label: r.label, script: r.args[0], threads: 0 }, child);
}

const engines = RUNNERS.map(start);
/** windows[label][model][round] */
const windows = new Map<string, Map<ModelName, (StepWindow | undefined)[]>>();
for (const r of RUNNERS) windows.set(r.label, new Map(MODELS.map((m) => [m, []])));

const pairs = engines.flatMap((e) => MODELS.map((m) => [e, m] as const));
for (let round = 0; round < ROUNDS; round++) {
  for (const [engine, model] of shuffled(pairs, round)) {
    const w = await engine.measure(model, WINDOW_MS) as StepWindow | undefined;
    windows.get(engine.config.label)!.get(model)![round] = w;
  }
  console.error(`round ${round + 1}/${ROUNDS} done`);
}
await Promise.all(engines.map((e) => e.close()));

const mib = (b?: number) => (b === undefined ? "" : `${fixed(b / 2 ** 20, 2)}`);
for (const model of MODELS) {
  console.log(
    `\n### ${model === "mlp" ? "MLP 784-256-10, batch 128, SGD" : "digits CNN, batch 64, Adam"}` +
      ` (${ROUNDS} rounds of ${WINDOW_MS} ms windows)\n`,
  );
  const base = windows.get(BASELINE)!.get(model)!;
  const rows = RUNNERS.map((r) => {
    const ws = windows.get(r.label)!.get(model)!;
    const ms = ws.filter((w) => w && !("error" in w)).map((w) => w!.median);
    const m = ms.length ? median(ms) : NaN;
    // Paired by round: this runner's step time over the baseline's in the same round.
    const ratios = ws.flatMap((w, i) => (w && base[i] ? [w.median / base[i]!.median] : []));
    const s = ws.find((w) => w?.stats)?.stats ?? {};
    const total = (s.weightsBytes ?? 0) + (s.slotsBytes ?? 0) + (s.activationsBytes ?? 0);
    return [
      r.label,
      fixed(1000 / m, 1),
      fixed(m, 2),
      model === "mlp" ? fixed(MLP_STEP_FLOPS / m / 1e6, 1) : "",
      ratios.length ? fixed(median(ratios), 2) : "n/a",
      s.simulatedStepMs !== undefined ? fixed(s.simulatedStepMs, 3) : "",
      mib(s.peakBytes),
      mib(s.weightsBytes),
      mib(s.slotsBytes),
      mib(s.activationsBytes),
      total > 0 && s.peakBytes ? fixed(s.peakBytes / total, 2) : "",
    ];
  });
  printTable([
    "runner",
    "steps/s",
    "ms/step",
    model === "mlp" ? "GFLOP/s" : "",
    `time / ${BASELINE}`,
    "TPU sim ms",
    "peak MiB",
    "weights",
    "slots",
    "activations",
    "peak / (w+s+a)",
  ], rows);
}
// Why a cell is n/a: the runner's own error (tfjs-backend-wasm has no Conv2DBackpropFilter).
for (const r of RUNNERS) {
  for (const model of MODELS) {
    const e = windows.get(r.label)!.get(model)!.find((w) => w && "error" in w) as
      | { error: string }
      | undefined;
    if (e) console.log(`\n${r.label} ${model}: n/a, ${e.error}`);
  }
}
const torch = windows.get("PyTorch 2T OpenBLAS")?.get("mlp")?.find((w) => w);
if (torch) {
  console.log(`\nPyTorch mapped: ${(torch as unknown as { blas: string[] }).blas?.join(", ")}`);
}
