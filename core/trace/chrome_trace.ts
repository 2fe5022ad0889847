/**
 * A StepTrace as Chrome's trace event format (the JSON that Perfetto and chrome://tracing open):
 * one process per device with a "kernels" thread and a "transfers" thread (copies in, and the
 * _Send/_Recv nodes of partitions: a _Recv spans its wait, which is no kernel's work), the TPU's simulated
 * clock as a process of its own ("<device> (simulated)"), and flows from each copied value's
 * producer to its copy and from each Send to the Recv that shares its tensor_name.
 * Times are microseconds; wall-clock tracks start at the run's start, simulated ones at cycle 0.
 */
import { RENDEZVOUS_OPS, type StepStats } from "./observer.ts";
import type { StepTrace } from "./step_recorder.ts";

/** One event of Chrome's trace format (the fields Edgeflow writes). */
export interface TraceEvent {
  name: string;
  ph: "X" | "M" | "s" | "f";
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  id?: number;
  bp?: "e";
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: "ms";
  /**
   * Edgeflow's own fields (viewers ignore them): when the run began (ms since the epoch) and, where
   * given, why each node is on its device (the board shows it on hover).
   */
  otherData: { startedAt: number; placement?: Record<string, string> };
}

export interface ChromeTraceOptions {
  /** Per node name, the placement's explanation of its device (session.explainPlacement). */
  placement?: Readonly<Record<string, string>> | ReadonlyMap<string, string>;
}

const KERNELS = 0;
const TRANSFERS = 1;
/** The thread of a step's slice: Send and Recv nodes move values, they compute nothing. */
const threadOf = (s: StepStats) => (RENDEZVOUS_OPS.test(s.op) ? TRANSFERS : KERNELS);
const US = 1000;

export function toChromeTrace(trace: StepTrace, options: ChromeTraceOptions = {}): ChromeTrace {
  const events: TraceEvent[] = [];
  const pids = new Map<string, number>();
  const pidOf = (device: string) => {
    let pid = pids.get(device);
    if (pid === undefined) {
      pids.set(device, pid = pids.size + 1);
      events.push({ name: "process_name", ph: "M", pid, tid: 0, args: { name: device } });
      events.push({ name: "process_sort_index", ph: "M", pid, tid: 0, args: { sort_index: pid } });
      events.push({ name: "thread_name", ph: "M", pid, tid: KERNELS, args: { name: "kernels" } });
      events.push({
        name: "thread_name",
        ph: "M",
        pid,
        tid: TRANSFERS,
        args: { name: "transfers" },
      });
    }
    return pid;
  };
  const byNode = new Map<string, StepStats>();
  for (const s of trace.steps) {
    byNode.set(s.node, s);
    events.push({
      name: s.node,
      cat: s.op,
      ph: "X",
      pid: pidOf(s.device),
      tid: threadOf(s),
      ts: s.start * US,
      dur: Math.max(0, s.end - s.start) * US,
      args: {
        op: s.op,
        outputBytes: s.outputBytes,
        inputWaitMs: s.ready === undefined ? undefined : s.start - s.ready,
        ...s.deviceStats,
      },
    });
    const sim = simulatedSpan(s);
    if (sim) {
      events.push({
        name: s.node,
        cat: s.op,
        ph: "X",
        pid: pidOf(`${s.device} (simulated)`),
        tid: KERNELS,
        ts: sim.start * 1e6,
        dur: (sim.end - sim.start) * 1e6,
        args: { op: s.op, ...s.deviceStats },
      });
    }
  }
  let flow = 0;
  const join = (from: StepStats, pid: number, ts: number, tid: number) => {
    const id = ++flow;
    // A flow binds to the slice enclosing its timestamp on its thread: the producer's last
    // instant, and (bp "e") the slice the arrow enters.
    const fromTs = Math.max(from.start * US, from.end * US - 0.001);
    events.push({
      name: "transfer",
      cat: "transfer",
      ph: "s",
      id,
      pid: pidOf(from.device),
      tid: threadOf(from),
      ts: fromTs,
    });
    events.push({ name: "transfer", cat: "transfer", ph: "f", bp: "e", id, pid, tid, ts });
  };
  for (const t of trace.transfers) {
    const pid = pidOf(t.to);
    const end = Math.max(t.end, t.start);
    events.push({
      name: t.tensor,
      cat: "copy",
      ph: "X",
      pid,
      tid: TRANSFERS,
      ts: t.start * US,
      dur: (end - t.start) * US,
      args: { from: t.from, to: t.to, bytes: t.bytes },
    });
    const producer = byNode.get(t.producer);
    if (producer) join(producer, pid, t.start * US, TRANSFERS);
  }
  const sends = new Map<string, StepStats>();
  for (const s of trace.steps) if (s.rendezvous && /Send$/.test(s.op)) sends.set(s.rendezvous, s);
  for (const r of trace.steps) {
    if (!r.rendezvous || !/Recv$/.test(r.op)) continue;
    const send = sends.get(r.rendezvous);
    if (send) join(send, pidOf(r.device), r.start * US, threadOf(r));
  }
  const otherData: ChromeTrace["otherData"] = { startedAt: trace.startedAt };
  const { placement } = options;
  if (placement) {
    otherData.placement = Object.fromEntries(
      placement instanceof Map ? placement : Object.entries(placement),
    );
  }
  return { traceEvents: events, displayTimeUnit: "ms", otherData };
}

/** The kernel's span on the device's simulated clock, in seconds, where the device keeps one. */
function simulatedSpan(s: StepStats): { start: number; end: number } | undefined {
  const d = s.deviceStats;
  if (!d || d.startCycle === undefined || d.endCycle === undefined || !d.clockHz) return undefined;
  return { start: d.startCycle / d.clockHz, end: d.endCycle / d.clockHz };
}

/** Writes the trace as JSON under a temporary name, then renames it into place. */
export async function saveChromeTrace(
  path: string,
  trace: StepTrace,
  options: ChromeTraceOptions = {},
): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, JSON.stringify(toChromeTrace(trace, options)));
  await Deno.rename(tmp, path);
}
