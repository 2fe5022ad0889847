// The machine's limits for bench/wasm.ts: `deno run -A bench/wasm_limits.ts <maxThreads>` serves
// the parent's measuring commands (bench/wasm_engine.ts) for the probes of bench/roofline.ts, so
// that the limits are measured in the same interleaved rounds as the engines. A probe on T
// threads runs on this process's main thread and T - 1 workers (as the WASM device runs its
// jobs), all on one shared WebAssembly.Memory:
//   fma     each thread runs the same count of independent f32x4.relaxed_madd (simd_module.ts),
//           calibrated once to about CALIBRATED_MS on one thread;
//   copy    memory.copy of a COPY_MIB buffer into another, split in T slices;
//   stream  the same copy as a loop of v128.load + v128.store.
// Copies count the bytes read and written (2 × COPY_MIB per run).
import { Worker } from "node:worker_threads";
import { COPY_MIB, type Probe, probeNamed } from "./roofline.ts";
import { FLOPS_PER_FMA, FMA_PER_ITER, limitsModule } from "./simd_module.ts";
import { serve } from "./wasm_engine.ts";
import type { Call, WorkerInit } from "./limits_worker.ts";

const maxThreads = Number(Deno.args[0] ?? navigator.hardwareConcurrency);
const COPY_BYTES = COPY_MIB * 2 ** 20;
const CALIBRATED_MS = 20;
const PAGE = 65536;
/** Source at 0, destination right after it. */
const pages = Math.ceil((2 * COPY_BYTES) / PAGE);
const bytes = limitsModule(pages);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
// Written once so every page is backed: an untouched page reads as the kernel's one zero page,
// which stays in cache and would measure the cache, not memory.
new Uint8Array(memory.buffer).fill(1);
const main = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } })
  .exports as Record<Call["fn"], (...args: number[]) => unknown>;

function startWorker(): Promise<Worker> {
  const w = new Worker(new URL("./limits_worker.ts", import.meta.url));
  return new Promise((resolve, reject) => {
    w.once("message", () => resolve(w));
    w.once("error", reject);
    w.postMessage({ bytes, memory } satisfies WorkerInit);
  });
}

const workers = await Promise.all(Array.from({ length: maxThreads - 1 }, startWorker));

function call(w: Worker, c: Call): Promise<unknown> {
  return new Promise((resolve) => {
    w.once("message", resolve);
    w.postMessage(c);
  });
}

/** Runs `fn` on `threads` threads, thread t with args(t); resolves when all are done. */
async function onThreads(threads: number, fn: Call["fn"], args: (t: number) => number[]) {
  const done = workers.slice(0, threads - 1).map((w, i) => call(w, { fn, args: args(i + 1) }));
  main[fn](...args(0));
  await Promise.all(done);
}

/** fma iterations for about CALIBRATED_MS on one thread, once the loop is optimized. */
function calibrate(): number {
  const n = 200_000;
  let ms = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    main.fma(n);
    ms = Math.min(ms, performance.now() - t);
  }
  return Math.max(1, Math.round((n * CALIBRATED_MS) / Math.max(ms, 1e-3)));
}

/** Thread t's slice of the copy: 64-byte aligned, the last thread takes the rest. */
function slice(t: number, threads: number): number[] {
  const size = Math.floor(COPY_BYTES / threads / 64) * 64;
  const start = t * size, len = t === threads - 1 ? COPY_BYTES - start : size;
  return [COPY_BYTES + start, start, len];
}

await serve<Probe>((p) => {
  if (p.threads > maxThreads) throw new Error(`${p.name}: started for ${maxThreads} threads`);
  if (p.kind === "fma") {
    const n = calibrate();
    return {
      run: () => onThreads(p.threads, "fma", () => [n]),
      release: () => {},
      work: p.threads * n * FMA_PER_ITER * FLOPS_PER_FMA,
    };
  }
  return {
    run: () => onThreads(p.threads, p.kind, (t) => slice(t, p.threads)),
    release: () => {},
    work: 2 * COPY_BYTES,
  };
}, probeNamed);
await Promise.all(workers.map((w) => w.terminate()));
