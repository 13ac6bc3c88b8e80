// sleep.cc — sleeping parks the goroutine instead of the thread: nanosleep, clock_nanosleep,
// usleep, sleep, and pause. libc's contract: invalid arguments fail as libc's do (the real
// call reports them); a sleep that a signal handler cuts short fails with EINTR (never
// restarted, SA_RESTART or not) and reports the time left, as on a thread. A sleep that
// something may cut short parks on a ring timeout, which can be cancelled: goroutine 1's and
// a goroutine-thread's once the program installed a handler (src/sigintr.cc), and a
// goroutine-thread's whose cancellation is on (pthread_cancel, SI7); every other sleep parks
// on its P's timers. Other callers get the real functions.
#include <liburing.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "hook.h"

using gmp::nanos;

namespace {

// sleepg: the calling goroutine sleeps ns (INT64_MAX: for ever); returns the ns left when
// a signal handler cut the sleep short, else 0. The end saturates at INT64_MAX, as the
// kernel's timer expiry does at KTIME_MAX: a sleep past it that is cut short has the time
// to that far end left, as the kernel reports it.
int64_t sleepg(int64_t ns) {
  if (ns <= 0) return 0;  // an absolute time already past (deadlinein would say "none")
  if (!gmp::sigintrtarget() || !gmp::hookable(true)) {
    gmp::timesleep(ns);
    return 0;
  }
  const int64_t deadline = gmp::whenafter(gmp::nanotime(), ns);
  for (;;) {
    int64_t left = deadline - gmp::nanotime();
    if (left <= 0) return 0;
    __kernel_timespec ts{left / 1000000000, left % 1000000000};
    io_uring_sqe* sqe = gmp::netpollsqe();
    io_uring_prep_timeout(sqe, &ts, 0, 0);
    if (gmp::netpollwait(sqe, gmp::intrAlways) == -EINTR) {
      left = deadline - gmp::nanotime();
      return left > 0 ? left : 1;  // cut short: some time is left, however little
    }
    // -ETIME: the time is up; anything else (a cancel by a close of the ring's fd...): on
    if (gmp::nanotime() >= deadline) return 0;
    if (!gmp::hookable(true)) {
      gmp::timesleep(deadline - gmp::nanotime());
      return 0;
    }
  }
}

timespec tots(int64_t ns) { return timespec{time_t(ns / 1000000000), long(ns % 1000000000)}; }

}  // namespace

// req is read as the kernel reads it (userts): an address it cannot read, or a time it
// refuses, gets the real call's EFAULT or EINVAL; rem is written only where the kernel's
// copy-out would succeed, else the call fails with EFAULT, as the kernel's.
GMP_HOOK int nanosleep(const timespec* req, timespec* rem) {
  gmp::testcancel();
  REAL(nanosleep);
  timespec t;
  if (!gmp::hookable(false) || !gmp::userts(req, &t)) return real_nanosleep(req, rem);
  int64_t left = sleepg(nanos(t));
  if (left == 0) return 0;
  if (rem && !gmp::userwritable(rem)) {
    gmp::seterrno(EFAULT);
    return -1;
  }
  if (rem) *rem = tots(left);
  gmp::seterrno(EINTR);
  return -1;
}

GMP_HOOK int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  gmp::testcancel();
  REAL(clock_nanosleep);
  timespec t;
  if (!gmp::hookable(false) || !gmp::userts(req, &t)) {
    return real_clock_nanosleep(clock, flags, req, rem);
  }
  if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC && clock != CLOCK_BOOTTIME &&
      clock != CLOCK_TAI) {
    // A CPU-time clock (or one the kernel refuses): its sleep blocks the thread, the P
    // handed on meanwhile; it held the P for the whole sleep.
    return gmp::insyscall([&] { return real_clock_nanosleep(clock, flags, req, rem); });
  }
  int64_t ns = nanos(t);
  if (flags & TIMER_ABSTIME) {
    timespec now;
    if (clock_gettime(clock, &now) != 0) return real_clock_nanosleep(clock, flags, req, rem);
    ns -= nanos(now);
  }
  int64_t left = sleepg(ns);
  if (left == 0) return 0;
  // The error is the result (errno untouched); rem only for a relative sleep.
  if (rem && !(flags & TIMER_ABSTIME)) {
    if (!gmp::userwritable(rem)) return EFAULT;
    *rem = tots(left);
  }
  return EINTR;
}

GMP_HOOK int usleep(useconds_t us) {
  gmp::testcancel();
  REAL(usleep);
  if (!gmp::hookable(false)) return real_usleep(us);
  if (sleepg(int64_t(us) * 1000) == 0) return 0;
  gmp::seterrno(EINTR);
  return -1;
}

GMP_HOOK unsigned sleep(unsigned s) {
  gmp::testcancel();
  REAL(sleep);
  if (!gmp::hookable(false)) return real_sleep(s);
  int64_t left = sleepg(int64_t(s) * 1000000000);
  if (left == 0) return 0;
  // glibc's (sysdeps/posix/sleep.c): the whole seconds left, errno left at EINTR.
  gmp::seterrno(EINTR);
  return unsigned(left / 1000000000);
}

// pause: until a handler runs, which for a goroutine other than goroutine 1 is never.
GMP_HOOK int pause() {
  gmp::testcancel();
  REAL(pause);
  if (!gmp::hookable(false)) return real_pause();
  sleepg(INT64_MAX);
  gmp::seterrno(EINTR);
  return -1;
}
