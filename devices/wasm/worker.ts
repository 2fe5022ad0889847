/**
 * A worker of the WASM device's pool: instantiates the kernel modules on the shared memory, moves
 * its stack to its own region, then loops: spin briefly on its SEQ word, sleep in Atomics.wait
 * when nothing comes, join the posted job and run its task (see control.ts). No message passes
 * per job. Started with node:worker_threads so the device can unref it: a pool left open must not
 * keep the process alive.
 */
import { parentPort } from "node:worker_threads";
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

parentPort!.once("message", (init: WorkerInit) => {
  let tasks: TaskFunction[];
  try {
    tasks = start(init);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: String(e) } satisfies WorkerReady);
    return;
  }
  parentPort!.postMessage({ ok: true } satisfies WorkerReady);
  serve(init, tasks);
});
