// Training fed by a queue pipeline (section 4.6 of the 2015 paper): a producer (a QueueRunner's
// loop of session.run calls) enqueues batches of the UCI digits into a seeded RandomShuffleQueue
// while the training loop's runs, on the same session and concurrently, dequeue batches and take
// Adam steps. When the producer has enqueued its epochs the runner closes the queue; training
// drains it and stops at the OutOfRange its last short dequeue gets.
//
//   deno run -A examples/train_queue.ts [--epochs 3] [--device WASM]
import * as ef from "../mod.ts";
import { type Digits, loadDigits, shuffledIndices, splitDigits } from "./digits_data.ts";

export interface QueueTrainingResult {
  /** Training steps taken (each a dequeue of one batch). */
  steps: number;
  /** Examples the producer enqueued. */
  enqueued: number;
  firstLoss: number;
  lastLoss: number;
  testAccuracy: number;
}

export interface QueueTrainingOptions {
  epochs?: number;
  device?: string;
  /** Examples per producer run (enqueue_many) and per training step (dequeue_many). */
  produceBatch?: number;
  trainBatch?: number;
}

function rows(set: Digits, order: ArrayLike<number>, from: number, to: number) {
  const n = to - from;
  const xs = new Float32Array(n * 64), ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = order[from + i];
    xs.set(set.pixels.subarray(j * 64, j * 64 + 64), i * 64);
    ys[i] = set.labels[j];
  }
  return { x: new ef.Tensor("float32", [n, 64], xs), y: new ef.Tensor("int32", [n], ys) };
}

export async function trainFromQueue(
  options: QueueTrainingOptions = {},
): Promise<QueueTrainingResult> {
  const { epochs = 3, device = "WASM", produceBatch = 50, trainBatch = 32 } = options;
  const data = splitDigits(await loadDigits(), 0);
  const g = new ef.Graph();
  g.seed = 1;
  // The pipeline: fed batches → a shuffling queue of single examples → batches for training.
  const queue = new ef.RandomShuffleQueue({
    graph: g,
    dtypes: ["float32", "int32"],
    shapes: [[64], []],
    capacity: 4 * produceBatch,
    minAfterDequeue: produceBatch,
    seed: 7,
    name: "examples",
  });
  const px = ef.placeholder(g, "float32", [null, 64], { name: "produce_x" });
  const py = ef.placeholder(g, "int32", [null], { name: "produce_y" });
  const enqueue = queue.enqueueMany([px, py], { name: "enqueue" });
  // The batch size is a tensor (fed or default), so the batch's leading dim stays open and the
  // evaluation can feed the whole test set in place of the dequeued batch.
  const n = ef.placeholderWithDefault(ef.tensor(trainBatch, [], "int32"), [], {
    name: "n",
    graph: g,
  });
  const [x, y] = queue.dequeueMany(n, { name: "batch" });
  const h = ef.layers.dense(x, 64, { activation: ef.relu });
  const logits = ef.layers.dense(h, 10);
  const loss = ef.mean(ef.sparseSoftmaxCrossEntropyWithLogits(logits, y)[0], [0], { name: "loss" });
  const predicted = ef.argMax(logits, 1, { output_type: "int32" });
  const accuracy = ef.mean(ef.cast(ef.equal(predicted, y), "float32"), [0]);
  const train = new ef.train.AdamOptimizer(1e-2).minimize(loss);

  // The producer: each run enqueues produceBatch examples of a freshly shuffled epoch.
  const perEpoch = Math.ceil(data.train.count / produceBatch);
  const runner = new ef.train.QueueRunner({
    queue,
    enqueueOps: [enqueue],
    feed: (step) => {
      if (step >= epochs * perEpoch) return null;
      const epoch = Math.floor(step / perEpoch), k = step % perEpoch;
      const order = shuffledIndices(data.train.count, 1000 + epoch);
      const b = rows(
        data.train,
        order,
        k * produceBatch,
        Math.min((k + 1) * produceBatch, data.train.count),
      );
      return [[px, b.x], [py, b.y]];
    },
  });

  await using session = new ef.Session(g, { device });
  await session.run([], [], [ef.globalVariablesInitializer(g)]);
  const coord = new ef.train.Coordinator();
  const loops = runner.start(session, coord);
  let steps = 0, firstLoss = NaN, lastLoss = NaN;
  try {
    while (!coord.shouldStop()) {
      const l = (await session.run(loss, [], [train])).toNumbers()[0];
      if (steps === 0) firstLoss = l;
      lastLoss = l;
      steps++;
    }
  } catch (e) {
    // The producer closed the queue and fewer than a batch remain: the pipeline is drained.
    if (!(e instanceof ef.QueueOutOfRangeError)) {
      coord.requestStop(e);
    }
  } finally {
    coord.requestStop();
  }
  await coord.join(loops);
  const all = Array.from({ length: data.test.count }, (_, i) => i);
  const t = rows(data.test, all, 0, data.test.count);
  const testAccuracy = (await session.run(accuracy, [[x, t.x], [y, t.y]])).toNumbers()[0];
  return { steps, enqueued: epochs * data.train.count, firstLoss, lastLoss, testAccuracy };
}

if (import.meta.main) {
  const args = Deno.args;
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const started = performance.now();
  const r = await trainFromQueue({
    epochs: Number(value("--epochs") ?? 3),
    device: (value("--device") ?? "WASM").toUpperCase(),
  });
  console.log(
    `${r.steps} steps from the queue (${r.enqueued} examples enqueued), loss ${
      r.firstLoss.toFixed(3)
    } → ${r.lastLoss.toFixed(3)}, test accuracy ${(r.testAccuracy * 100).toFixed(1)}%, ${
      ((performance.now() - started) / 1000).toFixed(2)
    } s`,
  );
}
