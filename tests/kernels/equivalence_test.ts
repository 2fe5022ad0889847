// The cross-device equivalence suite: every registered (device type, op, dtype) runs on its
// device through a session and is compared with the op's reference, within the kernel's
// tolerance. A kernel with no reachable case fails. Cases a kernel declares it differs on are
// reported with their reason, not compared.
import assert from "node:assert/strict";
import fc from "npm:fast-check@4";
import { EdgeflowError } from "../../core/errors.ts";
import {
  defaultRegistry,
  dtypesOf,
  type Kernel,
  type KernelCase,
  runsMode,
} from "../../core/kernel.ts";
import type { Attrs, OpCase } from "../../core/op.ts";
import "../../mod.ts";
import { QUEUE_OPS } from "../../core/ops/queue.ts";
import { STACK_OPS } from "../../core/ops/stack.ts";
import { TENSOR_LIST_OPS } from "../../core/ops/tensor_list.ts";
import { TENSOR_ARRAY_OPS } from "../../core/ops/tensor_array.ts";
import { fcParams, invalidCases, opCases } from "../op_cases.ts";
import { mismatch } from "./compare.ts";
import { deviceFor } from "./devices.ts";
import { resolvedAttrs, runOnDevice, runReference } from "./run_case.ts";
import { checkControlFlowOn, CONTROL_FLOW_OP_NAMES } from "../control_flow/device_program.ts";

const registry = defaultRegistry;
// Queue kernels wait on state shared across runs (a dequeue blocks until another run enqueues), so
// one op case cannot exercise them: tests/queue_test.ts runs them against TensorFlow's semantics.
// TensorList and TensorArray ops take and give host objects (variant lists, per-step arrays) that
// one-op cases cannot feed; every device runs their reference on host memory
// (core/tensor_list/kernels.ts), and tests/control_flow/tensor_list_test.ts and
// tensor_array_test.ts compare WASM with REF and with a model of TensorFlow's semantics. Stack
// kernels share a step's stack between a push and a later pop: tests/control_flow/while_grad_test.ts
// runs them on every device type and through loop gradients.
const COVERED_ELSEWHERE = new Map<string, string>([
  ...QUEUE_OPS.map((op) =>
    [op.name, "a blocking queue kernel; tests/queue_test.ts covers it"] as const
  ),
  ...TENSOR_LIST_OPS.map((op) =>
    [
      op.name,
      "a host-memory TensorList kernel; tests/control_flow/tensor_list_test.ts covers it",
    ] as const
  ),
  ...TENSOR_ARRAY_OPS.map((op) =>
    [
      op.name,
      "a per-step TensorArray kernel; tests/control_flow/tensor_array_test.ts covers it",
    ] as const
  ),
  ...STACK_OPS.map((op) =>
    [op.name, "a per-step stack kernel; tests/control_flow/while_grad_test.ts covers it"] as const
  ),
]);
const RUNS = Number(Deno.env.get("EQUIVALENCE_RUNS") ?? 15);

const controlFlowTypes = new Set<string>();
for (const { type, kernel } of registry.list()) {
  const op = kernel.op;
  const elsewhere = COVERED_ELSEWHERE.get(op.name);
  if (elsewhere) {
    Deno.test({ name: `${type} ${op.name}: not drawn here (${elsewhere})`, ignore: true, fn() {} });
    continue;
  }
  if (kernel.dtypes?.length && kernel.dtypes.every((d) => d === "variant")) {
    const why = "forwards a variant (a TensorList); tests/control_flow/tensor_list_test.ts runs it";
    Deno.test({
      name: `${type} ${op.name} variant: not drawn here (${why})`,
      ignore: true,
      fn() {},
    });
    continue;
  }
  if (op.controlFlow) {
    // Dead outputs do not fit one-op cases: one program using all six ops runs on the device.
    if (controlFlowTypes.has(type)) continue;
    controlFlowTypes.add(type);
    Deno.test(`${type} control flow (${CONTROL_FLOW_OP_NAMES.join(", ")}) equals TensorFlow's`, async (t) => {
      const device = await deviceFor(type, t);
      if (device) await checkControlFlowOn(device, registry);
    });
    continue;
  }
  // Ops without a type attr (NoOp) are drawn once, under a nominal dtype.
  const dtypes = op.typeAttr
    ? dtypesOf(kernel).filter((d) => op.testDTypes.includes(d))
    : ["float32" as const];
  if (!op.arbitrary || dtypes.length === 0) {
    Deno.test(`${type} ${op.name}: reachable by the suite`, () => {
      assert.fail(
        `the ${type} kernel for ${op.name} has no test case (no arbitrary, or no dtype in common)`,
      );
    });
    continue;
  }
  for (const dtype of dtypes) {
    Deno.test(`${type} ${op.name} ${dtype} equals the reference`, async (t) => {
      const device = await deviceFor(type, t);
      if (!device) return;
      const skipped = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(opCases(op, dtype), async (c: OpCase<Attrs>) => {
          const kc: KernelCase<Attrs> = { inputs: c.inputs, attrs: resolvedAttrs(op, c) };
          const mode = op.kernelMode?.(kc.attrs);
          const reason = !runsMode(kernel, mode)
            ? `the kernel does not run mode "${mode}" (such nodes are placed elsewhere)`
            : kernel.differs?.find((d) => d.when(kc))?.reason;
          if (reason) {
            skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
            return;
          }
          const expected = runReference(op, c);
          const actual = await runOnDevice(device, registry, op, c);
          const tol = toleranceOf(kernel, kc);
          expected.outputs.forEach((e, i) => {
            const why = mismatch(actual.outputs[i], e, tol);
            assert.equal(why, undefined, `output ${i}: ${why}`);
          });
          for (const [name, e] of Object.entries(expected.variables)) {
            const why = mismatch(actual.variables[name], e, tol);
            assert.equal(why, undefined, `variable ${name}: ${why}`);
          }
        }),
        fcParams(RUNS),
      );
      for (const [reason, n] of skipped) console.log(`  ${n} case(s) not compared: ${reason}`);
    });
    const invalid = invalidCases(op, dtype);
    if (!invalid) continue;
    Deno.test(`${type} ${op.name} ${dtype} refuses invalid inputs as the reference does`, async (t) => {
      const device = await deviceFor(type, t);
      if (!device) return;
      const skipped = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(invalid, async (c: OpCase<Attrs>) => {
          const kc: KernelCase<Attrs> = { inputs: c.inputs, attrs: resolvedAttrs(op, c) };
          const reason = kernel.differs?.find((d) => d.when(kc))?.reason;
          if (reason) {
            skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
            return;
          }
          const expected = refusal(() => runReference(op, c));
          assert.ok(expected, "the reference refuses the case");
          const actual = await runOnDevice(device, registry, op, c).then(() => undefined, (e) => e);
          assert.ok(actual instanceof EdgeflowError, `${type} refuses it: ${actual}`);
          assert.equal(actual.reason, expected.reason);
          assert.equal(actual.op, op.name);
          assert.equal(actual.node, "op");
        }),
        fcParams(Math.max(3, Math.ceil(RUNS / 3))),
      );
      for (const [reason, n] of skipped) console.log(`  ${n} case(s) not compared: ${reason}`);
    });
  }
}

/** The EdgeflowError `f` throws, or undefined when it returns. */
function refusal(f: () => unknown): EdgeflowError | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof EdgeflowError) return e;
    throw e;
  }
  return undefined;
}

function toleranceOf(kernel: Kernel, c: KernelCase<Attrs>) {
  return typeof kernel.tolerance === "function" ? kernel.tolerance(c) : kernel.tolerance;
}
