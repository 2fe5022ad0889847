// Edgeflow's side of bench/train.ts: `deno run -A bench/train_edgeflow.ts <DEVICE> <threads>`
// trains the bench's models (bench/train_models.ts) on one device: layers from ef.layers, the
// gradients from ef.gradients, the update from the optimizer ops. Stats: the step's peak device
// memory (resetPeak before a step) beside the bytes of weights, optimizer slots, the forward
// activations (every float output of the forward pass, all live when the backward pass starts)
// and the fed batch (the input layer's activations, live until the first layer's weight
// gradient is computed from them),
// and on the TPU the simulated seconds of a step.
import * as ef from "../mod.ts";
import type { Device } from "../core/device.ts";
import { serveTrainers, type Trainer } from "./train_engine.ts";
import { runRace } from "./train_race.ts";
import { batchOf, CNN, MATMUL_1024, MLP, type ModelName, SHAPES, weights } from "./train_models.ts";
import { values } from "./wasm_workloads.ts";

const type = Deno.args[0] ?? "WASM";
const threads = Number(Deno.args[1] ?? 1);
const plugin = ef.defaultRegistry.plugin(type);
if (!plugin) throw new Error(`no ${type} device installed`);
/**
 * A device per model (and per race): a step's peak is then that model's alone, not raised by
 * another model's weights resident on a shared device (the peaks depended on which model the
 * shuffled rounds prepared first).
 */
const newDevice = async (): Promise<Device> =>
  (await plugin.create(type === "WASM" ? { threads } : undefined))!;

/** An initializer handing out the bench's fixed weights, layer by layer. */
function fixed(model: ModelName): () => ef.layers.Initializer {
  let i = 0;
  return () => {
    const at = i++;
    return (shape, _dtype, graph) =>
      ef.constant(new ef.Tensor("float32", [...shape], weights(SHAPES[model][at], at + 1)), {
        graph,
      });
  };
}

function bytesOf(shape: ef.PartialShape, batch: number): number {
  return (shape ?? []).reduce((n: number, d) => n * (d === null || d < 0 ? batch : d), 4);
}

/** The model's graph: its layers with the bench's weights, the loss and the optimizer's update. */
function build(model: ModelName) {
  const g = new ef.Graph();
  const b = batchOf(model);
  const x = ef.placeholder(g, "float32", [null, ...b.shape.slice(1)], { name: "x" });
  const y = ef.placeholder(g, "int32", [null], { name: "y" });
  const init = fixed(model);
  const L = ef.layers;
  const dense = (h: ef.Output, units: number, activation?: (x: ef.Output) => ef.Output) =>
    L.dense(h, units, { activation, kernelInitializer: init(), biasInitializer: init() });
  const firstForward = g.nodes.length;
  let logits: ef.Output;
  if (model === "mlp") {
    logits = dense(dense(x, MLP.hidden, ef.relu), MLP.classes);
  } else {
    const conv = (h: ef.Output, f: number) =>
      L.conv2d(h, f, 3, {
        padding: "SAME",
        activation: ef.relu,
        kernelInitializer: init(),
        biasInitializer: init(),
      });
    const h = L.maxPool(conv(conv(x, CNN.c1), CNN.c2), 2);
    logits = dense(dense(L.flatten(h), CNN.hidden, ef.relu), CNN.classes);
  }
  const loss = ef.mean(ef.sparseSoftmaxCrossEntropyWithLogits(logits, y)[0], [0]);
  const forward = g.nodes.slice(firstForward);
  const optimizer = model === "mlp"
    ? new ef.train.GradientDescentOptimizer(MLP.lr)
    : new ef.train.AdamOptimizer(CNN.lr);
  const train = optimizer.minimize(loss);
  return { g, b, x, y, logits, loss, forward, optimizer, train };
}

