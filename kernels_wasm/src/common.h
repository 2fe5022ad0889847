// What every kernel family shares: the task protocol, per-thread workspaces, small helpers.
//
// A kernel is a *task function* `void f(int32_t* args, int tid, int nt)` exported by name. The
// device writes the arguments as 32-bit words into an args block in the shared memory, then calls
// the function on the main thread and on nt-1 workers at once. args[0] is a task counter and
// args[1] the number of tasks: every thread takes the next task with an atomic add until none is
// left (next_task), so a thread slowed by another process does less work rather than delaying
// the others. Task boundaries depend only on the problem, never on nt, so results do not depend
// on the number of threads.
//
// Allocation happens in TypeScript on the main thread only; kernels never allocate. Scratch
// memory is either passed in the args or is the calling thread's workspace (WORKSPACE_BYTES).
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define INLINE static inline __attribute__((always_inline))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

typedef int32_t word;
typedef void task_fn(word* args, int tid, int nt);

// Words 0 and 1 of every args block.
#define ARG_COUNTER 0
#define ARG_TASKS 1
#define ARG0 2 // first kernel-specific word

// The next task index for this thread; >= args[ARG_TASKS] means done.
INLINE int next_task(word* args) {
  return __atomic_fetch_add(&args[ARG_COUNTER], 1, __ATOMIC_RELAXED);
}
#define FOR_EACH_TASK(t, args) for (int t = next_task(args); t < (args)[ARG_TASKS]; t = next_task(args))

// An argument word as a pointer (unsigned: the memory may pass 2 GiB).
#define PTR(type, args, i) ((type*)(uintptr_t)(uint32_t)(args)[i])
// A double passed as two words, low word first.
INLINE double words_f64(const word* w) {
  double d;
  memcpy(&d, w, 8);
  return d;
}

// Per-thread scratch memory: thread tid owns [base + tid * WORKSPACE_BYTES, +WORKSPACE_BYTES).
#define WORKSPACE_BYTES (1 << 20)
void* workspace(int tid);

// [begin, end) of chunk t when n items are cut into chunks of `size`.
INLINE void chunk(int t, int size, int n, int* begin, int* end) {
  *begin = t * size;
  *end = MIN(n, *begin + size);
}
