/**
 * Where a served model's cold start goes: bench/edge.ts's goal is a cold start (process spawn to
 * the first answer) ≤ 0.5× tfjs-backend-wasm's, and this bench says which parts of it any loader
 * or pass could still remove. Per round, in shuffled order, a fresh process of:
 *
 * - a bare Deno.serve (bench/edge_bare_server.ts): what Deno itself costs;
 * - the tfjs-backend-wasm server of bench/edge.ts;
 * - the bundled edge function (dist/serve.js, `deno task build:serve`) on WASM with 1 and 2
 *   threads, with `--timings`: its marks (ms since the process's time origin) split its cold start
 *   into modules, device, loaded, prepared, listening, arrived, parsed, run and answered.
 *
 * Each server gets a second request after the first: its latency is what the first request's run
 * would cost with warm code and touched pages. Medians over rounds.
 *
 *   deno task bench:edge-cold [--rounds 9] [--model fixture]
 */
import {
  freePort,
  SERVE_BUNDLE,
  SERVE_V8_FLAGS,
  serveArgs,
} from "../tests/serve/server_process.ts";
import { bundleServe } from "../tools/bundle_serve.ts";
import {
  benchModel,
  flag,
  type Input,
  predict,
  spawnServer,
  tfjsServerArgs,
} from "./edge_process.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";

const ROUNDS = Number(flag("rounds", "9"));
const MODEL = flag("model", "mobilenet");
const ROOT = new URL("../", import.meta.url).pathname;

interface Runner {
  label: string;
  args(model: string, port: number): string[];
  /** Whether it serves the model (POST /predict) or is the bare server (GET /). */
  model: boolean;
}

const efRunner = (threads: number): Runner => ({
  label: `ef-wasm-${threads}t-bundle`,
  model: true,
  args: (model, port) =>
    serveArgs(model.slice(0, model.lastIndexOf("/")), port, [
      "--threads",
      String(threads),
      "--batching",
      "off",
      "--timings",
    ], SERVE_BUNDLE),
});
const RUNNERS: Runner[] = [
  {
    label: "bare Deno.serve",
    model: false,
    args: (_model, port) => [
      "run",
      SERVE_V8_FLAGS,
      `--allow-net=127.0.0.1:${port}`,
      `${ROOT}bench/edge_bare_server.ts`,
      "--port",
      String(port),
    ],
  },
  {
    label: "tfjs-wasm",
    model: true,
    args: tfjsServerArgs,
  },
  efRunner(1),
  efRunner(2),
];

interface Sample {
  coldMs: number;
  secondMs: number;
  /** `--timings` marks in order: [name, ms since the server's time origin]. */
  marks: [string, number][];
}

/** The request that gets an answer: a model's POST /predict, or the bare server's GET. */
async function ask(url: string, runner: Runner, input: Input): Promise<void> {
  if (runner.model) return await predict(url, input);
  const r = await fetch(url);
  await r.text();
  if (r.status !== 200) throw new Error(`${runner.label}: HTTP ${r.status}`);
}

async function measure(runner: Runner, model: string, input: Input): Promise<Sample> {
  const port = freePort();
  const t0 = performance.now();
  const { child, stderr } = await spawnServer(runner.label, runner.args(model, port));
  const url = `http://127.0.0.1:${port}`;
  await ask(url, runner, input);
  const coldMs = performance.now() - t0;
  const s = performance.now();
  await ask(url, runner, input);
  const secondMs = performance.now() - s;
  child.kill("SIGTERM");
  await child.status;
  return { coldMs, secondMs, marks: timingMarks(await stderr) };
}

/** The marks of `--timings` lines: "timings start-up: modules 15.6, device 17.6, ...". */
function timingMarks(stderr: string): [string, number][] {
  return stderr.split("\n").filter((l) => l.startsWith("timings ")).flatMap((l) =>
    l.slice(l.indexOf(":") + 1).split(",").map((part): [string, number] => {
      const [name, ms] = part.trim().split(" ");
      return [name, Number(ms)];
    })
  );
}

await bundleServe();
const m = await benchModel(MODEL);
console.log(
  `bench/edge_cold.ts: ${m.name}, ${ROUNDS} rounds, a fresh process per runner and round; ` +
    `${navigator.hardwareConcurrency} cores`,
);
const samples = new Map<string, Sample[]>(RUNNERS.map((r) => [r.label, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const runner of shuffled(RUNNERS, round)) {
    samples.get(runner.label)!.push(await measure(runner, m.path, m.input));
  }
}

const med = (label: string, f: (s: Sample) => number) => median(samples.get(label)!.map(f));
const tfjsCold = med("tfjs-wasm", (s) => s.coldMs);
printTable(
  ["runner", "cold start ms", "× tfjs", "2nd request ms"],
  RUNNERS.map((r) => [
    r.label,
    fixed(med(r.label, (s) => s.coldMs), 1),
    fixed(med(r.label, (s) => s.coldMs) / tfjsCold),
    fixed(med(r.label, (s) => s.secondMs), 1),
  ]),
);

// Each part of an Edgeflow server's cold start: the time from the previous mark to its own.
const efLabels = RUNNERS.filter((r) => r.label.startsWith("ef-")).map((r) => r.label);
const partNames = samples.get(efLabels[0])![0].marks.map(([n]) => n);
const part = (s: Sample, k: number) => s.marks[k][1] - (k === 0 ? 0 : s.marks[k - 1][1]);
const outside = (s: Sample) => s.coldMs - s.marks[s.marks.length - 1][1];
console.log();
printTable(["part (ms, medians)", ...efLabels], [
  [
    "process start before the time origin, and the answer's way back",
    ...efLabels.map((l) => fixed(med(l, outside), 1)),
  ],
  ...partNames.map((
    name,
    k,
  ) => [name, ...efLabels.map((l) => fixed(med(l, (s) => part(s, k)), 1))]),
]);
const bare = med("bare Deno.serve", (s) => s.coldMs);
const at = (s: Sample, name: string) => part(s, partNames.indexOf(name));
console.log(
  `\nGoal: ≤ 0.5× tfjs's cold start = ${fixed(tfjsCold / 2, 1)} ms. What neither a model ` +
    `format nor a pass removes (a bare Deno.serve + the modules + parsing the body + the first run):`,
);
for (const l of efLabels) {
  const floor = bare + med(l, (s) => at(s, "modules") + at(s, "parsed") + at(s, "run"));
  console.log(`  ${l}: ${fixed(floor, 1)} ms = ${fixed(floor / tfjsCold)}× tfjs`);
}
