// sleep.cc — sleeping parks the goroutine on its P's timers instead of the thread:
// nanosleep, clock_nanosleep, usleep, sleep. libc's contract: invalid arguments fail as
// libc's do (the real call reports them); a sleep of a goroutine is not cut short by signals
// (they are delivered to whichever M runs, not to the goroutine), so it returns 0 and leaves
// rem alone. Other callers get the real functions.
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "../src/hooks.h"

#define GMP_HOOK extern "C" __attribute__((visibility("default")))

namespace {
template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

bool valid(const timespec* ts) {
  return ts && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

int64_t nanos(const timespec& ts) {
  constexpr int64_t maxsec = INT64_MAX / 1000000000 - 1;
  if (ts.tv_sec > maxsec) return INT64_MAX;
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
}  // namespace

GMP_HOOK int nanosleep(const timespec* req, timespec* rem) {
  static auto realfn = real<decltype(&::nanosleep)>("nanosleep");
  if (!valid(req) || !gmp::hookable(false)) return realfn(req, rem);
  gmp::timesleep(nanos(*req));
  return 0;
}

GMP_HOOK int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  static auto realfn = real<decltype(&::clock_nanosleep)>("clock_nanosleep");
  if (!valid(req) || !gmp::hookable(false) ||
      (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
       clock != CLOCK_TAI)) {
    return realfn(clock, flags, req, rem);
  }
  int64_t ns = nanos(*req);
  if (flags & TIMER_ABSTIME) {
    timespec now;
    if (clock_gettime(clock, &now) != 0) return realfn(clock, flags, req, rem);
    ns -= nanos(now);
  }
  gmp::timesleep(ns);
  return 0;
}

GMP_HOOK int usleep(useconds_t us) {
  static auto realfn = real<decltype(&::usleep)>("usleep");
  if (!gmp::hookable(false)) return realfn(us);
  gmp::timesleep(int64_t(us) * 1000);
  return 0;
}

GMP_HOOK unsigned sleep(unsigned s) {
  static auto realfn = real<decltype(&::sleep)>("sleep");
  if (!gmp::hookable(false)) return realfn(s);
  gmp::timesleep(int64_t(s) * 1000000000);
  return 0;
}
