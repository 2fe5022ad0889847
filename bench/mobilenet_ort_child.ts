/**
 * bench/mobilenet.ts's onnxruntime-web peer, one process per thread count (ORT's thread count is
 * fixed per process): the model Edgeflow's `toOnnx` wrote, run on ORT's WASM execution provider.
 * Each line "run" on stdin runs it once on the input and answers one JSON line
 * `{"ms": wall, "cpu": process CPU ms}`, both measured here so the parent's pipes are not timed.
 *
 *   deno run -A --lock=deno.lock bench/mobilenet_ort_child.ts <model.onnx> <input.f32> <shape> <threads>
 */
import * as ort from "npm:onnxruntime-web@1";
import process from "node:process";

const [path, inputPath, shapeArg, threadsArg] = Deno.args;
ort.env.wasm.numThreads = Number(threadsArg);
ort.env.wasm.simd = true;
ort.env.logLevel = "error";
const session = await ort.InferenceSession.create(await Deno.readFile(path));
const bytes = await Deno.readFile(inputPath);
const x = new ort.Tensor(
  "float32",
  new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
  shapeArg.split(",").map(Number),
);
const enc = new TextEncoder();
/** stdin's lines. */
async function* lines(): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
}
await Deno.stdout.write(enc.encode("ready\n"));
for await (const line of lines()) {
  if (line !== "run") break;
  const t0 = performance.now(), c0 = process.cpuUsage();
  await session.run({ [session.inputNames[0]]: x });
  const ms = performance.now() - t0, c = process.cpuUsage(c0);
  await Deno.stdout.write(
    enc.encode(JSON.stringify({ ms, cpu: (c.user + c.system) / 1000 }) + "\n"),
  );
}
await session.release();
