/**
 * Dynamic batching: requests that arrive within `windowMs` of each other (and while a run is in
 * flight) are stacked along dim 0 into one run, and each caller gets its own rows back. Runs are
 * one at a time: the device runs one graph at once anyway, and a queue is where batches form.
 *
 * After a run the next batch waits the window again (unless it is full already): the requests
 * that arrived during the run are still being read.
 *
 * A batch takes requests whose inputs agree on dtype and every dim but the first, in arrival
 * order, up to `maxBatch` rows (adaptive: while batched rows measure cheaper than single ones,
 * else one request, with a whole batch now and then to measure again; batch_gain.ts). When a batched run fails, or its outputs are not rows of its
 * inputs (a model that mixes rows), each request of it runs alone, so one bad request fails only
 * itself.
 */
import * as ef from "../../mod.ts";
import { BatchGain } from "./batch_gain.ts";
import type { PredictRequest } from "./request.ts";

export type RunFn = (feeds: ReadonlyMap<string, ef.Tensor>) => Promise<Map<string, ef.Tensor>>;

export interface BatcherOptions {
  /** Stack requests into one run (false: one request per run). */
  enabled: boolean;
  /** The most rows one run takes. */
  maxBatch: number;
  /** How long the first request of a batch waits for others, in ms. */
  windowMs: number;
  /**
   * Batch only while batched rows run cheaper than single ones (batch_gain.ts); false: always
   * batch up to maxBatch.
   */
  adaptive?: boolean;
}

interface Job {
  readonly request: PredictRequest;
  /** Inputs' dtypes and dims past the first: jobs with equal keys stack. */
  readonly key: string;
  resolve(outputs: Map<string, ef.Tensor>): void;
  reject(e: unknown): void;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Counters for /health and tests: runs made and requests answered by them. */
  readonly stats = {
    runs: 0,
    requests: 0,
    largestBatch: 0,
    fallbacks: 0,
    /** Single-run ms per row over batched ms per row, as measured (adaptive batching). */
    gain: undefined as number | undefined,
  };
  private readonly gain = new BatchGain();
  /** The most rows the batch being formed may take. */
  private cap: number;

  constructor(private readonly run: RunFn, readonly options: BatcherOptions) {
    this.cap = options.maxBatch;
  }

  submit(request: PredictRequest): Promise<Map<string, ef.Tensor>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, key: stackKey(request), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const { enabled, maxBatch, windowMs, adaptive } = this.options;
    if (this.timer === undefined) this.cap = adaptive ? this.gain.cap(maxBatch) : maxBatch;
    if (!enabled || windowMs <= 0 || this.queuedRows() >= this.cap) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, windowMs);
    }
  }

  private queuedRows(): number {
    return this.queue.reduce((n, j) => n + Math.max(1, j.request.rows), 0);
  }

  /** Runs the next batch from the head of the queue, then schedules the rest. */
  private async flush(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.takeBatch();
    try {
      await this.runBatch(batch);
    } finally {
      this.running = false;
      // Requests that came during the run are still being read (a run holds the event loop, and
      // a body arrives over several turns): the window lets them join the next batch.
      this.schedule();
    }
  }

  private takeBatch(): Job[] {
    const head = this.queue.shift()!;
    if (!this.options.enabled || head.request.rows === 0) return [head];
    const batch = [head];
    let rows = head.request.rows;
    for (let i = 0; i < this.queue.length && rows < this.cap;) {
      const j = this.queue[i];
      if (j.key === head.key && rows + j.request.rows <= this.cap) {
        batch.push(j);
        rows += j.request.rows;
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private async runBatch(batch: Job[]): Promise<void> {
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    if (batch.length === 1) return await this.runAlone(batch[0]);
    const rows = batch.map((j) => j.request.rows);
    const total = rows.reduce((a, b) => a + b, 0);
    let outputs: Map<string, ef.Tensor>;
    try {
      const feeds = new Map<string, ef.Tensor>();
      for (const key of batch[0].request.feeds.keys()) {
        feeds.set(key, stackRows(batch.map((j) => j.request.feeds.get(key)!)));
      }
      this.stats.runs++;
      const start = performance.now();
      outputs = await this.run(feeds);
      this.measured(total, performance.now() - start);
    } catch {
      // Someone's values broke the run: each runs alone, and only the culprit fails.
      return await this.fallBack(batch);
    }
    if (![...outputs.values()].every((t) => t.rank > 0 && t.shape[0] === total)) {
      return await this.fallBack(batch);
    }
    let at = 0;
    for (const [k, job] of batch.entries()) {
      const mine = new Map<string, ef.Tensor>();
      for (const [name, t] of outputs) mine.set(name, sliceRows(t, at, rows[k]));
      at += rows[k];
      this.stats.requests++;
      job.resolve(mine);
    }
  }

  private async fallBack(batch: Job[]): Promise<void> {
    this.stats.fallbacks++;
    for (const job of batch) await this.runAlone(job);
  }

  private async runAlone(job: Job): Promise<void> {
    this.stats.runs++;
    this.stats.requests++;
    try {
      const start = performance.now();
      const outputs = await this.run(job.request.feeds);
      this.measured(job.request.rows, performance.now() - start);
      job.resolve(outputs);
    } catch (e) {
      job.reject(e);
    }
  }

  private measured(rows: number, ms: number): void {
    this.gain.record(rows, ms);
    this.stats.gain = this.gain.gain;
  }
}

function stackKey(request: PredictRequest): string {
  return [...request.feeds].map(([k, t]) => `${k}:${t.dtype}:${t.shape.slice(1)}`).join(";");
}

/** Concatenates tensors of one dtype and equal dims past the first along dim 0. */
export function stackRows(parts: readonly ef.Tensor[]): ef.Tensor {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  const rows = parts.reduce((n, t) => n + t.shape[0], 0);
  const out = ef.Tensor.zeros(first.dtype, [rows, ...first.shape.slice(1)]);
  const data = out.data as ef.TypedArray | string[];
  let at = 0;
  for (const t of parts) {
    if (Array.isArray(data)) data.splice(at, t.size, ...(t.data as string[]));
    else (data as Float32Array).set(t.data as Float32Array, at);
    at += t.size;
  }
  return out;
}

/** Rows [start, start + count) of `t` along dim 0 (a view, no copy). */
export function sliceRows(t: ef.Tensor, start: number, count: number): ef.Tensor {
  const per = t.shape[0] === 0 ? 0 : t.size / t.shape[0];
  const data = t.data as ef.TypedArray | string[];
  const part = Array.isArray(data)
    ? data.slice(start * per, (start + count) * per)
    : data.subarray(start * per, (start + count) * per);
  return new ef.Tensor(t.dtype, [count, ...t.shape.slice(1)], part as never);
}
