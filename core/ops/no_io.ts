/**
 * The OpDef fields of an op that takes no inputs and gives no outputs (NoOp, ControlTrigger):
 * it only orders what hangs on it by control edges.
 */
import type { OpDefInit } from "../op.ts";

export const NO_INPUTS_OR_OUTPUTS: Pick<
  OpDefInit<Record<never, never>>,
  "inputs" | "outputs" | "attrs" | "infer" | "reference" | "arbitrary"
> = {
  inputs: [],
  outputs: [],
  attrs: {},
  infer: () => [],
  reference: () => [],
  arbitrary: (fc) => fc.constant({ inputs: [], attrs: {} }),
};
