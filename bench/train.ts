// Training steps per second (`deno task bench:train`), Edgeflow against its peers in one run:
// an MLP 784-256-10 (batch 128, softmax cross entropy, SGD) and the digits CNN (batch 64, Adam),
// bench/train_models.ts, on
// - Edgeflow: WASM with 1 and 2 threads, WEBGPU, TPU (host time, and the TPU's simulated time);
// - @tensorflow/tfjs on its wasm and cpu backends (optimizer.minimize);
// - @jax-js/jax on its wasm backend (jit(valueAndGrad(loss)));
// - PyTorch CPU from Debian's python3-torch (/usr/bin/python3) with 2 threads (and 1) on OpenBLAS
//   (libopenblas0; the runner reports the BLAS library it mapped).
// Each runner is a long-lived process (bench/train_engine.ts's protocol); in each round every
// (runner, model) pair measures one window, in an order shuffled per round, so a noisy stretch
// of the shared host costs every runner alike; the table gives medians over rounds and ratios
// paired by round, and CPU ms per step (the process's user + system time over the window, every
// thread, divided by its steps: what a step costs the machine). Edgeflow rows add each step's
// peak device memory beside the bytes of weights, optimizer slots, forward activations and the
// fed batch, and the peak's ratio to their sum.
//
// The Edgeflow WASM rows also measure MatMul 1024x1024x1024 in the same rounds: the MLP step's
// FLOP rate is given as a share of it (paired by round).
// Then the time-to-97% race (bench/train_race.ts): the runners in RACERS each train the digits CNN
// from the same weights on the same batches to 97% test accuracy, in shuffled order, and the
// table gives seconds, steps and ms per step. The runners left out would take minutes (tfjs cpu
// about 5 s and jax-js 0.4-1.1 s per CNN step): the table says so instead of running them.
//
// BENCH_ROUNDS and BENCH_WINDOW_MS (default 5 and 400); `--quick`: 2 and 100 (a check that the
// bench works, not a measurement). BENCH_FILTER=<substring> keeps matching runner labels.
// BENCH_RACES (default 1; `--quick` 0): how many races each racer runs (the table: medians).
import { Engine } from "./engine_process.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";
import type { StepWindow } from "./train_engine.ts";
import {
  MATMUL_1024,
  MATMUL_1024_FLOPS,
  MLP_STEP_FLOPS,
  type ModelName,
  MODELS,
} from "./train_models.ts";
import { type RaceResult, writeRacePlan } from "./train_race.ts";

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
const RACES = Number(Deno.env.get("BENCH_RACES") ?? (quick ? 0 : 1));
const here = (f: string) => new URL(f, import.meta.url).pathname;
const lock = `--lock=${here("../deno.lock")}`;
const deno = (label: string, script: string, ...args: string[]): Runner => ({
  label,
  command: Deno.execPath(),
  args: ["run", "-A", lock, here(script), ...args],
});

const BASELINE = "Edgeflow WASM 2T";
const torch = (threads: number): Runner => ({
  label: `PyTorch ${threads}T OpenBLAS`,
  command: "/usr/bin/python3",
  args: [here("train_torch.py"), String(threads)],
  // OpenBLAS's own pthreads and torch's OpenMP threads each default to every CPU they see, and
  // OpenMP threads spin between parallel regions: on this shared, loaded 2-core host that took
  // an MLP step from 1.8 ms to 20-130 ms (measured). `threads` each, waiting passively.
  env: {
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    OMP_WAIT_POLICY: "PASSIVE",
  },
});
const RUNNERS: Runner[] = [
  deno("Edgeflow WASM 1T", "train_edgeflow.ts", "WASM", "1"),
  deno(BASELINE, "train_edgeflow.ts", "WASM", "2"),
  deno("Edgeflow WEBGPU", "train_edgeflow.ts", "WEBGPU", "1"),
  deno("Edgeflow TPU", "train_edgeflow.ts", "TPU", "1"),
  deno("tfjs wasm", "train_tfjs.ts", "wasm"),
  deno("tfjs cpu", "train_tfjs.ts", "cpu"),
  deno("jax-js wasm", "train_jax.ts"),
  torch(2),
  // One thread too: on a loaded host, 2 threads that meet at every parallel region lose most
  // (measured: the CNN step at 7.8 ms on 1 thread, 36.8 ms on 2), so this row shows PyTorch's
  // cost without that penalty.
  torch(1),
].filter((r) => !FILTER || r.label.includes(FILTER) || r.label === BASELINE);
/** The runners of the time-to-97% race; the others' CNN steps are too slow for it. */
const RACERS = [
  "Edgeflow WASM 1T",
  BASELINE,
  "tfjs wasm",
  "PyTorch 2T OpenBLAS",
  "PyTorch 1T OpenBLAS",
];
const MATMUL_RUNNERS = ["Edgeflow WASM 1T", BASELINE];
const raceFile = await Deno.makeTempFile({ prefix: "edgeflow_race_", suffix: ".json" });
await writeRacePlan(raceFile);

