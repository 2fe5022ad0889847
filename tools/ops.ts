// `deno task ops`: every op and the device types with a kernel for it, from the registries.
// `deno task ops --json` prints {"ops": {"MatMul": ["REF", "WASM"], ...}}.
import { defaultOpRegistry, defaultRegistry } from "../mod.ts";

const types = defaultRegistry.pluginTypes();

/** Why an op runs on REF only, where that is a decision rather than a kernel not yet written. */
const REF_ONLY: Record<string, string> = {
  ...Object.fromEntries(
    [
      "FIFOQueueV2",
      "RandomShuffleQueueV2",
      "PaddingFIFOQueueV2",
      "QueueEnqueueV2",
      "QueueEnqueueManyV2",
      "QueueDequeueV2",
      "QueueDequeueManyV2",
      "QueueCloseV2",
      "QueueSizeV2",
    ].map((n) => [n, "queues are host state, as TensorFlow's CPU-resident queues"]),
  ),
  ...Object.fromEntries(
    ["Where", "Unique", "NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5"].map(
      (n) => [n, "data-dependent post-processing, once per image after the network"],
    ),
  ),
};
/**
 * Ops whose kernels, on every device listing them, run the reference on host-memory arguments:
 * bookkeeping of host objects, not arithmetic (core/tensor_list/kernels.ts).
 */
const HOST_KERNELS = new Set(
  defaultOpRegistry.list().filter((op) => /^(EmptyTensorList|TensorList|TensorArray)/.test(op.name))
    .map((op) => op.name),
);
const table = Object.fromEntries(
  defaultOpRegistry.list().sort((a, b) => a.name.localeCompare(b.name)).map((op) => [
    op.name,
    types.filter((t) => defaultRegistry.deviceTypesFor(op.name).includes(t)),
  ]),
);

if (Deno.args.includes("--json")) {
  console.log(JSON.stringify({ ops: table }, null, 2));
} else {
  const width = Math.max(...Object.keys(table).map((n) => n.length));
  console.log(["op".padEnd(width), ...types].join("  "));
  for (const [name, on] of Object.entries(table)) {
    const marks = types.map((t) => (on.includes(t) ? "x" : "-").padEnd(t.length));
    const note = on.length === 0 && name === "Placeholder"
      ? "  (fed by the session)"
      : REF_ONLY[name] && on.length === 1
      ? `  (REF only: ${REF_ONLY[name]})`
      : HOST_KERNELS.has(name)
      ? "  (host kernel: the reference on host-memory lists and arrays)"
      : "";
    console.log([name.padEnd(width), ...marks].join("  ") + note);
  }
  console.log(`\n${Object.keys(table).length} ops; device types: ${types.join(", ")}`);
}
