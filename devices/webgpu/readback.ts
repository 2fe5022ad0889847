/**
 * Readback: the only place a run waits for the GPU. Downloads requested in the same turn of the
 * event loop (a session fetching several tensors, or several sessions' runs finishing together)
 * are gathered: their copies go into one staging buffer, the open batch is submitted once, and one
 * mapAsync waits for all of them. Deno's mapAsync costs about 11 ms per wait, so one wait per run
 * is the budget.
 */
import { release, retain } from "../../core/buffer.ts";
import { EdgeflowError } from "../../core/errors.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { GpuBuffer } from "./buffer.ts";
import type { BufferPool } from "./pool.ts";
import type { Recorder } from "./recorder.ts";
import { decode } from "./storage.ts";

interface Request {
  readonly buffer: GpuBuffer;
  readonly resolve: (t: Tensor) => void;
  readonly reject: (e: unknown) => void;
}

export class Readback {
  private queue: Request[] = [];
  private scheduled = false;
  /** Waits so far (tests check a run waits once). */
  waits = 0;

  constructor(
    private readonly recorder: Recorder,
    private readonly staging: BufferPool,
    /** The device's pending error (lost, out of memory), checked before and after each wait. */
    private readonly failure: () => EdgeflowError | undefined,
  ) {}

  /** Whether reads wait to be drained (their drain submits the open batch). */
  get pending(): boolean {
    return this.queue.length > 0;
  }

  /** The buffer's value on the host, after everything recorded before it has run. */
  read(buffer: GpuBuffer): Promise<Tensor> {
    const failed = this.failure();
    if (failed) return Promise.reject(failed);
    return new Promise((resolve, reject) => {
      // Held until its copy is recorded: the caller may release it before the microtask runs.
      this.queue.push({ buffer: retain(buffer), resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.drain());
      }
    });
  }

  /** Rejects every queued read (the device was lost). */
  failAll(e: unknown): void {
    const queue = this.queue;
    this.queue = [];
    for (const r of queue) {
      release(r.buffer);
      r.reject(e);
    }
  }

  private async drain(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const offsets: number[] = [];
    let total = 0;
    for (const r of batch) {
      offsets.push(total);
      total += r.buffer.bytes;
    }
    let held = true;
    try {
      const stage = this.staging.acquire(total, true);
      batch.forEach((r, i) =>
        this.recorder.copy(r.buffer, stage.buffer, offsets[i], r.buffer.bytes)
      );
      this.recorder.submit();
      // The copies are recorded: the sources may go back to the pool (the queue orders them).
      for (const r of batch) release(r.buffer);
      held = false;
      this.waits++;
      await stage.buffer.mapAsync(GPUMapMode.READ, 0, total);
      await this.recorder.settled();
      const failed = this.failure();
      if (failed) throw failed;
      const bytes = stage.buffer.getMappedRange(0, total).slice(0);
      stage.buffer.unmap();
      this.staging.release(stage, false);
      batch.forEach((r, i) => {
        const b = r.buffer;
        r.resolve(decode(b.dtype, b.shape, bytes, offsets[i], b.type));
      });
    } catch (e) {
      if (held) { for (const r of batch) release(r.buffer); }
      await this.recorder.settled();
      const failed = this.failure() ??
        (e instanceof EdgeflowError
          ? e
          : new EdgeflowError(`reading back from the GPU failed: ${(e as Error).message}`));
      for (const r of batch) r.reject(failed);
    }
  }
}
