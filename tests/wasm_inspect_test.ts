// Reads the built kernel modules with wabt's wasm2wat (the npm package `wabt`, wabt compiled to
// JavaScript, so no system tool is needed) and checks what the WASM device relies on: the memory
// every module imports is shared, the GEMM and convolution micro-kernels multiply with relaxed
// SIMD, and the elementwise kernels are vectorised.
import assert from "node:assert/strict";
import initWabt from "npm:wabt@1";
import {
  CONV_WASM_BASE64,
  GEMM_WASM_BASE64,
  KERNELS_WASM_BASE64,
} from "../kernels_wasm/gen/modules.ts";

const wabt = await initWabt();
/** Every feature wabt's JavaScript API names, as `wasm2wat --enable-all` (the kernels use threads and
 * relaxed SIMD). */
const ALL_FEATURES = {
  exceptions: true,
  mutable_globals: true,
  sat_float_to_int: true,
  sign_extension: true,
  simd: true,
  threads: true,
  function_references: true,
  multi_value: true,
  tail_call: true,
  bulk_memory: true,
  reference_types: true,
  annotations: true,
  code_metadata: true,
  gc: true,
  memory64: true,
  extended_const: true,
  relaxed_simd: true,
};

/** The module's text as `wasm2wat --enable-all` prints it (names from the name section). */
function wat(base64: string): string {
  const module = wabt.readWasm(Uint8Array.fromBase64(base64), {
    readDebugNames: true,
    ...ALL_FEATURES,
  });
  try {
    // As wasm2wat does: references by index print as the name section's names.
    module.applyNames();
    return module.toText({ foldExprs: false, inlineExport: false });
  } finally {
    module.destroy();
  }
}

/** The text of each function, by its name (from the name section or an export). */
function functions(text: string): Map<string, string> {
  const bodies = new Map<string, string>();
  const parts = text.split(/\n {2}\(func /).slice(1);
  const byIndex = new Map<string, string>();
  for (const m of text.matchAll(/\(export "([^"]+)" \(func (\$?[\w.]+|\d+)\)\)/g)) {
    byIndex.set(m[2], m[1]);
  }
  parts.forEach((p) => {
    const id = p.match(/^(\$[\w.]+|\(;(\d+);\))/)!;
    const name = id[1].startsWith("$") ? id[1].slice(1) : byIndex.get(id[2]) ?? id[2];
    bodies.set(name, p);
  });
  // Exports of named functions refer to them by name.
  for (const [ref, exported] of byIndex) {
    if (ref.startsWith("$") && bodies.has(ref.slice(1))) {
      bodies.set(exported, bodies.get(ref.slice(1))!);
    }
  }
  return bodies;
}

const count = (body: string, pattern: RegExp) => body.match(pattern)?.length ?? 0;
const SHARED_MEMORY = /\(import "env" "memory" \(memory \(;0;\) \d+ \d+ shared\)\)/;
const V128 = /\b(v128|f32x4|i32x4|i16x8|i8x16|f64x2|i64x2)\.[a-z_0-9]+/g;

Deno.test("gemm.wasm: shared memory and a relaxed-SIMD 6x8 micro-kernel", () => {
  const text = wat(GEMM_WASM_BASE64);
  assert.match(text, SHARED_MEMORY);
  const kernel = functions(text).get("sgemm_6x8");
  assert.ok(kernel, "gemm.wasm exports sgemm_6x8");
  // One step of k is 12 multiply-adds (6 rows x 2 vectors) with each row of A broadcast once;
  // a packed A's loop is unrolled 8 times and A read in place 4 times, each plus one step for
  // the remainder.
  assert.equal(count(kernel, /f32x4\.relaxed_madd/g), 12 * (9 + 5));
  assert.equal(count(kernel, /v128\.load32_splat/g), 6 * (9 + 5));
});

Deno.test("conv.wasm: shared memory and a relaxed-SIMD 6x8 direct-convolution kernel", () => {
  const text = wat(CONV_WASM_BASE64);
  assert.match(text, SHARED_MEMORY);
  const kernel = functions(text).get("sconv_6x8");
  assert.ok(kernel, "conv.wasm exports sconv_6x8");
  // The same 12 multiply-adds and 6 broadcasts per step as sgemm_6x8; unrolled 3 times, plus one
  // step for the remainder.
  assert.equal(count(kernel, /f32x4\.relaxed_madd/g), 12 * 4);
  assert.equal(count(kernel, /v128\.load32_splat/g), 6 * 4);
  // The depthwise pass: per tap, 4 pixels x 2 vectors of channels, one filter load serving 4.
  const depthwise = functions(text).get("sdw_4x8");
  assert.ok(depthwise, "conv.wasm exports sdw_4x8");
  assert.equal(count(depthwise, /f32x4\.relaxed_madd/g), 8);
});

Deno.test("kernels.wasm: shared memory, the micro-kernels imported, SIMD in the hot kernels", () => {
  const text = wat(KERNELS_WASM_BASE64);
  assert.match(text, SHARED_MEMORY);
  assert.match(text, /\(import "gemm" "sgemm_6x8" \(func/);
  assert.match(text, /\(import "conv" "sconv_6x8" \(func/);
  assert.match(text, /\(import "conv" "sdw_4x8" \(func/);
  const fns = functions(text);
  const simd: Record<string, RegExp> = {
    add_f32: /f32x4\.add/g,
    mul_f32: /f32x4\.mul/g,
    relu_f32: /f32x4\.(gt|pmax|max)|v128\.bitselect/g,
    exp_f32: /f32x4\.mul/g,
    sigmoid_f32: /f32x4\.div/g,
    task_softmax: /f32x4\.pmax/g,
    pack_a: /i8x16\.shuffle/g,
    task_depthwise: /f32x4\.mul/g,
    task_pool: /f32x4\.max/g,
    task_sgemm: /call \$sgemm_6x8/g,
  };
  // Convolutions with few channels call the direct kernel (gemm_direct.c, inlined by the build).
  assert.ok(count(text, /call \$sconv_6x8/g) > 0, "kernels.wasm calls sconv_6x8");
  for (const [name, pattern] of Object.entries(simd)) {
    const body = fns.get(name);
    assert.ok(body, `kernels.wasm has a function ${name}`);
    assert.ok(count(body, pattern) > 0, `${name} uses ${pattern.source}`);
    if (name !== "task_sgemm") assert.ok(count(body, V128) >= 2, `${name} works on v128`);
  }
});
