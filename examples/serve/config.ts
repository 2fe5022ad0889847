/**
 * The server's command line: `serve.ts <model> [--port N] [--hostname H] [--device WASM|WEBGPU]
 * [--threads N] [--batching auto|on|off] [--max-batch N] [--window-ms N] [--max-body-bytes N]
 * [--output NAME]... [--timings]`. Arguments only (no environment), so the server needs no --allow-env.
 */
export interface ServeConfig {
  model: string;
  port: number;
  hostname: string;
  device: string;
  threads: number;
  batching: boolean;
  /** Batch only while batched rows measure cheaper than single ones (`--batching auto`). */
  adaptive: boolean;
  maxBatch: number;
  windowMs: number;
  maxBodyBytes: number;
  /** Output tensors of a .pb (it has no signature). */
  outputs: string[];
  /** Print where start-up and the first request spend their time, on stderr (`--timings`). */
  timings: boolean;
}

export const USAGE =
  "usage: serve.ts <model dir | model.json | model.pb | model.onnx> [--port 8080] " +
  "[--hostname 127.0.0.1] [--device WASM|WEBGPU] [--threads 2] [--batching auto|on|off] " +
  "[--max-batch 8] [--window-ms 2] [--max-body-bytes 16777216] [--output name:0]... [--timings]";

export function parseServeArgs(args: readonly string[]): ServeConfig {
  const config: ServeConfig = {
    model: "",
    port: 8080,
    hostname: "127.0.0.1",
    device: "WASM",
    threads: 2,
    batching: true,
    adaptive: true,
    maxBatch: 8,
    windowMs: 2,
    maxBodyBytes: 16 * 2 ** 20,
    outputs: [],
    timings: false,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n) || n < min) {
      throw new Error(`${flag} takes an integer ≥ ${min}, got ${v}\n${USAGE}`);
    }
    return n;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = args[i + 1];
    switch (a) {
      case "--port":
        config.port = int(a, v, 0), i++;
        break;
      case "--hostname":
        config.hostname = v ?? "", i++;
        break;
      case "--device":
        config.device = v ?? "", i++;
        break;
      case "--threads":
        config.threads = int(a, v, 1), i++;
        break;
      case "--batching":
        if (v !== "auto" && v !== "on" && v !== "off") {
          throw new Error(`--batching takes auto, on or off\n${USAGE}`);
        }
        config.batching = v !== "off", config.adaptive = v === "auto", i++;
        break;
      case "--max-batch":
        config.maxBatch = int(a, v, 1), i++;
        break;
      case "--window-ms":
        config.windowMs = int(a, v, 0), i++;
        break;
      case "--max-body-bytes":
        config.maxBodyBytes = int(a, v, 1), i++;
        break;
      case "--timings":
        config.timings = true;
        break;
      case "--output":
        if (v === undefined) throw new Error(`--output takes a tensor name\n${USAGE}`);
        config.outputs.push(v), i++;
        break;
      default:
        if (a.startsWith("--") || config.model !== "") {
          throw new Error(`unknown argument '${a}'\n${USAGE}`);
        }
        config.model = a;
    }
  }
  if (config.model === "") throw new Error(`no model given\n${USAGE}`);
  return config;
}
