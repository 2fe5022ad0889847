/**
 * The optimizer ops on the TPU's vector unit: the variable and its slots live in HBM and are
 * updated in place when the resource table holds their only reference (and they are no view);
 * otherwise the update writes new buffers. The rule is the op's own (`applyUpdate`, float32
 * operations in TensorFlow's order), so the TPU agrees with the reference bit for bit.
 */
import type { NumericDType } from "../../../core/dtype.ts";
import {
  APPLY_SPECS,
  applyLayout,
  applyUpdate,
  checkApply,
  TRAINING_OPS,
  type TrainingAttrs,
} from "../../../core/ops/training_ops.ts";
import { handleOf } from "../../../core/ops/state.ts";
import type { OpDef } from "../../../core/op.ts";
import { EdgeflowError } from "../../../core/errors.ts";
import { TpuBuffer } from "../hbm.ts";
import { input, type TpuKernel, tpuKernel } from "./util.ts";

/** Vector-unit operations per element and transcendental ones (sqrt, reciprocal), per op. */
const COST: Record<string, [number, number]> = {
  ResourceApplyGradientDescent: [2, 0],
  ResourceApplyMomentum: [6, 0],
  ResourceApplyAdam: [12, 2],
  ResourceApplyRMSProp: [10, 2],
  ResourceApplyAdagrad: [5, 2],
};

function applyKernel(op: OpDef<TrainingAttrs>): TpuKernel<TrainingAttrs> {
  const spec = APPLY_SPECS[op.name];
  const layout = applyLayout(spec);
  return tpuKernel(op, {
    dtypes: ["float32"],
    run(ctx) {
      const handles = layout.resources.map((at) => handleOf(ctx.hostInput(at)));
      const state = handles.map((h) => {
        const b = ctx.resources.get(h);
        if (!(b instanceof TpuBuffer)) {
          throw new EdgeflowError(`variable '${h}' holds a value outside TPU HBM`);
        }
        return b;
      });
      const grad = input(ctx, layout.grad);
      const scalars = layout.scalars.map((at) => input(ctx, at));
      checkApply(spec, ctx.attrs.T, handles, state, scalars.map((s) => s.shape), grad.shape);
      const targets = state.map((b, i) => {
        if (ctx.resources.exclusive(handles[i]) && !b.base) return b;
        const copy = ctx.device.allocate(b);
        (copy.data as Float32Array).set(b.data as Float32Array);
        return copy;
      });
      applyUpdate(
        spec,
        ctx.attrs.T as NumericDType,
        ctx.attrs,
        targets.map((b) => b.data as Float32Array),
        grad.data as Float32Array,
        // float32 only (the kernel's dtypes): the storage holds the values.
        scalars.map((s) => (s.data as Float32Array)[0]),
      );
      targets.forEach((b, i) => {
        if (b !== state[i]) ctx.resources.set(handles[i], b);
      });
      const n = grad.data.length;
      const [vpu, eup] = COST[op.name];
      const bytes = state.reduce((s, b) => s + 2 * b.bytes, grad.bytes);
      ctx.device.charge(
        ctx,
        { vpuOps: vpu * n, eupOps: eup * n, hbmBytes: bytes, flops: vpu * n },
        targets.filter((b, i) => b === state[i]),
      );
    },
  });
}

export const OPTIM_KERNELS: readonly TpuKernel<TrainingAttrs>[] = TRAINING_OPS.map(applyKernel);
