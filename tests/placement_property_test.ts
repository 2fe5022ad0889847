// The property of placement and partitioning: whatever the placer decides, and whatever devices a
// graph's nodes request, a run gives the all-REF result within tolerance, and every request and
// colocation holds. Random DAGs over core ops on two WASM devices, the TPU and (where the machine
// has one) WebGPU; and the same random steps as a while loop's body, so the loop's frame spans
// the devices its steps ask for.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import * as ef from "../mod.ts";
import { fcParams } from "./op_cases.ts";

const UNARY = ["neg", "relu", "tanh", "sigmoid", "abs"] as const;
const BINARY = ["add", "sub", "mul", "matMul", "maximum"] as const;

interface Step {
  op: string;
  a: number;
  b: number;
  /** Index into the device list, or -1 for no request. */
  device: number;
  /** Index of an earlier step to colocate with, or -1. */
  coloc: number;
}

const arbStep = (devices: number) =>
  fc.record({
    op: fc.constantFrom(...UNARY, ...BINARY),
    a: fc.nat(),
    b: fc.nat(),
    device: fc.integer({ min: -1, max: devices - 1 }),
    coloc: fc.integer({ min: -4, max: 8 }),
  });

function build(steps: readonly Step[], names: readonly string[]) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4, 4], { name: "x" });
  const w = ef.constant(
    ef.tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i) / 2), [4, 4]),
    { graph: g, name: "w" },
  );
  return { g, ...addSteps(g, steps, names, x, w) };
}

/**
 * The steps inside a while loop's body (h ← tanh(last step) for n iterations): the loop's frame
 * then spans the devices its steps ask for (a control loop on each, core/control_flow/).
 */
function buildLoop(steps: readonly Step[], names: readonly string[]) {
  const g = new ef.Graph();
  const x = ef.placeholder(g, "float32", [4, 4], { name: "x" });
  const n = ef.placeholder(g, "int32", [], { name: "n" });
  const w = ef.constant(
    ef.tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(i) / 2), [4, 4]),
    { graph: g, name: "w" },
  );
  const [, h] = ef.whileLoop(
    (i) => ef.less(i, n),
    (i, h) => [ef.add(i, 1), ef.tanh(addSteps(g, steps, names, h, w, "while/").fetch)],
    [g.asDefault(() => ef.constant(0, { dtype: "int32" })), x],
  );
  return { g, fetch: h };
}

function addSteps(
  g: ef.Graph,
  steps: readonly Step[],
  names: readonly string[],
  x: ef.Output,
  w: ef.Output,
  scope = "",
) {
  const outs: ef.Output[] = [x, w];
  steps.forEach((s, i) => {
    const a = outs[s.a % outs.length], b = outs[s.b % outs.length];
    const options = { name: `n${i}`, ...(s.device >= 0 ? { device: names[s.device] } : {}) };
    const make = () => {
      const ops = ef as unknown as Record<string, (...args: unknown[]) => ef.Output>;
      // Products are scaled back by tanh so long chains stay in range.
      if (s.op === "matMul") return ef.tanh(ef.matMul(a, b, options), { name: `t${i}` });
      return (UNARY as readonly string[]).includes(s.op)
        ? ops[s.op](a, options)
        : ops[s.op](a, b, options);
    };
    const target = s.coloc >= 0 && s.device < 0 && s.coloc < i
      ? g.node(`${scope}n${s.coloc}`)
      : undefined;
    outs.push(target ? g.colocateWith(target, make) : make());
  });
  return { fetch: outs[outs.length - 1], all: outs.slice(2) };
}

