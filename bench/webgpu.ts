// The WebGPU device next to @tensorflow/tfjs-backend-webgpu on the same adapter in the same run.
// Each workload's inputs live on the GPU already (Edgeflow: variables; tfjs: tensors); a timed
// batch issues N iterations back to back and reads the last result back once (Edgeflow: N-1 runs
// with the output as a target, then one fetch; tfjs: N calls, then data() of the last), so the
// GPU pipeline stays full and each side pays one readback per batch. Medians over BENCH_REPS
// batches, the two sides alternating batch by batch; N is picked so a batch takes about
// BENCH_TARGET_MS. "build" is Edgeflow's session
// build (plan + pipeline compile + warm-up) on a fresh device; "first call" is tfjs's first
// execution with readback, where it compiles its shaders.
// The last row runs a real model, mobilenet_v2_mid (bench/webgpu_model.ts): there a batch is N
// runs, each fed from the host and read back once, as in serving.
//   deno task bench:webgpu                       (DENO_WEBGPU_BACKEND=vulkan or gl on Linux)
//   BENCH_ONLY=mobilenet deno task bench:webgpu  (only the rows whose name contains it)
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-webgpu@4";
import * as ef from "../mod.ts";
import { fixed, median, printTable } from "./stats.ts";
import { edgeflowModel, MODEL_NAME, tfjsModel } from "./webgpu_model.ts";

const REPS = Number(Deno.env.get("BENCH_REPS") ?? 5);
const TARGET_MS = Number(Deno.env.get("BENCH_TARGET_MS") ?? 1000);
const ONLY = Deno.env.get("BENCH_ONLY");

interface Workload {
  name: string;
  /** Builds the graph from GPU-resident inputs; returns the output to run. */
  edgeflow(input: (shape: number[]) => ef.Output): ef.Output;
  /** One iteration on tfjs from GPU-resident inputs (created through `input`). */
  tfjs(input: (shape: number[]) => tf.Tensor): () => tf.Tensor;
}

const SAME = { strides: [1, 1, 1, 1], padding: "SAME" as const };

const WORKLOADS: Workload[] = [
  ...[64, 256, 512, 1024].map((n): Workload => ({
    name: `MatMul ${n}x${n}`,
    edgeflow: (input) => ef.matMul(input([n, n]), input([n, n])),
    tfjs: (input) => {
      const [a, b] = [input([n, n]), input([n, n])];
      return () => tf.matMul(a, b);
    },
  })),
  {
    name: "Conv2D 1x56x56x64 3x3x64x64 SAME",
    edgeflow: (input) => ef.conv2d(input([1, 56, 56, 64]), input([3, 3, 64, 64]), SAME),
    tfjs: (input) => {
      const [x, f] = [input([1, 56, 56, 64]), input([3, 3, 64, 64])];
      return () => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same");
    },
  },
  {
    name: "Conv2D 1x224x224x3 3x3x3x32 s2",
    edgeflow: (input) =>
      ef.conv2d(input([1, 224, 224, 3]), input([3, 3, 3, 32]), {
        strides: [1, 2, 2, 1],
        padding: "SAME",
      }),
    tfjs: (input) => {
      const [x, f] = [input([1, 224, 224, 3]), input([3, 3, 3, 32])];
      return () => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 2, "same");
    },
  },
  {
    name: "DepthwiseConv2dNative 1x112x112x32 3x3",
    edgeflow: (input) => ef.depthwiseConv2d(input([1, 112, 112, 32]), input([3, 3, 32, 1]), SAME),
    tfjs: (input) => {
      const [x, f] = [input([1, 112, 112, 32]), input([3, 3, 32, 1])];
      return () => tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same");
    },
  },
  {
    name: "AddV2 1M",
    edgeflow: (input) => ef.add(input([1 << 20]), input([1 << 20])),
    tfjs: (input) => {
      const [a, b] = [input([1 << 20]), input([1 << 20])];
      return () => tf.add(a, b);
    },
  },
  {
    name: "Relu 1M",
    edgeflow: (input) => ef.relu(input([1 << 20])),
    tfjs: (input) => {
      const a = input([1 << 20]);
      return () => tf.relu(a);
    },
  },
  {
    name: "Softmax 1000x1000",
    edgeflow: (input) => ef.softmax(input([1000, 1000])),
    tfjs: (input) => {
      const a = input([1000, 1000]);
      return () => tf.softmax(a);
    },
  },
  {
    name: "Sum 1M",
    edgeflow: (input) => ef.sum(input([1 << 20])),
    tfjs: (input) => {
      const a = input([1 << 20]);
      return () => tf.sum(a);
    },
  },
  {
    name: "MLP 784-256-10, batch 128",
    edgeflow: (input) => {
      const h = ef.relu(ef.biasAdd(ef.matMul(input([128, 784]), input([784, 256])), input([256])));
      return ef.softmax(ef.biasAdd(ef.matMul(h, input([256, 10])), input([10])));
    },
    tfjs: (input) => {
      const [x, w1, b1, w2, b2] = [[128, 784], [784, 256], [256], [256, 10], [10]].map(input);
      return () =>
        tf.tidy(() => tf.softmax(tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2)));
    },
  },
];

function randomValues(shape: number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, () => Math.random() - 0.5);
}

/** A timed side: one batch of `n` iterations, read back once. */
type Batch = (n: number) => Promise<unknown>;

