/**
 * SummaryWriter: TensorBoard event files (TensorFlow's EventsWriter / tf.summary.create_file_writer).
 * One file per writer, `events.out.tfevents.<seconds>.<host>` in the log directory, opened for
 * appending and never rewritten: each Event is framed (tfrecord.ts) and written whole, in call
 * order, through one queue; `flush` waits for the queue and fsyncs. A crash can leave at most a
 * partial last record, which readers detect by its length and CRC and drop, as TensorBoard does.
 *
 * Calls return promises, but need not be awaited one by one: the queue keeps their order, and
 * the first failed write is thrown again by every later call, `flush` and `close`.
 */
import { isFloat, isInteger } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import type { Graph } from "../graph.ts";
import { toGraphDefBinary } from "../formats/protobuf/graphdef_binary.ts";
import { numbers, type Tensor } from "../tensor.ts";
import { fileVersionEvent, graphEvent, summaryEvent, type SummaryValue } from "./event_encode.ts";
import { DEFAULT_BUCKETS, histogramOf } from "./histogram.ts";
import { encodePng } from "./png.ts";
import { frameRecord } from "./tfrecord.ts";

export interface SummaryWriterOptions {
  /** Appended to the file name (TensorFlow's filename_suffix). */
  filenameSuffix?: string;
}

export interface ImageOptions {
  /** At most this many images of a batch are written (default 3, TensorFlow's max_outputs). */
  maxOutputs?: number;
}

export class SummaryWriter {
  private queue: Promise<void> = Promise.resolve();
  private failure?: unknown;
  private closed = false;

  private constructor(readonly path: string, private readonly file: Deno.FsFile) {}

  /** Creates the log directory if needed and a new event file in it. */
  static async create(logdir: string, options: SummaryWriterOptions = {}): Promise<SummaryWriter> {
    await Deno.mkdir(logdir, { recursive: true });
    const base = `${logdir}/events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}${
      options.filenameSuffix ?? ""
    }`;
    // Two writers in one second and directory: a numbered name instead of sharing a file.
    for (let n = 0;; n++) {
      const path = n === 0 ? base : `${base}.${n}`;
      try {
        const file = await Deno.open(path, { append: true, createNew: true });
        const writer = new SummaryWriter(path, file);
        await writer.enqueue(() => fileVersionEvent(Date.now() / 1000));
        return writer;
      } catch (e) {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      }
    }
  }

  /** A scalar (loss, accuracy) at a step. */
  scalar(tag: string, value: number, step: number): Promise<void> {
    this.checkTag(tag, step);
    if (typeof value !== "number") {
      throw new EdgeflowError(`summary '${tag}': a scalar must be a number, got ${typeof value}`);
    }
    return this.value(step, { tag, kind: "scalar", value });
  }

  /** A histogram of a tensor's values (weights, activations). */
  histogram(
    tag: string,
    values: Tensor | ArrayLike<number>,
    step: number,
    buckets = DEFAULT_BUCKETS,
  ): Promise<void> {
    this.checkTag(tag, step);
    const histogram = histogramOf(isTensor(values) ? numbers(values) : values, buckets);
    if (!histogram) {
      throw new EdgeflowError(`summary '${tag}': a histogram of values holding NaN or Inf`);
    }
    return this.value(step, { tag, kind: "histogram", histogram });
  }

  /**
   * Images from a [height, width, channels] or [batch, height, width, channels] tensor, channels
   * 1, 3 or 4: uint8 as they are, floats as [0, 1] scaled to 0..255 (clamped, rounded).
   */
  image(tag: string, images: Tensor, step: number, options: ImageOptions = {}): Promise<void> {
    this.checkTag(tag, step);
    const shape = images.shape.length === 3 ? [1, ...images.shape] : images.shape;
    const [n, h, w, c] = shape;
    if (shape.length !== 4 || (c !== 1 && c !== 3 && c !== 4)) {
      throw new EdgeflowError(
        `summary '${tag}': images must be [h, w, c] or [n, h, w, c] with c 1, 3 or 4, got [${images.shape}]`,
      );
    }
    if (images.dtype !== "uint8" && !isFloat(images.dtype) && !isInteger(images.dtype)) {
      throw new EdgeflowError(`summary '${tag}': images of dtype ${images.dtype}`);
    }
    const count = Math.min(n, options.maxOutputs ?? 3);
    const bytes = toBytes(images);
    const size = h * w * c;
    const work = Promise.all(
      Array.from(
        { length: count },
        (_, i) => encodePng(bytes.subarray(i * size, (i + 1) * size), w, h, c as 1 | 3 | 4),
      ),
    );
    // Awaited in the queue; marked handled now so an early failure is not reported unhandled.
    work.catch(() => {});
    const wallTime = Date.now() / 1000;
    return this.enqueue(async () => {
      const pngs = await work;
      const values = pngs.map((png, i): SummaryValue => ({
        tag: count === 1 ? `${tag}/image` : `${tag}/image/${i}`,
        kind: "image",
        image: { height: h, width: w, colorspace: c, png },
      }));
      return summaryEvent(wallTime, step, values);
    });
  }

