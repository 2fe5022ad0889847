/**
 * The main thread's side of the worker pool. `run(task, args, nt)` posts the task to nt-1 workers
 * through the control block (control.ts), runs tasks on the main thread too, then waits for the
 * workers that joined: a short spin, then Atomics.wait. Jobs are synchronous, like TensorFlow's
 * CPU kernels: when `run` returns, the outputs are written.
 */
// Types only: the module is imported when a pool has workers. Loading node:worker_threads
// loads Deno's Node compatibility layer, some 10 ms of a one-thread server's cold start.
import type { Worker } from "node:worker_threads";
import { EdgeflowError } from "../../core/errors.ts";
import {
  ARGS,
  ASLEEP,
  CLOSED,
  controlWords,
  FAILED,
  JOB,
  NT,
  POSTED,
  SEQ,
  SHUTDOWN,
  STATE,
  TASK,
  type WorkerInit,
  workerLine,
  type WorkerReady,
} from "./control.ts";
import type { TaskFunction } from "./instance.ts";

export interface PoolOptions {
  /** Stack regions per worker, allocated by the device: [base, top). */
  readonly stacks: readonly { base: number; top: number }[];
  readonly init: Omit<WorkerInit, "control" | "worker" | "stackBase" | "stackTop">;
  /** Iterations the main thread spins on PENDING before sleeping. */
  readonly spin: number;
  /**
   * Web Workers instead of node:worker_threads: they start faster and hold less memory (no Node
   * layer: mobilenet_v2_mid served with 2 threads, see ARCHITECTURE.md), but keep the process
   * alive until the pool is closed, so only for processes that live on anyway (a server).
   */
  readonly keepAlive?: boolean;
}

/** A started worker, either kind: all the pool does with it after start is terminate it. */
interface PoolWorker {
  terminate(): unknown;
}

/**
 * The worker's module. node:worker_threads starts only file: and data: URLs; when Edgeflow is
 * imported by URL (https:), a data: module imports the worker from there.
 */
function workerUrl(web: boolean): URL {
  const url = new URL("./worker.ts", import.meta.url);
  // A web Worker starts any module URL the process may import; worker.ts reads `?web`.
  if (web) url.search = "web";
  if (url.protocol === "file:" || web) return url;
  return new URL(
    `data:text/javascript,${encodeURIComponent(`import ${JSON.stringify(url.href)};`)}`,
  );
}

export class WorkerPool {
  private readonly control: Int32Array;
  private readonly workers: PoolWorker[] = [];
  private closed = false;
  private jobs = 0;

  private constructor(
    private readonly tasks: readonly TaskFunction[],
    private readonly taskNames: readonly string[],
    private readonly spin: number,
    workers: number,
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(controlWords(workers) * 4));
    this.control[STATE] = CLOSED; // no job open
  }

  /** Starts one worker per stack region and waits until all are ready. */
  static async start(tasks: readonly TaskFunction[], options: PoolOptions): Promise<WorkerPool> {
    const n = options.stacks.length;
    const pool = new WorkerPool(tasks, options.init.taskNames, options.spin, n);
    if (n === 0) return pool;
    const web = options.keepAlive === true;
    const NodeWorker = web ? undefined : (await import("node:worker_threads")).Worker;
    const url = workerUrl(web);
    const ready = options.stacks.map(async ({ base, top }, worker) => {
      const init: WorkerInit = {
        ...options.init,
        control: pool.control.buffer as SharedArrayBuffer,
        worker,
        stackBase: base,
        stackTop: top,
      };
      let answer: Promise<WorkerReady>;
      let unref = () => {};
      if (NodeWorker) {
        // The init is the worker's workerData: there before its module runs.
        const w: Worker = new NodeWorker(url, { workerData: init });
        pool.workers.push(w);
        answer = new Promise<WorkerReady>((resolve, reject) => {
          w.once("message", resolve);
          w.once("error", reject);
        });
        // A pool nobody closed must not keep the process alive (tests share one device).
        unref = () => w.unref();
      } else {
        const w = new globalThis.Worker(url, { type: "module" });
        pool.workers.push(w);
        answer = new Promise<WorkerReady>((resolve, reject) => {
          w.onmessage = (e: MessageEvent<WorkerReady>) => resolve(e.data);
          w.onerror = (e) => {
            e.preventDefault();
            reject(new Error(e.message));
          };
        });
        w.postMessage(init);
      }
      const r = await answer;
      if (!r.ok) throw new EdgeflowError(`WASM worker ${worker} failed to start: ${r.error}`);
      unref();
    });
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /** Threads a job can use: the workers and the main thread. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Runs task `task` on up to `nt` threads (thread 0 is this one) and returns when it is done:
   * this thread runs tasks until none is left, then waits for the workers that joined meanwhile.
   * Sleeping workers are left to sleep unless `wake`.
   */
  run(task: number, args: number, nt: number, wake = true): void {
    if (nt <= 1 || this.workers.length === 0) return this.tasks[task](args, 0, 1);
    const c = this.control;
    const posted: number[] = [];
    for (let w = 0; w < Math.min(nt, this.threads) - 1; w++) {
      if (wake || !Atomics.load(c, workerLine(w) + ASLEEP)) posted.push(w);
    }
    const helpers = posted.length;
    if (helpers > 0) {
      const job = ++this.jobs;
      // Everything a joining worker reads is written before the job opens.
      for (const w of posted) {
        const line = workerLine(w);
        c[line + TASK] = task;
        c[line + ARGS] = args;
        c[line + NT] = helpers + 1;
        Atomics.store(c, line + POSTED, job);
      }
      Atomics.store(c, JOB, job);
      // Reopen by clearing CLOSED only: a late worker of an earlier job may be counted in STATE
      // for a moment (it joined, saw CLOSED, and is about to leave); storing 0 would lose it.
      Atomics.sub(c, STATE, CLOSED);
      for (const w of posted) {
        const line = workerLine(w);
        Atomics.add(c, line + SEQ, 1);
        // Skip the notify (a futex call) while the worker is still spinning.
        if (Atomics.load(c, line + ASLEEP)) Atomics.notify(c, line + SEQ, 1);
      }
    }
    try {
      this.tasks[task](args, 0, helpers + 1);
    } finally {
      if (helpers > 0) this.closeJob();
    }
    if (c[FAILED]) {
      c[FAILED] = 0;
      throw new EdgeflowError(`a WASM worker failed running ${this.taskNames[task]}`);
    }
  }

  /** Closes the current job and waits for the workers in it to leave. */
  private closeJob(): void {
    const c = this.control;
    let state = Atomics.or(c, STATE, CLOSED) | CLOSED;
    for (let i = 0; state !== CLOSED && i < this.spin; i++) state = Atomics.load(c, STATE);
    while (state !== CLOSED) {
      Atomics.wait(c, STATE, state);
      state = Atomics.load(c, STATE);
    }
  }

  /** Stops the workers and waits until they have exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.control;
    Atomics.store(c, SHUTDOWN, 1);
    for (let w = 0; w < this.workers.length; w++) {
      Atomics.add(c, workerLine(w) + SEQ, 1);
      Atomics.notify(c, workerLine(w) + SEQ);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
