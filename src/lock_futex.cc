// lock_futex.cc — mutex and note on futexes (Go's lock_futex.go, written for this runtime).
#include "runtime.h"

namespace gmp {

namespace {
constexpr uint32_t mutexLocked = 1;           // the locked byte
constexpr uint32_t mutexSleeping = 1u << 16;  // the high half: a locker may sleep
constexpr int activeSpin = 4;      // rounds of procyield before yielding the CPU
constexpr int activeSpinCnt = 30;  // pause instructions per round
constexpr int passiveSpin = 1;     // rounds of sched_yield before sleeping

// tryacquire: take the lock if its byte is 0, setting also `wait` (mutexSleeping once we
// have slept: other sleepers may remain, so our unlock must wake one, as Go's wait=2).
bool tryacquire(std::atomic<uint32_t>& key, uint32_t wait) {
  uint32_t v = key.load(std::memory_order_relaxed);
  while (!(v & mutexLocked)) {
    if (key.compare_exchange_weak(v, v | mutexLocked | wait, std::memory_order_acquire)) {
      return true;
    }
  }
  return false;
}
}  // namespace

void rtmutex::lock() {
  // The locked byte alone (casbyte0), whatever the high half says: what tryacquire(0) does.
  if (casbyte0(&key)) return;
  uint32_t wait = 0;
  int spin = ncpu > 1 ? activeSpin : 0;
  for (;;) {
    for (int i = 0; i < spin; i++) {
      if (tryacquire(key, wait)) return;
      procyield(activeSpinCnt);
    }
    for (int i = 0; i < passiveSpin; i++) {
      if (tryacquire(key, wait)) return;
      osyield();
    }
    // Mark that a locker sleeps, unless the lock came free.
    uint32_t v = key.load(std::memory_order_relaxed);
    for (;;) {
      if (!(v & mutexLocked)) {
        if (key.compare_exchange_weak(v, v | mutexLocked | wait, std::memory_order_acquire)) {
          return;
        }
      } else if (key.compare_exchange_weak(v, v | mutexSleeping, std::memory_order_relaxed)) {
        break;
      }
    }
    wait = mutexSleeping;
    // A light release (unlock) may have read the high half before our mark. If we see its
    // store of the locked byte, try again; else the fence makes it visible, so futex_wait
    // finds the key changed and returns at once. One that reads the half after our mark
    // wakes us.
    if (lightrelease) {
      if (awaitrelease(&key)) continue;
      heavyfence();
    }
    futexsleep(&key, mutexLocked | mutexSleeping, -1);
  }
}

bool rtmutex::trylock() { return casbyte0(&key); }

void rtmutex::unlock() {
  if (lightrelease) {
    if (!(loadword8(&key) & mutexLocked)) fatal("unlock of unlocked lock");  // casbyte0
    storebyte0(&key);
    if (loadword16(reinterpret_cast<uint16_t*>(&key) + 1) == 0) return;
  } else {
    uint32_t v = key.fetch_sub(mutexLocked, std::memory_order_release);
    if (!(v & mutexLocked)) fatal("unlock of unlocked lock");
    if (!(v & mutexSleeping)) return;
  }
  // A locker may sleep: clear the mark and wake one; it marks again when it takes the lock
  // (wait above), so a chain of wakes reaches every sleeper.
  uint32_t v = key.load(std::memory_order_relaxed);
  while ((v & mutexSleeping) &&
         !key.compare_exchange_weak(v, v & ~mutexSleeping, std::memory_order_relaxed)) {
  }
  if (v & mutexSleeping) futexwakeup(&key, 1);
}

namespace {
constexpr uint32_t noteClear = 0;
constexpr uint32_t noteWoken = 1;
constexpr uint32_t noteSleeping = 2;

// notesleep's yields (see there): at most noteYields of them and noteYieldFor in all, and
// none after noteIdleYields came back within noteYieldRanOther (nobody else ran).
constexpr int noteYields = 20;
constexpr int64_t noteYieldFor = 200 * 1000;  // ns
constexpr int noteIdleYields = 2;
constexpr int64_t noteYieldRanOther = 5000;  // ns

}  // namespace

void noteclear(note* n) { n->key.store(noteClear, std::memory_order_relaxed); }

void notewakeup(note* n) {
  // Release: everything written before the wake-up is visible to the sleeper after it.
  uint32_t old = n->key.exchange(noteWoken, std::memory_order_acq_rel);
  if (old == noteWoken) fatal("notewakeup - double wakeup");
  if (old == noteSleeping) futexwakeup(&n->key, 1);
}

// notesleep yields the CPU before it sleeps in the kernel, looking at the note between
// yields, for as long as the yields hand the CPU to other threads (up to noteYields times
// and noteYieldFor) and no longer once noteIdleYields of them came back at once (nobody else
// wanted the CPU); the key stays noteClear meanwhile, so a waker that comes during the
// yields makes no system call. Two costs it saves, where the machine is busy with other
// work (the echo server beside its load generator): a futex wake of a sleeping M is a
// reschedule IPI, on a hypervisor a vCPU kick; and an idle M that sleeps is woken anyway for
// the io_uring task work of the operations it submitted (netpoll_uring.cc, COOP_TASKRUN), a
// switch in and out each time, where a yielding M runs that work at its return from
// sched_yield. Figures, b681d6b (no yields) against 61302b3, 3 runs each of
// bench/echoload.sh BUILD 2 1000 1 stat -e syscalls:sys_exit_futex --filter 'ret == -512':
// reschedule IPIs 5.0-6.2k -> 2.0-2.7k, futex waits cut short 5.5-7.4k -> 3.3-4.1k, round
// trips/s 57-62k -> 66-69k; and bench/ab.py of b681d6b against b3f41e2 (before the 200 us
// cap, which ab.py cannot tell from it): 67.5k -> 85.6k, 13.8 -> 9.2 us of server CPU a
// round trip. A yielding M is not woken at once when a P is handed to it (the other
// thread's time slice runs out first): hence noteYieldFor. On an idle CPU a yield returns at
// once, so there the M sleeps after two, as it did before. A busy 30 us spin instead (the
// version before 641f221) cost the echo server CPU and gained nothing: the yield is what
// helps. Timed sleeps (notetsleep) do not yield. Test: Lock.NoteWakesItsSleeperInEveryPhase.
void notesleep(note* n) {
  int64_t start = nanotime(), t0 = start;
  for (int i = 0, idle = 0; i < noteYields && idle < noteIdleYields && t0 - start < noteYieldFor;
       i++) {
    // Acquire: notewakeup's exchange released what the waker wrote before it.
    if (n->key.load(std::memory_order_acquire) == noteWoken) return;
    osyield();
    int64_t t1 = nanotime();
    if (t1 - t0 < noteYieldRanOther) idle++;
    t0 = t1;
  }
  notetsleep(n, -1);
}

bool notetsleep(note* n, int64_t ns) {
  return notetsleepuntil(n, ns < 0 ? -1 : whenafter(nanotime(), ns));
}

bool notetsleepuntil(note* n, int64_t deadline) {
  uint32_t expect = noteClear;
  if (!n->key.compare_exchange_strong(expect, noteSleeping, std::memory_order_acq_rel)) {
    return true;  // already woken (key is noteWoken)
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
