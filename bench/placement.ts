// Placement: four workloads (an MLP, a small CNN, a wide random DAG, independent branches), each
// run with the greedy placer over every device here (two WASM devices and WebGPU where the
// machine has an adapter), on one device of each type, and with a random placement. The placer's
// simulated step time stands beside the measured one. Runners are interleaved: each round runs
// every placement once in a shuffled order; the table shows medians over rounds and each
// placement's ratio to the best single device. The cost profile is calibrated at the start
// (bench/calibrate.ts). The emulated TPU is left out: its step time here is the emulator's.
//
// Greedy places over two WASM devices twice: launching from their own workers
// (devices/wasm/queue.ts) with half the cores each, so they compute at once, and as
// `deviceCount: { WASM: 2 }` makes them on this machine (the same, where there is a core per
// launcher besides the JS thread's; else taking turns on the JS thread with every core). The
// single-WASM baselines are a session's usual device (launching from the JS thread,
// every core: the default) and the same with one thread: spreading branches over two devices
// must beat both to be worth it (two devices trade intra-op fork/join for inter-op overlap).
import * as ef from "../mod.ts";
import { calibrate } from "./calibrate.ts";
import { fixed, median, printTable, shuffled } from "./stats.ts";

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 9);
const WARMUP = 2;

/** A seeded generator (the same graphs and placements every run). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function weights(g: ef.Graph, shape: number[], seed: number, name: string): ef.Output {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const scale = 1 / Math.sqrt(shape[shape.length - 2] ?? n);
  return ef.constant(
    ef.tensor(Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale), shape),
    { graph: g, name },
  );
}

interface Workload {
  name: string;
  build(g: ef.Graph): { x: ef.Output; y: ef.Output };
  feed: ef.Tensor;
}

const workloads: Workload[] = [
  {
    name: "MLP 64x512, 4 layers",
    feed: ef.Tensor.zeros("float32", [64, 512]),
    build(g) {
      const x = ef.placeholder(g, "float32", [64, 512], { name: "x" });
      let h = x;
      for (let i = 0; i < 4; i++) h = ef.relu(ef.matMul(h, weights(g, [512, 512], i, `w${i}`)));
      return { x, y: ef.sum(h, [0, 1]) };
    },
  },
  {
    name: "CNN 8x32x32x3, 2 conv",
    feed: ef.Tensor.zeros("float32", [8, 32, 32, 3]),
    build(g) {
      const x = ef.placeholder(g, "float32", [8, 32, 32, 3], { name: "x" });
      const pool = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID" as const };
      const conv = (h: ef.Output, f: number[], i: number) =>
        ef.maxPool(
          ef.relu(
            ef.conv2d(h, weights(g, f, 10 + i, `f${i}`), {
              strides: [1, 1, 1, 1],
              padding: "SAME",
            }),
          ),
          pool,
        );
      const h = conv(conv(x, [3, 3, 3, 16], 0), [3, 3, 16, 32], 1);
      const flat = ef.reshape(h, [8, 8 * 8 * 32]);
      return { x, y: ef.sum(ef.matMul(flat, weights(g, [2048, 10], 12, "dense")), [0, 1]) };
    },
  },
  {
    name: "wide random DAG, 48 ops on 128x128",
    feed: ef.Tensor.zeros("float32", [128, 128]),
    build(g) {
      const r = rng(7);
      const x = ef.placeholder(g, "float32", [128, 128], { name: "x" });
      const outs: ef.Output[] = [x, weights(g, [128, 128], 3, "w")];
      for (let i = 0; i < 48; i++) {
        const a = outs[Math.floor(r() * outs.length)], b = outs[Math.floor(r() * outs.length)];
        const k = Math.floor(r() * 4);
        outs.push(
          k === 0
            ? ef.tanh(ef.matMul(a, b))
            : k === 1
            ? ef.add(a, b)
            : k === 2
            ? ef.mul(a, b)
            : ef.relu(a),
        );
      }
      // Every sink feeds the result, so nothing is pruned.
      const used = new Set(g.nodes.flatMap((n) => n.inputs.map((o) => o.node)));
      const sinks = outs.filter((o) => !used.has(o.node));
      return { x, y: ef.sum(sinks.reduce((a, b) => ef.add(a, b)), [0, 1]) };
    },
  },
  {
    name: "4 independent branches, 3 matmul 256 each",
    feed: ef.Tensor.zeros("float32", [256, 256]),
    build(g) {
      const x = ef.placeholder(g, "float32", [256, 256], { name: "x" });
      const ends = [0, 1, 2, 3].map((b) => {
        let h = x;
        for (let i = 0; i < 3; i++) {
          h = ef.tanh(ef.matMul(h, weights(g, [256, 256], 20 + 3 * b + i, `b${b}w${i}`)));
        }
        return ef.sum(h, [0, 1]);
      });
      return { x, y: ends.reduce((a, b) => ef.add(a, b)) };
    },
  },
];

interface Placement {
  name: string;
  devices: ef.Device[];
  /** Rewrites requests in the built graph (the random placement). */
  request?: (g: ef.Graph) => void;
  single: boolean;
}

