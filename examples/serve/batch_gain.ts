/**
 * Whether batching pays on this model and device, learnt from the runs themselves. Stacking
 * requests pays where a run has a fixed cost to share (dispatch, a GPU's launches, a small model's
 * per-node overhead); on a CPU with a large convolutional model a batch of k rows often costs k
 * times a row or more (activations that no longer fit the caches), and waiting for a batch only
 * adds latency. So: an average of ms per row for single-request runs and for batched runs; when
 * batched rows are not cheaper than single ones by `minGain`, batches shrink to one request, and
 * every `probeEvery`-th batch is let through whole to measure again (and where batching pays,
 * every `probeEvery`-th run is a single one, so that both averages stay current). The first run
 * at each row count is not counted: it pays for that shape's first allocations (measured on
 * mobilenet_v2_mid on WASM: 300 ms and more, against 60 to 100 ms later).
 */
export class BatchGain {
  private single: number | undefined;
  private batched: number | undefined;
  private decisions = 0;
  private readonly seen = new Set<number>();

  constructor(
    /** Batched rows must cost at most 1/minGain of a single run's. */
    readonly minGain = 1.1,
    readonly probeEvery = 16,
    /** Weight of the newest run in the moving averages. */
    readonly alpha = 0.3,
  ) {}

  /** Records a run of `rows` rows that took `ms`. */
  record(rows: number, ms: number): void {
    if (!(rows > 0) || !(ms >= 0)) return;
    if (!this.seen.has(rows)) return void this.seen.add(rows);
    const perRow = ms / rows;
    if (rows === 1) this.single = mix(this.single, perRow, this.alpha);
    else this.batched = mix(this.batched, perRow, this.alpha);
  }

  /** Single-run ms per row over batched-run ms per row; undefined until both were seen. */
  get gain(): number | undefined {
    return this.single === undefined || this.batched === undefined
      ? undefined
      : this.single / this.batched;
  }

  /** The most rows the next batch may take, given the configured `maxBatch`. */
  cap(maxBatch: number): number {
    const probe = ++this.decisions % this.probeEvery === 0;
    if (this.single === undefined) return 1;
    if (this.batched === undefined) return maxBatch;
    return this.gain! >= this.minGain ? (probe ? 1 : maxBatch) : (probe ? maxBatch : 1);
  }
}

function mix(old: number | undefined, value: number, alpha: number): number {
  return old === undefined ? value : old + alpha * (value - old);
}
