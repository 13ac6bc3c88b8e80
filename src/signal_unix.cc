// signal_unix.cc — the runtime's signals (Go's signal_unix.go): fatal signals and SIGQUIT
// print a goroutine dump and exit 2; SIGURG asks a running M for its own stack.
//
// Whose handler. initsig (schedinit, before main) installs the runtime's handler for
// SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT and SIGQUIT only where the disposition is still
// SIG_DFL: a handler installed before us (a sanitizer, an ELF constructor) stays, an ignored
// SIGQUIT stays ignored, and a handler the program installs later simply replaces ours. So
// the runtime reports only what would otherwise kill the process silently. SIGURG (default:
// ignore) carries dump requests; a SIGURG that is not one is ignored, as it would have been.
//
// Stacks. Every M gets a sigaltstack (minitsig) and every handler runs on it (SA_ONSTACK):
// a goroutine that overflows into its guard page has no stack left to run a handler on.
//
// Dumping running goroutines. A dump walks allgs. A goroutine that is switched out is
// unwound from its saved frame by the dumper. One that is running on another M can only be
// unwound from that M's registers, so the dumper asks that M to print it itself (DUMP1-3):
//   DUMP1: the dumper owns the dump (dumping = its tid) and writes m.dumpg, then
//          CASes m.dumpreq idle->asked (release) and sends the M's thread SIGURG.
//   DUMP2: the M's SIGURG handler CASes asked->printing (acquire), walks its stack from the
//          signal's ucontext into m.dumppcs (pcs only: no lookups, no malloc in a signal
//          handler that may have interrupted malloc), stores done (release), wakes.
//   DUMP3: the dumper waits for done, up to dumpAskTimeout; if the M never answered (the
//          program blocked SIGURG, or replaced our handler) it CASes asked->idle and prints
//          "stack unavailable" instead; a CAS that fails means printing began: wait for done.
// The dumper prints that goroutine from m.dumppcs, so output stays in allgs order.
// gmp_dump does not stop the world (without preemption it could wait for ever): a parked
// goroutine may resume while its stack is read. A fault while reading one is caught
// (dumprecover) and that goroutine reported as changing, instead of killing the process.
// A dump for a dying process first freezes the scheduler (Go's freezetheworld: gcwaiting
// set, so every M stops at its next schedule()) so switched-out stacks stop changing, and
// starts a watchdog thread that ends the process if the dump itself stalls.
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "hooks.h"
#include "runtime.h"

// glibc's sigaction under its other exported name: libgmp.so's own sigaction is the hook of
// preload/signal.cc, which would wrap the runtime's handlers as the program's.
extern "C" int __sigaction(int sig, const struct sigaction* act, struct sigaction* old);

