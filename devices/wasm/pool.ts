/**
 * The main thread's side of the worker pool. `run(task, args, nt)` posts the task to nt-1 workers
 * through the control block (control.ts), runs tasks on the main thread too, then waits for the
 * workers that joined: a short spin, then Atomics.wait. Jobs are synchronous, like TensorFlow's
 * CPU kernels: when `run` returns, the outputs are written.
 *
 * With a launcher (the device's `launch: "worker"` mode, queue.ts) one more worker starts: it
 * posts the jobs instead of the main thread, taking them from the device's command queue, and
 * the main thread runs no task.
 */
// Types only: the module is imported when a pool has workers. Loading node:worker_threads
// loads Deno's Node compatibility layer, some 10 ms of a one-thread server's cold start.
import type { Worker } from "node:worker_threads";
import { EdgeflowError } from "../../core/errors.ts";
import {
  CLOSED,
  controlWords,
  Jobs,
  Q_HEAD,
  Q_SHUTDOWN,
  SEQ,
  SHUTDOWN,
  STATE,
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
  /** Start a launcher too, on this stack region, serving this command queue (queue.ts). */
  readonly launcher?: { readonly base: number; readonly top: number; queue: SharedArrayBuffer };
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
  private readonly jobs: Jobs;
  private queue?: Int32Array;
  private closed = false;

  private constructor(
    tasks: readonly TaskFunction[],
    taskNames: readonly string[],
    spin: number,
    /** Pool workers: the threads besides the one posting jobs. */
    private readonly helpers: number,
  ) {
    this.control = new Int32Array(new SharedArrayBuffer(controlWords(helpers) * 4));
    this.control[STATE] = CLOSED; // no job open
    this.jobs = new Jobs(this.control, helpers, tasks, taskNames, spin);
  }

  /**
   * Starts one worker per stack region (and the launcher, where asked) and waits until all are
   * ready.
   */
  static async start(tasks: readonly TaskFunction[], options: PoolOptions): Promise<WorkerPool> {
    const n = options.stacks.length;
    const pool = new WorkerPool(tasks, options.init.taskNames, options.spin, n);
    const launcher = options.launcher;
    if (launcher) pool.queue = new Int32Array(launcher.queue);
    const regions = [...options.stacks, ...(launcher ? [launcher] : [])];
    if (regions.length === 0) return pool;
    const web = options.keepAlive === true;
    const NodeWorker = web ? undefined : (await import("node:worker_threads")).Worker;
    const url = workerUrl(web);
    const ready = regions.map(async ({ base, top }, worker) => {
      const init: WorkerInit = {
        ...options.init,
        control: pool.control.buffer as SharedArrayBuffer,
        worker,
        stackBase: base,
        stackTop: top,
        ...(worker === n && launcher ? { launcher: { queue: launcher.queue, workers: n } } : {}),
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

  /** Threads a job can use: the workers and the thread posting jobs (main or launcher). */
  get threads(): number {
    return this.helpers + 1;
  }

  /**
   * Runs task `task` on up to `nt` threads (thread 0 is this one) and returns when it is done.
   * Sleeping workers are left to sleep unless `wake`.
   */
  run(task: number, args: number, nt: number, wake = true): void {
    const failed = this.jobs.run(task, args, nt, wake);
    if (failed) throw new EdgeflowError(`a WASM worker failed running ${failed}`);
  }

  /** Stops the workers and waits until they have exited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const c = this.control;
    Atomics.store(c, SHUTDOWN, 1);
    for (let w = 0; w < this.helpers; w++) {
      Atomics.add(c, workerLine(w) + SEQ, 1);
      Atomics.notify(c, workerLine(w) + SEQ);
    }
    if (this.queue) {
      Atomics.store(this.queue, Q_SHUTDOWN, 1);
      Atomics.notify(this.queue, Q_HEAD);
    }
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
