/**
 * The `compareWithReference` run option: after each kernel on a device other than REF, the op's
 * reference implementation runs on the very inputs the kernel got (read back to the host) and
 * its outputs are compared with the kernel's within the kernel's declared tolerance, as the
 * equivalence suite compares them (core/mismatch.ts). The run goes on; at its end the first
 * differing node in topological order is reported in an EdgeflowError.
 *
 * Per node, on the kernel's own inputs, rather than a whole second run on REF: the difference is
 * then the kernel's alone, not float error accumulated upstream that crosses some bound later.
 * Stateful ops (variables, random) are not re-run: their reference would move the session's
 * state (a variable write, a Philox counter) a second time.
 */
import type { DeviceBuffer } from "../device.ts";
import { EdgeflowError } from "../errors.ts";
import { MapHostContext } from "../host_context.ts";
import type { KernelCase, Tolerance } from "../kernel.ts";
import { mismatch } from "../mismatch.ts";
import type { Attrs } from "../op.ts";
import type { PlanNode } from "../plan.ts";
import type { Tensor } from "../tensor.ts";
import { hostValuesAll } from "./host_values.ts";
import { type Copy, type ExecutionObserver, type NodeRun, RENDEZVOUS_OPS } from "./observer.ts";

/** A node whose kernel differs from the reference beyond its tolerance. */
export interface ReferenceDifference {
  node: string;
  op: string;
  device: string;
  /** Position in the plan's topological order. */
  order: number;
  /** What differs: "output 0: element 3: 1.5, expected 1.25 (tolerance ...)". */
  detail: string;
}

/** What a comparison covered, left in the run metadata. */
export interface ReferenceComparison {
  /** Nodes whose outputs were compared. */
  compared: number;
  /** Nodes not compared, with the reason. */
  skipped: { node: string; reason: string }[];
  /** Every difference, in topological order. */
  differences: ReferenceDifference[];
}

export class ReferenceComparer implements ExecutionObserver {
  private readonly result: ReferenceComparison = { compared: 0, skipped: [], differences: [] };

  nodeStart(): void {}
  kernelStart(): void {}
  kernelEnd(): void {}

  transfer(_p: unknown, _s: number, _f: unknown, _t: unknown, _b: number, copy: Copy): Copy {
    return copy;
  }

  nodeEnd(pn: PlanNode, ctx: NodeRun): void | Promise<void> {
    if (pn.device.type === "REF" || !pn.kernel) return;
    if (pn.node.op.stateful) {
      this.result.skipped.push({ node: pn.node.name, reason: "stateful op" });
      return;
    }
    if (pn.node.op.controlFlow !== undefined) {
      // Switch/Merge/Enter/Exit/NextIteration/LoopCond only forward a value; some of their
      // inputs and outputs are dead (no buffer), so there is nothing to recompute.
      this.result.skipped.push({ node: pn.node.name, reason: "control flow: forwards a value" });
      return;
    }
    if (RENDEZVOUS_OPS.test(pn.node.op.name)) {
      this.result.skipped.push({ node: pn.node.name, reason: "a transfer between partitions" });
      return;
    }
    const buffers: DeviceBuffer[] = [...ctx.inputs, ...(ctx.outputs as DeviceBuffer[])];
    const values = hostValuesAll(buffers);
    const compare = (read: Tensor[]) =>
      this.compare(pn, read.slice(0, ctx.inputs.length), read.slice(ctx.inputs.length));
    return values instanceof Promise ? values.then(compare) : compare(values);
  }

  private compare(pn: PlanNode, inputs: Tensor[], actual: Tensor[]): void {
    const kernel = pn.kernel!;
    const node = pn.node;
    const kc: KernelCase<Attrs> = { inputs, attrs: node.attrs };
    const differs = kernel.differs?.find((d) => d.when(kc));
    if (differs) {
      this.result.skipped.push({ node: node.name, reason: differs.reason });
      return;
    }
    const host = new MapHostContext();
    host.node = { name: node.name, op: node.op };
    let expected: Tensor[];
    try {
      expected = node.op.reference(inputs, node.attrs, host);
    } catch (e) {
      this.differ(pn, `the reference refuses the inputs (${(e as Error).message})`);
      return;
    }
    this.result.compared++;
    const tol: Tolerance | undefined = typeof kernel.tolerance === "function"
      ? kernel.tolerance(kc)
      : kernel.tolerance;
    for (let i = 0; i < expected.length; i++) {
      const why = mismatch(actual[i], expected[i], tol);
      if (why) return this.differ(pn, `output ${i}: ${why}`);
    }
  }

  private differ(pn: PlanNode, detail: string): void {
    this.result.differences.push({
      node: pn.node.name,
      op: pn.node.op.name,
      device: pn.device.name,
      order: pn.index,
      detail,
    });
  }

  /** The comparison, differences sorted into topological order. */
  report(): ReferenceComparison {
    this.result.differences.sort((a, b) => a.order - b.order);
    return this.result;
  }

  /** Throws for the first differing node in topological order, if any. */
  throwFirst(): void {
    const first = this.report().differences[0];
    if (!first) return;
    const others = this.result.differences.length - 1;
    throw new EdgeflowError(
      `compareWithReference: the ${first.device} kernel differs from the reference beyond its ` +
        `tolerance, the first such node in topological order: ${first.detail}${
          others > 0 ? ` (and ${others} later node(s))` : ""
        }`,
      { node: first.node, op: first.op },
    );
  }
}
