/**
 * Reshape, ExpandDims, Squeeze and Shape (core's kernel). The TPU keeps its own views of
 * core/basic_kernels.ts's because they differ in time, not in values: the output is a view of the input's bytes. On the
 * hardware, arrays sit in HBM in (8 x 128)-tiled layouts over their two minor dims, so a
 * reshape that keeps those two dims is a free bitcast, and any other is a relayout copy: the
 * kernel charges reading and writing the bytes. Shape writes its result to host memory, as
 * TensorFlow's Shape kernels do on accelerators (shapes are known when the program is built).
 */
import { shapeKernel } from "../../../core/basic_kernels.ts";
import { forDTypes } from "../../../core/kernel.ts";
import type { Attrs, OpDef } from "../../../core/op.ts";
import { ExpandDims, Reshape, Squeeze } from "../../../core/ops/shape_ops.ts";
import type { Shape as Dims } from "../../../core/shape.ts";
import {
  input,
  metadataOnly,
  TPU_MOVABLE,
  type TpuContext,
  type TpuKernel,
  tpuKernel,
} from "./util.ts";

/** Whether a reshape keeps the two minor dims (scalars and vectors count as [1, n]). */
export function isBitcast(from: Dims, to: Dims): boolean {
  const minor = (s: Dims) => [s.length > 1 ? s[s.length - 2] : 1, s.length > 0 ? s.at(-1)! : 1];
  const [a, b] = [minor(from), minor(to)];
  return a[0] === b[0] && a[1] === b[1];
}

function reshapeTo<A extends Attrs>(ctx: TpuContext<A>, shape: Dims): void {
  const x = input(ctx, 0);
  ctx.setOutput(0, ctx.device.view(x, shape));
  ctx.device.charge(ctx, isBitcast(x.shape, shape) ? {} : { hbmBytes: 2 * x.bytes });
}

/** A kernel whose output is its input under the shape inference computes (host inputs read). */
function viewKernel<A extends Attrs>(op: OpDef<A>): TpuKernel<A> {
  return tpuKernel(op, {
    dtypes: TPU_MOVABLE,
    run: (ctx) => reshapeTo(ctx, ctx.outputShape(0)),
  });
}

export const RESHAPE_KERNELS: readonly TpuKernel[] = [
  viewKernel(Reshape),
  viewKernel(ExpandDims),
  viewKernel(Squeeze),
  metadataOnly(forDTypes([shapeKernel], TPU_MOVABLE)[0]),
];
