// The main example (`deno task demo`): trains a small CNN on the UCI handwritten digits with
// gradients built by ef.gradients and Adam's ResourceApplyAdam op, saves a checkpoint, restores
// it in a fresh session and checks the accuracy again, then exports the frozen inference graph.
//
//   deno task demo [--device WASM|WEBGPU|TPU] [--target 0.97] [--max-epochs 40] [--out DIR]
//                  [--threads N] [--json] [--logdir DIR]
//
// The model (examples/digits_model.ts): conv 3x3 16 SAME + ReLU, conv 3x3 32 SAME + ReLU, max
// pool 2, flatten, dense 64 + ReLU, dense 10; Adam lr 1e-3, batch 64, pixels in [0, 1], a seeded
// 80/20 split. Training stops at the end of the first epoch whose test accuracy reaches the target.
//
// --logdir DIR writes TensorBoard summaries there (loss and accuracy per step, test accuracy and
// weight histograms per epoch, a few input images, the run's settings as text, the graph) and
// DIR/step.trace.json, a Chrome trace of the second training step with the placement's
// explanations; `deno task board DIR` shows them. Without --logdir nothing of it is loaded:
// summary.ts (npm:@bufbuild/protobuf) is imported only then, so the plain demo fetches nothing
// (tests/fetch_nothing_test.ts).
import * as ef from "../mod.ts";
import { loadDigits, shuffledIndices, splitDigits } from "./digits_data.ts";
import { buildDigitsModel } from "./digits_model.ts";

// performance.now() counts from the process start: the 10-second budget includes loading Edgeflow.
const processStart = 0;
const args = parseArgs(Deno.args);
const BATCH = 64;
const SUMMARY_MODULE = new URL("../summary.ts", import.meta.url).href;

function parseArgs(argv: readonly string[]) {
  const opts = {
    device: "WASM",
    target: 0.97,
    maxEpochs: 40,
    out: "",
    threads: 0,
    json: false,
    seed: 0,
    logdir: "",
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
    else if (a === "--logdir") opts.logdir = next();
    else if (a === "--json") opts.json = true;
    else throw new Error(`unknown argument ${a} (see the comment at the top of the file)`);
  }
  if (!["WASM", "WEBGPU", "TPU", "REF"].includes(opts.device)) {
    throw new Error(`--device must be WASM, WEBGPU or TPU, got ${opts.device}`);
  }
  return opts;
}

const log = (s: string) => {
  if (!args.json) console.log(s);
};

const data = splitDigits(await loadDigits(), args.seed);
const { graph: g, x, y, logits, loss, predicted, accuracy, globalStep, train } = buildDigitsModel();
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

/**
 * One training step run with a trace, saved as `logdir`/step.trace.json for the board (or
 * Perfetto) with the placement's reason for each node's device.
 */
async function tracedStep(session: ef.Session, feeds: Record<string, ef.Tensor>, logdir: string) {
  const metadata = { steps: [] } as ef.RunMetadata;
  const fetched = await session.run([loss, accuracy], feeds, [train], { trace: true, metadata });
  const explained = await session.explainPlacement([loss, accuracy], [x, y], [train], false);
  const placement = Object.fromEntries(explained.nodes.map((n) => [n.node, n.why]));
  await ef.saveChromeTrace(`${logdir}/step.trace.json`, metadata.trace!, { placement });
  return fetched;
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
  // Loaded only with --logdir: summary.ts brings npm:@bufbuild/protobuf. The specifier is a
  // variable because Deno fetches a literal dynamic import's module graph before the run starts.
  const summary = args.logdir
    ? await import(SUMMARY_MODULE) as typeof import("../summary.ts")
    : undefined;
  const writer = summary && await summary.SummaryWriter.create(args.logdir);
  if (writer) {
    writer.graph(g);
    writer.image("inputs", batch(data.train, null, 0, 4).x, 0);
    writer.text(
      "run",
      `digits CNN on ${args.device}, Adam lr 1e-3, batch ${BATCH}, seed ${args.seed}`,
      0,
    );
  }
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
      // With --logdir the second step is traced (the first one builds plans and kernels).
      const [l, a] = writer && steps === 1
        ? await tracedStep(session, feeds, args.logdir)
        : await session.run([loss, accuracy], feeds, [train]);
      steps++;
      const sps = (s + 1) / ((performance.now() - epochStart) / 1000);
      progress(epoch, s + 1, stepsPerEpoch, l.toNumbers()[0], a.toNumbers()[0], sps);
      writer?.scalar("loss", l.toNumbers()[0], steps);
      writer?.scalar("accuracy", a.toNumbers()[0], steps);
    }
    acc = await testAccuracy(session);
    if (writer) {
      writer.scalar("test_accuracy", acc, steps);
      const weights = g.getCollection<ef.Variable>(ef.TRAINABLE_VARIABLES);
      await summary!.writeVariableHistograms(writer, session, weights, steps);
    }
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
  if (writer) {
    await writer.close();
    log(`wrote summaries and ${args.logdir}/step.trace.json (deno task board ${args.logdir})`);
  }
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
