/**
 * ONNX backend node tests (Debian's libonnx-testdata: data/node/<case>/model.onnx with
 * test_data_set_N/input_*.pb and output_*.pb) run through Edgeflow's ONNX importer. Each case is
 * passed, failed (a wrong answer or an unexpected error) or unsupported (an op Edgeflow does not
 * map, a data type it lacks, a feature the importer refuses, each with its reason).
 *
 * `deno task onnx-conformance [filter] [--device=WASM]` prints the report per op;
 * tests/formats/onnx_conformance_test.ts requires every case of a mapped op to pass.
 */
import { EdgeflowError } from "../core/errors.ts";
import { Session } from "../mod.ts";
import { numbers, type Tensor } from "../core/tensor.ts";
import { checkOnnxOpsSupported, fromOnnxBinary } from "../core/formats/onnx/onnx_model.ts";
import { OnnxNeedsConstantError } from "../core/formats/onnx/onnx_context.ts";
import { decodeOnnxModel, decodeOnnxTensor } from "../core/formats/onnx/onnx_decode.ts";
import { ONNX_DTYPE } from "../core/formats/onnx/onnx_schema.ts";
import { OnnxUnsupportedError, tensorFromOnnx } from "../core/formats/onnx/onnx_tensor.ts";
import { isMappedOnnxOp } from "../core/formats/onnx/onnx_ops.ts";

export const ONNX_NODE_TESTS = "/usr/share/libonnx-testdata/data/node";
/** The ONNX backend tests' default tolerances (onnx/backend/test/runner). */
const RTOL = 1e-3;
const ATOL = 1e-7;
const MAX_BYTES = 2 ** 28;

/**
 * "differs": a case whose test data Edgeflow is right to disagree with, for the reason listed
 * in KNOWN_DIFFERENCES (the runner reports the disagreement; any other failure stays "failed").
 */
export type Outcome = "passed" | "failed" | "unsupported" | "differs";

const BF16_TRUNCATION = "ONNX 1.12's test data truncate float32 to bfloat16; TensorFlow (and " +
  "ONNX from 1.13) round to nearest even, as Edgeflow does";
const LIKE_SHAPE = "the test feeds 'like' with shape [1] where the model declares [3, 4]; " +
  "Edgeflow refuses a feed that contradicts its placeholder's shape";
export const KNOWN_DIFFERENCES: Readonly<Record<string, string>> = {
  test_cast_FLOAT_to_BFLOAT16: BF16_TRUNCATION,
  test_castlike_FLOAT_to_BFLOAT16: LIKE_SHAPE,
  test_castlike_FLOAT_to_BFLOAT16_expanded: LIKE_SHAPE,
  test_castlike_BFLOAT16_to_FLOAT: LIKE_SHAPE,
  test_castlike_BFLOAT16_to_FLOAT_expanded: LIKE_SHAPE,
  test_adam_multiple: "the expected outputs use an epsilon of 1e-2 that the node does not set; " +
    "ONNX's Adam schema defaults it to 1e-6 (onnx.defs), which Edgeflow takes",
};
export interface CaseResult {
  name: string;
  /** The op the case tests: its one node's op_type, or "composite" (function-expanded cases). */
  op: string;
  /** Whether every op of the model is one Edgeflow maps. */
  mapped: boolean;
  outcome: Outcome;
  reason?: string;
  /** Inputs bound as constants because an op takes them as attributes. */
  frozen?: string[];
}

/** The case directories under `dir` whose names contain `filter`. */
export async function listCases(dir = ONNX_NODE_TESTS, filter = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && e.name.includes(filter)) out.push(e.name);
  }
  return out.sort();
}

/**
 * The test data's tensors; `types` are the model's elem_types for them. ONNX 1.12 wrote bfloat16
 * test data as UINT16 bit patterns: those are read as the BFLOAT16 the model declares.
 */
