/**
 * bench/edge.ts's peer: the same model served by a tiny Deno.serve on
 * @tensorflow/tfjs-backend-wasm (tfjs runs it single-threaded under Deno), with the same protocol
 * as examples/serve.ts's binary form: `POST /predict` with a float32 body and `x-shape`, a JSON
 * answer; one request per run, as tfjs-converter's GraphModel has no batching of its own.
 *
 *   deno run -A --lock=deno.lock bench/edge_tfjs_server.ts <model.json> --port N
 */
import * as tf from "npm:@tensorflow/tfjs-core@4";
import "npm:@tensorflow/tfjs-backend-wasm@4";
import { loadTfjsGraphModel } from "./tfjs_graph_model.ts";

const [path, , portArg] = Deno.args;
if (!(await tf.setBackend("wasm"))) throw new Error("tfjs-backend-wasm did not initialise");
await tf.ready();

const model = await loadTfjsGraphModel(path);
const inputName = model.inputs[0].name;

Deno.serve({
  hostname: "127.0.0.1",
  port: Number(portArg),
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`),
}, async (request) => {
  const { pathname } = new URL(request.url);
  if (pathname === "/health") return Response.json({ status: "ok" });
  if (pathname !== "/predict" || request.method !== "POST") {
    return Response.json({ error: "POST /predict" }, { status: 404 });
  }
  const shape = (request.headers.get("x-shape") ?? "").split(",").map(Number);
  const bytes = new Uint8Array(await request.arrayBuffer());
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const x = tf.tensor(values, shape, "float32");
  const y = model.execute({ [inputName]: x }) as tf.Tensor;
  const out = await y.array();
  tf.dispose([x, y]);
  return Response.json({ outputs: { [model.outputs[0].name]: out } });
});
