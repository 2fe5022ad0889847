// Starts examples/serve.ts as a subprocess on a free loopback port with the least permissions
// (README.md's command): read of the model's directory and of the WASM worker's three modules,
// net for its own address. Resolves once the server prints its "listening on" line.
const ROOT = new URL("../../", import.meta.url).pathname;

/** The modules a WASM worker loads: node:worker_threads needs read access to each. */
export const WORKER_MODULES = ["worker.ts", "control.ts", "instance.ts"].map((f) =>
  `${ROOT}devices/wasm/${f}`
);

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  /** Milliseconds from spawn to the "listening" line. */
  readonly readyMs: number;
  readonly process: Deno.ChildProcess;
  /** Kills the server and returns what it wrote to stderr. */
  stop(): Promise<string>;
}

/** A port nothing listens on now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The `deno run` arguments serving `model` (a directory or file) on 127.0.0.1:`port`. */
/**
 * V8 flags of the serving command (README.md's): `--expose-gc` lets the server free the loader's
 * garbage before the device allocates; a 1 MiB young-generation semi-space makes V8 scavenge each
 * request's garbage (its 0.6 MB body, the feed, the answer) after a few requests instead of
 * some tens: mobilenet_v2_mid served on WASM, 48 requests at concurrency 4, peak RSS 145 → 115 MiB.
 */
export const SERVE_V8_FLAGS = "--v8-flags=--expose-gc,--max-semi-space-size=1";

/** examples/serve.ts, and the same edge function bundled into one file (`deno task build:serve`). */
export const SERVE_ENTRY = `${ROOT}examples/serve.ts`;
export const SERVE_BUNDLE = `${ROOT}dist/serve.js`;

export function serveArgs(
  model: string,
  port: number,
  extra: readonly string[] = [],
  entry: string = SERVE_ENTRY,
): string[] {
  const dir = /\.(pb|json|onnx)$/.test(model) ? model.slice(0, model.lastIndexOf("/")) : model;
  return [
    "run",
    "--lock=" + ROOT + "deno.lock",
    SERVE_V8_FLAGS,
    `--allow-read=${[dir, ...WORKER_MODULES].join(",")}`,
    `--allow-net=127.0.0.1:${port}`,
    entry,
    model,
    "--port",
    String(port),
    ...extra,
  ];
}

/**
 * Waits until `child` (spawned with piped stdout and stderr) prints "listening on", then keeps
 * draining its stdout so that it never blocks on a full pipe. `stderr` is its whole stderr once it
 * exits; exiting before listening throws with it, `label` naming the process.
 */
export async function untilListening(
  child: Deno.ChildProcess,
  label: string,
): Promise<{ stderr: Promise<string> }> {
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("listening on")) {
    const { done, value } = await reader.read();
    if (done) {
      const status = await child.status;
      throw new Error(`${label} exited (${status.code}) before listening:\n${await stderr}`);
    }
    seen += value;
  }
  (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return { stderr };
}

export async function startServer(
  model: string,
  extra: readonly string[] = [],
  env: Record<string, string> = {},
  entry: string = SERVE_ENTRY,
): Promise<ServerProcess> {
  const port = freePort();
  const t0 = performance.now();
  const process = new Deno.Command(Deno.execPath(), {
    args: serveArgs(model, port, extra, entry),
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { stderr: stderrText } = await untilListening(process, "the server");
  const readyMs = performance.now() - t0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    readyMs,
    process,
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch { /* already gone */ }
      await process.status;
      return await stderrText;
    },
  };
}
