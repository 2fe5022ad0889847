;; The float32 GEMM micro-kernel: one 6x8 tile of C from packed panels of A and B.
;;
;; Written as WebAssembly text because Debian's clang 14 only emits the pre-standard opcode for
;; relaxed multiply-add; `wat2wasm --enable-relaxed-simd` assembles the standard
;; f32x4.relaxed_madd (0xfd 0x85 0x02) that V8 runs without a flag. relaxed_madd may or may not
;; fuse (an FMA where the CPU has one), so results can differ from a*b+c rounded twice: kernels
;; using this state the tolerance next to themselves.
;;
;; Register blocking: 12 accumulators (6 rows x 2 vectors of 4 columns) + 2 vectors of B + 1
;; broadcast of A = 15 v128 values, which is what x64 V8 can keep in xmm registers (xmm15 is its
;; scratch register), so the k loop runs without spills.
;;
;; Packed layouts (the C side packs, see gemm_pack.c):
;;   A panel: k groups of 6 floats (rows 0..5 of column k), zero-padded past the last row.
;;   B panel: k groups of 8 floats (columns 0..7 of row k), zero-padded past the last column.
(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; Stores (or adds, when $acc is non-zero) one row of 8 floats at $p.
  (func $row (param $p i32) (param $acc i32) (param $lo v128) (param $hi v128)
    (if (local.get $acc)
      (then
        (local.set $lo (f32x4.add (local.get $lo) (v128.load (local.get $p))))
        (local.set $hi (f32x4.add (local.get $hi) (v128.load offset=16 (local.get $p))))))
    (v128.store (local.get $p) (local.get $lo))
    (v128.store offset=16 (local.get $p) (local.get $hi)))

  ;; C[0..6, 0..8] (+)= sum over k of A[., k] * B[k, .].
  ;; $k: depth (>= 0); $a, $b: packed panels; $c: tile origin; $ldc: C's row stride in bytes;
  ;; $acc: 0 stores the tile, 1 adds it to what C holds.
  (func (export "sgemm_6x8")
    (param $k i32) (param $a i32) (param $b i32) (param $c i32) (param $ldc i32) (param $acc i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $c40 v128) (local $c41 v128) (local $c50 v128) (local $c51 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (if (i32.gt_s (local.get $k) (i32.const 0))
      (then
        (loop $depth
          (local.set $b0 (v128.load (local.get $b)))
          (local.set $b1 (v128.load offset=16 (local.get $b)))
          (local.set $x (v128.load32_splat (local.get $a)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c01)))
          (local.set $x (v128.load32_splat offset=4 (local.get $a)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c11)))
          (local.set $x (v128.load32_splat offset=8 (local.get $a)))
          (local.set $c20 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c20)))
          (local.set $c21 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c21)))
          (local.set $x (v128.load32_splat offset=12 (local.get $a)))
          (local.set $c30 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c30)))
          (local.set $c31 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c31)))
          (local.set $x (v128.load32_splat offset=16 (local.get $a)))
          (local.set $c40 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c40)))
          (local.set $c41 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c41)))
          (local.set $x (v128.load32_splat offset=20 (local.get $a)))
          (local.set $c50 (f32x4.relaxed_madd (local.get $x) (local.get $b0) (local.get $c50)))
          (local.set $c51 (f32x4.relaxed_madd (local.get $x) (local.get $b1) (local.get $c51)))
          (local.set $a (i32.add (local.get $a) (i32.const 24)))
          (local.set $b (i32.add (local.get $b) (i32.const 32)))
          (br_if $depth (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
    (call $row (local.get $c) (local.get $acc) (local.get $c00) (local.get $c01))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $row (local.get $c) (local.get $acc) (local.get $c10) (local.get $c11))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $row (local.get $c) (local.get $acc) (local.get $c20) (local.get $c21))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $row (local.get $c) (local.get $acc) (local.get $c30) (local.get $c31))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $row (local.get $c) (local.get $acc) (local.get $c40) (local.get $c41))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $row (local.get $c) (local.get $acc) (local.get $c50) (local.get $c51))))
