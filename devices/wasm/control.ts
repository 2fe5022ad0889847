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
import type { NamedModule } from "./instance.ts";

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
}

/** The worker's answer once it is ready to run jobs, or why it cannot. */
export type WorkerReady = { ok: true } | { ok: false; error: string };
