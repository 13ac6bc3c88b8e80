// lock.h — the runtime's own locks: rtmutex (Go's runtime mutex, lock_futex) and note (one-shot
// wake-up); rtmutex, because gmp::mutex is the C++ layer's sync.Mutex (gmp.hpp).
// Neither parks a goroutine: they block the M. They are for runtime-internal state held for a
// few instructions (rtmutex) or for an M with nothing to do (note).
#pragma once

#include <atomic>
#include <cstdint>

namespace gmp {

// rtmutex: a futex word with three states. Spins briefly (the holder runs on another CPU and
// releases within nanoseconds), then sleeps in the kernel.
//   key: 0 unlocked, 1 locked, 2 locked with (possible) sleepers.
struct rtmutex {
  std::atomic<uint32_t> key{0};
  void lock();
  void unlock();
};

// note: a one-shot event. notesleep waits until notewakeup; noteclear re-arms it. Exactly one
// waiter (the M that owns the note) and any number of wakers (only the first counts).
//   key: 0 clear, 1 woken, 2 the sleeper is (about to be) in futex_wait.
// The sleeper spins for a while before it sleeps: waking a futex sleeper on another CPU costs
// ~27 us on these VMs, and a waker that sees the sleeper still spinning skips the syscall.
struct note {
  std::atomic<uint32_t> key{0};
};
void noteclear(note* n);
void notewakeup(note* n);
void notesleep(note* n);
// notetsleep: like notesleep with a timeout; returns true if woken. ns < 0 waits forever.
bool notetsleep(note* n, int64_t ns);
// notetsleepuntil: the same until a nanotime deadline (< 0: forever; past: do not sleep).
bool notetsleepuntil(note* n, int64_t deadline);

}  // namespace gmp