function start(r: Runner): Engine {
  const child = new Deno.Command(r.command, {
    args: r.args,
    env: {
      MALLOC_MMAP_THRESHOLD_: "134217728",
      MALLOC_TRIM_THRESHOLD_: "268435456",
      BENCH_RACE_FILE: raceFile,
      ...r.env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return new Engine({ label: r.label, script: r.args[0], threads: 0 }, child);
}

const engines = RUNNERS.map(start);
type Workload = ModelName | typeof MATMUL_1024;
/** windows[label][workload][round] */
const windows = new Map<string, Map<Workload, (StepWindow | undefined)[]>>();
for (const r of RUNNERS) {
  windows.set(r.label, new Map([...MODELS, MATMUL_1024].map((m) => [m as Workload, []])));
}

const pairs = engines.flatMap((e) =>
  [...MODELS, ...(MATMUL_RUNNERS.includes(e.config.label) ? [MATMUL_1024] : [])]
    .map((m) => [e, m as Workload] as const)
);
for (let round = 0; round < ROUNDS; round++) {
  for (const [engine, model] of shuffled(pairs, round)) {
    const w = await engine.measure(model, WINDOW_MS) as StepWindow | undefined;
    windows.get(engine.config.label)!.get(model)![round] = w;
  }
  console.error(`round ${round + 1}/${ROUNDS} done`);
}
const races = new Map<string, (RaceResult | { error: string })[]>();
const racers = engines.filter((e) => RACERS.includes(e.config.label));
for (let i = 0; i < RACES; i++) {
  for (const engine of shuffled(racers, 1000 + i)) {
    const r = await engine.measure("race", 0) as unknown as RaceResult | { error: string };
    if (r) races.set(engine.config.label, [...(races.get(engine.config.label) ?? []), r]);
  }
  console.error(`race ${i + 1}/${RACES} done`);
}
await Promise.all(engines.map((e) => e.close()));
await Deno.remove(raceFile);

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
    // The MLP step's FLOP rate over MatMul 1024's, paired by round (Edgeflow WASM rows).
    const mm = windows.get(r.label)!.get(MATMUL_1024)!;
    const shares = model !== "mlp"
      ? []
      : ws.flatMap((w, i) =>
        w && mm[i] && !("error" in w)
          ? [(MLP_STEP_FLOPS / w.median) / (MATMUL_1024_FLOPS / mm[i]!.median)]
          : []
      );
    const total = (s.weightsBytes ?? 0) + (s.slotsBytes ?? 0) + (s.activationsBytes ?? 0) +
      (s.fedBytes ?? 0);
    const cpus = ws.flatMap((
      w,
    ) => (w && !("error" in w) && w.cpuMs !== undefined ? [w.cpuMs] : []));
    return [
      r.label,
      fixed(1000 / m, 1),
      fixed(m, 2),
      cpus.length ? fixed(median(cpus), 2) : "",
      model === "mlp" ? fixed(MLP_STEP_FLOPS / m / 1e6, 1) : "",
      ratios.length ? fixed(median(ratios), 2) : "n/a",
      s.simulatedStepMs !== undefined ? fixed(s.simulatedStepMs, 3) : "",
      mib(s.peakBytes),
      mib(s.weightsBytes),
      mib(s.slotsBytes),
      mib(s.activationsBytes),
      mib(s.fedBytes),
      total > 0 && s.peakBytes ? fixed(s.peakBytes / total, 2) : "",
      ...(model === "mlp" ? [shares.length ? `${fixed(100 * median(shares), 0)}%` : ""] : []),
    ];
  });
  printTable([
    "runner",
    "steps/s",
    "ms/step",
    "CPU ms/step",
    model === "mlp" ? "GFLOP/s" : "",
    `time / ${BASELINE}`,
    "TPU sim ms",
    "peak MiB",
    "weights",
    "slots",
    "activations",
    "fed batch",
    "peak / (w+s+a+f)",
    ...(model === "mlp" ? ["GFLOP/s / MatMul 1024's"] : []),
  ], rows);
}

