// setxid.cc — new credentials on every OS thread of the runtime's.
//
// Linux keeps credentials (uids, gids, supplementary groups) per thread, and each thread can
// only change its own; POSIX wants them per process. glibc's setuid and its kin therefore
// make the call on every thread it knows (__nptl_setxid: a signal to each, which makes the
// call there). The Ms the runtime makes with clone are not on glibc's list, and M0, the
// thread main started on, is missed too when goroutine 1 calls from another M (glibc takes
// goroutine 1's TCB, main's, for itself): after a program dropped root, the goroutines
// that ran on those Ms (the program's threads, as it sees them) kept root (a helper's probe:
// 557-600 of 1,200 geteuid samples were 0 at 2 Ps, one-off). setxidall makes the same call
// on every M but the caller's and sysmon's (a pthread: glibc's broadcast reaches it), as
// glibc does on its threads: the M's SIGURG handler takes the request (m.setxid) and makes
// the call on its own thread. A thread that gets it twice (a pthread M) changes nothing.
//   SX1: one broadcast at a time (setxidlock, a spin lock: the callers are rare). The caller
//        writes the request (nr, args) and then, for each M, sets m.setxid (release) and
//        sends SIGURG; the handler exchanges m.setxid (acquire), makes the call, records a
//        failure, and then counts itself done (setxiddone, release; a futex wake). The
//        caller waits for every count (acquire) before the request's memory (a setgroups
//        list) may go. An M whose thread is gone (tgkill ESRCH) counts as done.
//   SX2: every thread has the same credentials between broadcasts, so the same call gives
//        the same result on each; one that fails on an M, where it succeeded on the caller,
//        would leave the process with mixed credentials: fatal, as glibc aborts then too.
//   SX3: an M made during a broadcast copies its creator's credentials (clone), which may
//        be the old ones: the caller looks at allm again and sends the call to new Ms.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime.h"

namespace gmp {

namespace {
std::atomic_flag setxidlock = ATOMIC_FLAG_INIT;
long setxidnr;                       // SX1: written by the caller before any m.setxid
long setxidargs[3];
std::atomic<uint32_t> setxiddone{0};  // Ms that made the call (or are gone)
std::atomic<bool> setxidfailed{false};
}  // namespace

void setxidall(long nr, long a0, long a1, long a2) {
  while (setxidlock.test_and_set(std::memory_order_acquire)) osyield();
  setxidnr = nr;
  setxidargs[0] = a0;
  setxidargs[1] = a1;
  setxidargs[2] = a2;
  setxidfailed.store(false, std::memory_order_relaxed);
  long pid = rawsyscall(SYS_getpid), self = rawsyscall(SYS_gettid);
  m* seen = nullptr;  // the allm head already sent to (SX3)
  for (m* head = allm.load(std::memory_order_acquire); head != seen;
       head = allm.load(std::memory_order_acquire)) {
    uint32_t sent = 0;
    setxiddone.store(0, std::memory_order_relaxed);
    for (m* mp = head; mp != seen; mp = mp->alllink) {
      int tid = mp->procid.load(std::memory_order_relaxed);
      // sysmon's thread blocks every signal: a pthread, glibc's broadcast reaches it.
      if (mp->mstartfn == sysmon || tid <= 0 || tid == self) continue;
      mp->setxid.store(true, std::memory_order_release);
      sent++;
      if (rawsyscall(SYS_tgkill, pid, tid, SIGURG) != 0) {
        mp->setxid.store(false, std::memory_order_relaxed);
        setxiddone.fetch_add(1, std::memory_order_release);
      }
    }
    for (uint32_t done; (done = setxiddone.load(std::memory_order_acquire)) < sent;) {
      futexsleep(&setxiddone, done, 10 * 1000 * 1000);
    }
    seen = head;
  }
  bool failed = setxidfailed.load(std::memory_order_relaxed);
  setxidlock.clear(std::memory_order_release);
  if (failed) fatal("setxid: a thread of the runtime's could not take the new credentials");
}

void setxidsig(m* mp) {
  if (!mp->setxid.exchange(false, std::memory_order_acquire)) return;
  if (rawsyscall(setxidnr, setxidargs[0], setxidargs[1], setxidargs[2]) != 0) {
    setxidfailed.store(true, std::memory_order_relaxed);
  }
  setxiddone.fetch_add(1, std::memory_order_release);
  futexwakeup(&setxiddone, 1);
}

}  // namespace gmp
