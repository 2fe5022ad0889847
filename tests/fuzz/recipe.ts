// What one fuzz case is, as plain data fast-check draws and shrinks: the graph's sources (fed
// placeholders and constants), a list of node recipes whose choices are read from integer tapes
// against the graph built so far (tests/fuzz/build.ts), the extra fetches and the passes.
import fc from "npm:fast-check@4";
import type { DType } from "../../core/dtype.ts";
import { STACK_OPS } from "../../core/ops/stack.ts";
import { ALL_OPS } from "../../core/ops/registry.ts";
import { QUEUE_OPS } from "../../core/ops/queue.ts";
import { TENSOR_LIST_OPS } from "../../core/ops/tensor_list.ts";
import { TENSOR_ARRAY_OPS } from "../../core/ops/tensor_array.ts";

/** How a placeholder is fed: mostly right, often wrong in one way. */
export type FeedKind =
  | "ok"
  | "missing"
  | "wrongShape"
  | "wrongDType"
  | "nested"
  | "nonNumber"
  | "ragged";

export interface SourceRecipe {
  kind: "placeholder" | "const";
  dtype: DType;
  dims: number[];
  /** What the placeholder declares: its full shape, some dims unknown, or no rank at all. */
  declared: "full" | "partial" | "unknown";
  feed: FeedKind;
  knobs: number[];
}

export interface NodeRecipe {
  op: string;
  /** Whether inputs and attrs are drawn to fit the op (most of the time) or freely. */
  sensible: boolean;
  knobs: number[];
}

export interface CaseRecipe {
  sources: SourceRecipe[];
  nodes: NodeRecipe[];
  /** Indices (modulo the candidates) of outputs fetched besides the graph's sinks. */
  extraFetches: number[];
  constantFolding: boolean;
  cse: boolean;
}

// Sources come from the graph-building ops; random and variable ops are stateful and are left
// to their own tests, NoOp and ControlTrigger have no outputs to compare.
const EXCLUDED = new Set([
  "Const",
  "Placeholder",
  "NoOp",
  "RandomUniform",
  "RandomStandardNormal",
  "TruncatedNormal",
  "VarHandleOp",
  "ReadVariableOp",
  "AssignVariableOp",
  "AssignAddVariableOp",
  "AssignSubVariableOp",
  // Queues hold state across runs and block: tests/queue_test.ts covers them.
  ...QUEUE_OPS.map((op) => op.name),
  // Stacks are step state a push and a later pop share: tests/control_flow/while_grad_test.ts.
  ...STACK_OPS.map((op) => op.name),
  // Lists are variant values no source makes, TensorArrays per-step state:
  // tests/control_flow/tensor_list_test.ts and tensor_array_test.ts cover them.
  ...TENSOR_LIST_OPS.map((op) => op.name),
  ...TENSOR_ARRAY_OPS.map((op) => op.name),
  // Control-flow ops only make sense in the structures cond and whileLoop build: random loops
  // are drawn by tests/control_flow/random_loops_test.ts.
  "Switch",
  "Merge",
  "Enter",
  "Exit",
  "NextIteration",
  "LoopCond",
  "ControlTrigger",
]);
/** The ops the fuzzer draws: every stateless op of the core registry. */
export const FUZZ_OPS: readonly string[] = ALL_OPS.map((op) => op.name).filter((n) =>
  !EXCLUDED.has(n)
);

// Weighted toward the dtypes most kernels have, every dtype reachable.
const SOURCE_DTYPES: readonly DType[] = [
  "float32",
  "float32",
  "float32",
  "float32",
  "int32",
  "int32",
  "int64",
  "bool",
  "bfloat16",
  "float16",
  "uint8",
  "int8",
  "string",
];
const FEED_KINDS: readonly FeedKind[] = [
  "ok",
  "ok",
  "ok",
  "ok",
  "ok",
  "ok",
  "ok",
  "ok",
  "missing",
  "wrongShape",
  "wrongDType",
  "nested",
  "nonNumber",
  "ragged",
];

export interface RecipeLimits {
  /** Most nodes drawn per graph. */
  maxNodes: number;
  /** Largest dim drawn for a source (tensor sizes stay below maxDim^4). */
  maxDim: number;
}
export const DEFAULT_LIMITS: RecipeLimits = { maxNodes: 6, maxDim: 5 };

const knobs = fc.array(fc.nat(2 ** 30), { maxLength: 24 });

export function caseRecipe(limits: RecipeLimits = DEFAULT_LIMITS): fc.Arbitrary<CaseRecipe> {
  const dim = fc.oneof(
    { arbitrary: fc.integer({ min: 1, max: limits.maxDim }), weight: 6 },
    { arbitrary: fc.constant(0), weight: 1 },
  );
  const source: fc.Arbitrary<SourceRecipe> = fc.record({
    kind: fc.constantFrom("placeholder", "placeholder", "const"),
    dtype: fc.constantFrom(...SOURCE_DTYPES),
    dims: fc.array(dim, { maxLength: 4 }),
    declared: fc.constantFrom("full", "full", "partial", "unknown"),
    feed: fc.constantFrom(...FEED_KINDS),
    knobs,
  });
  const node: fc.Arbitrary<NodeRecipe> = fc.record({
    op: fc.constantFrom(...FUZZ_OPS),
    sensible: fc.oneof(
      { arbitrary: fc.constant(true), weight: 4 },
      { arbitrary: fc.constant(false), weight: 1 },
    ),
    knobs,
  });
  return fc.record({
    sources: fc.array(source, { minLength: 1, maxLength: 3 }),
    nodes: fc.array(node, { minLength: 1, maxLength: limits.maxNodes }),
    extraFetches: fc.array(fc.nat(64), { maxLength: 2 }),
    constantFolding: fc.boolean(),
    cse: fc.boolean(),
  });
}