async function placementDevices(t: Deno.TestContext): Promise<ef.Device[]> {
  const devices: ef.Device[] = [
    (await ef.wasmPlugin.create({ index: 0, threads: 1 }))!,
    (await ef.wasmPlugin.create({ index: 1, threads: 1 }))!,
    (await ef.tpuPlugin.create({ index: 0 }))!,
  ];
  const gpu = await ef.webgpuPlugin.create({ index: 0 }).catch(() => null);
  if (gpu) devices.push(gpu);
  else {
    // CI has an adapter (lavapipe) and fails without one; elsewhere the reason is printed.
    const reason = "no WebGPU adapter here: placing over WASM:0, WASM:1 and TPU:0 only";
    if (Deno.env.get("CI")) throw new Error(`${reason} (CI requires it)`);
    console.log(`  ${t.name}: ${reason}`);
  }
  return devices;
}

/** The placed run equals the all-REF run, and every request and colocation of a step holds. */
async function checkPlaced(
  g: ef.Graph,
  steps: readonly Step[],
  names: readonly string[],
  devices: ef.Device[],
  fetches: ef.Output[],
  feed: Record<string, unknown>,
  scope: string,
  tolerance: number,
) {
  const refOnly = new ef.KernelRegistry().install(ef.refPlugin);
  // Only REF installed: requests for other devices fall back to it.
  await using ref = new ef.Session(g, { registry: refOnly, device: "REF" });
  await using placed = new ef.Session(g, { devices });
  const want = await ref.run(fetches, feed as never);
  const got = await placed.run(fetches, feed as never);
  got.forEach((t, k) => {
    const a = t.toNumbers(), b = want[k].toNumbers();
    a.forEach((v, i) =>
      assert.ok(
        Math.abs(v - b[i]) <= tolerance * (1 + Math.abs(b[i])),
        `${fetches[k].name}[${i}]: ${v} vs ${b[i]}`,
      )
    );
  });
  const ex = await placed.explainPlacement(fetches, Object.keys(feed), [], false);
  const at = new Map(ex.nodes.map((r) => [r.node, r.device]));
  steps.forEach((s, i) => {
    const here = at.get(`${scope}n${i}`);
    if (here === undefined) return; // pruned: not needed by the fetches
    if (s.device >= 0) {
      assert.equal(here, names[s.device], `n${i} requested ${names[s.device]}`);
    }
    const leader = g.node(`${scope}n${i}`).colocation[0];
    if (leader && at.has(leader)) {
      assert.equal(here, at.get(leader), `n${i} colocated with ${leader}\n${ex.text}`);
    }
  });
  assert.equal(ex.fallback.length, 0);
}

Deno.test("random graphs over random devices give the all-REF results; requests and colocation hold", async (t) => {
  const devices = await placementDevices(t);
  const names = devices.map((d) => d.name);
  const feed = { x: Array.from({ length: 4 }, (_, i) => [0.5, -1, 0.25 * i, 1]) };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbStep(devices.length), { minLength: 1, maxLength: 8 }),
        async (steps) => {
          const { g, fetch, all } = build(steps, names);
          const fetches = [fetch, ...all.filter((o) => o !== fetch).slice(0, 3)];
          // The TPU multiplies in bfloat16 (8-bit mantissa): its products carry ~1% error.
          await checkPlaced(g, steps, names, devices, fetches, feed, "", 0.03);
        },
      ),
      fcParams(40),
    );
  } finally {
    for (const d of devices) await d[Symbol.asyncDispose]();
  }
});

Deno.test("random loop bodies over random devices give the all-REF results; requests and colocation hold", async (t) => {
  const devices = await placementDevices(t);
  const names = devices.map((d) => d.name);
  const feed = { x: Array.from({ length: 4 }, (_, i) => [0.5, -1, 0.25 * i, 1]), n: 3 };
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbStep(devices.length), { minLength: 1, maxLength: 6 }),
        async (steps) => {
          const { g, fetch } = buildLoop(steps, names);
          // Three iterations compound the TPU's bfloat16 error (tanh keeps values in [-1, 1]).
          await checkPlaced(g, steps, names, devices, [fetch], feed, "while/", 0.08);
        },
      ),
      fcParams(20),
    );
  } finally {
    for (const d of devices) await d[Symbol.asyncDispose]();
  }
});
