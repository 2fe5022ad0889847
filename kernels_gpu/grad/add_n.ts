/**
 * AddN as elementwise maps: up to 7 inputs per dispatch (8 storage buffers per stage is
 * WebGPU's guaranteed minimum, one for the output), longer lists chained through temporaries
 * that carry the running sum. Sums go in input order, each rounded to T (16-bit floats round
 * after every addition), as TensorFlow's CPU kernel and the reference add.
 */
import { release, retain } from "../../core/buffer.ts";
import type { DType } from "../../core/dtype.ts";
import { AddN } from "../../core/ops/grad_math.ts";
import type { GpuBuffer } from "../../devices/webgpu/buffer.ts";
import type { Dispatch } from "../../devices/webgpu/program.ts";
import { ARITHMETIC, defineGpuKernel, floatTolerance, staticBinding } from "../kernel.ts";
import { type MapFunction, NodeMap } from "../elementwise/map.ts";
import { computeType, rounded } from "../wgsl.ts";

/** Inputs one dispatch reads. */
const PER_DISPATCH = 7;

function sumFunction(arity: number, dtype: DType): MapFunction {
  const type = computeType(dtype);
  const args = Array.from({ length: arity }, (_, j) => `a${j}: ${type}`).join(", ");
  const steps = Array.from(
    { length: arity - 1 },
    (_, j) => `  s = ${rounded(`s + a${j + 1}`, dtype)};`,
  );
  return {
    name: `AddN.${arity}.${dtype}`,
    wgsl: `fn f(${args}) -> ${type} {\n  var s = a0;\n${steps.join("\n")}\n  return s;\n}`,
  };
}

/** How N inputs split into dispatches: the first takes 7, each later one the sum and 6 more. */
function chunks(N: number): number[] {
  const sizes = [Math.min(N, PER_DISPATCH)];
  for (let done = sizes[0]; done < N;) {
    const k = Math.min(N - done, PER_DISPATCH - 1);
    sizes.push(k);
    done += k;
  }
  return sizes;
}

export const addNKernel = defineGpuKernel(AddN, {
  dtypes: ARITHMETIC,
  create({ inputs, outputs: [out], device }) {
    const dtype = out.dtype;
    const b = staticBinding(device, out);
    const maps = chunks(inputs.length).map((k, i) => {
      const arity = i === 0 ? k : k + 1;
      const shapes = Array.from({ length: arity }, () => out.shape);
      return new NodeMap(sumFunction(arity, dtype), shapes, out.shape, shapes.map(() => b), b);
    });
    return {
      programs: maps.flatMap((m) => m.programs),
      run(ctx) {
        const xs = ctx.inputs;
        const result = ctx.output(0, xs[0].shape);
        const temps: GpuBuffer[] = [];
        const dispatches: Dispatch[] = [];
        let acc: GpuBuffer | undefined, next = 0;
        maps.forEach((map, i) => {
          const take = i === 0 ? Math.min(xs.length, PER_DISPATCH) : PER_DISPATCH - 1;
          const args = [...(acc ? [acc] : []), ...xs.slice(next, next + take)];
          next += take;
          const last = i === maps.length - 1;
          const to = last
            ? result
            : retain(ctx.device.allocate({ dtype: result.dtype, shape: result.shape }));
          if (!last) temps.push(to);
          dispatches.push(map.dispatch(ctx.device, args, to));
          acc = to;
        });
        const done = ctx.device.encode(ctx.node, dispatches);
        const free = () => temps.forEach(release);
        if (done instanceof Promise) return done.finally(free);
        free();
      },
    };
  },
  tolerance: floatTolerance({}, "float32 sums in input order, each rounded to T as REF's"),
});
