// The child process of tests/lifecycle_test.ts: `deno run -A --v8-flags=--expose-gc
// tests/lifecycle/cycles.ts <DEVICE> <warm> <cycles>` creates, runs and closes a session
// `warm + cycles` times and prints one JSON line: the process's RSS and thread count after the
// warm-up and at the end (each after a garbage collection), or {"missing": reason}.
import * as ef from "../../mod.ts";

const [type, warm, cycles] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

/**
 * Threads of the runtime's own pools, which grow on demand whatever sessions do: tokio's blocking
 * pool (file reads such as this script's own /proc reads; idle threads exit after seconds) and
 * V8's platform workers (concurrent GC and compilation). A device's threads have other names
 * (Deno Workers are "worker-N", Mesa's are "llvmpipe-N"...), so a leak still shows.
 */
const RUNTIME_POOLS = /^(tokio-runtime-w|V8 DefaultWorke)/;

/** RSS in bytes and the threads outside the runtime's pools, after a collection and a pause. */
async function sample(): Promise<{ rss: number; threads: number; names: string[] }> {
  for (let i = 0; i < 3; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 20));
  }
  const status = await Deno.readTextFile("/proc/self/status");
  const rss = Number(status.match(/VmRSS:\s+(\d+)/)![1]) * 1024;
  const names: string[] = [];
  for await (const task of Deno.readDir("/proc/self/task")) {
    const name = (await Deno.readTextFile(`/proc/self/task/${task.name}/comm`)).trim();
    if (!RUNTIME_POOLS.test(name)) names.push(name);
  }
  return { rss, threads: names.length, names: names.sort() };
}

// A graph with what a session holds: a variable, a Const weight, a reduction, a fetch.
const g = new ef.Graph();
const x = ef.placeholder(g, "float32", [null, 4], { name: "x" });
const w = new ef.Variable(ef.tensor(new Float32Array(16).fill(0.25), [4, 4]), {
  graph: g,
  name: "w",
  dtype: "float32",
});
const bias = ef.constant(ef.tensor(new Float32Array(4).fill(0.5), [4]), { graph: g });
const y = ef.mean(ef.square(ef.add(ef.matMul(x, w.read()), bias)), [0], { name: "y" });
const init = ef.globalVariablesInitializer(g);
const feed = { x: [[1, 2, 3, 4], [5, 6, 7, 8]] };

async function cycle(): Promise<void> {
  const s = new ef.Session(g, { device: type });
  try {
    await s.run([], {}, [init]);
    await s.run(y, feed);
  } finally {
    await s.close();
  }
}

try {
  await cycle();
} catch (e) {
  if (e instanceof ef.EdgeflowError && /not available on this machine/.test(e.message)) {
    console.log(JSON.stringify({ missing: e.message }));
    Deno.exit(0);
  }
  throw e;
}
for (let i = 1; i < warm; i++) await cycle();
const before = await sample();
for (let i = 0; i < cycles; i++) await cycle();
const after = await sample();
console.log(JSON.stringify({ before, after }));
