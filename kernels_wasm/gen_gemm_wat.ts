/**
 * Writes kernels_wasm/src/gemm_6x8.wat and conv_6x8.wat, the float32 GEMM and direct-convolution
 * micro-kernels, whose unrolled steps are too many to keep uniform by hand:
 * `deno run -A kernels_wasm/gen_gemm_wat.ts`, then `deno task build:kernels`. The .wat files are
 * what the build reads (and what review reads).
 */
const ROWS = [0, 1, 2, 3, 4, 5];

/** One step of k: B's two vectors, then each row of A broadcast and multiply-added. */
function step(aLoad: (r: number) => string): string {
  const lines = [
    "(local.set $b0 (v128.load (local.get $b)))",
    "(local.set $b1 (v128.load offset=16 (local.get $b)))",
    "(local.set $b (i32.add (local.get $b) (local.get $ldb)))",
  ];
  for (const r of ROWS) {
    lines.push(`(local.set $x ${aLoad(r)})`);
    lines.push(
      `(local.set $c${r}0 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c${r}0)))`,
    );
    lines.push(
      `(local.set $c${r}1 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c${r}1)))`,
    );
  }
  return lines.map((l) => "          " + l).join("\n");
}

const offset = (bytes: number) => (bytes ? ` offset=${bytes}` : "");
/** A packed panel: row r of step s at a + 24 s + 4 r. */
const packed = (s: number) => (r: number) =>
  `(v128.load32_splat${offset(24 * s + 4 * r)} (local.get $a))`;
/** Rows read in place: row r of step s at a_r + 4 s. */
const direct = (s: number) => (r: number) =>
  `(v128.load32_splat${offset(4 * s)} (local.get $a${r}))`;

function loop(name: string, by: number, body: (s: number) => string, advance: string): string {
  const steps = Array.from({ length: by }, (_, s) => `          ;; k + ${s}\n${body(s)}`).join(
    "\n",
  );
  const test = by === 1 ? "i32.gt_s" : "i32.ge_s";
  const bound = by === 1 ? 0 : by;
  return `      (if (${test} (local.get $k) (i32.const ${bound}))
        (then (loop $${name}
${steps}
${advance}
          (br_if $${name} (${test} (local.tee $k (i32.sub (local.get $k) (i32.const ${by}))) (i32.const ${bound}))))))`;
}

const advancePacked = (by: number) =>
  `          (local.set $a (i32.add (local.get $a) (i32.const ${24 * by})))`;
const advanceDirect = (by: number) =>
  ROWS.map((r) => `          (local.set $a${r} (i32.add (local.get $a${r}) (i32.const ${4 * by})))`)
    .join("\n");

const rowsInit = ROWS.map((r) =>
  r === 0
    ? "      (local.set $a0 (local.get $a))"
    : `      (local.set $a${r} (i32.add (local.get $a${r - 1}) (local.get $lda)))`
).join("\n");

/**
 * Row r of the tile stored at $c (which then moves to the next row): (+ C) (+ bias), activation.
 * Written out for every row: V8 does not inline a call, and a call per row with two v128
 * arguments was 7% of mobilenet_v2_mid's time.
 */
function store(r: number): string {
  const lo = `$c${r}0`, hi = `$c${r}1`;
  const zero = "(v128.const f32x4 0 0 0 0)";
  return `    (if (i32.and (local.get $flags) (i32.const 1))
      (then
        (local.set ${lo} (f32x4.add (local.get ${lo}) (v128.load (local.get $c))))
        (local.set ${hi} (f32x4.add (local.get ${hi}) (v128.load offset=16 (local.get $c))))))
    (if (local.get $bias)
      (then
        (local.set ${lo} (f32x4.add (local.get ${lo}) (v128.load (local.get $bias))))
        (local.set ${hi} (f32x4.add (local.get ${hi}) (v128.load offset=16 (local.get $bias))))))
    (if (local.get $act)
      (then
        (local.set ${lo} (f32x4.add (f32x4.pmax (local.get ${lo}) ${zero}) ${zero}))
        (local.set ${hi} (f32x4.add (f32x4.pmax (local.get ${hi}) ${zero}) ${zero}))
        (if (i32.eq (local.get $act) (i32.const 2))
          (then
            (local.set ${lo} (f32x4.pmin (local.get ${lo}) (v128.const f32x4 6 6 6 6)))
            (local.set ${hi} (f32x4.pmin (local.get ${hi}) (v128.const f32x4 6 6 6 6)))))))
    (v128.store (local.get $c) (local.get ${lo}))
    (v128.store offset=16 (local.get $c) (local.get ${hi}))` +
    (r < 5 ? "\n    (local.set $c (i32.add (local.get $c) (local.get $ldc)))" : "");
}