const short = (s: string) => s.replace("/job:localhost/replica:0/task:0/device:", "");
const cores = navigator.hardwareConcurrency;
// Launching from workers with half the cores each, and as deviceCount { WASM: 2 } makes them.
const wasm0 = (await ef.wasmPlugin.create({ index: 0, count: 2, launch: "worker" }))!;
const wasm1 = (await ef.wasmPlugin.create({ index: 1, count: 2, launch: "worker" }))!;
const default0 = (await ef.wasmPlugin.create({ index: 4, count: 2 }))!;
const default1 = (await ef.wasmPlugin.create({ index: 5, count: 2 }))!;
// A session's one WASM device (every core), and the same with one thread.
const wasmAll = (await ef.wasmPlugin.create({ index: 2 }))!;
const wasmOne = (await ef.wasmPlugin.create({ index: 3, threads: 1 }))!;
console.log(
  `WASM:0 and WASM:1 launch from workers with ${wasm0.threads} thread(s) each; the single-WASM ` +
    `rows run on WASM:2 (JS thread, ${wasmAll.threads} threads) and WASM:3 (JS thread, 1 thread); ` +
    `${cores} cores; deviceCount { WASM: 2 } here makes WASM:4 and WASM:5: ` +
    `${default0.launchMode} launch, ${default0.threads} thread(s) each`,
);
const ref = (await ef.refPlugin.create({ index: 0 }))!;
const gpu = await ef.webgpuPlugin.create({ index: 0 }).catch(() => null);
if (!gpu) console.log("no WebGPU adapter here: placements over WASM:0, WASM:1 (and REF alone)");
console.log("the emulated TPU is left out: its step time on this host is the emulator's");
const all = [wasm0, wasm1, ...(gpu ? [gpu] : [])];
const allDefault = [default0, default1, ...(gpu ? [gpu] : [])];
console.log("calibrating ...");
const profile = await calibrate([...all, default0, default1, wasmAll, wasmOne, ref]);
// The figures the simulated column rests on (a busy machine makes them noisy).
for (const [name, p] of Object.entries(profile.devices)) {
  const us = (x?: number) => x === undefined ? "-" : (x * 1e6).toFixed(1);
  const g = (x?: number) => x === undefined ? "-" : (x / 1e9).toFixed(1);
  console.log(
    `profile ${short(name)}: launch ${us(p.launch)} µs, ${g(p.flops)} GFLOP/s, MatMul ${
      g(profile.ops?.[name]?.MatMul)
    } GFLOP/s`,
  );
}
for (const [pair, c] of Object.entries(profile.pairs ?? {})) {
  console.log(`profile ${pair}: latency ${(c.latency * 1e6).toFixed(1)} µs`);
}

const placements: Placement[] = [
  { name: "greedy, WASM:0/1 from workers", devices: all, single: false },
  { name: `greedy, WASM:4/5 (deviceCount default)`, devices: allDefault, single: false },
  { name: `WASM only, ${wasmAll.threads} threads`, devices: [wasmAll], single: true },
  { name: "WASM only, 1 thread", devices: [wasmOne], single: true },
  ...(gpu ? [{ name: "WEBGPU only", devices: [gpu], single: true }] : []),
  { name: "REF only", devices: [ref], single: true },
  {
    name: "random",
    devices: all,
    single: false,
    request: (g) => {
      const r = rng(11);
      for (const n of g.nodes) {
        if (n.op.name !== "Placeholder") n.requestedDevice = all[Math.floor(r() * all.length)].name;
      }
    },
  },
];

const rows: string[][] = [];
// BENCH_WORKLOAD=<part of a name> runs only the workloads whose name contains it.
const only = Deno.env.get("BENCH_WORKLOAD");
for (const w of workloads.filter((w) => !only || w.name.includes(only))) {
  const runners = await Promise.all(placements.map(async (p) => {
    const g = new ef.Graph();
    const { x, y } = w.build(g);
    p.request?.(g);
    const s = new ef.Session(g, { devices: p.devices, costProfile: profile });
    const ex = await s.explainPlacement(y, [x], [], false);
    const used = new Map<string, number>();
    for (const r of ex.nodes) used.set(short(r.device), (used.get(short(r.device)) ?? 0) + 1);
    const feeds = new Map([[x, w.feed]]);
    return { p, s, ex, used, run: () => s.run(y, feeds), times: [] as number[] };
  }));
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const r of shuffled(runners, round)) {
      const t0 = performance.now();
      await r.run();
      if (round >= WARMUP) r.times.push(performance.now() - t0);
    }
  }
  const measured = runners.map((r) => median(r.times));
  const bestSingle = Math.min(...runners.flatMap((r, i) => (r.p.single ? [measured[i]] : [])));
  runners.forEach((r, i) => {
    rows.push([
      w.name,
      r.p.name,
      [...r.used].map(([d, n]) => `${d}:${n}`).join(" "),
      fixed(r.ex.makespan * 1e3, 3),
      fixed(measured[i], 3),
      fixed(measured[i] / bestSingle, 2),
    ]);
  });
  const bySim = [...runners.keys()].sort((a, b) => runners[a].ex.makespan - runners[b].ex.makespan);
  const byRun = [...runners.keys()].sort((a, b) => measured[a] - measured[b]);
  rows.push([
    w.name,
    "ranking",
    `simulated: ${bySim.map((i) => runners[i].p.name).join(" < ")}`,
    "",
    `measured: ${byRun.map((i) => runners[i].p.name).join(" < ")}`,
    "",
  ]);
  for (const r of runners) await r.s.close();
}
for (const d of [...all, wasmAll, wasmOne, ref]) await d[Symbol.asyncDispose]();
console.log(
  `\n${ROUNDS} rounds after ${WARMUP} warm-up, medians; ratio = measured / best single device\n`,
);
printTable(
  ["workload", "placement", "nodes per device", "simulated ms", "measured ms", "ratio"],
  rows,
);
