/**
 * The time-to-97% race of bench/train.ts: every runner trains the digits CNN (bench/train_models.ts's
 * "cnn", the demo's model) from the same initial weights (bench/train_models.ts's `weights`) on the
 * same seeded 80/20 split (examples/digits_data.ts, seed 0, as `deno task demo`), with the same
 * batches in the same order (epoch e shuffled by `shuffledIndices(train, e)`, as the demo), Adam
 * lr 1e-3, batch 64, and measures test accuracy on the whole test set after every epoch (22 steps),
 * stopping at the first evaluation reaching 97%. Time runs from before the model is built (graph,
 * session, variables, the peer's compilation) to that evaluation; loading the data is not timed.
 *
 * The parent writes the plan once (a JSON file, so the Python runner reads the same numbers) and
 * each runner gets its path in BENCH_RACE_FILE.
 */
import { loadDigits, shuffledIndices, splitDigits } from "../examples/digits_data.ts";
import { CNN } from "./train_models.ts";

export const RACE_TARGET = 0.97;
export const RACE_MAX_EPOCHS = 40;

export interface RacePlan {
  target: number;
  batch: number;
  /** Steps between evaluations: one epoch. */
  evalEvery: number;
  trainX: number[];
  trainY: number[];
  testX: number[];
  testY: number[];
  /** Per epoch, the training examples' order. */
  orders: number[][];
}

export interface RaceResult {
  workload: "race";
  /** Seconds from building the model to the evaluation reaching the target (or the last one). */
  seconds: number;
  steps: number;
  accuracy: number;
  reached: boolean;
}

/** A runner's CNN, built fresh with the bench's initial weights. */
export interface RaceModel {
  /** One Adam step on a batch (NHWC pixels, labels), its loss read on the host. */
  step(x: Float32Array<ArrayBuffer>, y: Int32Array<ArrayBuffer>): unknown | Promise<unknown>;
  /** Test accuracy on a set. */
  accuracy(x: Float32Array<ArrayBuffer>, y: Int32Array<ArrayBuffer>): number | Promise<number>;
  /** Frees the model, after the clock stopped. */
  close?(): unknown | Promise<unknown>;
}

export async function writeRacePlan(path: string): Promise<void> {
  const { train, test } = splitDigits(await loadDigits(), 0);
  const stepsPerEpoch = Math.floor(train.count / CNN.batch);
  const plan: RacePlan = {
    target: RACE_TARGET,
    batch: CNN.batch,
    evalEvery: stepsPerEpoch,
    trainX: [...train.pixels],
    trainY: [...train.labels],
    testX: [...test.pixels],
    testY: [...test.labels],
    orders: Array.from(
      { length: RACE_MAX_EPOCHS },
      (_, e) => [...shuffledIndices(train.count, e + 1)].slice(0, stepsPerEpoch * CNN.batch),
    ),
  };
  await Deno.writeTextFile(path, JSON.stringify(plan));
}

export function readRacePlan(): RacePlan {
  const path = Deno.env.get("BENCH_RACE_FILE");
  if (!path) throw new Error("BENCH_RACE_FILE is not set");
  return JSON.parse(Deno.readTextFileSync(path)) as RacePlan;
}

/** Runs the race with a runner's model (built inside the timed span). */
export async function runRace(build: () => RaceModel | Promise<RaceModel>): Promise<RaceResult> {
  const plan = readRacePlan();
  const trainX = new Float32Array(plan.trainX), testX = new Float32Array(plan.testX);
  const trainY = new Int32Array(plan.trainY), testY = new Int32Array(plan.testY);
  const px = trainX.length / trainY.length;
  const bx = new Float32Array(plan.batch * px), by = new Int32Array(plan.batch);
  const start = performance.now();
  const model = await build();
  let steps = 0, accuracy = 0;
  for (const order of plan.orders) {
    for (let s = 0; s + plan.batch <= order.length; s += plan.batch) {
      for (let i = 0; i < plan.batch; i++) {
        const j = order[s + i];
        bx.set(trainX.subarray(j * px, (j + 1) * px), i * px);
        by[i] = trainY[j];
      }
      await model.step(bx, by);
      steps++;
    }
    accuracy = await model.accuracy(testX, testY);
    if (accuracy >= plan.target) break;
  }
  const seconds = (performance.now() - start) / 1000;
  await model.close?.();
  return {
    workload: "race",
    seconds,
    steps,
    accuracy,
    reached: accuracy >= plan.target,
  };
}
