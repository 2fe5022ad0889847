/**
 * bench/wasm.ts's handle on one engine process (bench/wasm_engine.ts's protocol): send a
 * measuring command, read its answer. Every process gets the same environment.
 */
import type { Window } from "./wasm_engine.ts";

/**
 * Every engine's process gets the same glibc malloc settings: keep freed memory instead of
 * returning it to the OS. Without them, whether a fresh 4 MiB result is page-faulted on every
 * run depended on each process's allocation history (measured: 150,000 minor faults in 160 runs
 * of AddV2 1M in one process, 3.5 ms of a 4 ms run; about 0.7 ms with reuse), which measured the
 * allocator, not the engines.
 */
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: "134217728", MALLOC_TRIM_THRESHOLD_: "268435456" };

export interface Config {
  label: string;
  /** A script in bench/, run with `threads` as its argument. */
  script: string;
  threads: number;
}

export class Engine {
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private buffered = "";
  private dead = false;

  constructor(readonly config: Config, private readonly child: Deno.ChildProcess) {
    this.writer = child.stdin.getWriter();
    this.reader = child.stdout.getReader();
  }

  static start(c: Config): Engine {
    const script = new URL(c.script, import.meta.url).pathname;
    // The repository's lockfile pins the peers; deno.json leaves it off so that the demo and a
    // URL import fetch nothing but Edgeflow.
    const lock = new URL("../deno.lock", import.meta.url).pathname;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--lock=${lock}`, script, String(c.threads)],
      env: MALLOC_ENV,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    return new Engine(c, child);
  }

  /** One window of `workload`, or undefined once the process has failed. */
  async measure(workload: string, windowMs: number): Promise<Window | undefined> {
    if (this.dead) return undefined;
    const line = JSON.stringify({ workload, windowMs }) + "\n";
    try {
      await this.writer.write(new TextEncoder().encode(line));
      for (;;) {
        const answer = await this.line();
        if (answer === undefined) break;
        if (answer.startsWith("{")) return JSON.parse(answer) as Window;
      }
    } catch (e) {
      console.error(`${this.config.label}: ${e}`);
    }
    console.error(`${this.config.label} stopped; its remaining cells are n/a`);
    this.dead = true;
    return undefined;
  }

  private async line(): Promise<string | undefined> {
    const decoder = new TextDecoder();
    for (;;) {
      const i = this.buffered.indexOf("\n");
      if (i >= 0) {
        const line = this.buffered.slice(0, i);
        this.buffered = this.buffered.slice(i + 1);
        return line;
      }
      const { value, done } = await this.reader.read();
      if (done) return undefined;
      this.buffered += decoder.decode(value);
    }
  }

  async close(): Promise<void> {
    await this.writer.close().catch(() => {});
    await this.child.status;
    this.reader.releaseLock();
  }
}
