/**
 * A worker of the limit probes (bench/wasm_limits.ts): instantiates the probe module on the
 * process's shared memory, then runs one export per message and answers when it is done.
 */
import { parentPort } from "node:worker_threads";

export interface WorkerInit {
  bytes: Uint8Array<ArrayBuffer>;
  memory: WebAssembly.Memory;
}

export interface Call {
  fn: "fma" | "copy" | "stream";
  args: number[];
}

parentPort!.once("message", (init: WorkerInit) => {
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(init.bytes), {
    env: { memory: init.memory },
  });
  const fns = exports as Record<Call["fn"], (...args: number[]) => unknown>;
  parentPort!.on("message", (call: Call) => {
    fns[call.fn](...call.args);
    parentPort!.postMessage("done");
  });
  parentPort!.postMessage("ready");
});
