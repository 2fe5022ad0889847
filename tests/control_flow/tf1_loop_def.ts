// TensorFlow 1's counting loop as its GraphDef spells it (i = 0; while i < limit: i += 1),
// written by hand for the import tests; `extra` nodes join it (more Enters, nodes in the body).
import type { GraphDefJson } from "../../core/formats/graphdef_json.ts";

export const INT32 = { type: "DT_INT32" };
export const LOOP_FRAME = { s: btoa("while/while_context") };

/** A scalar int32 Const, with `input` (control inputs, "^name"). */
export function int32Const(name: string, v: number, input: string[] = []) {
  return {
    name,
    op: "Const",
    input,
    attr: {
      dtype: INT32,
      value: { tensor: { dtype: "DT_INT32", tensorShape: {}, intVal: [v] } },
    },
  };
}

/** An Enter into the loop's frame. */
export function loopEnter(
  name: string,
  input: string,
  T: unknown,
  isConstant: boolean,
  pi: number,
) {
  return {
    name,
    op: "Enter",
    input: [input],
    attr: {
      T,
      frame_name: LOOP_FRAME,
      ...(isConstant ? { is_constant: { b: true } } : {}),
      parallel_iterations: { i: String(pi) },
    },
  };
}

/** The loop: placeholder "limit", result "while/Exit", body pivot "while/Identity". */
export function tf1CountingLoop(parallelIterations: number, extra: object[] = []): GraphDefJson {
  const T = INT32;
  return {
    node: [
      { name: "limit", op: "Placeholder", attr: { dtype: T } },
      int32Const("start", 0),
      // "one" hangs on the body's Identity, so it runs in the loop's frame (as TensorFlow
      // builds it).
      int32Const("one", 1, ["^while/Identity"]),
      loopEnter("while/Enter", "start", T, false, parallelIterations),
      loopEnter("while/Enter_1", "limit", T, true, parallelIterations),
      {
        name: "while/Merge",
        op: "Merge",
        input: ["while/Enter", "while/NextIteration"],
        attr: { T, N: { i: "2" } },
      },
      { name: "while/Less", op: "Less", input: ["while/Merge", "while/Enter_1"], attr: { T } },
      { name: "while/LoopCond", op: "LoopCond", input: ["while/Less"] },
      { name: "while/Switch", op: "Switch", input: ["while/Merge", "while/LoopCond"], attr: { T } },
      { name: "while/Identity", op: "Identity", input: ["while/Switch:1"], attr: { T } },
      { name: "while/add", op: "AddV2", input: ["while/Identity", "one"], attr: { T } },
      { name: "while/NextIteration", op: "NextIteration", input: ["while/add"], attr: { T } },
      { name: "while/Exit", op: "Exit", input: ["while/Switch"], attr: { T } },
      ...extra,
    ],
  } as unknown as GraphDefJson;
}