  /** A text summary (TensorBoard's text plugin; Markdown there). */
  text(tag: string, text: string, step: number): Promise<void> {
    this.checkTag(tag, step);
    if (typeof text !== "string") {
      throw new EdgeflowError(`summary '${tag}': text must be a string, got ${typeof text}`);
    }
    return this.value(step, { tag, kind: "text", text, pluginName: "text" });
  }

  /** The graph, as the binary GraphDef TensorBoard's graph view reads. */
  graph(graph: Graph): Promise<void> {
    this.checkOpen();
    const def = toGraphDefBinary(graph);
    const wallTime = Date.now() / 1000;
    return this.enqueue(() => graphEvent(wallTime, def));
  }

  /** Waits for every queued write and flushes the file to the disk. */
  async flush(): Promise<void> {
    await this.queue;
    this.rethrow();
    await this.file.sync();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    // The first failure wins: a failed write, else the sync, else the close itself.
    let failure = this.failure;
    if (failure === undefined) {
      try {
        await this.file.sync();
      } catch (e) {
        failure = e;
      }
    }
    try {
      this.file.close();
    } catch (e) {
      failure ??= e;
    }
    this.failure = failure;
    this.rethrow();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private value(step: number, v: SummaryValue): Promise<void> {
    const wallTime = Date.now() / 1000;
    return this.enqueue(() => summaryEvent(wallTime, step, [v]));
  }

  /** Appends one framed Event after every earlier one. */
  private enqueue(event: () => Uint8Array | Promise<Uint8Array>): Promise<void> {
    this.checkOpen();
    const next = this.queue.then(async () => {
      if (this.failure) return;
      try {
        const record = frameRecord(await event());
        for (let at = 0; at < record.length;) at += await this.file.write(record.subarray(at));
      } catch (e) {
        this.failure = e;
      }
    });
    this.queue = next;
    const done = next.then(() => this.rethrow());
    // A caller that does not await gets the failure from its next call, flush or close: the
    // promise is marked handled so it does not also end the process as an unhandled rejection.
    done.catch(() => {});
    return done;
  }

  private rethrow(): void {
    if (this.failure === undefined) return;
    const e = this.failure;
    throw e instanceof EdgeflowError ? e : new EdgeflowError(
      `summary writer ${this.path}: ${e instanceof Error ? e.message : String(e)}`,
      {},
      { cause: e },
    );
  }

  private checkOpen(): void {
    if (this.closed) throw new EdgeflowError(`summary writer ${this.path} is closed`);
    this.rethrow();
  }

  private checkTag(tag: string, step: number): void {
    this.checkOpen();
    if (typeof tag !== "string" || tag === "") {
      throw new EdgeflowError(`a summary tag must be a non-empty string, got ${String(tag)}`);
    }
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new EdgeflowError(`summary '${tag}': step must be a non-negative integer, got ${step}`);
    }
  }
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === "object" && x !== null && "dtype" in x && "shape" in x && "data" in x;
}

/** Pixel bytes: uint8 as is, other dtypes as [0, 1] scaled to 0..255, clamped and rounded. */
function toBytes(t: Tensor): Uint8Array {
  if (t.dtype === "uint8") return t.data as Uint8Array;
  const v = numbers(t);
  const out = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    out[i] = Number.isNaN(x) ? 0 : Math.round(Math.min(1, Math.max(0, x)) * 255);
  }
  return out;
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    // Without --allow-sys the name is unknown; TensorFlow writes "localhost" likewise.
    return "localhost";
  }
}
