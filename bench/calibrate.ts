// Measures the device speeds the placer's cost model uses and writes them as a cost profile
// (core/placement/profile.ts): per device type its launch cost, arithmetic throughput, memory
// bandwidth and host transfer bandwidth, and per pair of devices a transfer's latency and
// bandwidth. The TPU answers from its cycle model (its figures are the emulated chip's, not the
// host's). `deno task calibrate [out.json]`; the placement bench calls `calibrate()` itself.
import * as ef from "../mod.ts";
import type { CostProfile, PairCost } from "../core/placement/profile.ts";
import { transfer } from "../core/transfer.ts";
import { release } from "../core/buffer.ts";
import { median } from "./stats.ts";

const REPS = Number(Deno.env.get("CALIBRATE_REPS") ?? 7);

async function timed(fn: () => Promise<unknown>, reps = REPS): Promise<number> {
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    ts.push((performance.now() - t0) / 1e3);
  }
  return median(ts);
}

/** Seconds per run of `y` (a scalar) on a one-device session of `device`. */
async function runSeconds(device: ef.Device, build: (g: ef.Graph) => ef.Output): Promise<number> {
  const g = new ef.Graph();
  const y = build(g);
  await using s = new ef.Session(g, { devices: [device], passes: { constantFolding: false } });
  return await timed(() => s.run(y));
}

function filled(g: ef.Graph, shape: number[], name: string): ef.Output {
  const n = shape.reduce((a, b) => a * b, 1);
  return ef.constant(
    ef.tensor(Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 1000), shape),
    { graph: g, name },
  );
}

/** FLOP/s of MatMul and Conv2D on a device, each from a chain of four (launch cost removed). */
export async function measureOps(
  device: ef.Device,
  launch: number,
): Promise<Record<string, number>> {
  const N = device.type === "REF" ? 128 : 256;
  const mm = await runSeconds(device, (g) => {
    let h = filled(g, [N, N], "a");
    const w = filled(g, [N, N], "w");
    for (let i = 0; i < 4; i++) h = ef.matMul(h, w);
    return ef.sum(h, [0, 1]);
  });
  const base = await runSeconds(device, (g) => ef.sum(filled(g, [N, N], "a"), [0, 1]));
  const B = device.type === "REF" ? 2 : 8, C = 16;
  const conv = await runSeconds(device, (g) => {
    let h = filled(g, [B, 32, 32, C], "x");
    const f = filled(g, [3, 3, C, C], "f");
    for (let i = 0; i < 4; i++) h = ef.conv2d(h, f, { strides: [1, 1, 1, 1], padding: "SAME" });
    return ef.sum(h, [0, 1, 2, 3]);
  });
  const convBase = await runSeconds(
    device,
    (g) => ef.sum(filled(g, [B, 32, 32, C], "x"), [0, 1, 2, 3]),
  );
  const net = (t: number, b: number) => Math.max(t - b - 4 * launch, 1e-6);
  return {
    MatMul: (4 * 2 * N ** 3) / net(mm, base),
    Conv2D: (4 * 2 * B * 32 * 32 * C * 9 * C) / net(conv, convBase),
  };
}

/** Launch, flops, bandwidth and transfer of one device, measured through sessions. */
export async function measureDevice(device: ef.Device): Promise<ef.DevicePerformance> {
  const CHAIN = 64;
  const chain = (n: number) => (g: ef.Graph) => {
    let y = ef.constant(1, { graph: g, name: "one" });
    for (let i = 0; i < n; i++) y = ef.neg(y);
    return y;
  };
  const short = await runSeconds(device, chain(1));
  const long = await runSeconds(device, chain(CHAIN + 1));
  const launch = Math.max((long - short) / CHAIN, 1e-7);
  const N = 256;
  const mm = await runSeconds(device, (g) => {
    const a = filled(g, [N, N], "a");
    return ef.sum(ef.matMul(ef.matMul(a, a), a), [0, 1]);
  });
  const flops = (2 * 2 * N ** 3) / Math.max(mm - short - 2 * launch, 1e-6);
  const E = 1 << 20;
  const add = await runSeconds(device, (g) => {
    const a = filled(g, [E], "a");
    return ef.sum(ef.add(ef.add(a, a), a), [0]);
  });
  // Two adds read 8 bytes and write 4 per element; the sum reads 4.
  const bandwidth = (2 * 12 * E + 4 * E) / Math.max(add - short - 2 * launch, 1e-6);
  const bytes = 4 << 20;
  const t = ef.Tensor.zeros("float32", [bytes / 4]);
  const move = await timed(async () => {
    const b = await device.upload(t);
    b.refs = 1;
    device.flush?.();
    await device.download(b);
    release(b);
  });
  return { launch, flops, bandwidth, transfer: (2 * bytes) / move };
}

