/**
 * The `checkNumerics` run option (TensorFlow's tf.debugging.enable_check_numerics): after each
 * kernel, its floating-point outputs are read on the host; the first node whose output holds a NaN
 * or an Inf stops the run with an EdgeflowError naming the node, its op, its device and the range
 * of each input, so the cause (a log of zero, an overflowing sum, a NaN fed in) is in the message.
 */
import { EdgeflowError } from "../errors.ts";
import { isFloat } from "../dtype.ts";
import type { PlanNode } from "../plan.ts";
import { numbers, type Tensor } from "../tensor.ts";
import { describeRange, hostValuesAll } from "./host_values.ts";
import type { Copy, ExecutionObserver, NodeRun } from "./observer.ts";

export class NumericsChecker implements ExecutionObserver {
  nodeStart(): void {}
  kernelStart(): void {}
  kernelEnd(): void {}

  transfer(_p: unknown, _s: number, _f: unknown, _t: unknown, _b: number, copy: Copy): Copy {
    return copy;
  }

  nodeEnd(pn: PlanNode, ctx: NodeRun): void | Promise<void> {
    const outputs = ctx.outputs.map((b) => (b && isFloat(b.dtype) ? b : undefined));
    const present = outputs.filter((b) => b !== undefined);
    if (present.length === 0) return;
    const values = hostValuesAll(present);
    const check = (read: Tensor[]): void | Promise<void> => {
      let k = 0;
      for (let i = 0; i < outputs.length; i++) {
        if (!outputs[i]) continue;
        const bad = firstNonFinite(read[k++]);
        if (bad) return this.refuse(pn, ctx, i, bad);
      }
    };
    return values instanceof Promise ? values.then(check) : check(values);
  }

  /** Throws the error naming the node, with its inputs' ranges (read now, before release). */
  private refuse(
    pn: PlanNode,
    ctx: NodeRun,
    output: number,
    bad: { index: number; value: number },
  ): void | Promise<void> {
    const inputs = hostValuesAll(ctx.inputs);
    const fail = (read: Tensor[]) => {
      const ranges = read.map((t, i) => `  input ${i} (${inputName(pn, i)}): ${describeRange(t)}`);
      throw new EdgeflowError(
        `checkNumerics: output ${output} holds ${bad.value} (element ${bad.index}), the first ` +
          `NaN or Inf of this run, computed on ${pn.device.name}; its inputs:\n${
            ranges.length ? ranges.join("\n") : "  (none)"
          }`,
        { node: pn.node.name, op: pn.node.op.name },
      );
    };
    return inputs instanceof Promise ? inputs.then(fail) : fail(inputs);
  }
}

function inputName(pn: PlanNode, i: number): string {
  return pn.node.inputs[i]?.name ?? `input ${i}`;
}

/** The first NaN or ±Inf of a float tensor. */
export function firstNonFinite(t: Tensor): { index: number; value: number } | undefined {
  const v = t.dtype === "float32" ? t.data as Float32Array : numbers(t);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (x - x !== 0) return { index: i, value: x };
  }
  return undefined;
}
