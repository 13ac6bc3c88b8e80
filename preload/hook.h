// hook.h — what every preload file shares: how a hook is exported and how it reaches the
// function it stands in for. Hooks reach the runtime only through src/hooks.h.
#pragma once

#include <dlfcn.h>
#include <time.h>

#include <cstdint>

#include "../src/hooks.h"

// GMP_HOOK: a libc name libgmp.so exports in front of libc's.
#define GMP_HOOK extern "C" __attribute__((visibility("default")))

// glibc's "*** buffer overflow detected ***" abort, for the _FORTIFY_SOURCE variants.
extern "C" [[noreturn]] void __chk_fail();

namespace gmp {

// libcfn: the next definition of name after libgmp's (libc's, or a sanitizer's in front of
// it), of type F.
template <typename F>
F libcfn(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

// validts: ts is a valid relative or absolute time (libc's EINVAL otherwise).
inline bool validts(const timespec* ts) {
  return ts && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

// nanos: a valid ts in nanoseconds, INT64_MAX when it does not fit.
inline int64_t nanos(const timespec& ts) {
  constexpr int64_t maxsec = INT64_MAX / 1000000000 - 1;
  if (ts.tv_sec > maxsec) return INT64_MAX;
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// deadlinein: the nanotime ns from now; -1 (none) for ns < 0 or beyond the clock's range.
inline int64_t deadlinein(int64_t ns) {
  if (ns < 0) return -1;
  int64_t now = nanotime();
  return ns > INT64_MAX - now ? -1 : now + ns;
}

}  // namespace gmp

// REAL(read) declares real_read, libc's read, looked up the first time this line runs
// (a function-local static: thread-safe, one load afterwards).
#define REAL(name) static const auto real_##name = gmp::libcfn<decltype(&::name)>(#name)
