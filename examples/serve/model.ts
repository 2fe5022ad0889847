/**
 * The served model: loaded once when the server starts, from a tfjs graph model (its directory or
 * model.json), a frozen GraphDef (.pb) or an ONNX model (.onnx), with a Session on the chosen device. `run` feeds
 * tensors by signature key and returns the outputs by signature key.
 */
import * as ef from "../../mod.ts";
// Static: a dynamic import of a local module needs --allow-read of its whole module graph, which
// the least-permission command does not grant. The protobuf library comes from npm (cached once).
import { loadGraphDef, loadOnnxModel, releaseWeights } from "../../formats.ts";

export interface ModelOptions {
  /** "WASM" (default) or "WEBGPU". */
  device?: string;
  /** WASM threads (the main thread counts as one). */
  threads?: number;
  /** Output tensor names for a .pb, which has no signature (default: nodes nobody reads). */
  outputs?: string[];
  /** Marks the start-up's parts (`--timings`): device, loaded, prepared. */
  timings?: { mark(name: string): void };
}

export interface ServedModel {
  readonly source: string;
  readonly inputs: readonly ef.SignatureTensor[];
  readonly outputs: readonly ef.SignatureTensor[];
  readonly session: ef.Session;
  /** The device the model runs on, and its threads (WASM workers + main thread; 1 elsewhere). */
  readonly device: { type: string; threads: number };
  /** Runs the model: `feeds` by input key, outputs by output key. */
  run(feeds: ReadonlyMap<string, ef.Tensor>): Promise<Map<string, ef.Tensor>>;
  close(): Promise<void>;
}

/** Loads a model from a path: a directory holding model.json, a model.json, a .pb or an .onnx. */
export async function loadServedModel(
  path: string,
  options: ModelOptions = {},
): Promise<ServedModel> {
  const spec = options.device ?? "WASM";
  const type = ef.parseDeviceSpec(spec).type ?? "WASM";
  // A server lives until it is stopped: its WASM workers may keep it alive (web Workers start
  // faster and lighter than node:worker_threads').
  const deviceOptions = type === "WASM" && options.threads
    ? { threads: options.threads, keepAlive: true }
    : {};
  const starting = createDevice(type, deviceOptions);
  starting.then(() => options.timings?.mark("device"), () => {});
  // Its failure is handled where it is awaited, which may come after it settles.
  starting.catch(() => {});
  let loaded: LoadedModel;
  let device: ef.Device;
  try {
    // On WASM the weights go straight into the device's memory (the loaders' `device`): no
    // host copy stays. The loader reads and parses the files while the device compiles its
    // modules and boots its workers, and awaits it only to place the weights. Elsewhere (WebGPU
    // finds its adapter) the device starts while the model loads.
    loaded = await loadAny(path, options, type === "WASM" ? starting : undefined);
    options.timings?.mark("loaded");
    device = await starting;
  } catch (e) {
    await (await starting.catch(() => undefined))?.[Symbol.asyncDispose]();
    throw e;
  }
  const { graph, inputs, outputs } = loaded;
  // The loader's garbage is freed before the device allocates, so that the process's peak is not
  // their sum (mobilenet_v2_mid before the loader kept weights on the device: 193 → 175 MiB).
  // Where the command line passes --v8-flags=--expose-gc (README.md's does); else V8 decides.
  (globalThis as { gc?: () => void }).gc?.();
  const session = new ef.Session(graph, { device: spec, devices: [device] });
  const fetches = outputs.map((o) => o.name);
  try {
    // Compile the plan now: the first request should not pay for it.
    await session.prepare(fetches, inputs.map((i) => i.name));
    options.timings?.mark("prepared");
  } catch (e) {
    await session.close();
    loaded.dispose?.();
    await device[Symbol.asyncDispose]();
    throw e;
  }
  return {
    source: path,
    inputs,
    outputs,
    session,
    device: { type, threads: (device as ef.Device & { threads?: number }).threads ?? 1 },
    async run(feeds) {
      const list = inputs.map((i) => [i.name, feeds.get(i.key)!] as const);
      const results = await session.run(fetches, list);
      return new Map(outputs.map((o, k) => [o.key, results[k]]));
    },
    async close() {
      await session.close();
      loaded.dispose?.();
      await device[Symbol.asyncDispose]();
    },
  };
}

async function createDevice(type: ef.DeviceType, options: ef.DeviceOptions): Promise<ef.Device> {
  const plugin = ef.defaultRegistry.plugin(type);
  if (!plugin) throw new ef.EdgeflowError(`no ${type} device plugin is installed`);
  const device = await plugin.create(options);
  if (!device) throw new ef.EdgeflowError(`the ${type} device is not available on this machine`);
  return device;
}

/** A loaded model; `dispose` releases weights the loader placed on a device. */
interface LoadedModel {
  graph: ef.Graph;
  inputs: ef.SignatureTensor[];
  outputs: ef.SignatureTensor[];
  dispose?(): void;
}

async function loadAny(
  path: string,
  options: ModelOptions,
  device?: Promise<ef.Device>,
): Promise<LoadedModel> {
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) file = `${path.replace(/\/+$/, "")}/model.json`;
  } catch (e) {
    throw new ef.EdgeflowError(`model '${path}' cannot be read: ${(e as Error).message}`);
  }
  const onDevice = device ? { device } : {};
  if (file.endsWith(".json")) return await ef.loadGraphModel(file, onDevice);
  if (file.endsWith(".pb")) {
    const graph = await loadGraphDef(file, onDevice);
    return {
      graph,
      inputs: placeholders(graph),
      outputs: outputsOf(graph, options.outputs),
      dispose: () => releaseWeights(graph),
    };
  }
  if (file.endsWith(".onnx")) return await loadOnnxModel(file, onDevice);
  throw new ef.EdgeflowError(
    `model '${path}': serve loads a tfjs graph model (a directory or model.json), a frozen ` +
      `GraphDef (.pb) or an ONNX model (.onnx)`,
  );
}

function signatureOf(o: ef.Output): ef.SignatureTensor {
  return { key: o.node.name, name: `${o.node.name}:${o.index}`, dtype: o.dtype, shape: o.shape };
}

function placeholders(graph: ef.Graph): ef.SignatureTensor[] {
  return graph.nodes.filter((n) => n.op.name === "Placeholder").map((n) =>
    signatureOf(n.outputs[0])
  );
}

/** The named outputs, else every output of nodes whose outputs no node reads. */
function outputsOf(graph: ef.Graph, names: string[] | undefined): ef.SignatureTensor[] {
  if (names && names.length > 0) {
    return names.map((name) => ({ ...signatureOf(graph.tensor(name)), key: name }));
  }
  const read = new Set<ef.Node>();
  for (const n of graph.nodes) for (const i of n.inputs) read.add(i.node);
  return graph.nodes.filter((n) => n.outputs.length > 0 && !read.has(n)).map((n) =>
    signatureOf(n.outputs[0])
  );
}
