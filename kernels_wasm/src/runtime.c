// The module's runtime exports: where the TypeScript allocator may start, per-thread workspaces,
// and the byte-level fill every dtype shares.
#include "common.h"

extern unsigned char __heap_base;

// Plain C globals live in the shared linear memory, so the main thread sets them once for all
// threads (wasm globals, such as the stack pointer, are per instance).
static uintptr_t workspace_base;

// The first byte after static data and the main thread's stack: the allocator's heap start.
EXPORT("heap_base") uintptr_t heap_base(void) { return (uintptr_t)&__heap_base; }
EXPORT("workspace_bytes") int workspace_bytes(void) { return WORKSPACE_BYTES; }
EXPORT("set_workspaces") void set_workspaces(uintptr_t base) { workspace_base = base; }
void* workspace(int tid) { return (void*)(workspace_base + (uintptr_t)tid * WORKSPACE_BYTES); }

#define BYTE_CHUNK (1 << 18)

// args: dst, byte count, pattern byte-size (1, 2, 4 or 8), pattern lo, pattern hi.
// Fills dst with a repeated element value (Fill, ZerosLike, OnesLike, zero-size GEMMs).
EXPORT("task_fill") void task_fill(word* args, int tid, int nt) {
  (void)tid;
  (void)nt;
  uint8_t* dst = PTR(uint8_t, args, ARG0);
  uint32_t bytes = (uint32_t)args[ARG0 + 1];
  int size = args[ARG0 + 2];
  uint64_t pattern = (uint32_t)args[ARG0 + 3] | ((uint64_t)(uint32_t)args[ARG0 + 4] << 32);
  FOR_EACH_TASK(t, args) {
    uint32_t begin = (uint32_t)t * BYTE_CHUNK, end = MIN(bytes, begin + BYTE_CHUNK);
    if (pattern == 0) {
      memset(dst + begin, 0, end - begin);
      continue;
    }
    // Chunks are multiples of 8 bytes, so every chunk starts at an element boundary.
    v128_t v = wasm_i64x2_splat((int64_t)(size == 8   ? pattern
                                          : size == 4 ? pattern * 0x100000001ull
                                          : size == 2 ? (pattern & 0xffff) * 0x0001000100010001ull
                                                      : (pattern & 0xff) * 0x0101010101010101ull));
    uint32_t i = begin;
    for (; i + 16 <= end; i += 16) wasm_v128_store(dst + i, v);
    uint8_t tail[16];
    wasm_v128_store(tail, v);
    for (; i < end; i++) dst[i] = tail[i & 15];
  }
}

