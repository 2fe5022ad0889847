/**
 * bench/edge.ts's onnxruntime-web peer: the model exported by Edgeflow's `toOnnx` (NHWC in and
 * out, as the tfjs model; the export transposes around its convolutions) served by a tiny
 * Deno.serve on ORT's WASM execution provider with N threads, with examples/serve.ts's binary
 * protocol: `POST /predict` with a float32 body and `x-shape`, a JSON answer; one request per run.
 *
 *   deno run -A --lock=deno.lock bench/edge_ort_server.ts <model.onnx> --port N --threads T
 */
import * as ort from "npm:onnxruntime-web@1";

const [path, , portArg, , threadsArg] = Deno.args;
ort.env.wasm.numThreads = Number(threadsArg ?? 1);
ort.env.wasm.simd = true;
ort.env.logLevel = "error";
const session = await ort.InferenceSession.create(await Deno.readFile(path));
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;

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
  const out = await session.run({ [inputName]: new ort.Tensor("float32", values, shape) });
  const y = out[outputName];
  const data = Array.from(y.data as Float32Array);
  const per = data.length / Number(y.dims[0]);
  const rows = Array.from(
    { length: Number(y.dims[0]) },
    (_, r) => data.slice(r * per, (r + 1) * per),
  );
  return Response.json({ outputs: { [outputName]: rows } });
});
