// A program using every control-flow op (Switch, Merge, Enter, Exit, NextIteration, LoopCond,
// ControlTrigger),
// run with one device and no soft placement: the equivalence suite runs it on each device type,
// since these ops' dead outputs do not fit the one-op cases the suite draws for other ops.
import assert from "node:assert/strict";
import type { Device } from "../../core/device.ts";
import type { KernelRegistry } from "../../core/kernel.ts";
import * as ef from "../../mod.ts";

export const CONTROL_FLOW_OP_NAMES = [
  "Switch",
  "Merge",
  "Enter",
  "Exit",
  "NextIteration",
  "LoopCond",
  "ControlTrigger",
];

/** x ← x * 1.5 + 1 while x < limit (at most `cap` times), then negated when `flip`. */
export async function checkControlFlowOn(device: Device, registry: KernelRegistry): Promise<void> {
  const g = new ef.Graph();
  const x0 = ef.placeholder(g, "float32", [2], { name: "x0" });
  const limit = ef.placeholder(g, "float32", [], { name: "limit" });
  const flip = ef.placeholder(g, "bool", [], { name: "flip" });
  const [x, n] = ef.whileLoop(
    (x) => ef.less(ef.sum(x, 0), limit),
    (x, n) => [ef.add(ef.mul(x, 1.5), 1), ef.add(n, 1)],
    [x0, g.asDefault(() => ef.constant(0, { dtype: "float32" }))],
    { parallelIterations: 3 },
  );
  let negated: ef.Output | undefined;
  const [y] = ef.cond(flip, () => (negated = ef.neg(x)), () => x);
  // Hangs on the true branch: dead when `flip` is false, yet the trigger, and so `after`, live.
  const trigger = ef.controlTrigger([negated!], { name: "trigger" });
  const after = ef.constant(7, { name: "after", graph: g, controlInputs: [trigger] });
  await using s = new ef.Session(g, {
    registry,
    devices: [device],
    allowSoftPlacement: false,
    passes: { constantFolding: false, cse: false },
  });
  for (
    const [start, lim, f] of [[[1, 2], 40, true], [[5, 5], 3, false], [
      [0, 1],
      1000,
      false,
    ]] as const
  ) {
    let v = [...start].map(Math.fround), k = 0;
    while (Math.fround(v[0] + v[1]) < lim) {
      v = v.map((e) => Math.fround(Math.fround(e * 1.5) + 1));
      k++;
    }
    const [ty, tn, ta] = await s.run([y, n, after], { x0: [...start], limit: lim, flip: f });
    assert.deepEqual(ty.toArray(), f ? v.map((e) => -e) : v);
    assert.equal(tn.toArray(), k);
    assert.equal(ta.toArray(), 7);
  }
}
