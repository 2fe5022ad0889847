/**
 * Reads a request body up to a byte limit. A declared Content-Length over the limit is refused
 * before reading anything; a body that streams past the limit is cancelled at the limit, so an
 * oversized request never costs more than `max` bytes of memory.
 */
import { HttpError } from "./http_error.ts";

export async function readBodyLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > max) {
    await request.body?.cancel();
    throw new HttpError(413, `the body has ${declared} bytes, over the ${max}-byte limit`);
  }
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      throw new HttpError(413, `the body sends over the ${max}-byte limit`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
