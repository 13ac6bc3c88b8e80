// lock.h — the runtime's own locks: rtmutex (Go's runtime mutex, lock_futex) and note (one-shot
// wake-up); rtmutex, because gmp::mutex is the C++ layer's sync.Mutex (gmp.hpp).
// Neither parks a goroutine: they block the M. They are for runtime-internal state held for a
// few instructions (rtmutex) or for an M with nothing to do (note).
#pragma once

#include <atomic>
#include <cstdint>

namespace gmp {

// rtmutex: a futex word. Spins briefly (the holder runs on another CPU and releases within
// nanoseconds), then sleeps in the kernel.
//   key: byte 0 the locked byte (1: held); the high half nonzero: a locker may sleep in
//   futex_wait (Go's lock_futex state 2, kept apart so a release can be a plain store).
// unlock stores 0 to the locked byte and then reads the high half, with no locked
// instruction where membarrier works (lightrelease); a locker that marks the high half
// fences with heavyfence before it sleeps (membarrier.cc).
struct rtmutex {
  std::atomic<uint32_t> key{0};
  void lock();
  bool trylock();  // take it only if it is free now
  void unlock();
};

// The light release's halves (membarrier.cc): storebyte0 stores 0 to the byte at p, a plain
// x86 store, which is a release store; loadword16/32 read a part of the same word that the
// byte does not overlap, so the load need not wait for the store to leave the store buffer
// (it may pass it: the fencing waiter covers that). loadword8 reads the byte itself: a
// waiter watching for the release (awaitrelease).
inline void storebyte0(void* p) {
  asm volatile("movb $0, %0" : "=m"(*static_cast<uint8_t*>(p)) : : "memory");
}
// casbyte0: the acquiring half: take the locked byte at p from 0 to 1 (acquire); false if
// it was not 0. Byte-wide on purpose: a locked cmpxchg of the whole word just after this
// thread's own storebyte0 (an unlock, then the next lock of the same lock) cannot forward
// from that narrower store and waits for it to reach the cache, ~5 ns on these machines,
// which made an uncontended lock/unlock pair cost 9 ns instead of 3.5 (a one-off loop).
inline bool casbyte0(void* p) {
  uint8_t expect = 0;
  bool ok;
  asm volatile("lock cmpxchgb %3, %1"
               : "=@ccz"(ok), "+m"(*static_cast<uint8_t*>(p)), "+a"(expect)
               : "q"(uint8_t(1))
               : "memory");
  return ok;
}
inline uint32_t loadword8(const void* p) {
  uint32_t v;
  asm volatile("movzbl %1, %0" : "=r"(v) : "m"(*static_cast<const uint8_t*>(p)) : "memory");
  return v;
}
inline uint32_t loadword16(const void* p) {
  uint32_t v;
  asm volatile("movzwl %1, %0" : "=r"(v) : "m"(*static_cast<const uint16_t*>(p)) : "memory");
  return v;
}
inline uint32_t loadword32(const void* p) {
  uint32_t v;
  asm volatile("movl %1, %0" : "=r"(v) : "m"(*static_cast<const uint32_t*>(p)) : "memory");
  return v;
}

// note: a one-shot event. notesleep waits until notewakeup; noteclear re-arms it. Exactly one
// waiter (the M that owns the note) and exactly one wake per clear (a second is fatal).
//   key: 0 clear, 1 woken, 2 the sleeper is (about to be) in futex_wait.
// notesleep yields the CPU a few times before it sleeps in the kernel while other threads
// want it (lock_futex.cc); a waker that comes meanwhile finds the key clear and makes no
// system call. notetsleep (timed) goes to the kernel at once.
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
