/**
 * A worker of the WASM device's pool: instantiates the kernel modules on the shared memory, moves
 * its stack to its own region, then loops: spin briefly on its SEQ word, sleep in Atomics.wait
 * when nothing comes, join the posted job and run its task (see control.ts). No message passes
 * per job. Started with node:worker_threads so the device can unref it (a pool left open must not
 * keep the process alive), or as a web Worker where the process lives anyway (a server).
 */
import {
  ARGS,
  ASLEEP,
  CLOSED,
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

function begin(init: WorkerInit, answer: (ready: WorkerReady) => void): void {
  let tasks: TaskFunction[];
  try {
    tasks = start(init);
  } catch (e) {
    answer({ ok: false, error: String(e) });
    return;
  }
  answer({ ok: true });
  serve(init, tasks);
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
