/**
 * A worker of the WASM device's pool: instantiates the kernel modules on the shared memory, moves
 * its stack to its own region, then loops: spin briefly on its SEQ word, sleep in Atomics.wait
 * when nothing comes, join the posted job and run its task (see control.ts). No message passes
 * per job. Started with node:worker_threads so the device can unref it (a pool left open must not
 * keep the process alive), or as a web Worker where the process lives anyway (a server).
 *
 * The launcher (a device in `launch: "worker"` mode) loops on the device's command queue instead:
 * it runs each command as thread 0 of a job, posting it to the pool workers as the main thread
 * does in the default mode, and reports each segment's end (see control.ts, queue.ts).
 */
import {
  ARGS,
  ASLEEP,
  C_ARGS,
  C_FAILED,
  C_LAST,
  C_NT,
  C_TASK,
  C_WAKE,
  CLOSED,
  FAILED,
  JOB,
  Jobs,
  NT,
  POSTED,
  Q_ASLEEP,
  Q_ERROR,
  Q_ERROR_LENGTH,
  Q_ERROR_WORDS,
  Q_HEAD,
  Q_SHUTDOWN,
  Q_TAIL,
  Q_WANT,
  RING,
  SEQ,
  SHUTDOWN,
  slotWord,
  STATE,
  TASK,
  TIMES_BYTE,
  type WorkerInit,
  workerLine,
  type WorkerReady,
} from "./control.ts";
import {
  instantiateAll,
  type RuntimeExports,
  type TaskFunction,
  taskFunctions,
} from "./instance.ts";

function start(init: WorkerInit): TaskFunction[] {
  const exports = instantiateAll(init.modules, init.memory);
  const runtime = exports as unknown as RuntimeExports;
  // Every instance starts with the linker's stack pointer, the main thread's stack: move off it.
  // _initialize is not called: data and constructors were set up once, by the main thread.
  runtime.stackRestore(init.stackTop);
  runtime.emscripten_stack_set_limits(init.stackTop, init.stackBase);
  return taskFunctions(exports, init.taskNames);
}

function serve(init: WorkerInit, tasks: TaskFunction[]): void {
  const c = new Int32Array(init.control);
  const line = workerLine(init.worker);
  const tid = init.worker + 1; // the main thread is thread 0
  let seen = 0;
  for (;;) {
    let seq = Atomics.load(c, line + SEQ);
    for (let i = 0; seq === seen && i < init.spin; i++) seq = Atomics.load(c, line + SEQ);
    if (seq === seen) {
      Atomics.store(c, line + ASLEEP, 1);
      // Wait only on the value just loaded: a job posted since makes this return at once.
      Atomics.wait(c, line + SEQ, seen);
      Atomics.store(c, line + ASLEEP, 0);
      continue;
    }
    seen = seq;
    if (Atomics.load(c, SHUTDOWN)) return;
    // Join the job unless the main thread closed it, or it is not the one this worker was posted.
    const joined = (Atomics.add(c, STATE, 1) & CLOSED) === 0 &&
      Atomics.load(c, line + POSTED) === Atomics.load(c, JOB);
    if (joined) {
      try {
        tasks[c[line + TASK]](c[line + ARGS], tid, c[line + NT]);
      } catch {
        Atomics.store(c, FAILED, 1);
      }
    }
    if (Atomics.sub(c, STATE, 1) - 1 === CLOSED) Atomics.notify(c, STATE);
  }
}

/** Milliseconds since the epoch, comparable across threads (each has its own timeOrigin). */
function now(): number {
  return performance.timeOrigin + performance.now();
}

/** The launcher's loop: run the published commands in order until the queue shuts down. */
function launch(init: WorkerInit, tasks: TaskFunction[]): void {
  const { queue, workers } = init.launcher!;
  const q = new Int32Array(queue);
  const times = new Float64Array(queue, TIMES_BYTE, 2 * RING);
  const jobs = new Jobs(new Int32Array(init.control), workers, tasks, init.taskNames, init.spin);
  let done = 0, failed = 0, began = -1;
  for (;;) {
    if (Atomics.load(q, Q_SHUTDOWN)) return;
    let head = Atomics.load(q, Q_HEAD);
    for (let i = 0; head === done && i < init.spin; i++) head = Atomics.load(q, Q_HEAD);
    if (head === done) {
      Atomics.store(q, Q_ASLEEP, 1);
      // Wait only on the value just loaded: a command published since makes this return at once.
      Atomics.wait(q, Q_HEAD, done);
      Atomics.store(q, Q_ASLEEP, 0);
      continue;
    }
    for (; done < head; done++) {
      const s = slotWord(done);
      if (began < 0) began = now();
      // After a failure the segment's other commands are skipped: they read what it wrote.
      if (!failed) {
        let why: string | undefined;
        try {
          const worker = jobs.run(q[s + C_TASK], q[s + C_ARGS], q[s + C_NT], q[s + C_WAKE] === 1);
          if (worker) why = `a WASM worker failed running ${worker}`;
        } catch (e) {
          why = `${init.taskNames[q[s + C_TASK]]}: ${e}`;
        }
        if (why !== undefined) {
          failed = 1;
          const n = Math.min(why.length, Q_ERROR_WORDS);
          for (let i = 0; i < n; i++) q[Q_ERROR + i] = why.charCodeAt(i);
          q[Q_ERROR_LENGTH] = n;
        }
      }
      const last = q[s + C_LAST] === 1;
      if (last) {
        const t = 2 * (done % RING);
        times[t] = began;
        times[t + 1] = now();
        q[s + C_FAILED] = failed;
        failed = 0;
        began = -1;
      }
      Atomics.store(q, Q_TAIL, done + 1);
      // Wake the main thread only when it waits for this far (a futex call, and a task for it).
      const want = Atomics.load(q, Q_WANT);
      if (want > 0 && done + 1 >= want) {
        // Served: no more notifies until a waiter asks again (unless one just asked for more).
        Atomics.compareExchange(q, Q_WANT, want, 0);
        Atomics.notify(q, Q_TAIL);
      }
    }
  }
}

function begin(init: WorkerInit, answer: (ready: WorkerReady) => void): void {
  let tasks: TaskFunction[];
  try {
    tasks = start(init);
  } catch (e) {
    answer({ ok: false, error: String(e) });
    return;
  }
  answer({ ok: true });
  if (init.launcher) launch(init, tasks);
  else serve(init, tasks);
}

// `?web`: a web Worker (the pool's `keepAlive`), which starts without Deno's Node layer; its init
// comes as its first message, listened for before anything else so none is missed. Otherwise a
// node:worker_threads worker, whose init is its workerData (there from the start: this module's
// import of node:worker_threads comes after the parent posted).
if (new URL(import.meta.url).search === "?web") {
  const scope = self as unknown as {
    onmessage: ((e: MessageEvent<WorkerInit>) => void) | null;
    postMessage(m: WorkerReady): void;
  };
  scope.onmessage = (e) => {
    scope.onmessage = null;
    begin(e.data, (r) => scope.postMessage(r));
  };
} else {
  const { parentPort, workerData } = await import("node:worker_threads");
  begin(workerData as WorkerInit, (r) => parentPort!.postMessage(r));
}
