// annotate.h — telling AddressSanitizer and Valgrind about goroutine stacks (the
// stack_annotations build option; every function here is an empty inline without it).
//
// ASan keeps per-stack state (the bounds of the stack it believes it runs on, fake frames)
// and Valgrind treats a jump of the stack pointer into memory it does not know as a stack
// as heap corruption. A runtime that switches stacks by hand must say so
// (sanitizer/common_interface_defs.h, "Fiber annotation interface"):
//   - before every switch, on the old stack: fiberleave(&save, to) — save is where the old
//     stack's fake frames wait for its return, null when the old stack is abandoned (a
//     goroutine that exits, g0 whose frames schedule() never returns to);
//   - first thing on the new stack: fiberarrive(save) with what its own leave saved (null
//     for g0 and for a goroutine's first run).
// The switch points are mcall (g → g0: proc.cc's mcall wrapper), execute (g0 → g) and a
// goroutine's first instruction (gostartannotated). gosched's direct g → g switch is not
// taken in annotated builds. Stacks are registered with Valgrind when mapped (stack.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#if GMP_STACK_ANNOTATIONS
#include <sanitizer/common_interface_defs.h>
#include <valgrind/valgrind.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace gmp {

// An ASan build: Ms are pthreads made through the interposed pthread_create, so that ASan
// knows every thread (it has no idea of a raw clone's).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool asanBuild = true;
// stackunpoison: a stack about to be reused may carry poisoned redzones of frames that never
// returned; a new goroutine must start on clean shadow memory.
inline void stackunpoison(uintptr_t lo, uintptr_t hi) {
  __asan_unpoison_memory_region(reinterpret_cast<void*>(lo), hi - lo);
}
#else
constexpr bool asanBuild = false;
inline void stackunpoison(uintptr_t, uintptr_t) {}
#endif

#if GMP_STACK_ANNOTATIONS
constexpr bool stackAnnotations = true;
// The fiber calls exist only when ASan's runtime is linked in.
inline void fiberleave([[maybe_unused]] void** save, [[maybe_unused]] uintptr_t lo,
                       [[maybe_unused]] uintptr_t hi) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(save, reinterpret_cast<void*>(lo), hi - lo);
#endif
}
inline void fiberarrive([[maybe_unused]] void* save) {
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(save, nullptr, nullptr);
#endif
}
inline unsigned stackregister(uintptr_t lo, uintptr_t hi) {
  return VALGRIND_STACK_REGISTER(lo, hi);
}
inline void stackderegister(unsigned id) { VALGRIND_STACK_DEREGISTER(id); }
// undervalgrind: the process runs on Valgrind's synthetic CPU, which runs one thread at a
// time (the others wait in the kernel for its lock).
inline bool undervalgrind() { return RUNNING_ON_VALGRIND != 0; }
#else
constexpr bool stackAnnotations = false;
inline void fiberleave(void**, uintptr_t, uintptr_t) {}
inline void fiberarrive(void*) {}
inline unsigned stackregister(uintptr_t, uintptr_t) { return 0; }
inline void stackderegister(unsigned) {}
inline bool undervalgrind() { return false; }
#endif

}  // namespace gmp
