/**
 * EdgeflowError: the one error type users see for bad input. It names the node and op where one is
 * known, so a message reads "node 'dense/MatMul' (MatMul): ...".
 */

/** Where an error happened. */
export interface ErrorContext {
  /** The node's name, e.g. "dense/MatMul". */
  node?: string;
  /** The node's op, e.g. "MatMul". */
  op?: string;
}

export class EdgeflowError extends Error {
  /** The bare reason, without the node prefix. */
  readonly reason: string;
  node?: string;
  op?: string;

  constructor(reason: string, context: ErrorContext = {}, options?: ErrorOptions) {
    super(reason, options);
    this.name = "EdgeflowError";
    this.reason = reason;
    this.node = context.node;
    this.op = context.op;
    this.message = formatMessage(this);
  }

  /** Fills in the node and op when the thrower did not know them. */
  at(context: ErrorContext): this {
    this.node ??= context.node;
    this.op ??= context.op;
    this.message = formatMessage(this);
    return this;
  }
}

function formatMessage(e: EdgeflowError): string {
  if (e.node === undefined && e.op === undefined) return e.reason;
  const where = e.node !== undefined
    ? `node '${e.node}'${e.op !== undefined ? ` (${e.op})` : ""}`
    : `op ${e.op}`;
  return `${where}: ${e.reason}`;
}

/**
 * Runs `fn`, attaching `context` to any EdgeflowError it throws and wrapping anything else (a
 * RangeError from a typed array, say) so no raw crash escapes without the node's name.
 */
export function withContext<T>(context: ErrorContext, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw asEdgeflowError(e, context);
  }
}

export function asEdgeflowError(e: unknown, context: ErrorContext): EdgeflowError {
  if (e instanceof EdgeflowError) return e.at(context);
  const reason = e instanceof Error ? e.message : String(e);
  return new EdgeflowError(reason, context, { cause: e });
}
