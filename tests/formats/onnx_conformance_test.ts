// The ONNX backend node tests of Debian's libonnx-testdata through Edgeflow's ONNX importer:
// every case whose ops all map onto Edgeflow's ops must pass on REF, and one case per op on
// WASM; unsupported cases (an op Edgeflow does not map, a data type it lacks) are printed with
// their reasons. Without the package the test fails and says which one to install.
import assert from "node:assert/strict";
import {
  type CaseResult,
  listCases,
  ONNX_NODE_TESTS,
  report,
  runCase,
} from "../../tools/onnx_conformance.ts";

/** ONNX control flow (core/formats/onnx/onnx_ops_control.ts): cases that must pass. */
const CONTROL_FLOW_PASSES = [
  "test_if",
  "test_loop11",
  "test_scan_sum",
  "test_scan9_sum",
  "test_range_float_type_positive_delta_expanded",
  "test_range_int32_type_negative_delta_expanded",
];
/** If and Loop cases over sequences and optionals, types Edgeflow does not have. */
const CONTROL_FLOW_SEQUENCES = [
  "test_if_opt",
  "test_if_seq",
  "test_loop13_seq",
  "test_loop16_seq_none",
];

async function haveTestData(): Promise<boolean> {
  try {
    return (await Deno.stat(ONNX_NODE_TESTS)).isDirectory;
  } catch {
    return false;
  }
}

Deno.test("ONNX node tests: every case of a mapped op passes (REF), one per op on WASM", async () => {
  assert.ok(
    await haveTestData(),
    `${ONNX_NODE_TESTS} is missing: apt-get install libonnx-testdata (.ci/run installs it)`,
  );
  const results: CaseResult[] = [];
  for (const name of await listCases()) results.push(await runCase(name, ONNX_NODE_TESTS, "REF"));
  const mapped = results.filter((r) => r.mapped);
  const unsupported = results.filter((r) => r.outcome === "unsupported");
  console.log(`ONNX node tests on REF:\n${report(results, false)}`);
  for (const r of unsupported) console.log(`unsupported ${r.name}: ${r.reason?.split("\n")[0]}`);
  // Cases whose test data Edgeflow disagrees with for a listed reason (KNOWN_DIFFERENCES).
  for (const r of results.filter((r) => r.outcome === "differs")) {
    console.log(`differs ${r.name}: ${r.reason}`);
  }
  // A mapped op's case may be unsupported only for a data type or feature Edgeflow lacks,
  // never for failing: each of those is printed above with its reason.
  const failed = results.filter((r) => r.outcome === "failed");
  assert.deepEqual(failed.map((r) => `${r.name}: ${r.reason}`), []);
  assert.ok(mapped.filter((r) => r.outcome === "passed").length >= 500, "too few cases passed");
  const byName = new Map(results.map((r) => [r.name, r]));
  assert.deepEqual(
    CONTROL_FLOW_PASSES.filter((n) => byName.get(n)?.outcome !== "passed"),
    [],
    "control-flow cases that must pass",
  );
  for (const n of CONTROL_FLOW_SEQUENCES) {
    assert.equal(byName.get(n)?.outcome, "unsupported", n);
    assert.match(byName.get(n)!.reason!, /Sequence|Optional/, n);
  }

  // WASM: the first passing case of each op (a session per case instantiates WASM, so all
  // of them would take a minute).
  const seen = new Set<string>();
  const wasm: CaseResult[] = [];
  for (const r of mapped) {
    if (r.outcome !== "passed" || r.op === "composite" || seen.has(r.op)) continue;
    seen.add(r.op);
    wasm.push(await runCase(r.name, ONNX_NODE_TESTS, "WASM"));
  }
  console.log(`ONNX node tests on WASM (one per op):\n${report(wasm)}`);
  assert.deepEqual(
    wasm.filter((r) => r.outcome !== "passed").map((r) => `${r.name}: ${r.reason}`),
    [],
  );
});