console.log(
  `\n### MatMul 1024x1024x1024, same rounds (${ROUNDS} rounds of ${WINDOW_MS} ms windows)\n`,
);
printTable(
  ["runner", "ms", "GFLOP/s"],
  MATMUL_RUNNERS.filter((l) => windows.has(l)).map((l) => {
    const ms = windows.get(l)!.get(MATMUL_1024)!.filter((w) => w && !("error" in w))
      .map((w) => w!.median);
    const m = ms.length ? median(ms) : NaN;
    return [l, fixed(m, 2), fixed(MATMUL_1024_FLOPS / m / 1e6, 1)];
  }),
);

if (RACES > 0) {
  console.log(
    `\n### digits CNN: time to 97% test accuracy (bench/train_race.ts; Adam lr 1e-3, batch 64, ` +
      `evaluated every epoch; median of ${RACES} race${RACES > 1 ? "s" : ""})\n`,
  );
  const ok = (l: string) =>
    (races.get(l) ?? []).filter((r): r is RaceResult => !("error" in r) && r.reached);
  const baseSeconds = ok(BASELINE).map((r) => r.seconds);
  printTable(
    [
      "runner",
      "seconds to 97%",
      "steps",
      "ms/step (incl. evaluation)",
      "test accuracy",
      `time / ${BASELINE}`,
    ],
    RUNNERS.map((r) => {
      const rs = ok(r.label);
      if (!rs.length) {
        const e = races.get(r.label)?.find((x) => "error" in x || !x.reached);
        const why = !RACERS.includes(r.label)
          ? "not raced (minutes per race)"
          : e && "error" in e
          ? `n/a: ${e.error}`
          : e
          ? `not reached (${fixed(100 * (e as RaceResult).accuracy, 2)}%)`
          : "n/a";
        return [r.label, why, "", "", "", ""];
      }
      const sec = median(rs.map((x) => x.seconds));
      return [
        r.label,
        fixed(sec, 2),
        String(rs[0].steps),
        fixed((1000 * sec) / rs[0].steps, 2),
        `${fixed(100 * rs[0].accuracy, 2)}%`,
        baseSeconds.length ? fixed(sec / median(baseSeconds), 2) : "n/a",
      ];
    }),
  );
}
// Why a cell is n/a: the runner's own error (tfjs-backend-wasm has no Conv2DBackpropFilter).
for (const r of RUNNERS) {
  for (const model of [...MODELS, MATMUL_1024] as Workload[]) {
    const e = windows.get(r.label)!.get(model)!.find((w) => w && "error" in w) as
      | { error: string }
      | undefined;
    if (e) console.log(`\n${r.label} ${model}: n/a, ${e.error}`);
  }
}
const torchWindow = windows.get("PyTorch 2T OpenBLAS")?.get("mlp")?.find((w) => w);
if (torchWindow) {
  const blas = (torchWindow as unknown as { blas: string[] }).blas;
  console.log(`\nPyTorch mapped: ${blas?.join(", ")}`);
}
