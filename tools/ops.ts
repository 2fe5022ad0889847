// `deno task ops`: every op and the device types with a kernel for it, from the registries.
// `deno task ops --json` prints {"ops": {"MatMul": ["REF", "WASM"], ...}}.
import { defaultOpRegistry, defaultRegistry } from "../mod.ts";

const types = defaultRegistry.pluginTypes();
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
    const note = on.length === 0 && name === "Placeholder" ? "  (fed by the session)" : "";
    console.log([name.padEnd(width), ...marks].join("  ") + note);
  }
  console.log(`\n${Object.keys(table).length} ops; device types: ${types.join(", ")}`);
}