const wat =
  `;; The float32 GEMM micro-kernel: one 6x8 tile of C. Written by kernels_wasm/gen_gemm_wat.ts
;; (the unrolled steps are generated; edit the generator, not this file).
;;
;; WebAssembly text because Debian's clang 14 only emits the pre-standard opcode for relaxed
;; multiply-add; \`wat2wasm --enable-relaxed-simd\` assembles the standard f32x4.relaxed_madd
;; (0xfd 0x85 0x02) that V8 runs without a flag. relaxed_madd may or may not fuse (an FMA where
;; the CPU has one), so results can differ from a*b+c rounded twice: kernels using this state
;; the tolerance next to themselves.
;;
;; Register blocking: 12 accumulators (6 rows x 2 vectors of 4 columns) + 2 vectors of B + 1
;; broadcast of A = 15 v128 values, which is what x64 V8 can keep in xmm registers (xmm15 is its
;; scratch register), so the k loop runs without spills. V8 does not unroll: a packed A is
;; unrolled 8 times (measured with hot caches, 35.7 GFLOP/s at 1, 39 at 2, 41 at 4, 43 at 8 on one
;; core), rows read in place 4 times (six pointers advance once per pass).
;;
;; Operands:
;;   A: $lda 0: a packed panel, k groups of 6 floats (rows 0..5 of column k, zero-padded past the
;;      last row; gemm_pack.c). Otherwise six rows read in place, row r at $a + r * $lda bytes,
;;      k contiguous floats each (a row-major matrix, a 1x1 convolution's image: no packing).
;;   B: k rows of 8 floats, row p at $b + p * $ldb bytes: a packed panel ($ldb 32) or eight
;;      columns of a row-major matrix read in place ($ldb = its row stride), so weights need no
;;      packing either.
;;   C: the tile at $c, rows $ldc bytes apart. $flags bit 0 adds the tile to what C holds (a
;;      later KC block); $bias (0 for none) points at 8 floats added next; $flags bits 1-2 then
;;      apply an activation: 1 Relu, 2 Relu6 (epilogue.h's codes). The same float32 operations in
;;      the same order as storing C and running epilogue_block after: bit-identical.
(module
  (import "env" "memory" (memory 1 65536 shared))

  (func (export "sgemm_6x8")
    (param $k i32) (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32)
    (param $c i32) (param $ldc i32) (param $flags i32) (param $bias i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $c40 v128) (local $c41 v128) (local $c50 v128) (local $c51 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32) (local $a5 i32)
    (local $act i32)
    ;; Loops test at the bottom: one branch per iteration.
    (if (i32.eqz (local.get $lda))
      (then
${loop("packed8", 8, (s) => step(packed(s)), advancePacked(8))}
${loop("packed1", 1, (s) => step(packed(s)), advancePacked(1))})
      (else
${rowsInit}
${loop("direct4", 4, (s) => step(direct(s)), advanceDirect(4))}
${loop("direct1", 1, (s) => step(direct(s)), advanceDirect(1))}))
    ;; Store the tile row by row. Relu: pmax keeps NaN (NaN < 0 is false) and adding +0 turns -0
    ;; into +0, as the reference's Relu (epilogue.h's relu4) gives; Relu6's pmin keeps NaN too.
    (local.set $act (i32.shr_u (local.get $flags) (i32.const 1)))
${ROWS.map(store).join("\n")}))
`;

const runInit = ROWS.map((r) =>
  `      (local.set $a${r} (i32.add (i32.load${offset(4 * r)} (local.get $rows)) (local.get $o)))`
).join("\n");

const conv =
  `;; The direct convolution micro-kernel: one 6x8 tile of C whose six rows of A are read straight
;; from an NHWC image instead of a packed panel (kernels_wasm/src/gemm_direct.c uses it for
;; convolutions with few input channels, where packing cost as much as the products). Written by
;; kernels_wasm/gen_gemm_wat.ts (edit the generator, not this file).
;;
;; Row r of A starts at the address in word r of $rows and is $segs runs of $seg floats, $ss bytes
;; apart: the window of an output pixel, one filter row (filter_w * in_c contiguous floats) a run.
;; B is read as sgemm_6x8 reads it: k = segs * seg rows of 8 floats, $ldb bytes apart (a packed
;; panel, or the filter's columns in place). C is stored, not added, after the bias and activation
;; of $flags and $bias as sgemm_6x8 applies them.
;;
;; Registers as in gemm_6x8.wat (12 accumulators, 2 vectors of B, 1 broadcast of A: 15 v128), and
;; relaxed_madd for the same reason. The six row pointers are i32 locals advanced once per
;; unrolled iteration, so every A load is a pointer plus a constant offset. The loop is unrolled
;; three times: a filter row of an RGB image is filter_w * 3 floats.
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "sconv_6x8")
    (param $seg i32) (param $segs i32) (param $ss i32) (param $rows i32) (param $b i32)
    (param $ldb i32) (param $c i32) (param $ldc i32) (param $flags i32) (param $bias i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $c40 v128) (local $c41 v128) (local $c50 v128) (local $c51 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $a4 i32) (local $a5 i32)
    (local $k i32) (local $o i32) (local $act i32)
    ;; One run (filter row) per iteration; $o is the run's offset from the windows' first pixel.
    (loop $run
${runInit}
      (local.set $k (local.get $seg))
${loop("by3", 3, (s) => step(direct(s)), advanceDirect(3))}
${loop("by1", 1, (s) => step(direct(s)), advanceDirect(1))}
      (local.set $o (i32.add (local.get $o) (local.get $ss)))
      (br_if $run (local.tee $segs (i32.sub (local.get $segs) (i32.const 1)))))
    ;; Store the tile row by row, as sgemm_6x8 does (its flags' bit 0 is ignored: never added).
    (local.set $flags (i32.and (local.get $flags) (i32.const -2)))
    (local.set $act (i32.shr_u (local.get $flags) (i32.const 1)))
${ROWS.map(store).join("\n")})
${depthwise()})
`;

