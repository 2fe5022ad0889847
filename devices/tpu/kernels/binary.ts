/**
 * Binary elementwise ops on the vector unit, with TensorFlow broadcasting. Float programs round
 * every step to float32; one correctly rounded operation equals the float64 reference rounded
 * once, so most are exact. Integers wrap in 32 bits as the hardware's do.
 */
import { type DType, isFloat } from "../../../core/dtype.ts";
import type { Difference } from "../../../core/kernel.ts";
import type { OpDef } from "../../../core/op.ts";
import * as B from "../../../core/ops/binary.ts";
import { cPow, floatFloorDiv, intPow } from "../../../core/ops/scalar_math.ts";
import { binaryIndexes, mapBinary } from "./engine.ts";
import {
  input,
  output,
  TPU_FLOATS,
  TPU_REALS,
  type TpuKernel,
  tpuKernel,
  vpuTolerance,
} from "./util.ts";

type Attrs = { T: DType };
type Scalar2 = (x: number, y: number) => number;
const f = Math.fround;

interface BinaryProgram {
  op: OpDef<Attrs>;
  f32: Scalar2;
  /** Integer and bool semantics (absent: floats only). */
  int?: Scalar2;
  /** Dtypes beyond the arithmetic ones (comparisons of bools). */
  bool?: boolean;
  /** Replaces `f32` per float dtype where the op rounds an intermediate to the dtype. */
  float?: (dtype: DType) => Scalar2;
  alu: number;
  eup?: number;
  ulps?: number;
  why?: string;
  differs?: Difference<Attrs>[];
}

const floorMod: Scalar2 = (x, y) => {
  const r = x % y; // exact in float32 as in float64: |r| < |y| and r = x - q·y exactly
  return r !== 0 && (r < 0) !== (y < 0) ? f(r + y) : r;
};
const intFloorMod: Scalar2 = (x, y) => {
  const r = x % y;
  return r !== 0 && (r < 0) !== (y < 0) ? r + y : r;
};
const cmp = (g: Scalar2): Partial<BinaryProgram> => ({ f32: g, int: g, alu: 1 });

const PROGRAMS: BinaryProgram[] = [
  { op: B.AddV2, f32: (x, y) => f(x + y), int: (x, y) => x + y, alu: 1 },
  { op: B.Sub, f32: (x, y) => f(x - y), int: (x, y) => x - y, alu: 1 },
  { op: B.Mul, f32: (x, y) => f(x * y), int: Math.imul, alu: 1 },
  { op: B.RealDiv, f32: (x, y) => f(x / y), int: (x, y) => x / y, alu: 0, eup: 1 },
  {
    op: B.FloorDiv,
    // Divides in float32 (16-bit floats round the quotient to their width) before flooring, as
    // TensorFlow and the reference do.
    f32: (x, y) => Math.floor(f(x / y)),
    float: floatFloorDiv,
    int: (x, y) => Math.floor(x / y),
    alu: 1,
    eup: 1,
  },
  { op: B.FloorMod, f32: floorMod, int: intFloorMod, alu: 3 },
  { op: B.Maximum, f32: Math.max, int: Math.max, alu: 1 },
  { op: B.Minimum, f32: Math.min, int: Math.min, alu: 1 },
  {
    op: B.Pow,
    f32: (x, y) => f(cPow(x, y)),
    int: intPow,
    alu: 0,
    eup: 2,
  },
  {
    op: B.SquaredDifference,
    f32: (x, y) => {
      const d = f(x - y);
      return f(d * d);
    },
    int: (x, y) => Math.imul(x - y, x - y),
    alu: 2,
    ulps: 3,
    why: "the difference rounds to float32 before squaring: 2·(1/2) ULP + the product's 1/2",
  },
  { op: B.Equal, ...cmp((x, y) => +(x === y)), bool: true } as BinaryProgram,
  { op: B.NotEqual, ...cmp((x, y) => +(x !== y)), bool: true } as BinaryProgram,
  { op: B.Less, ...cmp((x, y) => +(x < y)) } as BinaryProgram,
  { op: B.LessEqual, ...cmp((x, y) => +(x <= y)) } as BinaryProgram,
  { op: B.Greater, ...cmp((x, y) => +(x > y)) } as BinaryProgram,
  { op: B.GreaterEqual, ...cmp((x, y) => +(x >= y)) } as BinaryProgram,
  { op: B.LogicalAnd, f32: (x, y) => x & y, int: (x, y) => x & y, bool: true, alu: 1 },
  { op: B.LogicalOr, f32: (x, y) => x | y, int: (x, y) => x | y, bool: true, alu: 1 },
];

function dtypesFor(p: BinaryProgram): DType[] {
  const base = p.int ? TPU_REALS : TPU_FLOATS;
  const all = p.bool ? [...base, "bool" as const] : base;
  return all.filter((d) => p.op.testDTypes.includes(d));
}

function binaryKernel(p: BinaryProgram): TpuKernel<Attrs> {
  return tpuKernel(p.op, {
    dtypes: dtypesFor(p),
    create(c) {
      // The node's dtype picks its scalar program once; broadcast plans are memoized by shape.
      const T = c.attrs.T;
      const program = isFloat(T) ? p.float?.(T) ?? p.f32 : p.int!;
      const indexes = binaryIndexes(c.inputs[0].shape, c.inputs[1].shape, c.outputs[0].shape);
      return {
        run(ctx) {
          const x = input(ctx, 0), y = input(ctx, 1);
          const out = output(ctx, 0);
          mapBinary(x, y, out, program, indexes);
          const n = out.data.length;
          const widen = T === "bfloat16" ? x.data.length + y.data.length + n : 0;
          ctx.device.charge(ctx, {
            vpuOps: n * p.alu + widen,
            eupOps: n * (p.eup ?? 0),
            hbmBytes: x.bytes + y.bytes + out.bytes,
            flops: n * (p.alu + (p.eup ?? 0)),
          });
        },
      };
    },
    tolerance: (c) => vpuTolerance(c.attrs.T, p.ulps ?? 0, p.why ?? ""),
    differs: p.differs,
  });
}

export const BINARY_KERNELS: readonly TpuKernel[] = PROGRAMS.map(binaryKernel);
