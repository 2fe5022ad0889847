/**
 * TensorFlow's stack ops (resource handles): StackV2 makes a stack in the step and outputs its
 * handle; StackPushV2 pushes a value (and forwards it), StackPopV2 pops the top one, StackCloseV2
 * frees the stack. A while loop's gradient (core/grads/while_loop.ts) keeps each iteration's
 * forward values on them (the EuroSys 2018 paper, section 5.1). Stacks are per-step state
 * (core/control_flow/stacks.ts): the kernels (core/control_flow/stack_kernels.ts) keep device
 * buffers, so every device runs them; these references keep host tensors on a HostContext's
 * `stacks`. Popping an empty stack is an EdgeflowError.
 */
import { HostBuffer } from "../buffer.ts";
import { ALL_DTYPES, type DType } from "../dtype.ts";
import { EdgeflowError } from "../errors.ts";
import { defineOp, type HostContext, type TensorSpec } from "../op.ts";
import { formatShape } from "../shape.ts";
import { numberAt, Tensor } from "../tensor.ts";
import { handleOf } from "./state.ts";
import type { StackTable } from "../control_flow/stacks.ts";

/** What a stack may hold: any dtype but resource handles (as TensorFlow's stacks of tensors). */
export const STACK_DTYPES: readonly DType[] = ALL_DTYPES.filter((d) => d !== "resource");

/** A HostContext that holds the step's stacks (a kernel context in a session's step). */
export interface StackHost {
  readonly stacks?: StackTable;
}
export function stacksOf(ctx: HostContext): StackTable {
  const t = (ctx as HostContext & StackHost).stacks;
  if (!t) throw new EdgeflowError("stacks need a session's step (this context holds no stacks)");
  return t;
}

function scalar(s: TensorSpec, what: string): void {
  if (s.shape !== null && s.shape.length !== 0) {
    throw new EdgeflowError(`${what} must be a scalar, got shape ${formatShape(s.shape)}`);
  }
}
function handleInput(h: TensorSpec): void {
  if (h.dtype !== "resource") throw new EdgeflowError(`handle must be a resource, got ${h.dtype}`);
  scalar(h, "handle");
}

/** StackV2's max_size as TensorFlow reads it: a scalar; negative means no bound. */
export function maxSizeOf(t: Tensor): number {
  if (t.rank !== 0) {
    throw new EdgeflowError(`max_size must be a scalar, got shape ${formatShape(t.shape)}`);
  }
  return numberAt(t, 0);
}

const elemType = { kind: "type", allowed: STACK_DTYPES } as const;
const HANDLE = { name: "handle", type: "resource" } as const;

/** StackV2: a new empty stack of `elem_type` holding at most `max_size` elements (< 0: any). */
export const StackV2 = defineOp<{ elem_type: DType; stack_name: string }>({
  name: "StackV2",
  inputs: [{ name: "max_size", type: "int32" }],
  outputs: [{ name: "handle", type: "resource" }],
  hostMemory: { inputs: [0], outputs: [0] },
  attrs: { elem_type: elemType, stack_name: { kind: "string", default: "" } },
  stateful: true,
  infer: ([max]) => {
    scalar(max, "max_size");
    return [{ dtype: "resource", shape: [] }];
  },
  reference: ([max], attrs, ctx) => {
    const s = stacksOf(ctx).create(
      attrs.stack_name || ctx.node.name,
      attrs.elem_type,
      maxSizeOf(max),
    );
    return [new Tensor("resource", [], [s.name])];
  },
  testDTypes: [],
});

/** StackPushV2: pushes `elem` and forwards it. swap_memory is accepted (values stay put). */
export const StackPushV2 = defineOp<{ T: DType; swap_memory: boolean }>({
  name: "StackPushV2",
  inputs: [HANDLE, { name: "elem", type: "T" }],
  outputs: [{ name: "output", type: "T" }],
  hostMemory: { inputs: [0] },
  attrs: { T: elemType, swap_memory: { kind: "bool", default: false } },
  stateful: true,
  infer: ([h, elem]) => {
    handleInput(h);
    return [{ dtype: elem.dtype, shape: elem.shape }];
  },
  reference: ([h, elem], _, ctx) => {
    stacksOf(ctx).get(handleOf(h)).push(new HostBuffer(elem));
    return [elem];
  },
  testDTypes: [],
});

/** StackPopV2: the top element, removed; the stack's shapes are known only at run time. */
export const StackPopV2 = defineOp<{ elem_type: DType }>({
  name: "StackPopV2",
  inputs: [HANDLE],
  outputs: [{ name: "elem", type: "elem_type" }],
  hostMemory: { inputs: [0] },
  attrs: { elem_type: elemType },
  stateful: true,
  infer: ([h], { elem_type }) => {
    handleInput(h);
    return [{ dtype: elem_type, shape: null }];
  },
  reference: ([h], { elem_type }, ctx) => {
    const s = stacksOf(ctx).get(handleOf(h));
    checkElemType(s.elemType, elem_type, s.name);
    const b = s.pop();
    if (!(b instanceof HostBuffer)) {
      throw new EdgeflowError(`stack '${s.name}' holds device buffers; pop it with a kernel`);
    }
    return [b.tensor];
  },
  testDTypes: [],
});

/** A pop's elem_type must be the stack's. */
export function checkElemType(held: DType, wanted: DType, name: string): void {
  if (held !== wanted) {
    throw new EdgeflowError(`stack '${name}' holds ${held}; the pop wants ${wanted}`);
  }
}

/** StackCloseV2: frees the stack and what it holds. */
// deno-lint-ignore ban-types
export const StackCloseV2 = defineOp<{}>({
  name: "StackCloseV2",
  inputs: [HANDLE],
  outputs: [],
  hostMemory: { inputs: [0] },
  attrs: {},
  stateful: true,
  infer: ([h]) => {
    handleInput(h);
    return [];
  },
  reference: ([h], _, ctx) => {
    stacksOf(ctx).close(handleOf(h));
    return [];
  },
  testDTypes: [],
});

export const STACK_OPS = [StackV2, StackPushV2, StackPopV2, StackCloseV2] as const;
