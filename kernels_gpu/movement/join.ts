/**
 * ConcatV2 and Pack: the output is `outer` rows, each the inputs' rows side by side (core's
 * resolveConcat / resolvePack). One dispatch per input copies its rows into their columns of the
 * output: element j of input i lands at (j / width) * rowWidth + offset + j % width.
 */
import { intScalar } from "../../core/ops/array_util.ts";
import { ConcatV2, Pack, resolveConcat, resolvePackOf } from "../../core/ops/join.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { WebGpuDevice } from "../../devices/webgpu/device.ts";
import type { Dispatch, Program } from "../../devices/webgpu/program.ts";
import type { StorageType } from "../../devices/webgpu/storage.ts";
import { GPU_DTYPES } from "../../devices/webgpu/storage.ts";
import { defineGpuKernel } from "../kernel.ts";
import { linearGrid, linearMain, program } from "../wgsl.ts";

const WG = 256;

function pieceProgram(type: StorageType): Program {
  return program({
    name: "join.piece",
    key: [],
    inputs: [{ type, dtype: "float32" }],
    outputs: [{ type, dtype: "float32" }],
    uniforms: ["n", "width", "rowWidth", "offset"].map((name) => ({ name, type: "u32" })),
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  out0[(i / u.width) * u.rowWidth + u.offset + i % u.width] = in0[i];
}
`,
  });
}

/** Dispatches of `piece` copying each source's rows of `widths[i]` elements into `out`. */
function joinDispatches(
  device: WebGpuDevice,
  piece: Program,
  sources: readonly GpuBuffer[],
  out: GpuBuffer,
  widths: readonly number[],
): Dispatch[] {
  const rowWidth = widths.reduce((a, b) => a + b, 0);
  let offset = 0;
  return sources.flatMap((src, i) => {
    const at = offset;
    offset += widths[i];
    if (src.size === 0) return [];
    return [{
      program: piece,
      inputs: [src],
      outputs: [out],
      uniforms: [src.size, widths[i], rowWidth, at],
      workgroups: linearGrid(src.size, WG, device.maxWorkgroups),
    }];
  });
}

export const concatKernel = defineGpuKernel(ConcatV2, {
  dtypes: GPU_DTYPES,
  create({ inputs, device }) {
    const p = pieceProgram(device.storageOf(inputs[0].dtype));
    return {
      programs: [p],
      run(ctx) {
        const values = ctx.inputs.slice(0, -1);
        const plan = resolveConcat(
          values.map((v) => v.shape),
          intScalar(ctx.hostInput(ctx.inputs.length - 1), "axis"),
        );
        const out = ctx.output(0, plan.outShape);
        return ctx.device.encode(ctx.node, joinDispatches(ctx.device, p, values, out, plan.widths));
      },
    };
  },
});

export const packKernel = defineGpuKernel(Pack, {
  dtypes: GPU_DTYPES,
  create({ inputs, attrs, device }) {
    const p = pieceProgram(device.storageOf(inputs[0].dtype));
    return {
      programs: [p],
      run(ctx) {
        const values = ctx.inputs;
        const plan = resolvePackOf(values.map((v) => v.shape), attrs.axis);
        const out = ctx.output(0, plan.packedShape);
        const widths = values.map(() => plan.inner);
        return ctx.device.encode(ctx.node, joinDispatches(ctx.device, p, values, out, widths));
      },
    };
  },
});

export const JOIN_KERNELS = [concatKernel, packKernel];