/** Iterations per batch so one batch takes about TARGET_MS, from a one-iteration estimate. */
async function iterations(batch: Batch): Promise<number> {
  const t0 = performance.now();
  await batch(1);
  const ms = performance.now() - t0;
  return Math.max(1, Math.min(50, Math.round(TARGET_MS / Math.max(ms, 0.1))));
}

/**
 * Milliseconds per iteration of each side, medians over REPS batches. The sides alternate batch
 * by batch, so load from other processes on a shared machine falls on both alike.
 */
async function interleaved(sides: Batch[]): Promise<number[]> {
  const ns: number[] = [];
  for (const side of sides) ns.push(await iterations(side));
  const times = sides.map(() => [] as number[]);
  for (let r = 0; r < REPS; r++) {
    for (let i = 0; i < sides.length; i++) {
      const t0 = performance.now();
      await sides[i](ns[i]);
      times[i].push((performance.now() - t0) / ns[i]);
    }
  }
  return times.map(median);
}

/** Edgeflow's side: a session on a fresh device, its build time, and its batch. */
async function edgeflow(w: Workload) {
  const g = new ef.Graph();
  const y = w.edgeflow((shape) =>
    new ef.Variable(ef.tensor(randomValues(shape), shape), { graph: g }).read()
  );
  // A session owns a fresh device: the build below compiles with a cold pipeline cache.
  const s = new ef.Session(g, { device: "WEBGPU" });
  await s.device("WEBGPU");
  const t0 = performance.now();
  await s.prepare([y]);
  const build = performance.now() - t0;
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  await s.run(y);
  const batch: Batch = (n) => {
    const runs: Promise<unknown>[] = [];
    for (let i = 0; i < n - 1; i++) runs.push(s.run([], {}, [y.node]));
    runs.push(s.run(y));
    return Promise.all(runs);
  };
  return { batch, build, close: () => s.close() };
}

/** tfjs's side: inputs on its device, its first call (compiling), and its batch. */
async function tfjs(w: Workload) {
  const inputs: tf.Tensor[] = [];
  const step = w.tfjs((shape) => {
    const t = tf.tensor(randomValues(shape), shape);
    inputs.push(t);
    return t;
  });
  const t0 = performance.now();
  const first = step();
  await first.data();
  first.dispose();
  const firstCall = performance.now() - t0;
  const batch: Batch = async (n) => {
    let last: tf.Tensor | undefined;
    for (let i = 0; i < n; i++) {
      last?.dispose();
      last = step();
    }
    await last!.data();
    last!.dispose();
  };
  return { batch, firstCall, close: () => inputs.forEach((t) => t.dispose()) };
}

/** A row's two sides, built on demand. */
interface Sides {
  name: string;
  edgeflow(): Promise<{ batch: Batch; build: number; close(): unknown }>;
  tfjs(): Promise<{ batch: Batch; firstCall: number; close(): unknown }>;
}

const ROWS: Sides[] = [
  ...WORKLOADS.map((w) => ({ name: w.name, edgeflow: () => edgeflow(w), tfjs: () => tfjs(w) })),
  { name: MODEL_NAME, edgeflow: edgeflowModel, tfjs: tfjsModel },
];

async function measure(w: Sides, withTfjs: boolean): Promise<string[]> {
  const e = await w.edgeflow();
  const t = withTfjs
    ? await w.tfjs().catch((err) => {
      console.log(`${w.name}: tfjs failed: ${(err as Error).message}`);
      return undefined;
    })
    : undefined;
  try {
    const [efMs, tfMs] = await interleaved(t ? [e.batch, t.batch] : [e.batch]);
    return [
      w.name,
      fixed(efMs),
      fixed(tfMs ?? NaN),
      tfMs === undefined ? "n/a" : `${fixed(tfMs / efMs)}x`,
      fixed(e.build, 0),
      fixed(t?.firstCall ?? NaN, 0),
    ];
  } finally {
    await e.close();
    t?.close();
  }
}

async function main(): Promise<void> {
  const probe = await ef.webgpuPlugin.create();
  if (!probe) {
    console.log("bench/webgpu: no WebGPU adapter on this machine; nothing to measure");
    return;
  }
  const adapter = probe.info.description || probe.info.vendor || "unknown adapter";
  await probe[Symbol.asyncDispose]();
  let tfjsReady = false;
  try {
    tfjsReady = await tf.setBackend("webgpu");
    await tf.ready();
  } catch (e) {
    console.log(`tfjs-backend-webgpu unavailable: ${(e as Error).message}`);
  }
  console.log(`adapter: ${adapter}; ${REPS} batches per median, ~${TARGET_MS} ms per batch\n`);
  const rows: string[][] = [];
  for (const w of ROWS) {
    if (ONLY && !w.name.includes(ONLY)) continue;
    try {
      const row = await measure(w, tfjsReady);
      console.log(row.join("  "));
      rows.push(row);
    } catch (e) {
      console.log(`${w.name}: Edgeflow failed: ${(e as Error).message}`);
      rows.push([w.name, "failed", "", "", "", ""]);
    }
  }
  console.log("");
  printTable(
    [
      "workload",
      "Edgeflow ms/iter",
      "tfjs-webgpu ms/iter",
      "tfjs / Edgeflow",
      "Edgeflow build ms",
      "tfjs first call ms",
    ],
    rows,
  );
}

await main();
// tfjs keeps its device (and Deno's event loop) alive.
Deno.exit(0);