namespace gmp {

namespace {
constexpr size_t sigstackSize = 64 << 10;  // libunwind and the demangler need room
constexpr int64_t dumpAskTimeout = 1000 * 1000 * 1000;  // ns an M has to answer
constexpr int64_t dumpWatchdog = int64_t(20) * 1000 * 1000 * 1000;
constexpr int fatalSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

enum : uint32_t { dumpIdle = 0, dumpAsked = 1, dumpPrinting = 2, dumpDone = 3 };

bool handling[NSIG];           // the runtime's handler is installed (initsig, then constant)
std::atomic<int> dumping{0};   // tid of the thread printing a dump; 0: none
// The process is dying after a dump: an exit() elsewhere must not end it first (dyingwait).
std::atomic<bool> dying{false};
// dumprecover: the dumper's way back from a fault while reading a goroutine's stack in a
// gmp_dump (dumping owner only; armed while dumprecoverok).
sigjmp_buf dumprecover;
std::atomic<bool> dumprecoverok{false};

void setdfl(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  __sigaction(sig, &dfl, nullptr);
}

const char* signame(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGQUIT: return "SIGQUIT";
    default: return "signal";
  }
}

// lockdump makes this thread the dump's owner. False if it already is (a fault inside a dump).
bool lockdump() {
  int me = gettid_();
  for (;;) {
    int cur = 0;
    if (dumping.compare_exchange_strong(cur, me, std::memory_order_acquire)) return true;
    if (cur == me) return false;
    usleep_ns(1000 * 1000);  // another thread dumps; a dying one never lets go
  }
}

void unlockdump() { dumping.store(0, std::memory_order_release); }

// freezetheworld stops the scheduler for good without taking a lock (the failing thread
// may hold any): Ms stop at their next schedule() (gcstopm), which never returns to them.
void freezetheworld() {
  sched.stopwait = 0x7fffffff;  // gcstopm's count never reaches 0: nobody is woken
  sched.gcwaiting.store(true, std::memory_order_seq_cst);
}

// askm prints gp, which was running on mp, from mp's own registers (DUMP1-DUMP3). Dumper.
void askm(m* mp, g* gp, int fd) {
  int tid = mp->procid.load(std::memory_order_relaxed);
  goroutineheader(fd, gp);
  if (tid != 0 && handling[SIGURG]) {
    mp->dumpg = gp;
    uint32_t idle = dumpIdle;
    // DUMP1: the release publishes dumpg. Only a dumper moves it from idle.
    if (mp->dumpreq.compare_exchange_strong(idle, dumpAsked, std::memory_order_release) &&
        tgkill_(tid, SIGURG) == 0) {
      int64_t deadline = nanotime() + dumpAskTimeout;
      for (;;) {
        uint32_t st = mp->dumpreq.load(std::memory_order_acquire);
        if (st == dumpDone) {
          int32_t n = mp->ndumppcs;
          mp->dumpreq.store(dumpIdle, std::memory_order_relaxed);
          if (n >= 0) {
            printpcs(fd, mp->dumppcs, n, gp);
          } else {  // it switched out between our look and the signal
            tracebacksaved(fd, gp);
          }
          return;
        }
        if (st == dumpAsked && nanotime() > deadline) {
          uint32_t asked = dumpAsked;
          if (mp->dumpreq.compare_exchange_strong(asked, dumpIdle, std::memory_order_acquire)) {
            break;  // DUMP3: it never answered
          }
          continue;  // it is walking its stack (bounded work): wait for done
        }
        futexsleep(&mp->dumpreq, st, 10 * 1000 * 1000);
      }
    } else if (idle == dumpIdle) {
      mp->dumpreq.store(dumpIdle, std::memory_order_relaxed);
    }
  }
  fdprintf(fd, "\tgoroutine running on other thread; stack unavailable\n");
}

// dumpself answers a dump request on this M's thread (DUMP2). In the SIGURG handler: only
// stack walking, no lookups. gp: getg(); in the middle of a switch (gp->m_ null) the
// registers are no one's to report: "stack unavailable".
void dumpself(m* mp, g* gp, void* ctx) {
  uint32_t asked = dumpAsked;
  if (!mp->dumpreq.compare_exchange_strong(asked, dumpPrinting, std::memory_order_acquire)) {
    return;  // not a dump request (or one the dumper gave up on)
  }
  bool mine = mp->curg == mp->dumpg && gp && gp->m_ == mp;
  mp->ndumppcs = mine ? collectpcs(ctx, mp->dumppcs, maxFrames) : -1;
  mp->dumpreq.store(dumpDone, std::memory_order_release);
  futexwakeup(&mp->dumpreq, 1);
}

// tracebacksafely prints a switched-out goroutine; a fault while reading its stack (it
// resumed meanwhile) comes back here through dumprecover. Non-exiting dumps only.
__attribute__((noinline)) void tracebacksafely(int fd, g* gp) {
  if (sigsetjmp(dumprecover, 1) == 0) {
    dumprecoverok.store(true, std::memory_order_release);
    tracebacksaved(fd, gp);
  } else {
    fdprintf(fd, "\t(the stack changed while it was read)\n");
  }
  dumprecoverok.store(false, std::memory_order_release);
}

// dyingwait: an atexit handler. A goroutine that calls exit() while a dying process prints
// its dump waits here, so the dump finishes and the status is the dump's.
void dyingwait() {
  while (dying.load(std::memory_order_acquire)) usleep_ns(int64_t(1000) * 1000 * 1000);
}

// stackoverflow: is the fault at addr (sp at the time) gp running off its stack's bottom?
bool stackoverflow(g* gp, uintptr_t addr, uintptr_t sp) {
  if (!gp || gp->stk.lo == 0) return false;
  uintptr_t lo = gp->stk.lo;
  return (addr < lo && addr >= lo - physpagesize) || (sp < lo && sp >= lo - physpagesize);
}

}  // namespace

// threadm: the M of the thread a handler runs on. gp->m_ names it while gp runs there;
// in the middle of a switch, getg() is still the outgoing g (its TCB's slot: %fs has not
// turned yet) whose m_ is already null, and the M is found by its thread id instead. A
// request to it (LS1, DUMP1) is then answered, not left set for good. Null on a thread
// that is no M.
m* threadm(g* gp) {
  if (gp && gp->m_) return gp->m_;
  int tid = gettid_();
  for (m* mp = allm.load(std::memory_order_acquire); mp; mp = mp->alllink) {
    if (mp->procid.load(std::memory_order_relaxed) == tid) return mp;
  }
  return nullptr;
}

