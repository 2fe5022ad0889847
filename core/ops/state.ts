/**
 * Resource variables: VarHandleOp names a variable, ReadVariableOp and the Assign*VariableOp ops
 * read and update it. Values live in the device's ResourceTable across runs; the reference
 * implementations use the HostContext's variables.
 */
import { type DType, NUMERIC_DTYPES, REAL_DTYPES } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type HostContext, type OpCase } from "../op.ts";
import { formatShape, isCompatible, type PartialShape } from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { arbShape, randomTensor } from "../testing/arbitrary.ts";
import type { Arbitrary, FastCheck } from "../testing/fast_check_types.ts";
import { mapBinary } from "./elementwise.ts";
import { identityGrad } from "../grads/math.ts";

const VALUE_DTYPES = NUMERIC_DTYPES;

type VarHandleAttrs = { dtype: DType; shape: PartialShape; container: string; shared_name: string };
export const VarHandleOp = defineOp<VarHandleAttrs>({
  name: "VarHandleOp",
  inputs: [],
  outputs: [{ name: "resource", type: "resource" }],
  hostMemory: { outputs: [0] },
  attrs: {
    dtype: { kind: "type", allowed: VALUE_DTYPES },
    shape: { kind: "shape", default: null },
    container: { kind: "string", default: "" },
    shared_name: { kind: "string", default: "" },
  },
  stateful: true,
  infer: (_, { dtype, shape }) => [{ dtype: "resource", shape: [], handle: { dtype, shape } }],
  reference: (_, attrs, ctx) => [new Tensor("resource", [], [handleName(attrs, ctx.node.name)])],
  arbitrary: (fc, dtype) =>
    fc.tuple(arbShape(fc), fc.constantFrom("v", "w", "layer/kernel")).map(([shape, name]) => ({
      inputs: [],
      attrs: { dtype, shape, shared_name: name },
    })),
});

/** The handle's string: container and shared name, or the node's name when no shared name is set. */
export function handleName(
  attrs: { container: string; shared_name: string },
  nodeName: string,
): string {
  const name = attrs.shared_name || nodeName;
  return attrs.container ? `${attrs.container}/${name}` : name;
}

/** The handle string a resource tensor carries. */
export function handleOf(t: Tensor): string {
  if (t.dtype !== "resource" || t.size !== 1) {
    throw new EdgeflowError(`expected a scalar resource handle, got ${t}`);
  }
  return (t.data as string[])[0];
}

function checkValue(handle: string, dtype: DType, value: Tensor | { dtype: DType }) {
  if (value.dtype !== dtype) {
    throw new EdgeflowError(`variable '${handle}' holds ${dtype}, got a ${value.dtype} value`);
  }
}

type ReadAttrs = { dtype: DType };
export const ReadVariableOp = defineOp<ReadAttrs>({
  gradient: identityGrad,
  name: "ReadVariableOp",
  inputs: [{ name: "resource", type: "resource" }],
  outputs: [{ name: "value", type: "dtype" }],
  hostMemory: { inputs: [0] },
  attrs: { dtype: { kind: "type", allowed: VALUE_DTYPES } },
  stateful: true,
  infer: ([r], { dtype }) => {
    if (r.handle && r.handle.dtype !== dtype) {
      throw new EdgeflowError(`reads ${dtype} from a variable of ${r.handle.dtype}`);
    }
    return [{ dtype, shape: r.handle?.shape ?? null }];
  },
  reference: ([r], { dtype }, ctx) => {
    const value = ctx.readVariable(handleOf(r));
    checkValue(handleOf(r), dtype, value);
    return [value];
  },
  arbitrary: (fc, dtype) =>
    withVariable(
      fc,
      dtype,
      (handle, value) => ({ inputs: [handle], attrs: {}, variables: { v: value } }),
    ),
});

type AssignAttrs = { dtype: DType; validate_shape: boolean };
export const AssignVariableOp = defineOp<AssignAttrs>({
  name: "AssignVariableOp",
  inputs: [{ name: "resource", type: "resource" }, { name: "value", type: "dtype" }],
  outputs: [],
  hostMemory: { inputs: [0] },
  attrs: {
    dtype: { kind: "type", allowed: VALUE_DTYPES },
    validate_shape: { kind: "bool", default: false },
  },
  stateful: true,
  infer: ([r, value], { validate_shape }) => {
    if (validate_shape && r.handle && !isCompatible(value.shape, r.handle.shape)) {
      throw new EdgeflowError(
        `assigns shape ${formatShape(value.shape)} to a variable of shape ${
          formatShape(r.handle.shape)
        }`,
      );
    }
    return [];
  },
  reference: ([r, value], { dtype }, ctx) => {
    checkValue(handleOf(r), dtype, value);
    ctx.assignVariable(handleOf(r), value);
    return [];
  },
  arbitrary: (fc, dtype) => withVariable(fc, dtype, writeCase),
});

/** AssignAdd and AssignSub: read, combine, write back (in place on devices when exclusive). */
function defineUpdate(
  name: string,
  f: (x: number, y: number) => number,
  big: (x: bigint, y: bigint) => bigint,
) {
  return defineOp<{ dtype: DType }>({
    name,
    inputs: [{ name: "resource", type: "resource" }, { name: "value", type: "dtype" }],
    outputs: [],
    hostMemory: { inputs: [0] },
    attrs: { dtype: { kind: "type", allowed: REAL_DTYPES } },
    stateful: true,
    infer: () => [],
    reference: ([r, delta], { dtype }, ctx: HostContext) => {
      const handle = handleOf(r);
      const old = ctx.readVariable(handle);
      checkValue(handle, dtype, delta);
      if (
        old.shape.length !== delta.shape.length || old.shape.some((d, i) => d !== delta.shape[i])
      ) {
        throw new EdgeflowError(
          `updates variable '${handle}' of shape ${formatShape(old.shape)} with shape ${
            formatShape(delta.shape)
          }`,
        );
      }
      ctx.assignVariable(handle, mapBinary(old, delta, dtype, f, big));
      return [];
    },
    arbitrary: (fc, dtype) => withVariable(fc, dtype, writeCase),
  });
}
export const AssignAddVariableOp = defineUpdate(
  "AssignAddVariableOp",
  (x, y) => x + y,
  (x, y) => x + y,
);
export const AssignSubVariableOp = defineUpdate(
  "AssignSubVariableOp",
  (x, y) => x - y,
  (x, y) => x - y,
);

/** Writes a new value of the variable's shape into "v". */
function writeCase(handle: Tensor, value: Tensor, seed: number) {
  return {
    inputs: [handle, randomTensor(value.dtype, value.shape, seed + 1)],
    attrs: {},
    variables: { v: value },
  };
}

/** A case around a variable named "v" holding a random value of the dtype. */
function withVariable<A extends { dtype: DType }>(
  fc: FastCheck,
  dtype: DType,
  make: (
    handle: Tensor,
    value: Tensor,
    seed: number,
  ) => Omit<OpCase<A>, "attrs"> & { attrs: Partial<A> },
): Arbitrary<OpCase<A>> {
  return fc.tuple(arbShape(fc), fc.nat()).map(([shape, seed]) => {
    const c = make(new Tensor("resource", [], ["v"]), randomTensor(dtype, shape, seed), seed);
    return { ...c, attrs: { ...c.attrs, dtype } as Partial<A> };
  });
}

export const STATE_OPS = [
  VarHandleOp,
  ReadVariableOp,
  AssignVariableOp,
  AssignAddVariableOp,
  AssignSubVariableOp,
];
