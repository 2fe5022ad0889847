/**
 * AssignAddVariableOp and AssignSubVariableOp on the GPU, so variables stay in GPU memory across
 * runs. When nobody but the variable table holds the value (ResourceTable.exclusive), the update
 * runs in place; otherwise a new buffer takes the result and replaces the table's entry once the
 * update is recorded, so a value read earlier in the run keeps its old contents.
 */
import { release, retain } from "../core/buffer.ts";
import type { DType } from "../core/dtype.ts";
import { EdgeflowError } from "../core/errors.ts";
import type { OpDef } from "../core/op.ts";
import { AssignAddVariableOp, AssignSubVariableOp, handleOf } from "../core/ops/state.ts";
import { formatShape, shapesEqual } from "../core/shape.ts";
import type { Program } from "../devices/webgpu/program.ts";
import { NodeMap } from "./elementwise/map.ts";
import { ARITHMETIC, bindingFor, defineGpuKernel, floatTolerance } from "./kernel.ts";
import { type Binding, computeType, linearGrid, linearMain, load, program, store } from "./wgsl.ts";

const WG = 256;

/** value[i] = value[i] ± delta[i], in place on the variable's buffer. */
function inPlaceProgram(sign: "+" | "-", delta: Binding, value: Binding): Program {
  return program({
    name: `AssignUpdate${sign === "+" ? "Add" : "Sub"}`,
    key: [],
    inputs: [delta],
    outputs: [value],
    uniforms: [{ name: "n", type: "u32" }],
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  ${store("out0", "i", `${load("out0", "i", value)} ${sign} ${load("in0", "i", delta)}`, value)}
}
`,
  });
}

function updateKernel(op: OpDef<{ dtype: DType }>, sign: "+" | "-") {
  return defineGpuKernel(op, {
    dtypes: ARITHMETIC,
    create({ inputs: [, delta], attrs, device }) {
      const b = bindingFor(device, attrs.dtype);
      const inPlace = inPlaceProgram(sign, b, b);
      const type = computeType(attrs.dtype);
      // A shared value is updated into a new buffer by an elementwise map.
      const copy = new NodeMap(
        {
          name: `AssignUpdate.${type}${sign}`,
          wgsl: `fn f(a: ${type}, b: ${type}) -> ${type} { return a ${sign} b; }`,
        },
        [delta.shape, delta.shape],
        delta.shape,
        [b, b],
        b,
      );
      return {
        programs: [inPlace],
        run(ctx) {
          const handle = handleOf(ctx.hostInput(0));
          const old = ctx.resources.get(handle);
          const delta = ctx.inputs[1];
          if (old.dtype !== delta.dtype) {
            throw new EdgeflowError(
              `variable '${handle}' holds ${old.dtype}, got a ${delta.dtype} value`,
            );
          }
          if (!shapesEqual(old.shape, delta.shape)) {
            throw new EdgeflowError(
              `updates variable '${handle}' of shape ${formatShape(old.shape)} with shape ${
                formatShape(delta.shape)
              }`,
            );
          }
          if (old.size === 0) return;
          // In place only when nothing else holds the value and no view shares its storage (a
          // variable initialised from reshape(Const) shares the Const's buffer).
          if (ctx.resources.exclusive(handle) && old.storage.refs === 1) {
            return ctx.device.encode(ctx.node, [{
              program: inPlace,
              inputs: [delta],
              outputs: [old],
              uniforms: [old.size],
              workgroups: linearGrid(old.size, WG, ctx.device.maxWorkgroups),
            }]);
          }
          // The table takes the new value only once its dispatch is recorded: encode may first
          // compile the pipeline, and until the dispatch is recorded the old value must stay held
          // (releasing it could hand its storage to a kernel that overwrites it first) and no
          // reader may get a buffer not yet written.
          const updated = retain(ctx.device.allocate(old));
          const swap = () => {
            ctx.resources.set(handle, updated);
            release(updated);
          };
          const drop = (e: unknown) => {
            release(updated);
            throw e;
          };
          let done: void | Promise<void>;
          try {
            done = ctx.device.encode(ctx.node, [copy.dispatch(ctx.device, [old, delta], updated)]);
          } catch (e) {
            return drop(e);
          }
          if (done instanceof Promise) return done.then(swap, drop);
          swap();
        },
      };
    },
    tolerance: floatTolerance({}, "float32 arithmetic, rounded once"),
  });
}

export const VARIABLE_KERNELS = [
  updateKernel(AssignAddVariableOp, "+"),
  updateKernel(AssignSubVariableOp, "-"),
];