async function readTensors(dir: string, prefix: string, types: number[]): Promise<Tensor[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) if (e.name.startsWith(prefix)) names.push(e.name);
  names.sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]));
  return await Promise.all(names.map(async (n) => {
    const bytes = await Deno.readFile(`${dir}/${n}`);
    const proto = decodeOnnxTensor(bytes, `${dir}/${n}`);
    const i = Number(n.match(/\d+/)![0]);
    if (proto.dataType === ONNX_DTYPE.UINT16 && types[i] === ONNX_DTYPE.BFLOAT16) {
      proto.dataType = ONNX_DTYPE.BFLOAT16;
    }
    return tensorFromOnnx(proto, `${dir}/${n}`, MAX_BYTES);
  }));
}

/** Runs one case on `device`. */
export async function runCase(
  name: string,
  dir = ONNX_NODE_TESTS,
  device?: string,
): Promise<CaseResult> {
  const r = await runCaseRaw(name, dir, device);
  const known = KNOWN_DIFFERENCES[name];
  if (r.outcome !== "failed" || !known) return r;
  return { ...r, outcome: "differs", reason: `${known} (here: ${r.reason})` };
}

async function runCaseRaw(name: string, dir: string, device?: string): Promise<CaseResult> {
  const path = `${dir}/${name}`;
  const bytes = await Deno.readFile(`${path}/model.onnx`);
  let op = "composite", mapped = false;
  let inputTypes: number[] = [], outputTypes: number[] = [];
  try {
    const proto = decodeOnnxModel(bytes, `${name}/model.onnx`);
    const inits = new Set(proto.graph?.initializer.map((t) => t.name));
    inputTypes = (proto.graph?.input ?? []).filter((v) => !inits.has(v.name))
      .map((v) => v.elemType ?? 0);
    outputTypes = (proto.graph?.output ?? []).map((v) => v.elemType ?? 0);
    const nodes = proto.graph?.node ?? [];
    if (nodes.length === 1) op = nodes[0].opType;
    mapped = nodes.every((n) => isMappedOnnxOp(n.domain, n.opType));
    // Before reading test data, which for sequences and optionals is no TensorProto.
    checkOnnxOpsSupported(proto.graph!, `${name}/model.onnx`);
    const value = [...proto.graph!.input, ...proto.graph!.output].find((v) => v.nonTensor);
    if (value) {
      return {
        name,
        op,
        mapped,
        outcome: "unsupported",
        reason: `'${value.name}' is a ${value.nonTensor}, not a tensor`,
      };
    }
  } catch (e) {
    if (e instanceof OnnxUnsupportedError) {
      return { name, op, mapped, outcome: "unsupported", reason: message(e) };
    }
    return { name, op, mapped, outcome: "failed", reason: `decode: ${message(e)}` };
  }
  const result = (outcome: Outcome, reason?: string, frozen?: string[]): CaseResult => ({
    name,
    op,
    mapped,
    outcome,
    ...(reason ? { reason } : {}),
    ...(frozen?.length ? { frozen } : {}),
  });
  const sets: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isDirectory && e.name.startsWith("test_data_set_")) sets.push(e.name);
  }
  sets.sort();
  const frozenAll = new Set<string>();
  try {
    for (const set of sets) {
      const inputs = await readTensors(`${path}/${set}`, "input_", inputTypes);
      const expected = await readTensors(`${path}/${set}`, "output_", outputTypes);
      const r = await runSet(bytes, name, inputs, expected, device);
      r.frozen.forEach((f) => frozenAll.add(f));
      if (r.mismatch) return result("failed", `${set}: ${r.mismatch}`, [...frozenAll]);
    }
  } catch (e) {
    if (e instanceof OnnxUnsupportedError) return result("unsupported", message(e));
    return result("failed", message(e), [...frozenAll]);
  }
  return result("passed", undefined, [...frozenAll]);
}

