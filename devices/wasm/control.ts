/**
 * The control block the main thread and the workers share (a SharedArrayBuffer of Int32 words),
 * and the message that starts a worker. Each party's words sit on their own 64-byte line so a
 * spinning worker does not slow the line the main thread writes.
 *
 * Posting job j to worker w: write its TASK, ARGS, NT and POSTED (= j) words and the header's JOB,
 * open the job (clear CLOSED in STATE), then increment w's SEQ word (and notify it if ASLEEP).
 *
 * A worker joins a job by incrementing STATE, runs the task, and leaves by decrementing it. When
 * the main thread has run out of tasks it closes the job (sets CLOSED in STATE) and waits only
 * for the workers that joined before: a worker that wakes late (a busy machine takes its core
 * away) finds the job closed and skips it, so it never holds the main thread up. A worker that
 * joins checks that the job it was posted is the current one before reading its words.
 */
import type { NamedModule, TaskFunction } from "./instance.ts";

/** Words per line. */
export const LINE = 16;

// Header line.
/** Workers in the current job (low bits), and CLOSED once the main thread needs no more. */
export const STATE = 0;
export const CLOSED = 1 << 30;
/** Set to 1 to make workers leave their loop. */
export const SHUTDOWN = 1;
/** Set to 1 when a task threw in a worker (a trap: kernels validate their inputs before running). */
export const FAILED = 2;
/** The current job's number. */
export const JOB = 3;

// Per-worker line, at (1 + worker) * LINE.
/** Incremented by the main thread for every job posted to this worker. */
export const SEQ = 0;
export const TASK = 1;
export const ARGS = 2;
export const NT = 4;
/** 1 while the worker is blocked in Atomics.wait (so the main thread knows to notify). */
export const ASLEEP = 5;
/** The job this worker was last posted. */
export const POSTED = 6;

export function workerLine(worker: number): number {
  return (1 + worker) * LINE;
}

export function controlWords(workers: number): number {
  return (1 + workers) * LINE;
}

/**
 * The posting side of the protocol above: runs a task on the posting thread (thread 0) and on
 * the pool's workers that join. The main thread posts jobs in the default mode; a launcher worker
 * (queue.ts) posts them when the device runs its kernels off the JavaScript thread.
 */
export class Jobs {
  private jobs = 0;

  constructor(
    private readonly control: Int32Array,
    /** Pool workers (the posting thread not counted). */
    readonly workers: number,
    private readonly tasks: readonly TaskFunction[],
    private readonly taskNames: readonly string[],
    private readonly spin: number,
  ) {}

  /**
   * Runs task `task` on up to `nt` threads (thread 0 is this one) and returns when it is done:
   * this thread runs tasks until none is left, then waits for the workers that joined meanwhile.
   * Sleeping workers are left to sleep unless `wake`. Returns the name of the task when a worker
   * failed running it (the caller reports it: a worker imports nothing beyond this file).
   */
  run(task: number, args: number, nt: number, wake: boolean): string | undefined {
    if (nt <= 1 || this.workers === 0) return void this.tasks[task](args, 0, 1);
    const c = this.control;
    const posted: number[] = [];
    for (let w = 0; w < Math.min(nt - 1, this.workers); w++) {
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
      return this.taskNames[task];
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
}

/** What a worker receives when it starts. */
export interface WorkerInit {
  readonly modules: readonly NamedModule[];
  readonly memory: WebAssembly.Memory;
  readonly control: SharedArrayBuffer;
  readonly worker: number;
  /** The worker's stack region [stackBase, stackTop); the stack grows down from stackTop. */
  readonly stackBase: number;
  readonly stackTop: number;
  readonly taskNames: readonly string[];
  /** Iterations to spin on SEQ before sleeping. */
  readonly spin: number;
  /**
   * Present for the device's launcher (queue.ts): the command queue it serves, and how many pool
   * workers it posts jobs to. A launcher is thread 0; pool workers are threads 1 and up.
   */
  readonly launcher?: { readonly queue: SharedArrayBuffer; readonly workers: number };
}

// The command queue of a device whose kernels run off the JavaScript thread (queue.ts): a
// SharedArrayBuffer of Int32 words. The main thread writes commands into ring slots and
// publishes them by storing HEAD; the launcher runs them in order and stores TAIL after each.
/** Commands published (main thread). */
export const Q_HEAD = 0;
/** Commands done (launcher); notified when it reaches WANT. */
export const Q_TAIL = LINE;
/** 1 while the launcher sleeps in Atomics.wait on HEAD. */
export const Q_ASLEEP = 2 * LINE;
/** Set to 1 to make the launcher leave its loop. */
export const Q_SHUTDOWN = 2 * LINE + 1;
/**
 * The command count the main thread waits for (0: none): the launcher notifies TAIL when it
 * reaches it, so a waiting main thread wakes once, not at every segment's end.
 */
export const Q_WANT = 2 * LINE + 2;
/** The last failure's message: its length in UTF-16 units, then one unit per word. */
export const Q_ERROR_LENGTH = 3 * LINE;
export const Q_ERROR = 3 * LINE + 1;
export const Q_ERROR_WORDS = 255;
/** Commands the ring holds. */
export const RING = 512;
/** Words per command slot: what to run, and (in a segment's last slot) how the segment went. */
export const SLOT_WORDS = 8;
export const RING_BASE = Q_ERROR + Q_ERROR_WORDS;
export const C_TASK = 0;
export const C_ARGS = 1;
export const C_NT = 2;
export const C_WAKE = 3;
/** 1 on a segment's last command: the launcher reports the segment there. */
export const C_LAST = 4;
/** Written by the launcher in a segment's last slot: 1 when a command of the segment failed. */
export const C_FAILED = 5;
/** Float64 pairs after the ring, per slot: a segment's start and end (epoch ms, launcher). */
export const TIMES_BYTE = (RING_BASE + RING * SLOT_WORDS) * 4;

export function slotWord(index: number): number {
  return RING_BASE + (index % RING) * SLOT_WORDS;
}

export function queueBytes(): number {
  return TIMES_BYTE + RING * 16;
}

/** The worker's answer once it is ready to run jobs, or why it cannot. */
export type WorkerReady = { ok: true } | { ok: false; error: string };
