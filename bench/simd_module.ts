/**
 * The WebAssembly module of the machine-limit probes (bench/wasm_limits.ts), emitted as bytes
 * here so that the bench needs no assembler. It imports a shared `env.memory`, as the WASM
 * device's kernels do, and exports:
 *
 *   fma(n: i32) -> f32            n iterations of FMA_PER_ITER independent f32x4.relaxed_madd
 *                                 (FMA_CHAINS chains, each acc = acc * m + c; 8 FLOPs each)
 *   copy(dst, src, bytes)         memory.copy
 *   stream(dst, src, bytes)       v128.load + v128.store, 64 bytes per iteration (bytes % 64 == 0)
 *
 * The chains are independent so that the loop is bound by FMA throughput, not latency (x86 FMA:
 * 4 cycles latency, 2 per cycle: 8 chains in flight), and few enough to stay in registers (V8
 * allocates 15 of x64's 16 xmm registers; chains + m + c use 12). acc = acc * 0.999 + 0.001
 * converges to 1: no overflow, no subnormals.
 */

export const FMA_CHAINS = 10;
/** Rounds of every chain per loop iteration, so the counter and branch cost little. */
const FMA_UNROLL = 4;
export const FMA_PER_ITER = FMA_CHAINS * FMA_UNROLL;
/** One f32x4 multiply-add: 4 lanes × (multiply + add). */
export const FLOPS_PER_FMA = 8;

const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;
const op = {
  block: 0x02,
  loop: 0x03,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  f32Const: 0x43,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  void: 0x40,
} as const;
/** 0xfd-prefixed SIMD opcodes (LEB128 after the prefix). */
const simd = {
  load: 0x00,
  store: 0x0b,
  f32x4Splat: 0x13,
  f32x4ExtractLane: 0x1f,
  f32x4Add: 0xe4,
  f32x4RelaxedMadd: 0x105,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

const f32 = (x: number) => [...new Uint8Array(new Float32Array([x]).buffer)];
const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const simdOp = (code: number) => [0xfd, ...uleb(code)];
/** memarg of a v128 access: alignment 2^4, constant offset. */
const memarg = (offset: number) => [4, ...uleb(offset)];
const splat = (x: number) => [op.f32Const, ...f32(x), ...simdOp(simd.f32x4Splat)];

/** A function body: local declarations (one [count, type] run each), then code. */
function body(locals: [number, number][], code: number[]): number[] {
  const b = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...code, op.end];
  return [...uleb(b.length), ...b];
}

/** fma: param 0 = n; locals 1..FMA_CHAINS = chains, then m, c. */
function fmaBody(): number[] {
  const acc = (i: number) => 1 + i, m = 1 + FMA_CHAINS, c = 2 + FMA_CHAINS;
  const code = [...splat(0.999), op.localSet, m, ...splat(0.001), op.localSet, c];
  for (let i = 0; i < FMA_CHAINS; i++) code.push(...splat(i / FMA_CHAINS), op.localSet, acc(i));
  code.push(op.loop, op.void);
  for (let u = 0; u < FMA_UNROLL; u++) {
    for (let i = 0; i < FMA_CHAINS; i++) {
      code.push(op.localGet, acc(i), op.localGet, m, op.localGet, c);
      code.push(...simdOp(simd.f32x4RelaxedMadd), op.localSet, acc(i));
    }
  }
  code.push(op.localGet, 0, op.i32Const, ...sleb(1), op.i32Sub, op.localTee, 0, op.brIf, 0);
  code.push(op.end);
  // The sum of the chains is returned, so no engine may drop the loop as dead code.
  code.push(op.localGet, acc(0));
  for (let i = 1; i < FMA_CHAINS; i++) code.push(op.localGet, acc(i), ...simdOp(simd.f32x4Add));
  code.push(...simdOp(simd.f32x4ExtractLane), 0);
  return body([[FMA_CHAINS + 2, V128]], code);
}

/** copy: params dst, src, bytes. */
function copyBody(): number[] {
  const code = [op.localGet, 0, op.localGet, 1, op.localGet, 2, 0xfc, ...uleb(10), 0, 0];
  return body([], code);
}

/** stream: params dst (0), src (1), bytes (2); local end (3) = src + bytes. */
function streamBody(): number[] {
  const [dst, src, bytes, end] = [0, 1, 2, 3];
  const code = [op.localGet, src, op.localGet, bytes, op.i32Add, op.localSet, end];
  code.push(op.block, op.void, op.localGet, bytes, 0x45, /* i32.eqz */ op.brIf, 0);
  code.push(op.loop, op.void);
  for (let o = 0; o < 64; o += 16) {
    code.push(op.localGet, dst, op.localGet, src, ...simdOp(simd.load), ...memarg(o));
    code.push(...simdOp(simd.store), ...memarg(o));
  }
  code.push(op.localGet, dst, op.i32Const, ...sleb(64), op.i32Add, op.localSet, dst);
  code.push(op.localGet, src, op.i32Const, ...sleb(64), op.i32Add, op.localTee, src);
  code.push(op.localGet, end, op.i32LtU, op.brIf, 0, op.end, op.end);
  return body([[1, I32]], code);
}

/** The module's bytes, for a shared memory of `pages` 64 KiB pages. */
export function limitsModule(pages: number): Uint8Array<ArrayBuffer> {
  const types = section(
    1,
    vec([[0x60, ...vec([[I32]]), ...vec([[F32]])], [
      0x60,
      ...vec([[I32], [I32], [I32]]),
      ...vec([]),
    ]]),
  );
  // Limits flag 3: shared, with a maximum.
  const imports = section(
    2,
    vec([[...name("env"), ...name("memory"), 2, 3, ...uleb(pages), ...uleb(pages)]]),
  );
  const functions = section(3, vec([[0], [1], [1]]));
  const exports = section(
    7,
    vec([[...name("fma"), 0, 0], [...name("copy"), 0, 1], [...name("stream"), 0, 2]]),
  );
  const code = section(10, vec([fmaBody(), copyBody(), streamBody()]));
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  return new Uint8Array([...header, ...types, ...imports, ...functions, ...exports, ...code]);
}
