// `deno task fuzz [--cases N] [--seed N] [--path P] [--devices REF,WASM,...] [--every WEBGPU=8]
// [--timeout MS] [--collect]`: runs the graph fuzzer (tests/fuzz/) for any number of cases, printing
// progress, the seed, a summary of outcomes and any counterexample (shrunk) with the command
// that reproduces it.
import { parseArgs } from "node:util";
import type { DeviceType } from "../core/device_spec.ts";
import { defaultRegistry } from "../core/kernel.ts";
import "../mod.ts";
import { createDevices, disposeDevices, fuzz } from "../tests/fuzz/driver.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    cases: { type: "string", default: "1000" },
    seed: { type: "string" },
    path: { type: "string" },
    devices: { type: "string", default: "REF,WASM,TPU,WEBGPU" },
    every: { type: "string", default: "WEBGPU=8" },
    timeout: { type: "string", default: "10000" },
    collect: { type: "boolean", default: false },
  },
});
const cases = Number(values.cases);
const seed = values.seed !== undefined
  ? Number(values.seed)
  : (Date.now() ^ (Math.random() * 2 ** 31)) | 0;
const types = values.devices.split(",").map((s) => s.trim().toUpperCase()) as DeviceType[];
if (!types.includes("REF")) types.unshift("REF");
const every = Object.fromEntries(
  values.every.split(",").filter((s) => s).map((kv) => {
    const [k, v] = kv.split("=");
    return [k.toUpperCase(), Number(v)];
  }),
) as Partial<Record<DeviceType, number>>;

const { devices, missing } = await createDevices(defaultRegistry, types);
for (const t of missing) console.log(`no ${t} device on this machine: not fuzzed`);
console.log(
  `fuzzing ${cases} cases on ${devices.map((d) => d.type).join(", ")} (seed ${seed}` +
    (values.path ? `, path ${values.path}` : "") + `; sampled: ${values.every || "none"})`,
);
const start = performance.now();
let last = start;
const result = await fuzz({
  registry: defaultRegistry,
  devices,
  cases,
  seed,
  path: values.path,
  every,
  timeoutMs: Number(values.timeout),
  collect: values.collect,
  progress: (done) => {
    const now = performance.now();
    if (now - last < 5000) return;
    last = now;
    const rss = (Deno.memoryUsage().rss / 2 ** 20).toFixed(0);
    console.log(`  ${done} cases, ${((now - start) / 1000).toFixed(0)} s, rss ${rss} MiB`);
  },
});
const seconds = ((performance.now() - start) / 1000).toFixed(1);
console.log(`${result.numRuns} cases in ${seconds} s (seed ${seed})`);
console.log(result.stats.summary());
const { warm, end, peak } = result.rssMiB;
console.log(
  `rss: ${warm.toFixed(0)} MiB after a tenth of the cases, ${end.toFixed(0)} at the end, peak ${
    peak.toFixed(0)
  }`,
);
await disposeDevices(devices);
const repro = (path: string, s = seed) =>
  `deno task fuzz --seed ${s} --path ${path} --devices ${
    types.join(",")
  } --every '${values.every}'`;
if (result.groups.size > 0) {
  console.log(`\n${result.groups.size} kinds of failure:`);
  const groups = [...result.groups].sort((a, b) => b[1].count - a[1].count);
  for (const [key, g] of groups) {
    console.log(
      `\n== ${g.count}× ${key}\n${g.message}\nreproduce (shrinks): ${repro(String(g.runIndex))}`,
    );
  }
  Deno.exit(1);
}
if (result.failure) {
  const f = result.failure;
  console.log(`\nFAILED after ${f.shrinks} shrinks: ${f.message}`);
  console.log(`recipe: ${JSON.stringify(f.recipe)}`);
  console.log(`reproduce: ${repro(f.path, f.seed)}`);
  Deno.exit(1);
}
Deno.exit(0);
