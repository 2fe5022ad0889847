// Sessions' lifecycle on every device type: a closed session creates nothing (no plan, no
// device nobody would dispose), and 100 create/run/close cycles leave the process's memory and
// thread count flat. Each cycle count runs in a child process (tests/lifecycle/cycles.ts) that
// can collect garbage before it measures.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { reportMissing } from "./kernels/devices.ts";

const TYPES = ["REF", "WASM", "WEBGPU", "TPU"] as const;

/** A registry whose plugin for `type` counts the devices it creates. */
function countingRegistry(
  type: ef.DeviceType,
): { registry: ef.KernelRegistry; created: () => number } {
  const plugin = ef.defaultRegistry.plugin(type)!;
  let created = 0;
  const registry = new ef.KernelRegistry();
  if (type !== "REF") registry.install(ef.refPlugin);
  registry.install({
    ...plugin,
    create: (options) => {
      created++;
      return plugin.create(options);
    },
  });
  return { registry, created: () => created };
}

for (const type of TYPES) {
  Deno.test(`${type}: a closed session refuses prepare, device and run and creates nothing`, async () => {
    const g = new ef.Graph();
    const x = ef.placeholder(g, "float32", [2], { name: "x" });
    const y = ef.neg(x, { name: "y" });
    const { registry, created } = countingRegistry(type);
    const s = new ef.Session(g, { registry, device: type });
    await s.close();
    const closed = (e: unknown) => {
      assert.ok(e instanceof ef.EdgeflowError, String(e));
      assert.match(e.message, /the session is closed/);
      return true;
    };
    await assert.rejects(s.prepare([y], [x]), closed);
    await assert.rejects(s.device(type), closed);
    await assert.rejects(s.run(y, { x: [1, 2] }), closed);
    assert.equal(created(), 0, "no device was created");
    await s.close(); // closing twice is harmless
  });
}

const WARM = 20;
const CYCLES = 100;
/**
 * RSS growth allowed over CYCLES cycles after WARM: V8's heap and code caches still settle by a
 * few MiB (bounded: 900 cycles grow REF as much as 300). A leaked device costs far more: a WEBGPU
 * device was 6.8 MiB a cycle, a WASM device its memory and workers.
 */
const RSS_SLACK = 16 * 2 ** 20;
/** Runtime threads that may start late whatever sessions do (see the thread check below). */
const LAZY_RUNTIME_THREADS = 1;

for (const type of TYPES) {
  Deno.test(`${type}: ${CYCLES} session create/run/close cycles leave RSS and threads flat`, async (t) => {
    const script = new URL("./lifecycle/cycles.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--v8-flags=--expose-gc", script, type, String(WARM), String(CYCLES)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, `the cycles failed:\n${stderr}`);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    if (result.missing) return reportMissing(t, result.missing);
    const { before, after } = result as Record<
      "before" | "after",
      { rss: number; threads: number; names: string[] }
    >;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    // One lazily started runtime thread (named "deno", like the main thread) may appear once
    // after the warm-up: seen on REF with no session alive. A thread kept per session would grow
    // the count by CYCLES.
    assert.ok(
      after.threads <= before.threads + LAZY_RUNTIME_THREADS,
      `threads grew from ${before.threads} to ${after.threads} over ${CYCLES} cycles ` +
        `(${before.names.join(", ")} → ${after.names.join(", ")})`,
    );
    assert.ok(
      after.rss - before.rss <= RSS_SLACK,
      `RSS grew from ${mib(before.rss)} to ${mib(after.rss)} over ${CYCLES} cycles`,
    );
  });
}
