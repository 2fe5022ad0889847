/**
 * The optimizer ops on the GPU: one dispatch updates the variable and its slots with the op's
 * rule (core/ops/training_ops.ts) spelled in WGSL, TensorFlow's expressions in their order.
 * In place when nothing but the variable table holds each value (the state buffers are the
 * program's read-write outputs); otherwise the old values are read and new buffers written, and
 * the table takes them once the dispatch is recorded (as AssignAdd does, kernels_gpu/variables.ts).
 */
import { release, retain } from "../core/buffer.ts";
import { EdgeflowError } from "../core/errors.ts";
import type { OpDef } from "../core/op.ts";
import {
  APPLY_SPECS,
  applyLayout,
  checkApply,
  TRAINING_OPS,
  type TrainingAttrs,
} from "../core/ops/training_ops.ts";
import { handleOf } from "../core/ops/state.ts";
import type { GpuBuffer } from "../devices/webgpu/buffer.ts";
import type { Program } from "../devices/webgpu/program.ts";
import { bindingFor, defineGpuKernel } from "./kernel.ts";
import { type Binding, linearGrid, linearMain, program } from "./wgsl.ts";

const WG = 256;

/**
 * The rule in WGSL over `s0..s2` (var, slots) as `var`s, `g` and the scalars `k0..k5` (the op's
 * `scalars` order); `alpha` for Adam is computed per invocation (a few scalar operations).
 */
const RULES: Record<string, (nesterov: boolean, updateSlots: boolean) => string> = {
  ResourceApplyGradientDescent: () => `s0 = s0 - g * k0;`,
  ResourceApplyMomentum: (nesterov) =>
    `s1 = s1 * k1 + g;
    ${nesterov ? "s0 = s0 - (g * k0 + s1 * k1 * k0);" : "s0 = s0 - s1 * k0;"}`,
  ResourceApplyAdam: (nesterov) =>
    `let alpha = k2 * sqrt(1.0 - k1) / (1.0 - k0);
    s1 = s1 + (g - s1) * (1.0 - k3);
    s2 = s2 + (g * g - s2) * (1.0 - k4);
    let denom = sqrt(s2) + k5;
    ${
      nesterov
        ? "s0 = s0 - ((g * (1.0 - k3) + k3 * s1) * alpha) / denom;"
        : "s0 = s0 - (s1 * alpha) / denom;"
    }`,
  ResourceApplyRMSProp: () =>
    `s1 = s1 + (g * g - s1) * (1.0 - k1);
    s2 = s2 * k2 + (g * k0) / sqrt(s1 + k3);
    s0 = s0 - s2;`,
  ResourceApplyAdagrad: (_, updateSlots) =>
    `${updateSlots ? "s1 = s1 + g * g;" : ""}
    s0 = s0 - g * k0 * (1.0 / sqrt(s1));`,
};

/**
 * The scalars gathered into one buffer (k[0..S)), so the update binds at most 8 storage buffers
 * (WebGPU's default maxStorageBuffersPerShaderStage) even for Adam out of place.
 */
function packProgram(scalars: number, b: Binding): Program {
  return program({
    name: `PackScalars${scalars}`,
    key: [],
    inputs: Array(scalars).fill(b),
    outputs: [b],
    uniforms: [],
    body: () =>
      `@compute @workgroup_size(1)
fn main() {
  ${Array.from({ length: scalars }, (_, j) => `out0[${j}] = in${j}[0];`).join("\n  ")}
}
`,
  });
}

/**
 * Bindings: in0 the gradient, in1 the packed scalars, then (out of place) the old state; the
 * outputs are the state, read-write in place.
 */
