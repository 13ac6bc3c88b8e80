// export_test.h — what the unit tests need from the runtime's internals (Go's
// export_test.go). Tests link the runtime's objects directly (gmp_internal).
#pragma once

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gmp/gmp.h"
#include "runtime.h"

namespace gmptest {

// A one-shot WaitGroup on the runtime semaphore: add before spawning, done in each
// goroutine, wait parks the caller (a goroutine) until the count reaches zero.
struct WaitGroup {
  std::atomic<int64_t> n{0};
  std::atomic<uint32_t> sema{0};
  explicit WaitGroup(int64_t count) : n(count) {}
  void done() {
    if (n.fetch_sub(1, std::memory_order_acq_rel) == 1) gmp::semrelease(&sema);
  }
  void wait() {
    if (n.load(std::memory_order_acquire) != 0) gmp::semacquire(&sema);
  }
};

// Turns off sysmon's hand-off of Ps held by calls nothing hooks (lazysyscall.cc) for a
// scope: a test of a hook that hands off its P must not pass thanks to that instead.
struct NoLazySyscalls {
  bool old = gmp::lazysyscallson.exchange(false);
  ~NoLazySyscalls() { gmp::lazysyscallson.store(old); }
};

// Sets GMPMAXPROCS for the scope of a test and restores it.
struct ScopedMaxprocs {
  int old;
  explicit ScopedMaxprocs(int n) : old(gmp_maxprocs(n)) {}
  ~ScopedMaxprocs() { gmp_maxprocs(old); }
};

// errnonow: errno of the thread the goroutine runs on now. Read errno through it after a call
// that may park (and so resume on another M): the compiler may compute errno's per-thread
// address before the call (README, "Things to know").
[[gnu::noinline]] inline int errnonow() { return errno; }

// A blocking call the runtime does not hook: the M sleeps in the kernel.
inline void sleepInKernel(int64_t ms) {
  timespec ts{time_t(ms / 1000), long(ms % 1000) * 1000000};
  syscall(SYS_nanosleep, &ts, nullptr);
}

// waitfor: polls pred every 100 us until it holds or seconds pass; whether it held. For a
// plain thread that waits for a goroutine to reach some state.
template <typename F> bool waitfor(F pred, int64_t seconds = 10) {
  const int64_t until = gmp_nanotime() + seconds * 1000000000;
  while (!pred()) {
    if (gmp_nanotime() > until) return false;
    usleep(100);
  }
  return true;
}

// parks: how many times goroutines have parked so far (gmp_stats).
inline uint64_t parks() {
  struct gmp_stats st {};
  gmp_stats(&st, sizeof st);
  return st.parks;
}

inline gmp::m* curm() { return gmp::getg()->m_; }
inline gmp::p* curp() { return gmp::getg()->m_->p_; }
inline gmp::g* curg() { return gmp::getg(); }

// Starts a goroutine running a lambda (copied to the heap). Never with gmp_go's spawn
// yield (abi.cc: a goroutine's every 256th spawn), which would make what a test sees right
// after a go() depend on how many goroutines the tests before it started (at one P, the new
// g in runnext or already run: Stack.BoundAtFirstRunNotAtCreation failed so).
template <typename F> int64_t go(F f) {
  if (gmp::g* me = gmp::curgoroutine()) me->spawnstreak = 0;
  auto* heap = new F(std::move(f));
  return gmp_go(
      [](void* a) {
        auto* fn = static_cast<F*>(a);
        (*fn)();
        delete fn;
      },
      heap);
}

// yieldsduring runs f on a new goroutine and yields until f returns; returns how many times
// the caller ran meanwhile (with one P, more than a few: f parked rather than held the M).
template <typename F> int64_t yieldsduring(F f) {
  std::atomic<bool> done{false};
  int64_t ticks = 0;
  WaitGroup wg(1);
  go([&] {
    f();
    done.store(true);
    wg.done();
  });
  while (!done.load()) {
    ticks++;
    gmp_yield();
  }
  wg.wait();
  return ticks;
}

}  // namespace gmptest
