// lock_futex.cc — mutex and note on futexes (Go's lock_futex.go, written for this runtime).
#include "runtime.h"

namespace gmp {

namespace {
constexpr uint32_t mutexUnlocked = 0;
constexpr uint32_t mutexLocked = 1;
constexpr uint32_t mutexSleeping = 2;
constexpr int activeSpin = 4;      // rounds of procyield before yielding the CPU
constexpr int activeSpinCnt = 30;  // pause instructions per round
constexpr int passiveSpin = 1;     // rounds of sched_yield before sleeping

// How long a note sleeper spins before it enters futex_wait. A cross-CPU futex wake costs
// ~27 us on these VMs; a hand-off to a spinning sleeper ~100 ns.
constexpr int64_t noteSpinNs = 30 * 1000;
}  // namespace

void rtmutex::lock() {
  uint32_t v = key.exchange(mutexLocked, std::memory_order_acquire);
  if (v == mutexUnlocked) return;
  // v is locked or sleeping. If it was sleeping we must keep it so when we take the lock:
  // we cannot tell whether other sleepers remain, so unlock will wake one.
  uint32_t wait = v;
  int spin = ncpu > 1 ? activeSpin : 0;
  for (;;) {
    for (int i = 0; i < spin; i++) {
      while (key.load(std::memory_order_relaxed) == mutexUnlocked) {
        uint32_t expect = mutexUnlocked;
        if (key.compare_exchange_weak(expect, wait, std::memory_order_acquire)) return;
      }
      procyield(activeSpinCnt);
    }
    for (int i = 0; i < passiveSpin; i++) {
      while (key.load(std::memory_order_relaxed) == mutexUnlocked) {
        uint32_t expect = mutexUnlocked;
        if (key.compare_exchange_weak(expect, wait, std::memory_order_acquire)) return;
      }
      osyield();
    }
    v = key.exchange(mutexSleeping, std::memory_order_acquire);
    if (v == mutexUnlocked) return;
    wait = mutexSleeping;
    futexsleep(&key, mutexSleeping, -1);
  }
}

void rtmutex::unlock() {
  uint32_t v = key.exchange(mutexUnlocked, std::memory_order_release);
  if (v == mutexUnlocked) fatal("unlock of unlocked lock");
  if (v == mutexSleeping) futexwakeup(&key, 1);
}

namespace {
constexpr uint32_t noteClear = 0;
constexpr uint32_t noteWoken = 1;
constexpr uint32_t noteSleeping = 2;

// Spin until the note is woken or noteSpinNs (bounded by deadline) pass. True if woken.
bool notespin(note* n, int64_t deadline) {
  if (ncpu <= 1) return n->key.load(std::memory_order_acquire) == noteWoken;
  int64_t end = nanotime() + noteSpinNs;
  if (deadline >= 0 && deadline < end) end = deadline;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (n->key.load(std::memory_order_acquire) == noteWoken) return true;
      procyield(4);
    }
    if (nanotime() >= end) return false;
  }
}
}  // namespace

void noteclear(note* n) { n->key.store(noteClear, std::memory_order_relaxed); }

void notewakeup(note* n) {
  // Release: everything written before the wake-up is visible to the sleeper after it.
  uint32_t old = n->key.exchange(noteWoken, std::memory_order_acq_rel);
  if (old == noteWoken) fatal("notewakeup - double wakeup");
  if (old == noteSleeping) futexwakeup(&n->key, 1);
}

void notesleep(note* n) { notetsleep(n, -1); }

bool notetsleep(note* n, int64_t ns) { return notetsleepuntil(n, ns < 0 ? -1 : nanotime() + ns); }

bool notetsleepuntil(note* n, int64_t deadline) {
  if (notespin(n, deadline)) return true;
  uint32_t expect = noteClear;
  if (!n->key.compare_exchange_strong(expect, noteSleeping, std::memory_order_acq_rel)) {
    return true;  // woken while we stopped spinning (key is noteWoken)
  }
  for (;;) {
    int64_t left = -1;
    if (deadline >= 0) {
      left = deadline - nanotime();
      if (left <= 0) {
        // Time is up: withdraw, unless a waker got in first.
        expect = noteSleeping;
        if (n->key.compare_exchange_strong(expect, noteClear, std::memory_order_acq_rel)) {
          return false;
        }
        return true;
      }
    }
    futexsleep(&n->key, noteSleeping, left);
    if (n->key.load(std::memory_order_acquire) == noteWoken) return true;
  }
}

}  // namespace gmp