namespace {
void sighandler(int sig, siginfo_t* info, void* ctx) {
  int savederrno = errno;
  g* gp = getg();
  m* mp = gp ? gp->m_ : nullptr;
  if (sig == SIGURG) {
    if (m* self = threadm(gp)) {
      setxidsig(self);
      dumpself(self, gp, ctx);
      lazysyscallsig(self, gp, ctx);  // declines for a g that is not self's curg
    }
    errno = savederrno;
    return;
  }
  if (dumping.load(std::memory_order_acquire) == gettid_() &&
      dumprecoverok.load(std::memory_order_acquire) && sig != SIGQUIT) {
    siglongjmp(dumprecover, 1);  // a gmp_dump read a stack that changed under it
  }
  // From here the process is dying: bound it, even if another thread's dump holds the lock.
  startwatchdog(dumpWatchdog, "gmp: fatal error: the goroutine dump stalled; exiting\n");
  if (!lockdump()) {
    printerr("gmp: fatal error: signal during the goroutine dump\n");
    _exit(2);
  }
  auto* uc = static_cast<ucontext_t*>(ctx);
  uintptr_t pc = uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
  uintptr_t sp = uintptr_t(uc->uc_mcontext.gregs[REG_RSP]);
  g* cur = mp ? mp->curg : nullptr;
  if (sig == SIGQUIT) {
    fdprintf(2, "SIGQUIT: quit\nPC=0x%lx m=%ld sigcode=%d\n\n", pc, mp ? long(mp->id) : -1L,
             info->si_code);
  } else if (stackoverflow(cur, uintptr_t(info->si_addr), sp)) {
    fdprintf(2, "gmp: fatal error: goroutine %ld stack overflow (%lu-byte stack)\n\n",
             long(cur->goid), cur->stk.hi - cur->stk.lo);
  } else {
    fdprintf(2, "gmp: fatal error: unexpected signal %s: addr=0x%lx pc=0x%lx\n\n", signame(sig),
             uintptr_t(info->si_addr), pc);
  }
  // The failing goroutine is printed from this signal's context; with no goroutine (g0, a
  // thread of the program's own) the thread's stack is.
  dumpgoroutines(2, cur, ctx, true, tracebacklevel(debug.traceback));
  if (sig != SIGQUIT && sig != SIGABRT && info->si_code > 0) {
    // A fault the kernel raised: let it happen again with the default action, so the core
    // shows the faulting instruction itself. (One sent by kill or tgkill would not recur:
    // crash raises those.)
    setdfl(sig);
    errno = savederrno;
    return;
  }
  crash(sig == SIGQUIT ? 0 : sig);
}
}  // namespace

bool dumpactive() {
  return dumping.load(std::memory_order_acquire) != 0 || dying.load(std::memory_order_acquire);
}

void initsig() {
  atexit(dyingwait);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sighandler;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigfillset(&sa.sa_mask);  // nothing interrupts a report but a fault in it (SA_NODEFER)
  sigdelset(&sa.sa_mask, SIGURG);  // a dumping M answers dump requests
  for (int sig : fatalSignals) sigdelset(&sa.sa_mask, sig);
  auto install = [&](int sig, int extraflags, bool alsoIgnored) {
    struct sigaction old;
    if (__sigaction(sig, nullptr, &old) != 0) return;
    bool dfl = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL;
    bool ign = !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_IGN;
    if (!dfl && !(alsoIgnored && ign)) return;
    struct sigaction mine = sa;
    mine.sa_flags |= extraflags;
    if (__sigaction(sig, &mine, nullptr) == 0) handling[sig] = true;
  };
  for (int sig : fatalSignals) install(sig, SA_NODEFER, false);
  install(SIGQUIT, 0, false);
  // SIGURG: ignored by default and when ignored, so ours (which ignores all but dump
  // requests) changes nothing for the program. Its handler must not block the others.
  sigemptyset(&sa.sa_mask);
  install(SIGURG, 0, true);
  lazysyscallinit(handling[SIGURG]);
}

