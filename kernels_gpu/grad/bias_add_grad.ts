/**
 * BiasAddGrad as a Sum: NHWC sums [rows, C] down its columns (the reduction's column program);
 * NCHW first moves channels first ([C, N, H·W], a strided copy in the storage type, exact) and
 * then sums rows, as Sum does for axes that are not adjacent.
 */
import { release, retain } from "../../core/buffer.ts";
import { BiasAddGrad } from "../../core/ops/grad_nn.ts";
import { sizeOf } from "../../core/shape.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { Dispatch } from "../../devices/webgpu/program.ts";
import { ARITHMETIC, defineGpuKernel } from "../kernel.ts";
import { stridedDispatch } from "../movement/strided.ts";
import { sumOverflow } from "../overflow.ts";
import { reduceDispatches, reducePrograms, reduceTolerance } from "../reduce/kernels.ts";

export const biasAddGradKernel = defineGpuKernel(BiasAddGrad, {
  dtypes: ARITHMETIC,
  create(c) {
    const programs = reducePrograms("Sum", c);
    const nchw = c.attrs.data_format === "NCHW";
    return {
      programs: nchw ? [programs.rows] : [programs.cols, programs.rows],
      run(ctx) {
        const dy = ctx.inputs[0];
        const shape = dy.shape;
        const axis = nchw ? 1 : shape.length - 1;
        const C = shape[axis];
        const out = ctx.output(0, [C]);
        if (C === 0) return;
        const temps: GpuBuffer[] = [];
        const dispatches: Dispatch[] = [];
        if (!nchw) {
          const rows = sizeOf(shape) / C || 0;
          dispatches.push(
            ...reduceDispatches(ctx.device, programs, dy, out, 1, rows, C, temps),
          );
        } else {
          const N = shape[0], inner = sizeOf(shape.slice(2));
          const moved = retain(ctx.device.allocate({ dtype: dy.dtype, shape: [C, N, inner] }));
          temps.push(moved);
          const view = {
            mode: "copy" as const,
            dims: [C, N, inner],
            strides: [inner, C * inner, 1],
          };
          dispatches.push(stridedDispatch(ctx.device, dy, moved, view, programs.moves));
          dispatches.push(
            ...reduceDispatches(ctx.device, programs, moved, out, C, N * inner, 1, temps),
          );
        }
        const done = ctx.device.encode(ctx.node, dispatches);
        const free = () => temps.forEach(release);
        if (done instanceof Promise) return done.finally(free);
        free();
      },
    };
  },
  // Every axis but the channels'.
  tolerance: reduceTolerance("Sum", ({ inputs: [dy], attrs }) => {
    const channel = attrs.data_format === "NCHW" ? 1 : dy.rank - 1;
    return dy.shape.map((_, i) => i).filter((i) => i !== channel);
  }),
  differs: [sumOverflow()],
});
