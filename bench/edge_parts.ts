/**
 * Where a served request's time goes, in one process (no HTTP, no client competing for the
 * cores): the parts examples/serve.ts runs per request on nsfwjs's mobilenet_v2_mid, measured
 * in rounds with the parts interleaved, medians per part. It is what bench/edge.ts's batching
 * column can and cannot win: batching shares one run among k requests, so it saves only what a
 * run costs beyond its rows (the executor's per-node work, the workers' wake-ups, the feed's
 * upload and the answer's download), while parsing bodies and writing answers stay per request.
 *
 *   deno run -A --lock=deno.lock --v8-flags=--expose-gc,--max-semi-space-size=1 bench/edge_parts.ts
 *     [--threads 2] [--rounds 5] [--model fixture]
 */
import * as ef from "../mod.ts";
import { stackRows } from "../examples/serve/batcher.ts";
import { loadServedModel } from "../examples/serve/model.ts";
import { parseBinaryBody, parseJsonBody } from "../examples/serve/request.ts";
import { mobilenetV2Mid } from "../tests/formats/real_models.ts";
import { writeFixtureModel } from "../tests/serve/model_fixture.ts";
import { flag } from "./edge_process.ts";
import { fixed, median, printTable } from "./stats.ts";

const THREADS = Number(flag("threads", "2"));
const ROUNDS = Number(flag("rounds", "5"));
const BATCHES = [1, 2, 4, 8];

const path = flag("model", "mobilenet") === "fixture"
  ? (await writeFixtureModel()).dir
  : (await mobilenetV2Mid()).path;
const model = await loadServedModel(path, { threads: THREADS });
const input = model.inputs[0];
const rowShape = (input.shape ?? []).slice(1).map((d) => (d ?? 1) < 0 ? 1 : d ?? 1) as number[];
const rowSize = rowShape.reduce((a, b) => a * b, 1);
const values = Float32Array.from({ length: rowSize }, (_, i) => Math.sin(i) * 0.5 + 0.5);
const binary = new Uint8Array(values.buffer.slice(0));
const headers = new Headers({ "x-shape": [1, ...rowShape].join(",") });
const nested = (ef.Tensor.fromNumbers("float32", [1, ...rowShape], values)).toArray();
const json = new TextEncoder().encode(JSON.stringify({ inputs: { [input.key]: nested } }));
const row = parseBinaryBody(binary, headers, model.inputs).feeds.get(input.key)!;
const feedsOf = (k: number) => new Map([[input.key, stackRows(Array(k).fill(row))]]);

/** One part: a name and a function returning the ms it took for `rows` rows. */
type Part = [string, number, () => Promise<number> | number];
const time = (f: () => unknown) => {
  const s = performance.now();
  f();
  return performance.now() - s;
};
const parts: Part[] = [
  [
    `binary body (${binary.byteLength} B) → tensor`,
    1,
    () => time(() => parseBinaryBody(binary, headers, model.inputs)),
  ],
  [
    `JSON body (${json.byteLength} B) → tensor`,
    1,
    () => time(() => parseJsonBody(json, model.inputs)),
  ],
  ["stack 8 rows into a batch", 8, () => time(() => stackRows(Array(8).fill(row)))],
  ["JSON answer (the outputs of one row)", 1, async () => {
    const out = await model.run(feedsOf(1));
    return time(() => {
      const body: Record<string, unknown> = {};
      for (const [k, t] of out) body[k] = t.toArray();
      return JSON.stringify({ outputs: body });
    });
  }],
  ...BATCHES.map((k): Part => [`run, batch ${k}`, k, async () => {
    const feeds = feedsOf(k);
    const s = performance.now();
    await model.run(feeds);
    return performance.now() - s;
  }]),
];

// Every batch size's first run (its allocations, its plan's first use) is not measured.
for (const k of BATCHES) await model.run(feedsOf(k));
const samples = parts.map(() => [] as number[]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [, , f]] of parts.entries()) {
    (globalThis as { gc?: () => void }).gc?.();
    samples[i].push(await f());
  }
}
await model.close();

const single = median(samples[parts.findIndex((p) => p[0] === "run, batch 1")]);
console.log(
  `bench/edge_parts.ts: ${path.split("/").slice(-2).join("/")} on WASM, ${THREADS} threads; ` +
    `${ROUNDS} rounds; ${navigator.hardwareConcurrency} cores`,
);
printTable(
  ["part", "ms", "ms per row", "rows/s if only this", "× batch 1 per row"],
  parts.map(([name, rows], i) => {
    const ms = median(samples[i]);
    const run = name.startsWith("run");
    return [
      name,
      fixed(ms, 2),
      fixed(ms / rows, 2),
      run ? fixed(1000 * rows / ms, 1) : "",
      run ? fixed((ms / rows) / single) : "",
    ];
  }),
);
