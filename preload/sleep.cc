// sleep.cc — sleeping parks the goroutine on its P's timers instead of the thread:
// nanosleep, clock_nanosleep, usleep, sleep. libc's contract: invalid arguments fail as
// libc's do (the real call reports them); a sleep of a goroutine is not cut short by signals
// (they are delivered to whichever M runs, not to the goroutine), so it returns 0 and leaves
// rem alone. Other callers get the real functions.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "hook.h"

using gmp::nanos;
using gmp::validts;

GMP_HOOK int nanosleep(const timespec* req, timespec* rem) {
  REAL(nanosleep);
  if (!validts(req) || !gmp::hookable(false)) return real_nanosleep(req, rem);
  gmp::timesleep(nanos(*req));
  return 0;
}

GMP_HOOK int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  REAL(clock_nanosleep);
  if (!validts(req) || !gmp::hookable(false) ||
      (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
       clock != CLOCK_TAI)) {
    return real_clock_nanosleep(clock, flags, req, rem);
  }
  int64_t ns = nanos(*req);
  if (flags & TIMER_ABSTIME) {
    timespec now;
    if (clock_gettime(clock, &now) != 0) return real_clock_nanosleep(clock, flags, req, rem);
    ns -= nanos(now);
  }
  gmp::timesleep(ns);
  return 0;
}

GMP_HOOK int usleep(useconds_t us) {
  REAL(usleep);
  if (!gmp::hookable(false)) return real_usleep(us);
  gmp::timesleep(int64_t(us) * 1000);
  return 0;
}

GMP_HOOK unsigned sleep(unsigned s) {
  REAL(sleep);
  if (!gmp::hookable(false)) return real_sleep(s);
  gmp::timesleep(int64_t(s) * 1000000000);
  return 0;
}