void minitsig(m* mp) {
  if (mp->sigstk.lo == 0) {
    void* v = sysAlloc(sigstackSize);
    if (!v) fatal("minitsig: cannot allocate a signal stack");
    mp->sigstk.lo = uintptr_t(v);
    mp->sigstk.hi = uintptr_t(v) + sigstackSize;
  }
  stack_t ss{};
  ss.ss_sp = reinterpret_cast<void*>(mp->sigstk.lo);
  ss.ss_size = sigstackSize;
  // The kernel's call: the hook (gsigaltstack) keeps a goroutine's stack to itself.
  if (rawsyscall(SYS_sigaltstack, long(&ss), 0) != 0) fatal("minitsig: sigaltstack failed");
}

int gsigaltstack(const stack_t* ss, stack_t* old) {
  if (!hookable(false)) return -1;
  constexpr int autodisarm = int(1u << 31);  // SS_AUTODISARM (linux/signal.h)
  g* gp = getg();
  stack_t cur = gp->altstack;
  if (cur.ss_size == 0) cur.ss_flags |= SS_DISABLE;  // none yet, as a new thread's
  if (ss) {
    // The kernel's checks (do_sigaltstack); the program's handlers run on the M's stack,
    // so the goroutine is never on its own and never gets EPERM.
    int mode = ss->ss_flags & ~autodisarm;
    if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK) return EINVAL;
    if (mode == SS_DISABLE) {
      gp->altstack = stack_t{nullptr, ss->ss_flags, 0};
    } else {
      if (ss->ss_size < size_t(MINSIGSTKSZ)) return ENOMEM;
      gp->altstack = stack_t{ss->ss_sp, ss->ss_flags & autodisarm, ss->ss_size};
    }
  }
  if (old) *old = cur;
  return 0;
}

void dumpgoroutines(int fd, g* cur, void* ctx, bool exiting, tracebacklevel level, bool self) {
  if (level == tracebackNone) return;
  bool owner = lockdump() || exiting;  // a fatal error inside a dump: print what we can
  if (exiting) {
    dying.store(true, std::memory_order_release);
    freezetheworld();
    startwatchdog(dumpWatchdog, "gmp: fatal error: the goroutine dump stalled; exiting\n");
  }
  m* me = getg() ? getg()->m_ : nullptr;
  // The current goroutine (or thread) first, from the signal's context or from here.
  bool printed = true;  // a block is out: the next needs a blank line first
  if (cur) {
    goroutineheader(fd, cur);
  } else if (!self) {
    printed = false;
  } else {
    if (me) {
      fdprintf(fd, "goroutine 0 [scheduler, m%ld]:\n", long(me->id));
    } else {
      fdprintf(fd, "thread %d [not a goroutine]:\n", gettid_());
    }
  }
  if (!printed) {
    // nothing of this thread
  } else if (ctx) {
    tracebackcontext(fd, ctx, true, cur, 0);
  } else {
    tracebackhere(fd, cur);
  }
  if (level >= tracebackAll) {
    int64_t n = gmp_allglen.load(std::memory_order_acquire);
    for (int64_t i = 0; i < n; i++) {
      g* gp = &gmp_allgs[i];
      uint32_t st = gp->atomicstatus.load(std::memory_order_acquire);
      if (gp == cur || st == Gidle || st == Gdead) continue;
      if (printed) fdprintf(fd, "\n");
      printed = true;
      m* mp = gp->m_;
      if ((st == Grunning || st == Gsyscall) && mp && mp != me) {
        askm(mp, gp, fd);
      } else {
        goroutineheader(fd, gp);
        if (exiting) {
          tracebacksaved(fd, gp);  // the scheduler is frozen
        } else {
          tracebacksafely(fd, gp);
        }
      }
    }
  }
  if (owner && !exiting) unlockdump();
}

// crash ends the process after a fatal error's report. A signal of the program's own (sig:
// a fault, abort) kills it as it would have without the runtime: the status its parent or
// shell reads says so, and a core is written where the system keeps them. The runtime's own
// fatal errors (sig 0: fatal, a deadlock, a panic, SIGQUIT's dump) exit 2, as Go's throw,
// or die of SIGABRT under GMPTRACEBACK=crash.
[[noreturn]] void crash(int sig) {
  if (int s = sig ? sig : debug.traceback == tracebackCrash ? SIGABRT : 0) {
    setdfl(s);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, s);
    pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
    tgkill_(gettid_(), s);
  }
  _exit(2);
}

