// The main example (`deno task demo`): trains a small CNN on the UCI handwritten digits with
// gradients built by ef.gradients and Adam's ResourceApplyAdam op, saves a checkpoint, restores
// it in a fresh session and checks the accuracy again, then exports the frozen inference graph.
//
//   deno task demo [--device WASM|WEBGPU|TPU] [--target 0.97] [--max-epochs 40] [--out DIR]
//                  [--threads N] [--json]
//
// The model: conv 3x3 16 SAME + ReLU, conv 3x3 32 SAME + ReLU, max pool 2, flatten, dense 64 +
// ReLU, dense 10; Adam lr 1e-3, batch 64, pixels in [0, 1], a seeded 80/20 split. Training
// stops at the end of the first epoch whose test accuracy reaches the target.
import * as ef from "../mod.ts";
import { loadDigits, shuffledIndices, splitDigits } from "./digits_data.ts";

// performance.now() counts from the process start: the 10-second budget includes loading Edgeflow.
const processStart = 0;
const args = parseArgs(Deno.args);
const BATCH = 64;

function parseArgs(argv: readonly string[]) {
  const opts = {
    device: "WASM",
    target: 0.97,
    maxEpochs: 40,
    out: "",
    threads: 0,
    json: false,
    seed: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i],
      next = () => {
        const v = argv[++i];
        if (v === undefined) throw new Error(`${a} needs a value`);
        return v;
      };
    if (a === "--device") opts.device = next().toUpperCase();
    else if (a === "--target") opts.target = Number(next());
    else if (a === "--max-epochs") opts.maxEpochs = Number(next());
    else if (a === "--out") opts.out = next();
    else if (a === "--threads") opts.threads = Number(next());
    else if (a === "--seed") opts.seed = Number(next());
    else if (a === "--json") opts.json = true;
    else throw new Error(`unknown argument ${a} (see the comment at the top of the file)`);
  }
  if (!["WASM", "WEBGPU", "TPU", "REF"].includes(opts.device)) {
    throw new Error(`--device must be WASM, WEBGPU or TPU, got ${opts.device}`);
  }
  return opts;
}

/** The CNN's logits for NHWC images x [batch, 8, 8, 1]. */
function model(x: ef.Output): ef.Output {
  const L = ef.layers;
  let h = L.conv2d(x, 16, 3, { padding: "SAME", activation: ef.relu });
  h = L.conv2d(h, 32, 3, { padding: "SAME", activation: ef.relu });
  h = L.maxPool(h, 2);
  h = L.dense(L.flatten(h), 64, { activation: ef.relu });
  return L.dense(h, 10);
}

const log = (s: string) => {
  if (!args.json) console.log(s);
};

const data = splitDigits(await loadDigits(), args.seed);
const g = new ef.Graph();
g.seed = 1;
const x = ef.placeholder(g, "float32", [null, 8, 8, 1], { name: "x" });
const y = ef.placeholder(g, "int32", [null], { name: "y" });
const logits = model(x);
const loss = ef.mean(ef.sparseSoftmaxCrossEntropyWithLogits(logits, y)[0], [0], { name: "loss" });
const predicted = ef.argMax(logits, 1, { output_type: "int32", name: "predicted" });
const accuracy = ef.mean(ef.cast(ef.equal(predicted, y), "float32"), [0], { name: "accuracy" });
const globalStep = ef.train.getOrCreateGlobalStep(g);
const train = new ef.train.AdamOptimizer(1e-3).minimize(loss, { globalStep });
const saver = new ef.train.Saver({ maxToKeep: 2 });

const sessionOptions = (): ConstructorParameters<typeof ef.Session>[1] => ({
  device: args.device,
  ...(args.threads > 0 ? { deviceOptions: { WASM: { threads: args.threads } } } : {}),
});

/** Feeds for examples `order[from..to)` of a set (copied into one batch). */
function batch(set: typeof data.train, order: Int32Array | null, from: number, to: number) {
  const n = to - from;
  const xs = new Float32Array(n * 64), ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = order ? order[from + i] : from + i;
    xs.set(set.pixels.subarray(j * 64, j * 64 + 64), i * 64);
    ys[i] = set.labels[j];
  }
  return { x: new ef.Tensor("float32", [n, 8, 8, 1], xs), y: new ef.Tensor("int32", [n], ys) };
}

async function testAccuracy(session: ef.Session): Promise<number> {
  const t = data.test;
  return (await session.run(accuracy, batch(t, null, 0, t.count))).toNumbers()[0];
}

