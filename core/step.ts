/**
 * A step: the partitions of one run executed concurrently, one executor each, meeting in one
 * rendezvous. The first error in any partition aborts the rendezvous, so every peer waiting on a
 * Recv fails at once with that error and every value in flight is released; the step reports that
 * first error, and releases whatever the partitions that did finish fetched.
 */
import { release } from "./buffer.ts";
import type { DeviceBuffer } from "./device.ts";
import type { EdgeflowError } from "./errors.ts";
import { execute } from "./executor.ts";
import type { ExecutionObserver } from "./trace/observer.ts";
import type { SessionState } from "./kernel_context.ts";
import type { Plan } from "./plan.ts";
import { LocalRendezvous, type Rendezvous } from "./rendezvous.ts";
import { StackTable } from "./control_flow/stacks.ts";
import { TensorArrayTable } from "./tensor_array/table.ts";

export interface StepPartition {
  readonly plan: Plan;
  /** The session's feed index of each of the plan's feeds. */
  readonly feedIndex: readonly number[];
  /** The session's fetch index of each of the plan's fetches. */
  readonly fetchIndex: readonly number[];
}

/** Runs every partition; returns the fetched buffers in the session's fetch order. */
export async function runStep(
  parts: readonly StepPartition[],
  feeds: readonly DeviceBuffer[],
  fetchCount: number,
  state: SessionState,
  observer?: ExecutionObserver,
  rendezvous: Rendezvous = new LocalRendezvous(),
): Promise<DeviceBuffer[]> {
  // The step's cancellation: its first error aborts the signal, so kernels that wait (a queue's
  // dequeue) stop waiting; the session's own signal (close) aborts it too.
  const cancel = new AbortController();
  const outer = state.closing;
  const onOuter = () => cancel.abort(outer!.reason);
  if (outer?.aborted) cancel.abort(outer.reason);
  else outer?.addEventListener("abort", onOuter, { once: true });
  // Step resources, shared by its partitions (TensorFlow's step container): TensorArrays, and the
  // stacks of a while loop's gradient (what is left on them ends with the step).
  const stacks = new StackTable();
  const stepState: SessionState = {
    ...state,
    signal: cancel.signal,
    tensorArrays: new TensorArrayTable(),
    stacks,
  };
  try {
    return await runParts(parts, feeds, fetchCount, stepState, cancel, observer, rendezvous);
  } finally {
    outer?.removeEventListener("abort", onOuter);
    stacks.releaseAll();
  }
}

async function runParts(
  parts: readonly StepPartition[],
  feeds: readonly DeviceBuffer[],
  fetchCount: number,
  state: SessionState,
  cancel: AbortController,
  observer: ExecutionObserver | undefined,
  rendezvous: Rendezvous,
): Promise<DeviceBuffer[]> {
  if (parts.length === 1 && parts[0].plan.recvCount === 0) {
    // One device: nothing crosses, no rendezvous to consult; a failure only cancels the step.
    const [p] = parts;
    const solo = {
      rendezvous,
      aborted: cancel.signal,
      fail: (e: EdgeflowError) => cancel.abort(e),
    };
    const out = await execute(p.plan, p.feedIndex.map((i) => feeds[i]), state, observer, solo);
    return reorder([{ part: p, out }], fetchCount);
  }
  let first: EdgeflowError | undefined;
  const link = {
    rendezvous,
    aborted: cancel.signal,
    fail: (e: EdgeflowError) => {
      first ??= e;
      rendezvous.abort(e);
      cancel.abort(e);
    },
  };
  const settled = await Promise.allSettled(
    parts.map((p) => execute(p.plan, p.feedIndex.map((i) => feeds[i]), state, observer, link)),
  );
  const done = settled.flatMap((s, i) =>
    s.status === "fulfilled" ? [{ part: parts[i], out: s.value }] : []
  );
  const failed = settled.find((s) => s.status === "rejected") as PromiseRejectedResult | undefined;
  if (failed) {
    for (const { out } of done) for (const b of out) release(b);
    throw first ?? failed.reason;
  }
  return reorder(done, fetchCount);
}

function reorder(
  done: readonly { part: StepPartition; out: DeviceBuffer[] }[],
  fetchCount: number,
): DeviceBuffer[] {
  const result = new Array<DeviceBuffer>(fetchCount);
  for (const { part, out } of done) part.fetchIndex.forEach((f, k) => (result[f] = out[k]));
  return result;
}
