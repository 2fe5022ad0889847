/**
 * What the edge benches (edge.ts, edge_cold.ts, edge_parts.ts) share: their command-line flags,
 * the served model with one seeded input row, and a server process started until it listens.
 */
import { mobilenetV2Mid } from "../tests/formats/real_models.ts";
import { writeFixtureModel } from "../tests/serve/model_fixture.ts";
import { SERVE_V8_FLAGS, untilListening } from "../tests/serve/server_process.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** `--name value` from the command line, else `fallback`. */
export function flag(name: string, fallback: string): string {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < Deno.args.length ? Deno.args[i + 1] : fallback;
}

/** One request's input: float32 bytes and their shape (batch 1). */
export interface Input {
  bytes: Uint8Array<ArrayBuffer>;
  shape: number[];
}

/**
 * The served model's model.json (`--model fixture`: the serving tests' small conv net, else
 * nsfwjs@4.4.0's mobilenet_v2_mid, fetched into .cache/) and a seeded input for it.
 */
export async function benchModel(
  which: string,
): Promise<{ path: string; input: Input; name: string }> {
  if (which === "fixture") {
    const f = await writeFixtureModel();
    return { path: `${f.dir}/model.json`, input: seeded([1, 6, 6, 2]), name: "fixture conv net" };
  }
  const m = await mobilenetV2Mid();
  return { path: m.path, input: seeded(m.input.shape), name: "nsfwjs@4.4.0 mobilenet_v2_mid" };
}

function seeded(shape: number[]): Input {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    v[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
  }
  return { bytes: new Uint8Array(v.buffer), shape };
}

/** POST /predict with `input` as a binary float32 body; throws unless the answer is 200. */
export async function predict(url: string, input: Input): Promise<void> {
  const r = await fetch(`${url}/predict`, {
    method: "POST",
    body: input.bytes,
    headers: { "content-type": "application/octet-stream", "x-shape": input.shape.join(",") },
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text}`);
}

/** Spawns `deno <args>` and waits until it listens (`untilListening`). */
export async function spawnServer(
  label: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: Deno.ChildProcess; stderr: Promise<string> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, ...await untilListening(child, label) };
}

/**
 * bench/edge_tfjs_server.ts's command: the peers run under the serving command's V8 flags too, so
 * that the memory column compares the runtimes, not the young-generation settings.
 */
export function tfjsServerArgs(model: string, port: number): string[] {
  return [
    "run",
    "-A",
    `--lock=${ROOT}deno.lock`,
    SERVE_V8_FLAGS,
    `${ROOT}bench/edge_tfjs_server.ts`,
    model,
    "--port",
    String(port),
  ];
}