/**
 * Latency and bandwidth of moving a float32 value from one device to another. The latency is
 * what a step pays per crossing: a chain of tiny ops alternating between the devices against the
 * same chain on `from` alone, so it counts waiting for the producing kernel where a device
 * reports its kernels' ends asynchronously (a GPU's readback, a WASM device launching from a
 * worker), not only the copy. The bandwidth is a direct copy's.
 */
export async function measurePair(from: ef.Device, to: ef.Device): Promise<PairCost> {
  const once = async (elements: number) => {
    const src = await from.upload(ef.Tensor.zeros("float32", [elements]));
    src.refs = 1;
    const s = await timed(async () => {
      const b = await transfer(src, to);
      to.flush?.();
      if (to.type !== "WASM" && to.type !== "REF") await to.download(b);
      release(b);
    });
    release(src);
    return s;
  };
  const small = await once(16), big = await once(1 << 20);
  const CROSSINGS = 16;
  const chain = (alternate: boolean) => async () => {
    const g = new ef.Graph();
    let y = filled(g, [16], "a");
    for (let i = 0; i <= CROSSINGS; i++) {
      const on = alternate && i % 2 === 1 ? to : from;
      y = g.withDevice(on.name, () => ef.neg(y));
    }
    await using s = new ef.Session(g, {
      devices: [from, to],
      passes: { constantFolding: false },
      allowSoftPlacement: false,
    });
    return await timed(() => s.run(y));
  };
  const crossing = (await chain(true)() - await chain(false)()) / CROSSINGS;
  return {
    latency: Math.max(crossing, small, 0),
    bandwidth: (4 << 20) / Math.max(big - small, 1e-6),
  };
}

/**
 * What tells devices of one type apart for speed: WASM devices of other thread counts or launch
 * modes (a launch from a worker costs a round trip) are measured each, under its full name.
 */
function configOf(d: ef.Device): string {
  const w = d as Partial<{ threads: number; launchMode: string }>;
  return `${d.type}/${w.threads ?? ""}/${w.launchMode ?? ""}`;
}

/**
 * Measures every device given (the TPU from its cycle model) and the pairs between types. Per
 * type the first device's figures; a device configured otherwise than the first of its type
 * (configOf) gets its own entry under its full name, which the cost model prefers.
 */
export async function calibrate(devices: readonly ef.Device[]): Promise<CostProfile> {
  const perf: Record<string, Partial<ef.DevicePerformance>> = {};
  const ops: Record<string, Record<string, number>> = {};
  const byType = new Map<string, ef.Device>();
  for (const d of devices) if (!byType.has(d.type)) byType.set(d.type, d);
  for (const [type, d] of byType) {
    // The emulated TPU's step time on this host is the emulator's, not the chip's: the placer
    // takes the chip's figures from the cycle model (TpuDevice.performance).
    perf[type] = type === "TPU" ? { ...d.performance } : await measureDevice(d);
    if (type !== "TPU") ops[type] = await measureOps(d, perf[type].launch!);
  }
  const measured = new Map<string, [ef.DevicePerformance, Record<string, number>]>();
  for (const d of devices) {
    const first = byType.get(d.type)!;
    if (d.type === "TPU" || configOf(d) === configOf(first)) continue;
    let m = measured.get(configOf(d));
    if (!m) {
      const p = await measureDevice(d);
      measured.set(configOf(d), m = [p, await measureOps(d, p.launch)]);
    }
    [perf[d.name], ops[d.name]] = m;
  }
  const pairs: Record<string, PairCost> = {};
  for (const a of devices) {
    for (const b of devices) {
      const key = `${a.type}->${b.type}`;
      if (a === b || pairs[key] || a.type === "TPU" || b.type === "TPU") continue;
      pairs[key] = await measurePair(a, b);
    }
  }
  return {
    version: 1,
    measured: `${
      new Date().toISOString()
    } on ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`,
    devices: perf,
    pairs,
    ops,
  };
}

if (import.meta.main) {
  const out = Deno.args[0] ?? "cost_profile.json";
  // Two WASM devices as `deviceCount: { WASM: 2 }` makes them (each launching from a worker
  // with half the cores): the profile serves placement across devices.
  const devices: ef.Device[] = [
    (await ef.wasmPlugin.create({ index: 0, count: 2 }))!,
    (await ef.wasmPlugin.create({ index: 1, count: 2 }))!,
    (await ef.refPlugin.create({ index: 0 }))!,
    (await ef.tpuPlugin.create({ index: 0 }))!,
  ];
  const gpu = await ef.webgpuPlugin.create({ index: 0 }).catch(() => null);
  if (gpu) devices.push(gpu);
  else console.log("calibrate: no WebGPU adapter here; the profile has no WEBGPU entry");
  const profile = await calibrate(devices);
  for (const d of devices) await d[Symbol.asyncDispose]();
  const tmp = `${out}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(profile, null, 2) + "\n");
  await Deno.rename(tmp, out);
  console.log(JSON.stringify(profile, null, 2));
  console.log(`wrote ${out}`);
}
