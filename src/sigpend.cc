// sigpend.cc — signals pending for one goroutine-thread.
//
// A signal sent to one thread that blocks it waits in that thread's pending set until the
// thread takes it (sigwait, a signalfd read, sigpending shows it) or unblocks it (its
// handler, or its default action, runs then, on that thread). No other thread sees it. A
// goroutine-thread has no thread of its own: it runs on whichever M, and parks on the ring,
// where no thread of its waits. (Goroutine 1, which stands for the main thread, is treated
// the same: sigintr.cc's sigpendmain.) So its pending signals are kept in two places:
//   - g.sigpending, held for the goroutine off any thread: what pthread_kill sent it while
//     it was parked or running, and what it took back when it left an M;
//   - its M's thread's own pending set, while it runs there: moved there (tgkill to itself,
//     blocked) before it makes a call that could take them, raised there by the goroutine
//     itself (raise, pthread_kill of itself) or by the kernel (SIGPIPE, SIGXFSZ of its
//     call). m.sigonthread names them.
// While some wait on its thread its calls run there, in the kernel, holding the M (hookable
// is false): a signalfd read, a sigwait, a ppoll whose mask lets one in, see them as on a
// thread. The cost, a blocked M for each blocking call and an rt_sigpending before it, is
// paid only by a goroutine that has a signal pending, which a program that sends one to a
// thread collects soon.
// Ownership and order:
//   SP1: g.sigpending: any thread sets bits (sigpendg, seq_cst fetch_or); the goroutine
//        takes them (sigpendhere: exchange, on its M), and so may a sender that set one for
//        a goroutine that unblocked the signal meanwhile (SP4).
//   SP2: m.sigonthread: set by the goroutine running on the M (sigpendhere, sigraised) and
//        by a pthread_kill of that goroutine while it waits in a call that holds the thread
//        (sigpendsyscall, before its tgkill); cleared by the M (sigtakeback; sigpendhere for
//        those its calls took; gsigmask for what the goroutine unblocks, which the kernel
//        delivers then). Racy as any signal aimed at a call: the goroutine may leave the
//        call before the tgkill lands, and the signal then waits on that thread for the
//        next goroutine that leaves it.
//   SP3: a goroutine leaving its M takes its signals off the thread (sigleave →
//        sigtakeback: sigtimedwait with no wait, the thread's mask still the goroutine's)
//        into g.sigpending, before it can run elsewhere: the switch-out paths call it before
//        the goroutine is queued or its park committed. A goroutine that ends drops them, as
//        a thread's pending signals end with it (newproc clears the record's).
//   SP4: pthread_kill and pthread_sigmask race as a Dekker pair: the sender sets the bit
//        and then reads the mask; gsigmask stores the mask and then reads the bits (all
//        seq_cst). A sender that finds the signal unblocked clears the bit; if it still was
//        set, the sender delivers the signal as to a thread that does not block it, else the
//        goroutine took it and delivers it itself.
// Not kept: the siginfo of each signal (a taken one reads as sent by tgkill from this
// process, which pthread_kill's are) and a count of real-time signals sent more than once
// (one is kept). sigtakeback may take a signal sent to the process, when one of the same
// number waits there too: it is then the goroutine's.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

#include "runtime.h"

namespace gmp {

bool sigpendg(g* gp, int sig) {
  uint64_t bit = sigbit(sig);
  gp->sigpending.fetch_or(bit, std::memory_order_seq_cst);  // SP4: the bit, then the mask
  if (__atomic_load_n(&gp->sigmask, __ATOMIC_SEQ_CST) & bit) {
    sigintrheld(gp);  // a parked read waits again, where its thread sees the signal (SI6)
    return true;
  }
  return (gp->sigpending.fetch_and(~bit, std::memory_order_seq_cst) & bit) == 0;
}

int sigpendsyscall(g* gp, int sig) {
  if (readgstatus(gp) != Gsyscall) return 0;
  m* mp = __atomic_load_n(&gp->m_, __ATOMIC_ACQUIRE);
  if (!mp) return 0;
  // One it blocks waits on that thread for it: taken back if it leaves first (SP2).
  if (__atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) & sigbit(sig) & ~sigmaskkeep) {
    mp->sigonthread.fetch_or(sigbit(sig), std::memory_order_relaxed);
  }
  return mp->procid.load(std::memory_order_relaxed);
}

bool sigpendhere(m* mp, g* gp) {
  uint64_t held = gp->sigpending.load(std::memory_order_relaxed) == 0
                      ? 0
                      : gp->sigpending.exchange(0, std::memory_order_seq_cst);
  if (held != 0) {
    long pid = rawsyscall(SYS_getpid), tid = mp->procid.load(std::memory_order_relaxed);
    uint64_t blocked = held & __atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) & ~sigmaskkeep;
    // Those it blocks first: one it does not (SP4's race) runs its handler at its tgkill,
    // which may jump away.
    mp->sigonthread.fetch_or(blocked, std::memory_order_relaxed);
    for (uint64_t b = held; b != 0; b &= b - 1) {
      rawsyscall(SYS_tgkill, pid, tid, __builtin_ctzll(b) + 1);
    }
  }
  // Those the goroutine's calls took since (a signalfd read, sigwait) no longer hold it to
  // the kernel: the thread's pending set says which wait still.
  uint64_t on = mp->sigonthread.load(std::memory_order_relaxed);
  if (on == 0) return false;
  uint64_t pending = 0;
  rawsyscall(SYS_rt_sigpending, long(&pending), sizeof pending);
  if (uint64_t gone = on & ~pending) mp->sigonthread.fetch_and(~gone, std::memory_order_relaxed);
  return (on & pending) != 0;
}

void sigpendcall() {
  g* gp = getg();
  m* mp = gp ? gp->m_ : nullptr;
  if (mp && mp->curg == gp) sigpendhere(mp, gp);
}

void sigraised(int sig) {
  g* gp = getg();
  if (!gp || sig <= 0 || sig > 64) return;
  m* mp = gp->m_;
  if (!mp || mp->curg != gp) return;  // g0, or the middle of a switch: no goroutine's
  uint64_t bit = sigbit(sig) & ~sigmaskkeep;
  if (__atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) & bit) {
    mp->sigonthread.fetch_or(bit, std::memory_order_relaxed);
  }
}

void sigtakeback(m* mp, g* gp) {
  uint64_t on = mp->sigonthread.exchange(0, std::memory_order_relaxed);
  timespec zero{};
  for (;;) {
    siginfo_t info;
    long sig = rawsyscall(SYS_rt_sigtimedwait, long(&on), long(&info), long(&zero), sizeof on);
    if (sig <= 0) return;  // -EAGAIN: none left (taken by the goroutine's call, or delivered)
    gp->sigpending.fetch_or(sigbit(int(sig)), std::memory_order_relaxed);
  }
}

void sigpendforkchild(m* mp, g* gp) {
  gp->sigpending.store(0, std::memory_order_relaxed);
  mp->sigonthread.store(0, std::memory_order_relaxed);
}

}  // namespace gmp