/**
 * sdw_4x8: four adjacent output pixels of a depthwise convolution (multiplier 1), channels
 * [$k, $k1) in steps of 8 (byte offsets, a multiple of 32 apart). Tap t of pixel q reads x at
 * $base + q * $step + offs[t] + k and the filter at filts[t] + k ($offs: int32 byte offsets,
 * $filts: int32 addresses; $n >= 1 taps); out[q] at $out + q * $ostep + k. 8 accumulators, 2
 * filter vectors, 1 input vector: 11 v128 values. $bias (0: none) adds 8 floats at $bias + k,
 * then $act applies 1 Relu or 2 Relu6, as sgemm_6x8 does.
 */
function depthwise(): string {
  const zero = "(v128.const f32x4 0 0 0 0)";
  const acc = [0, 1, 2, 3, 4, 5, 6, 7];
  const pixel = (q: number) =>
    `          (local.set $a${
      2 * q
    } (f32x4.relaxed_madd (v128.load (local.get $x)) (local.get $f0) (local.get $a${2 * q})))
          (local.set $a${
      2 * q + 1
    } (f32x4.relaxed_madd (v128.load offset=16 (local.get $x)) (local.get $f1) (local.get $a${
      2 * q + 1
    })))` +
    (q < 3 ? "\n          (local.set $x (i32.add (local.get $x) (local.get $step)))" : "");
  const finish = (r: number) =>
    `        (if (local.get $bias)
          (then (local.set $a${r} (f32x4.add (local.get $a${r}) (v128.load offset=${
      16 * (r % 2)
    } (local.get $bp))))))
        (if (local.get $act)
          (then
            (local.set $a${r} (f32x4.add (f32x4.pmax (local.get $a${r}) ${zero}) ${zero}))
            (if (i32.eq (local.get $act) (i32.const 2))
              (then (local.set $a${r} (f32x4.pmin (local.get $a${r}) (v128.const f32x4 6 6 6 6)))))))`;
  const store = (q: number) =>
    `${finish(2 * q)}
${finish(2 * q + 1)}
        (v128.store (local.get $o) (local.get $a${2 * q}))
        (v128.store offset=16 (local.get $o) (local.get $a${2 * q + 1}))` +
    (q < 3 ? "\n        (local.set $o (i32.add (local.get $o) (local.get $ostep)))" : "");
  return `
  ;; Four pixels of a depthwise convolution, 8 channels a pass (see gen_gemm_wat.ts's depthwise):
  ;; each filter vector loaded serves the four pixels; taps summed in order with relaxed_madd.
  (func (export "sdw_4x8")
    (param $n i32) (param $offs i32) (param $filts i32) (param $base i32) (param $step i32)
    (param $out i32) (param $ostep i32) (param $k i32) (param $k1 i32) (param $bias i32)
    (param $act i32)
    ${acc.map((a) => `(local $a${a} v128)`).join(" ")}
    (local $f0 v128) (local $f1 v128)
    (local $t i32) (local $x i32) (local $f i32) (local $o i32) (local $bp i32)
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (loop $channels
${acc.map((a) => `      (local.set $a${a} ${zero})`).join("\n")}
      (local.set $t (i32.const 0))
      (loop $taps
        (local.set $x (i32.add (i32.add (local.get $base) (i32.load (i32.add (local.get $offs) (local.get $t)))) (local.get $k)))
        (local.set $f (i32.add (i32.load (i32.add (local.get $filts) (local.get $t))) (local.get $k)))
        (local.set $f0 (v128.load (local.get $f)))
        (local.set $f1 (v128.load offset=16 (local.get $f)))
${[0, 1, 2, 3].map(pixel).join("\n")}
        (br_if $taps (i32.lt_u (local.tee $t (i32.add (local.get $t) (i32.const 4))) (local.get $n))))
      (local.set $o (i32.add (local.get $out) (local.get $k)))
      (local.set $bp (i32.add (local.get $bias) (local.get $k)))
${[0, 1, 2, 3].map(store).join("\n")}
      (br_if $channels (i32.lt_u (local.tee $k (i32.add (local.get $k) (i32.const 32))) (local.get $k1)))))`;
}

await Deno.writeTextFile(new URL("src/gemm_6x8.wat", import.meta.url), wat);
await Deno.writeTextFile(new URL("src/conv_6x8.wat", import.meta.url), conv);
