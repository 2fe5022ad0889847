/**
 * The server's request handler: `GET /health`, `POST /predict`; every other path or method is a
 * 404 or 405. Client mistakes answer 4xx with `{ "error": message }`; a failure inside a run
 * answers 400 when Edgeflow refused the client's values (an EdgeflowError), else 500. None of them
 * stops the server.
 */
import * as ef from "../../mod.ts";
import type { Batcher } from "./batcher.ts";
import { readBodyLimited } from "./body.ts";
import { errorResponse, HttpError } from "./http_error.ts";
import type { ServedModel } from "./model.ts";
import { parseBinaryBody, parseJsonBody, type PredictRequest } from "./request.ts";
import type { Timings } from "./timings.ts";

export interface HandlerOptions {
  model: ServedModel;
  batcher: Batcher;
  /** The largest request body, in bytes; larger ones get 413. */
  maxBodyBytes: number;
  /** `--timings`: the first request's parts (arrived, parsed, run, answered). */
  timings?: Timings;
}

export function createHandler(options: HandlerOptions): (request: Request) => Promise<Response> {
  return async (request) => {
    try {
      return await route(request, options);
    } catch (e) {
      if (e instanceof HttpError) return errorResponse(e.status, e.message);
      if (e instanceof ef.EdgeflowError) return errorResponse(400, e.message);
      return errorResponse(500, `internal error: ${(e as Error)?.message ?? String(e)}`);
    }
  };
}

async function route(request: Request, options: HandlerOptions): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (pathname === "/health") {
    if (request.method !== "GET") throw new HttpError(405, "use GET /health");
    return Response.json(health(options));
  }
  if (pathname !== "/predict") throw new HttpError(404, `no route ${pathname}; POST /predict`);
  if (request.method !== "POST") throw new HttpError(405, "use POST /predict");
  const first = options.timings?.firstRequest("arrived") ?? false;
  const parsed = await parse(request, options);
  if (first) options.timings!.mark("parsed");
  const outputs = await options.batcher.submit(parsed);
  if (first) options.timings!.mark("run");
  const answer = answerOf(request, outputs);
  if (first) {
    options.timings!.mark("answered");
    options.timings!.print("first request");
  }
  return answer;
}

function answerOf(request: Request, outputs: Map<string, ef.Tensor>): Response {
  if ((request.headers.get("accept") ?? "").includes("application/octet-stream")) {
    return binaryAnswer(outputs);
  }
  const body: Record<string, unknown> = {};
  for (const [key, t] of outputs) body[key] = jsonValue(t.toArray());
  return Response.json({ outputs: body });
}

async function parse(request: Request, options: HandlerOptions): Promise<PredictRequest> {
  const type = (request.headers.get("content-type") ?? "application/json").split(";")[0].trim();
  const json = type === "application/json" || type === "text/plain";
  if (!json && type !== "application/octet-stream") {
    await request.body?.cancel();
    throw new HttpError(
      415,
      `content-type ${type}: send application/json or application/octet-stream`,
    );
  }
  const bytes = await readBodyLimited(request, options.maxBodyBytes);
  return json
    ? parseJsonBody(bytes, options.model.inputs)
    : parseBinaryBody(bytes, request.headers, options.model.inputs);
}

/** The one output's raw little-endian elements, with x-dtype and x-shape headers. */
function binaryAnswer(outputs: Map<string, ef.Tensor>): Response {
  if (outputs.size !== 1) {
    throw new HttpError(406, "a binary answer carries one output; this model has several");
  }
  const [[key, t]] = [...outputs];
  if (t.dtype === "string" || t.dtype === "resource") {
    throw new HttpError(406, `output '${key}' is ${t.dtype}: ask for JSON`);
  }
  const data = t.data as ef.TypedArray;
  return new Response(new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(), {
    headers: {
      "content-type": "application/octet-stream",
      "x-output": key,
      "x-dtype": t.dtype,
      "x-shape": t.shape.join(","),
    },
  });
}

/** JSON has no bigint: int64 values go as numbers where exact, else as decimal strings. */
function jsonValue(v: ef.NestedArray): unknown {
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === "number" && !Number.isFinite(v)) return String(v); // NaN, Infinity
  return v;
}

function health({ model, batcher }: HandlerOptions) {
  const sig = (s: ef.SignatureTensor) => ({ key: s.key, dtype: s.dtype, shape: s.shape });
  return {
    status: "ok",
    model: model.source,
    device: model.device,
    inputs: model.inputs.map(sig),
    outputs: model.outputs.map(sig),
    batching: batcher.options,
    stats: batcher.stats,
  };
}
