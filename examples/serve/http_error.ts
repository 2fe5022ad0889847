/**
 * An error with the HTTP status the server answers it with: the client's mistakes are 4xx with a
 * message that says what to fix; the server keeps serving after every one of them.
 */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

/** A JSON answer `{ "error": message }` with `status`. */
export function errorResponse(status: number, message: string): Response {
  return Response.json({ error: message }, { status });
}