/** One line of progress: a bar over the epoch, loss, accuracy and steps per second. */
function progress(epoch: number, done: number, total: number, l: number, a: number, sps: number) {
  if (args.json) return;
  const width = 24, filled = Math.round((done / total) * width);
  const bar = "█".repeat(filled) + "░".repeat(width - filled);
  const line = `epoch ${String(epoch).padStart(2)} ${bar} ${done}/${total}  loss ${l.toFixed(4)}` +
    `  acc ${(a * 100).toFixed(1)}%  ${sps.toFixed(0)} steps/s`;
  if (Deno.stdout.isTerminal()) {
    Deno.stdout.writeSync(new TextEncoder().encode(`\r${line}`));
  } else if (done === total) console.log(line);
}

const stepsPerEpoch = Math.floor(data.train.count / BATCH);
const result: Record<string, unknown> = { device: args.device, target: args.target };
const dir = args.out || await Deno.makeTempDir({ prefix: "edgeflow_digits_" });
{
  await using session = new ef.Session(g, sessionOptions());
  await session.run([], {}, [ef.globalVariablesInitializer(g)]);
  log(
    `digits: ${data.train.count} train, ${data.test.count} test; ${args.device}; ` +
      `Adam lr 1e-3, batch ${BATCH}`,
  );
  const trainStart = performance.now();
  let steps = 0, acc = 0, epoch = 0;
  for (epoch = 1; epoch <= args.maxEpochs; epoch++) {
    const order = shuffledIndices(data.train.count, args.seed * 1000 + epoch);
    const epochStart = performance.now();
    for (let s = 0; s < stepsPerEpoch; s++) {
      const feeds = batch(data.train, order, s * BATCH, (s + 1) * BATCH);
      const [l, a] = await session.run([loss, accuracy], feeds, [train]);
      steps++;
      const sps = (s + 1) / ((performance.now() - epochStart) / 1000);
      progress(epoch, s + 1, stepsPerEpoch, l.toNumbers()[0], a.toNumbers()[0], sps);
    }
    acc = await testAccuracy(session);
    if (Deno.stdout.isTerminal() && !args.json) console.log();
    log(
      `  test accuracy ${(acc * 100).toFixed(2)}% after ${steps} steps, ` +
        `${((performance.now() - processStart) / 1000).toFixed(2)} s since start`,
    );
    if (acc >= args.target) break;
  }
  const reachedAt = (performance.now() - processStart) / 1000;
  const trainSeconds = (performance.now() - trainStart) / 1000;
  Object.assign(result, {
    steps,
    epochs: Math.min(epoch, args.maxEpochs),
    testAccuracy: acc,
    reached: acc >= args.target,
    secondsSinceStart: reachedAt,
    trainSeconds,
    stepsPerSecond: steps / trainSeconds,
  });
  log(
    acc >= args.target
      ? `reached ${(acc * 100).toFixed(2)}% test accuracy in ${reachedAt.toFixed(2)} s since ` +
        `process start (${steps} steps, ${(steps / trainSeconds).toFixed(0)} steps/s)`
      : `stopped at ${(acc * 100).toFixed(2)}% after ${args.maxEpochs} epochs`,
  );
  const step = Number((await session.run(globalStep.read())).toNumbers()[0]);
  const saved = await saver.save(session, dir, { step });
  log(`saved checkpoint ${saved}`);
  result.checkpoint = saved;
}
{
  // A fresh session: the variables exist only in the checkpoint.
  await using session = new ef.Session(g, sessionOptions());
  await saver.restore(session, dir);
  const restored = await testAccuracy(session);
  result.restoredAccuracy = restored;
  log(`restored in a fresh session: test accuracy ${(restored * 100).toFixed(2)}%`);
  if (restored !== result.testAccuracy) {
    throw new Error(
      `restored accuracy ${restored} differs from the trained ${result.testAccuracy}`,
    );
  }
  const frozen = await ef.train.freezeGraph(session, [logits, predicted]);
  const path = `${dir}/digits_inference.graphdef.json`;
  const json = JSON.stringify(ef.toGraphDef(frozen.graph));
  await Deno.writeTextFile(`${path}.tmp`, json);
  await Deno.rename(`${path}.tmp`, path);
  result.inferenceGraph = path;
  log(
    `exported the inference graph (${frozen.graph.nodes.length} nodes, variables frozen) to ${path}`,
  );
}
if (args.json) console.log(JSON.stringify(result));