async function runSet(
  bytes: Uint8Array,
  name: string,
  inputs: Tensor[],
  expected: Tensor[],
  device?: string,
): Promise<{ mismatch?: string; frozen: string[] }> {
  const proto = decodeOnnxModel(bytes, name);
  const inits = new Set(proto.graph!.initializer.map((t) => t.name));
  const inputNames = proto.graph!.input.map((v) => v.name).filter((n) => !inits.has(n));
  const byName = new Map(inputNames.map((n, i) => [n, inputs[i]]));
  const constantInputs: Record<string, Tensor> = {};
  // An op that takes an argument as an attribute (Slice's bounds) needs it at load time: bind
  // the fed value as a constant and load again, as a model exported with it folded would be.
  for (let attempt = 0;; attempt++) {
    try {
      const model = fromOnnxBinary(bytes, { file: `${name}/model.onnx`, constantInputs });
      const feeds = model.inputs.map((i) => [i.name, byName.get(i.key)!] as [string, Tensor]);
      await using s = new Session(model.graph, device ? { device } : {});
      const got = await s.run(model.outputs.map((o) => o.name), feeds) as Tensor[];
      const frozen = Object.keys(constantInputs);
      for (const [i, e] of expected.entries()) {
        const why = compare(got[i], e);
        if (why) return { mismatch: `output ${i} ('${model.outputs[i].key}'): ${why}`, frozen };
      }
      return { frozen };
    } catch (e) {
      if (e instanceof OnnxNeedsConstantError && byName.has(e.input) && attempt < 8) {
        constantInputs[e.input] = byName.get(e.input)!;
        continue;
      }
      throw e;
    }
  }
}

/** Why `got` is not `want` within the backend tests' tolerance; undefined when it is. */
export function compare(got: Tensor, want: Tensor): string | undefined {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, expected ${want.dtype}`;
  if (got.shape.join() !== want.shape.join()) {
    return `shape [${got.shape}], expected [${want.shape}]`;
  }
  const a = numbers(got), b = numbers(want);
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (Number.isNaN(y) ? Number.isNaN(x) : Math.abs(x - y) <= ATOL + RTOL * Math.abs(y)) continue;
    if (x === y) continue; // equal infinities
    return `element ${i}: ${x}, expected ${y}`;
  }
  return undefined;
}

function message(e: unknown): string {
  if (e instanceof EdgeflowError) return e.message;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

const OUTCOMES: readonly Outcome[] = ["passed", "failed", "unsupported", "differs"];

/** The report: per op, a count per outcome, then each non-passing case's reason. */
export function report(results: readonly CaseResult[], verbose = true): string {
  const byOp = new Map<string, CaseResult[]>();
  for (const r of results) byOp.set(r.op, [...(byOp.get(r.op) ?? []), r]);
  const row = (label: string, rs: readonly CaseResult[]) =>
    label.padEnd(28) +
    OUTCOMES.map((o) => String(rs.filter((r) => r.outcome === o).length).padStart(13)).join("");
  const lines = ["op".padEnd(28) + OUTCOMES.map((o) => o.padStart(13)).join("")];
  for (const [op, rs] of [...byOp].sort(([a], [b]) => a.localeCompare(b))) lines.push(row(op, rs));
  lines.push(row("total", results));
  if (verbose) {
    for (const r of results) {
      if (r.outcome === "passed") continue;
      lines.push(`${r.outcome.toUpperCase()} ${r.name}: ${r.reason?.split("\n").join(" | ")}`);
    }
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const device = Deno.args.find((a) => a.startsWith("--device="))?.slice(9);
  const filter = Deno.args.find((a) => !a.startsWith("--")) ?? "";
  const results: CaseResult[] = [];
  for (const name of await listCases(ONNX_NODE_TESTS, filter)) {
    results.push(await runCase(name, ONNX_NODE_TESTS, device));
  }
  console.log(report(results));
}
