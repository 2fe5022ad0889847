/**
 * Const, Identity, PlaceholderWithDefault, NoOp and the resource-variable ops. Variables live in
 * HBM (the ResourceTable holds TPU buffers, charged against capacity); AssignAdd and AssignSub
 * run on the vector unit, in place when no reader holds the old value.
 */
import { HostBuffer } from "../../../core/buffer.ts";
import { type DType, isFloat } from "../../../core/dtype.ts";
import { EdgeflowError } from "../../../core/errors.ts";
import { Identity, NoOp, PlaceholderWithDefault } from "../../../core/ops/basic.ts";
import { Const } from "../../../core/ops/const.ts";
import type { Attrs, OpDef } from "../../../core/op.ts";
import { AssignAddVariableOp, AssignSubVariableOp, handleOf } from "../../../core/ops/state.ts";
import { formatShape, shapesEqual } from "../../../core/shape.ts";
import { GENERIC_VARIABLE_KERNELS } from "../../../core/variable_kernels.ts";
import { TpuBuffer } from "../hbm.ts";
import { mapBinary } from "./engine.ts";
import {
  copyStorage,
  input,
  metadataOnly,
  output,
  TPU_MOVABLE,
  TPU_REALS,
  type TpuKernel,
  tpuKernel,
  vpuTolerance,
} from "./util.ts";

/**
 * The value is part of the program: written into HBM when the kernel runs. Integer scalars and
 * vectors (shapes, axes, paddings) stay in host memory instead, as TensorFlow keeps int32 in
 * host memory on accelerators: kernels read them there, and one the TPU computes with is
 * uploaded by the executor like any host value.
 */
const constant = tpuKernel(Const, {
  dtypes: TPU_MOVABLE,
  run(ctx) {
    const value = ctx.attrs.value;
    if ((value.dtype === "int32" || value.dtype === "int64") && value.rank <= 1) {
      ctx.setOutput(0, new HostBuffer(value));
      ctx.device.charge(ctx, {});
      return;
    }
    const out = output(ctx, 0, value.shape);
    copyStorage(out.data, ctx.attrs.value.data);
    ctx.device.charge(ctx, { hbmBytes: out.bytes });
  },
});

/** Forwarding: the output is the input's buffer, nothing moves; only the fixed overhead counts. */
function forwarding<A extends Attrs>(op: OpDef<A>): TpuKernel<A> {
  return tpuKernel(op, {
    dtypes: TPU_MOVABLE,
    run(ctx) {
      ctx.setOutput(0, input(ctx, 0));
      ctx.device.charge(ctx, {});
    },
  });
}
const identity = forwarding(Identity);
const placeholderWithDefault = forwarding(PlaceholderWithDefault);

const noOp = tpuKernel(NoOp, {
  run(ctx) {
    ctx.device.charge(ctx, {});
  },
});

type UpdateAttrs = { dtype: DType };
const f = Math.fround;

function update(op: typeof AssignAddVariableOp, sign: 1 | -1): TpuKernel<UpdateAttrs> {
  return tpuKernel(op, {
    dtypes: TPU_REALS,
    hostInputs: [0],
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
      const target = inPlace ? old : ctx.device.allocate(old) as TpuBuffer;
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
  constant,
  identity,
  placeholderWithDefault,
  noOp,
  ...GENERIC_VARIABLE_KERNELS.map(metadataOnly),
  update(AssignAddVariableOp, 1),
  update(AssignSubVariableOp, -1),
] as TpuKernel[];
