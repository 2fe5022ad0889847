/**
 * An edge function serving a model: loads it once at start, then answers `POST /predict` (JSON or
 * a binary tensor in, JSON or binary out) and `GET /health`, batching requests that arrive
 * together into one run. Runs with the least permissions: read of the model and of the WASM
 * device's worker modules, net for its own address (README.md has the exact command).
 *
 *   deno run --lock=deno.lock --v8-flags=--expose-gc,--max-semi-space-size=1 \
 *     --allow-read=<model dir>,devices/wasm/worker.ts,devices/wasm/control.ts,devices/wasm/instance.ts \
 *     --allow-net=127.0.0.1:8080 examples/serve.ts <model dir> --port 8080
 *
 * Prints `listening on http://HOST:PORT/` once the model is loaded and the plan compiled.
 */
import { Batcher } from "./serve/batcher.ts";
import { parseServeArgs, type ServeConfig } from "./serve/config.ts";
import { createHandler } from "./serve/handler.ts";
import { loadServedModel } from "./serve/model.ts";
import { Timings } from "./serve/timings.ts";

export async function serve(config: ServeConfig): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const timings = new Timings(config.timings);
  timings.mark("modules");
  const model = await loadServedModel(config.model, {
    device: config.device,
    threads: config.threads,
    outputs: config.outputs,
    timings,
  });
  const batcher = new Batcher((feeds) => model.run(feeds), {
    enabled: config.batching,
    maxBatch: config.maxBatch,
    windowMs: config.windowMs,
    adaptive: config.adaptive,
  });
  const handler = createHandler({ model, batcher, maxBodyBytes: config.maxBodyBytes, timings });
  const server = Deno.serve({
    hostname: config.hostname,
    port: config.port,
    onListen: ({ hostname, port }) => {
      timings.mark("listening");
      console.log(`listening on http://${hostname}:${port}/`);
      timings.print("start-up");
    },
  }, handler);
  server.finished.then(() => model.close());
  return server;
}

if (import.meta.main) {
  let config: ServeConfig;
  try {
    config = parseServeArgs(Deno.args);
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(2);
  }
  try {
    await serve(config);
  } catch (e) {
    console.error(`serve: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