function applyProgram(
  op: string,
  resources: number,
  scalars: number,
  inPlace: boolean,
  nesterov: boolean,
  updateSlots: boolean,
  b: Binding,
): Program {
  const state = Array.from({ length: resources }, (_, j) => j);
  const src = (j: number) => (inPlace ? `out${j}` : `in${2 + j}`);
  return program({
    name: `${op}${inPlace ? "" : ".copy"}`,
    key: [nesterov, updateSlots],
    inputs: [b, b, ...(inPlace ? [] : Array(resources).fill(b))],
    outputs: Array(resources).fill(b),
    uniforms: [{ name: "n", type: "u32" }],
    body: () =>
      `${linearMain(WG)}
  if (i >= u.n) { return; }
  let g = in0[i];
  ${Array.from({ length: scalars }, (_, j) => `let k${j} = in1[${j}];`).join("\n  ")}
  ${state.map((j) => `var s${j} = ${src(j)}[i];`).join("\n  ")}
  {
    ${RULES[op](nesterov, updateSlots)}
  }
  ${state.map((j) => `out${j}[i] = s${j};`).join("\n  ")}
}
`,
  });
}

function applyKernel(op: OpDef<TrainingAttrs>) {
  const spec = APPLY_SPECS[op.name];
  const layout = applyLayout(spec);
  const R = spec.resources.length, S = spec.scalars.length;
  return defineGpuKernel(op, {
    dtypes: ["float32"],
    create({ attrs, device }) {
      const b = bindingFor(device, "float32");
      const nesterov = !!attrs.use_nesterov, slots = attrs.update_slots ?? true;
      const inPlace = applyProgram(op.name, R, S, true, nesterov, slots, b);
      const copy = applyProgram(op.name, R, S, false, nesterov, slots, b);
      const pack = packProgram(S, b);
      return {
        programs: [pack, inPlace, copy],
        run(ctx) {
          const handles = layout.resources.map((at) => handleOf(ctx.hostInput(at)));
          const state = handles.map((h) => ctx.resources.get(h));
          const grad = ctx.inputs[layout.grad];
          const scalars = layout.scalars.map((at) => ctx.inputs[at]);
          checkApply(spec, ctx.attrs.T, handles, state, scalars.map((s) => s.shape), grad.shape);
          const n = grad.size;
          if (n === 0) return;
          const workgroups = linearGrid(n, WG, ctx.device.maxWorkgroups);
          // Released at once: the pool keeps a buffer the open batch uses from uploads.
          const packed = ctx.device.allocate({ dtype: "float32", shape: [S] });
          const packing = {
            program: pack,
            inputs: scalars,
            outputs: [packed],
            uniforms: [],
            workgroups: [1] as [number],
          };
          // In place only when every value is the table's alone and shares no storage.
          const exclusive = handles.every((h, i) =>
            ctx.resources.exclusive(h) && state[i].storage.refs === 1
          );
          const finish = <T>(done: T): T => {
            if (done instanceof Promise) {
              return done.finally(() => release(packed)) as T;
            }
            release(packed);
            return done;
          };
          retain(packed);
          if (exclusive) {
            return finish(ctx.device.encode(ctx.node, [packing, {
              program: inPlace,
              inputs: [grad, packed],
              outputs: state,
              uniforms: [n],
              workgroups,
            }]));
          }
          const fresh: GpuBuffer[] = state.map((s) => retain(ctx.device.allocate(s)));
          const swap = () => {
            fresh.forEach((f, i) => {
              ctx.resources.set(handles[i], f);
              release(f);
            });
          };
          const drop = (e: unknown) => {
            fresh.forEach((f) => release(f));
            throw e instanceof Error ? e : new EdgeflowError(String(e));
          };
          let done: void | Promise<void>;
          try {
            done = finish(ctx.device.encode(ctx.node, [packing, {
              program: copy,
              inputs: [grad, packed, ...state],
              outputs: fresh,
              uniforms: [n],
              workgroups,
            }]));
          } catch (e) {
            release(packed);
            return drop(e);
          }
          if (done instanceof Promise) return done.then(swap, drop);
          swap();
        },
      };
    },
    // WGSL's sqrt and division are within 2.5 ULPs (not correctly rounded) and the compiler may
    // fuse a multiply and an add; a difference of nearly equal values (var − update) turns those
    // ULPs of the operands into an absolute error near the largest state value (|s| <= 4 here).
    tolerance: { ulps: 16, atol: 64 * 2 ** -24 * 4, reason: "WGSL float32 sqrt and division" },
  });
}

export const OPTIM_KERNELS = TRAINING_OPS.map(applyKernel);
