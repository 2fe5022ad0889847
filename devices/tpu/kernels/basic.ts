/**
 * Const, Identity, PlaceholderWithDefault, NoOp (core's) and the resource-variable ops. Variables live in
 * HBM (the ResourceTable holds TPU buffers, charged against capacity); AssignAdd and AssignSub
 * run on the vector unit, in place when no reader holds the old value.
 */
import { CONTROL_FLOW_KERNELS } from "../../../core/control_flow_kernels.ts";
import { GENERIC_BASIC_KERNELS } from "../../../core/basic_kernels.ts";
import { forDTypes } from "../../../core/kernel.ts";
import { type DType, isFloat } from "../../../core/dtype.ts";
import { EdgeflowError } from "../../../core/errors.ts";
import { AssignAddVariableOp, AssignSubVariableOp, handleOf } from "../../../core/ops/state.ts";
import { formatShape, shapesEqual } from "../../../core/shape.ts";
import { GENERIC_VARIABLE_KERNELS } from "../../../core/variable_kernels.ts";
import { TpuBuffer } from "../hbm.ts";
import { mapBinary } from "./engine.ts";
import {
  input,
  metadataOnly,
  TPU_MOVABLE,
  TPU_REALS,
  type TpuKernel,
  tpuKernel,
  vpuTolerance,
} from "./util.ts";

type UpdateAttrs = { dtype: DType };
const f = Math.fround;

function update(op: typeof AssignAddVariableOp, sign: 1 | -1): TpuKernel<UpdateAttrs> {
  return tpuKernel(op, {
    dtypes: TPU_REALS,
    run(ctx) {
      const handle = handleOf(ctx.hostInput(0));
      const old = ctx.resources.get(handle);
      const delta = input(ctx, 1);
      if (!(old instanceof TpuBuffer) || old.dtype !== ctx.attrs.dtype) {
        throw new EdgeflowError(
          `variable '${handle}' holds ${old.dtype}${
            old instanceof TpuBuffer ? "" : " outside TPU HBM"
          }, updated with ${ctx.attrs.dtype}`,
        );
      }
      if (!shapesEqual(old.shape, delta.shape)) {
        throw new EdgeflowError(
          `updates variable '${handle}' of shape ${formatShape(old.shape)} with shape ${
            formatShape(delta.shape)
          }`,
        );
      }
      // A view shares its bytes with a buffer others may hold: never updated in place.
      const inPlace = ctx.resources.exclusive(handle) && !old.base;
      const target = inPlace ? old : ctx.device.allocate(old);
      const g = isFloat(old.dtype)
        ? (x: number, y: number) => f(x + sign * y)
        : (x: number, y: number) => x + sign * y;
      mapBinary(old, delta, target, g);
      if (!inPlace) ctx.resources.set(handle, target);
      const n = target.data.length;
      const widen = old.dtype === "bfloat16" ? 3 * n : 0;
      ctx.device.charge(
        ctx,
        { vpuOps: n + widen, hbmBytes: 2 * old.bytes + delta.bytes, flops: n },
        inPlace ? [old] : [],
      );
    },
    tolerance: (c) => vpuTolerance(c.attrs.dtype, 0, ""),
  });
}

export const BASIC_KERNELS: readonly TpuKernel[] = [
  // Const is placed in HBM once per plan (its upload is timed on the host→HBM timeline); the
  // others forward a buffer or do nothing: no machine time.
  ...forDTypes(GENERIC_BASIC_KERNELS, TPU_MOVABLE).map(metadataOnly),
  ...GENERIC_VARIABLE_KERNELS.map(metadataOnly),
  // Control flow forwards any buffer, resource handles and strings included.
  ...CONTROL_FLOW_KERNELS.map(metadataOnly),
  update(AssignAddVariableOp, 1),
  update(AssignSubVariableOp, -1),
];
