/**
 * A GPU program, declared as data (as onnxruntime-web's ProgramInfo): a name, a shader-cache
 * key, the WGSL source, its bindings and uniforms. A Dispatch is one launch of a program on
 * buffers with uniform values and a grid size. Kernels build dispatches; the device compiles,
 * caches and records them.
 *
 * Binding layout, the same for every program: group 0, bindings 0..inputs-1 are the inputs
 * (read-only storage), then the outputs (read_write storage), then one uniform buffer holding the
 * program's uniform struct (always present, so every layout of a given input/output count is one
 * layout).
 *
 * Shader-cache key rules: the key names everything the WGSL text depends on, and nothing else.
 * - It starts with the program's name ("binary.AddV2") and lists, in a fixed order, the storage
 *   types of the bindings ("f32", "i32", "f16"), the dtype rounding of outputs, the rank where the
 *   code is unrolled per dimension, attrs that change code (transposes, padding mode), and layout
 *   choices (vec4 access, tile sizes).
 * - Tensor sizes, shapes, strides, offsets and attr numbers that fit in a uniform (alpha, epsilon)
 *   are uniforms, never part of the key: one pipeline serves every shape of a given rank.
 * - Equal keys must mean identical WGSL; a key generator that omits something the source uses is a
 *   bug the equivalence suite catches as wrong results for the second variant compiled.
 *
 * Degenerate launches: with every uniform 0 a program must terminate and compute nothing (sizes
 * are 0), since the device warms new pipelines with such a dispatch (warmup.ts). So no loop may
 * step by a uniform.
 */
import type { GpuBuffer } from "./buffer.ts";

export type UniformType = "u32" | "i32" | "f32";

/** One scalar field of a program's uniform struct, in declaration order. */
export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
}

export interface Program {
  /** Names the program in errors and traces ("MatMul.tiled"). */
  readonly name: string;
  /** The shader-cache key (rules above). */
  readonly key: string;
  /** Storage buffers read; bindings 0..inputs-1. */
  readonly inputs: number;
  /** Storage buffers written; the bindings after the inputs. */
  readonly outputs: number;
  /** The uniform struct's fields, each 4 bytes, in order. */
  readonly uniforms: readonly UniformField[];
  /** The WGSL source; called only when the key misses the cache. */
  source(): string;
}

/** One launch of a program. */
export interface Dispatch {
  readonly program: Program;
  readonly inputs: readonly GpuBuffer[];
  readonly outputs: readonly GpuBuffer[];
  /** A value per uniform field, in order. */
  readonly uniforms: readonly number[];
  /** Workgroups along x, y and z (each at most the device's maxComputeWorkgroupsPerDimension). */
  readonly workgroups: readonly [number, number?, number?];
}

/** Bytes one dispatch's uniforms take in the arena (the minimum uniform offset alignment). */
export const UNIFORM_SLOT = 256;

/** Packs uniform values by field type into `out` at byte `offset`. */
export function packUniforms(
  fields: readonly UniformField[],
  values: readonly number[],
  out: DataView,
  offset: number,
): void {
  if (values.length !== fields.length) {
    throw new Error(`expected ${fields.length} uniform values, got ${values.length}`);
  }
  if (fields.length * 4 > UNIFORM_SLOT) throw new Error("too many uniforms for one slot");
  for (let i = 0; i < fields.length; i++) {
    const at = offset + 4 * i;
    const v = values[i];
    switch (fields[i].type) {
      case "u32":
        out.setUint32(at, v, true);
        break;
      case "i32":
        out.setInt32(at, v, true);
        break;
      case "f32":
        out.setFloat32(at, v, true);
        break;
    }
  }
}