// ---- signal masks of goroutines ----------------------------------------------------------------
//
// pthread_sigmask on a goroutine sets its own mask (g.sigmask), which its M's thread takes
// whenever the goroutine runs (runon → sigmaskapply: a system call only when the mask
// differs from the thread's): the goroutine-thread sees the mask it set on every M, and a
// signal sent to the process goes to a thread whose running goroutine does not block it.
// An M that waits for work (stopm, or in netpoll) blocks only the signals every goroutine
// blocks: natively one of the threads that do not block a signal sent to the process takes
// it, and here goroutine 1 parked in a read must be interrupted (sigintr.cc) while the
// threads that block everything (a common way to leave signals to main) sleep or wait;
// yet a signal that every thread blocks (the sigwait way) stays pending for the thread
// that waits for it, not taken by an idle M (where SIG_DFL would end the process).
//   SM1: sigblocked[s - 1] counts the live goroutines whose mask blocks s: newproc adds the
//        new g's before it counts the g as created (gcreated), goexit0 removes the g's after
//        it counts it as exited, gsigmask the bits it changes, all relaxed atomics.
//   SM2: sigmaskidle compares the counts with gcount(), read after them: a goroutine being
//        made or ending meanwhile is in a count and not yet (no longer) in gcount, so the
//        error is to block a signal (a wait until the next M goes idle), never to take
//        one every goroutine blocks.
namespace {
std::atomic<int32_t> sigblocked[64];
std::atomic<uint64_t> sigblockedany{0};  // signals ever counted: the counts worth reading
}  // namespace

void sigmaskcount(uint64_t mask, int delta) {
  if (mask == 0) return;
  if (delta > 0 && (sigblockedany.load(std::memory_order_relaxed) & mask) != mask) {
    sigblockedany.fetch_or(mask, std::memory_order_relaxed);
  }
  for (uint64_t b = mask; b != 0; b &= b - 1) {
    sigblocked[__builtin_ctzll(b)].fetch_add(delta, std::memory_order_relaxed);
  }
}

void sigmaskidle(m* mp) {
  uint64_t any = sigblockedany.load(std::memory_order_relaxed), want = 0;
  if (any != 0) {
    int32_t n[64];
    for (uint64_t b = any; b != 0; b &= b - 1) {
      n[__builtin_ctzll(b)] = sigblocked[__builtin_ctzll(b)].load(std::memory_order_relaxed);
    }
    std::atomic_thread_fence(std::memory_order_acquire);  // SM2: the counts, then gcount
    int64_t gs = gcount();
    for (uint64_t b = any; b != 0; b &= b - 1) {
      if (n[__builtin_ctzll(b)] >= gs) want |= b & -b;
    }
  }
  sigmaskapply(mp, want);
}

int32_t sigmaskblockers(int sig) { return sigblocked[sig - 1].load(std::memory_order_relaxed); }

void sigmaskforkchild(g* gp) {
  for (auto& n : sigblocked) n.store(0, std::memory_order_relaxed);
  sigmaskcount(gp->sigmask, 1);
}

void sigmaskset(m* mp, uint64_t want) {
  rawsyscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&want), 0, sizeof want);
  mp->cursigmask = want;
}

int gsigmask(int how, const sigset_t* set, sigset_t* old) {
  if (!hookable(false)) return -1;
  g* gp = getg();
  uint64_t cur = gp->sigmask, s = 0, now = cur;
  if (set) {
    memcpy(&s, set, sizeof s);  // before old is written: they may be the same
    switch (how) {
      case SIG_BLOCK: now = cur | s; break;
      case SIG_UNBLOCK: now = cur & ~s; break;
      case SIG_SETMASK: now = s; break;
      default: return EINVAL;
    }
  }
  if (old) {
    sigemptyset(old);
    memcpy(old, &cur, sizeof cur);
  }
  if (set) {
    now &= ~(sigbit(SIGKILL) | sigbit(SIGSTOP));
    sigmaskcount(now & ~cur, 1);  // SM1
    sigmaskcount(cur & ~now, -1);
    m* mp = gp->m_;  // no park in between: still the M it runs on
    __atomic_store_n(&gp->sigmask, now, __ATOMIC_SEQ_CST);  // SP4: the mask, then the bits
    // Signals pending for it on its thread that it unblocks run at the mask's system call,
    // as a thread's; those held for it are sent to it (sigpend.cc).
    mp->sigonthread.fetch_and(now, std::memory_order_relaxed);
    sigmaskapply(mp, gp->sigmask);
    if (gp->sigpending.load(std::memory_order_seq_cst) != 0) sigpendhere(mp, gp);
  }
  return 0;
}

}  // namespace gmp