/**
 * bench/train.ts's reference rate: MatMul 1024x1024x1024 of two variables on this device, the
 * result fetched to the host (as bench/wasm_edgeflow.ts measures it).
 */
async function matMul1024(): Promise<Trainer> {
  const own = await newDevice();
  const g = new ef.Graph();
  const n = 1024;
  const v = (seed: number) =>
    new ef.Variable(new ef.Tensor("float32", [n, n], values(n * n, seed)), {
      graph: g,
      name: `v${seed}`,
    }).read();
  const y = ef.matMul(v(1), v(2));
  const s = new ef.Session(g, { devices: [own] });
  await s.run([], {}, [ef.globalVariablesInitializer(g)]);
  return { step: () => s.run(y) };
}

async function prepare(model: ModelName | typeof MATMUL_1024): Promise<Trainer> {
  if (model === MATMUL_1024) return await matMul1024();
  const { g, b, loss, forward, optimizer, train } = build(model);
  const batch = b.shape[0];
  const device = await newDevice();
  const session = new ef.Session(g, { devices: [device] });
  await session.run([], {}, [ef.globalVariablesInitializer(g)]);
  const feeds = {
    x: new ef.Tensor("float32", b.shape, b.x),
    y: new ef.Tensor("int32", [batch], b.y),
  };
  const step = () => session.run(loss, feeds, [train]);
  const varBytes = (vs: ef.Variable[]) => vs.reduce((n, v) => n + bytesOf(v.shape, batch), 0);
  return {
    step,
    async stats() {
      const tpu = device instanceof ef.TpuDevice ? device : undefined;
      const before = tpu?.clock.now ?? 0;
      // WASM and TPU can reset their peak; elsewhere the peak since the device began is shown.
      (device as { resetPeak?: () => void }).resetPeak?.();
      await step();
      const activations = forward
        .filter((n) => !["Const", "ReadVariableOp", "VarHandleOp"].includes(n.op.name))
        .flatMap((n) => n.outputs)
        .filter((o) => o.dtype === "float32")
        .reduce((s, o) => s + bytesOf(o.shape, batch), 0);
      return {
        peakBytes: device.memory().peak,
        weightsBytes: varBytes(g.getCollection<ef.Variable>(ef.TRAINABLE_VARIABLES)),
        slotsBytes: varBytes(optimizer.variables()),
        activationsBytes: activations,
        fedBytes: b.x.byteLength + b.y.byteLength,
        ...(tpu ? { simulatedStepMs: ((tpu.clock.now - before) / tpu.params.clockHz) * 1000 } : {}),
      };
    },
  };
}

/**
 * bench/train_race.ts's race: the CNN trained from a fresh graph and session, on a fresh device
 * started before the clock (as the peers' runtimes and thread pools are up before theirs).
 */
async function race() {
  const device = await newDevice();
  return await runRace(async () => {
    const { g, y, logits, loss, train } = build("cnn");
    const correct = ef.equal(ef.argMax(logits, 1, { output_type: "int32" }), y);
    const accuracy = ef.mean(ef.cast(correct, "float32"), [0]);
    const session = new ef.Session(g, { devices: [device] });
    await session.run([], {}, [ef.globalVariablesInitializer(g)]);
    const feeds = (x: Float32Array<ArrayBuffer>, labels: Int32Array<ArrayBuffer>) => ({
      x: new ef.Tensor("float32", [labels.length, CNN.side, CNN.side, 1], x),
      y: new ef.Tensor("int32", [labels.length], labels),
    });
    return {
      step: async (x, labels) => (await session.run(loss, feeds(x, labels), [train])).toNumbers(),
      accuracy: async (x, labels) => (await session.run(accuracy, feeds(x, labels))).toNumbers()[0],
      close: async () => {
        await session.close();
        await (device as Partial<AsyncDisposable>)[Symbol.asyncDispose]?.();
      },
    };
  });
}

await serveTrainers(prepare as (m: ModelName) => Promise<Trainer>, race);
