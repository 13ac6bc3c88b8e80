// signal.cc — the program's signal handlers: sigaction, signal (bsd_signal), siginterrupt.
//
// A handler the program installs runs as it would on a plain thread, with the program's
// mask and flags; the kernel's action is a trampoline on whichever M the kernel picks. When
// goroutine 1 waits in a call the signal interrupts, the trampoline hands the handler to it
// (gmp::sigdefer): goroutine 1's call ends in EINTR or, under SA_RESTART, is made again, and
// goroutine 1 runs the handler first, as the main thread would (src/sigintr.cc, SI5);
// otherwise the trampoline runs it on its M. sigaction reports the
// program's own handler, never the trampoline. Left to the kernel as they are: SIG_DFL and
// SIG_IGN, SIGKILL and SIGSTOP, glibc's own signals, the faults a thread raises itself
// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS: they interrupt no other call), and
// SIGURG, the runtime's. sysv_signal and sigset (System V) are not hooked: their handlers
// run, but interrupt no parked call.
#include <setjmp.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "hook.h"

namespace {

using gmp::sigfn;

// The program's action per signal: its handler, flags and sa_mask. The hooks write them
// under tablelock (flags and mask first, then fn with release); the trampoline reads fn
// (acquire), then flags and mask, without the lock, and clears fn for SA_RESETHAND by a
// CAS from the value it read (a sigaction that came in between keeps its handler). A
// handler may so see the flags and mask of a newer install: it only uses SA_RESTART,
// SA_RESETHAND and SA_NODEFER from the flags, the mask only says what a handler handed to
// goroutine 1 blocks while it runs, and every handler is called with three arguments,
// which a one-argument handler ignores (SysV x86-64: arguments in registers), so an
// SA_SIGINFO mismatch cannot hurt.
struct action {
  std::atomic<void*> fn{nullptr};  // null: not ours (the kernel's action is the program's)
  std::atomic<int> flags{0};
  std::atomic<uint64_t> mask{0};  // its sa_mask, signals 1-64 (bit sig - 1), with the flags
};
action actions[NSIG];
std::atomic_flag tablelock = ATOMIC_FLAG_INIT;
sigset_t interrupting;  // siginterrupt's signals (tablelock): signal() omits SA_RESTART

// tableguard: tablelock, with every signal blocked so that a handler of this thread that
// calls sigaction cannot wait for the lock its own thread holds. Raw system calls: they
// keep errno, and no hook stands in front of them.
struct tableguard {
  sigset_t saved;
  tableguard() {
    sigset_t all;
    sigfillset(&all);
    gmp::threadmask(SIG_BLOCK, &all, &saved);
    while (tablelock.test_and_set(std::memory_order_acquire)) {
    }
  }
  ~tableguard() {
    tablelock.clear(std::memory_order_release);
    gmp::threadmask(SIG_SETMASK, &saved, nullptr);
  }
};

}  // namespace

namespace gmp {
// signalforkchild: a thread the child does not have may have held the table's lock.
void signalforkchild() { tablelock.clear(std::memory_order_relaxed); }
}  // namespace gmp

namespace {

bool forwardable(int sig) {
  switch (sig) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGFPE: case SIGILL:
    case SIGTRAP: case SIGSYS: case SIGURG:
      return false;
    default:
      return sig > 0 && sig < NSIG && (sig < __SIGRTMIN || sig >= SIGRTMIN);
  }
}

// ishandler: sa installs a function. The kernel reads SIG_DFL and SIG_IGN from the handler
// word whatever the flags say, SA_SIGINFO included.
bool ishandler(const struct sigaction* sa) {
  return sa->sa_handler != SIG_DFL && sa->sa_handler != SIG_IGN;
}

// handlermask: what the kernel blocks while a's handler for sig runs: its sa_mask, and sig
// unless SA_NODEFER.
sigset_t handlermask(const action& a, int sig, int flags) {
  uint64_t bits = a.mask.load(std::memory_order_relaxed);
  if (!(flags & SA_NODEFER)) bits |= uint64_t(1) << (sig - 1);
  sigset_t mask;
  sigemptyset(&mask);
  memcpy(&mask, &bits, sizeof bits);
  return mask;
}

void trampoline(int sig, siginfo_t* info, void* ctx) {
  action& a = actions[sig];
  void* fn = a.fn.load(std::memory_order_acquire);
  int flags = a.flags.load(std::memory_order_relaxed);
  // SA_RESETHAND: the kernel's action is SIG_DFL again; so is the one sigaction reports.
  if (void* seen = fn; fn && (flags & SA_RESETHAND)) a.fn.compare_exchange_strong(seen, nullptr);
  if (!fn) return;  // replaced by SIG_DFL or SIG_IGN while this signal was on its way
  // Goroutine 1's to run when it waits in a call this signal interrupts (src/sigintr.cc,
  // SI5), or goroutine 1's thread's when it runs elsewhere.
  sigset_t mask = handlermask(a, sig, flags);
  if (gmp::sigdefer(info, reinterpret_cast<sigfn>(fn), flags, &mask, false)) return;
  // What the handler calls must not park nor lock (hooks.h). Restored, not decremented: a
  // longjmp within the handler may have reset it (the hooks below).
  int32_t depth = gmp::gmp_handlerdepth;
  gmp::gmp_handlerdepth = depth + 1;
  gmp::gmp_handlersran++;
  reinterpret_cast<sigfn>(fn)(sig, info, ctx);
  gmp::gmp_handlerdepth = depth;
}

}  // namespace

namespace {
// tkillinfo: the siginfo of sig sent by tgkill from this process, as a handler sees it.
siginfo_t tkillinfo(int sig) {
  siginfo_t info{};
  info.si_signo = sig;
  info.si_code = SI_TKILL;
  info.si_pid = getpid();
  info.si_uid = getuid();
  return info;
}
}  // namespace

namespace gmp {
// signalmain: sig sent by pthread_kill to the main thread, which goroutine 1 stands for,
// when the program has a handler for it (not SA_RESETHAND, which the caller's tgkill keeps
// to the kernel): goroutine 1 gets it, as sigdefer gives it one sent to the process. False
// when it did not (the caller sends it to the main thread's OS thread, as before).
bool signalmain(int sig) {
  if (sig <= 0 || sig >= NSIG) return false;
  action& a = actions[sig];
  void* fn = a.fn.load(std::memory_order_acquire);
  int flags = a.flags.load(std::memory_order_relaxed);
  if (!fn || (flags & SA_RESETHAND)) return false;
  siginfo_t info = tkillinfo(sig);
  sigset_t mask = handlermask(a, sig, flags);
  return sigdefer(&info, reinterpret_cast<sigfn>(fn), flags, &mask, true);
}

// signalrun: what the kernel would do for sig sent by tgkill to a thread that does not block
// it, when the program has a handler for it: run it, here, with sig blocked unless
// SA_NODEFER (preload/pthread.cc's pthread_kill). Returns the handler's flags, or -1 when
// sig has no handler of the program's (nothing ran).
int signalrun(int sig) {
  if (sig <= 0 || sig >= NSIG) return -1;
  action& a = actions[sig];
  void* fn = a.fn.load(std::memory_order_acquire);
  int flags = a.flags.load(std::memory_order_relaxed);
  if (!fn) return -1;
  if (flags & SA_RESETHAND) {  // under the table's lock: a sigaction may come in between
    tableguard guard;
    if (a.fn.load(std::memory_order_relaxed) == fn) {
      a.fn.store(nullptr, std::memory_order_relaxed);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      REAL(sigaction);
      real_sigaction(sig, &dfl, nullptr);
    }
  }
  siginfo_t info = tkillinfo(sig);
  ucontext_t ctx;
  getcontext(&ctx);
  sigset_t one, saved;
  sigemptyset(&one);
  sigaddset(&one, sig);
  bool defer = !(flags & SA_NODEFER);
  if (defer) pthread_sigmask(SIG_BLOCK, &one, &saved);
  int e = errno;
  reinterpret_cast<sigfn>(fn)(sig, &info, &ctx);
  errno = e;
  if (defer) pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return flags;
}
}  // namespace gmp

GMP_HOOK int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  REAL(sigaction);
  if (!forwardable(sig)) {
    // The program's own SIGURG handler: sysmon's requests would reach it (lazysyscall.cc).
    if (sig == SIGURG && act && ishandler(act)) gmp::lazysyscalloff();
    return real_sigaction(sig, act, old);
  }
  tableguard guard;
  action& a = actions[sig];
  void* prevfn = a.fn.load(std::memory_order_relaxed);
  int prevflags = a.flags.load(std::memory_order_relaxed);
  int r;
  if (act && ishandler(act)) {
    struct sigaction mine = *act;
    mine.sa_sigaction = trampoline;
    mine.sa_flags |= SA_SIGINFO;
    a.flags.store(act->sa_flags, std::memory_order_relaxed);
    uint64_t bits;
    memcpy(&bits, &act->sa_mask, sizeof bits);
    a.mask.store(bits, std::memory_order_relaxed);
    a.fn.store(reinterpret_cast<void*>(act->sa_sigaction), std::memory_order_release);
    r = real_sigaction(sig, &mine, old);
    if (r != 0) {
      a.fn.store(prevfn, std::memory_order_relaxed);
      a.flags.store(prevflags, std::memory_order_relaxed);
    } else {
      gmp::sigforwarding();
    }
  } else {
    r = real_sigaction(sig, act, old);
    if (r == 0 && act) a.fn.store(nullptr, std::memory_order_relaxed);
  }
  if (r == 0 && old && prevfn && old->sa_sigaction == trampoline) {
    old->sa_sigaction = reinterpret_cast<sigfn>(prevfn);
    old->sa_flags = prevflags;
  }
  return r;
}

// signal: BSD semantics, as glibc's: the signal blocked while its handler runs, calls
// restarted unless siginterrupt said otherwise.
GMP_HOOK sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction sa {}, old{};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  if (sig > 0 && sig < NSIG) sigaddset(&sa.sa_mask, sig);
  {
    tableguard guard;
    sa.sa_flags = sig > 0 && sig < NSIG && sigismember(&interrupting, sig) ? 0 : SA_RESTART;
  }
  if (sigaction(sig, &sa, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
extern "C" __attribute__((visibility("default"), alias("signal"))) sighandler_t bsd_signal_hook(
    int, sighandler_t) noexcept __asm__("bsd_signal");

GMP_HOOK int siginterrupt(int sig, int interrupt) {
  struct sigaction sa {};
  if (sigaction(sig, nullptr, &sa) != 0) return -1;
  {
    tableguard guard;
    if (interrupt) {
      sigaddset(&interrupting, sig);
    } else {
      sigdelset(&interrupting, sig);
    }
  }
  if (interrupt) {
    sa.sa_flags &= ~SA_RESTART;
  } else {
    sa.sa_flags |= SA_RESTART;
  }
  return sigaction(sig, &sa, nullptr);
}

// pthread_sigmask and sigprocmask on a goroutine set its own mask, applied to whichever
// thread it runs on (src/signal_unix.cc, gsigmask).
GMP_HOOK int pthread_sigmask(int how, const sigset_t* set, sigset_t* old) noexcept {
  REAL(pthread_sigmask);
  int r = gmp::gsigmask(how, set, old);
  return r >= 0 ? r : real_pthread_sigmask(how, set, old);
}

GMP_HOOK int sigprocmask(int how, const sigset_t* set, sigset_t* old) noexcept {
  REAL(sigprocmask);
  int r = gmp::gsigmask(how, set, old);
  if (r < 0) return real_sigprocmask(how, set, old);
  if (r == 0) return 0;
  errno = r;
  return -1;
}

// sigaltstack on a goroutine keeps its stack to itself (src/signal_unix.cc, gsigaltstack):
// set on the OS thread it replaced the runtime's signal stack there, whose SIGURG handler
// then declined every request, and a thread with a stack of its own was never preempted
// nor had its blocked call's P handed on (gdb, which sets one, hung at 1 P).
GMP_HOOK int sigaltstack(const stack_t* ss, stack_t* old) noexcept {
  REAL(sigaltstack);
  int r = gmp::gsigaltstack(ss, old);
  if (r < 0) return real_sigaltstack(ss, old);
  if (r == 0) return 0;
  errno = r;
  return -1;
}

// sigwait and its kin block their thread, as a call nothing can park does: its P goes to
// another thread meanwhile (insyscall), and a signal sent to it (pthread_kill) is sent to
// the OS thread it waits on (preload/pthread.cc).
// Signals pending for a goroutine-thread are moved onto its thread first (sigpendcall), as
// they are for sigpending and sigsuspend, and a raise on a goroutine noted (sigraised).
GMP_HOOK int sigwait(const sigset_t* set, int* sig) {
  gmp::testcancel();
  REAL(sigwait);
  gmp::sigpendcall();
  return gmp::insyscall([&] { return real_sigwait(set, sig); });
}

// sigwaitinfo and sigtimedwait end in EINTR for the runtime's causes too (remadeunseen).
GMP_HOOK int sigwaitinfo(const sigset_t* set, siginfo_t* info) {
  gmp::testcancel();
  REAL(sigwaitinfo);
  gmp::sigpendcall();
  return gmp::insyscall(
      [&] { return gmp::remadeunseen([&] { return real_sigwaitinfo(set, info); }); });
}

GMP_HOOK int sigtimedwait(const sigset_t* set, siginfo_t* info, const timespec* ts) {
  gmp::testcancel();
  REAL(sigtimedwait);
  gmp::sigpendcall();
  return gmp::insyscall([&] {
    return gmp::remadeuntil(ts, [&](const timespec* left) {
      return real_sigtimedwait(set, info, left);
    });
  });
}

GMP_HOOK int sigpending(sigset_t* set) {
  REAL(sigpending);
  gmp::sigpendcall();
  return real_sigpending(set);
}

// sigsuspend waits on its thread, the P handed on (a signal sent to it goes there: sigdefer,
// pthread_kill's gthreadsyscalltid); it held the P, so at one P the thread that would send
// the signal never ran.
GMP_HOOK int sigsuspend(const sigset_t* mask) {
  gmp::testcancel();
  REAL(sigsuspend);
  gmp::sigpendcall();
  return gmp::insyscall([&] { return gmp::remadeunseen([&] { return real_sigsuspend(mask); }); });
}

GMP_HOOK int raise(int sig) {
  REAL(raise);
  int r = real_raise(sig);
  if (r == 0) gmp::sigraised(sig);
  return r;
}

// A handler that leaves by siglongjmp (a timeout's classic way out) never returns to the
// trampoline: the jump ends the handlers its thread was running, so that its calls park and
// its signal mask is its goroutine's again. A jump that stays within a handler makes it look
// like ordinary code until the handler returns (the trampoline restores the count).
namespace {
// jumpaway: real(env, val), the jump, with the handlers ended.
// A sigsetjmp that saved the mask has the jump restore it: glibc sets the thread's own
// with a system call of its own, so the goroutine's (which its next M would take) is set
// here first.
template <typename Env>
[[noreturn]] void jumpaway(void (*real)(Env, int), Env env, int val) {
  gmp::gmp_handlerdepth = 0;
  if (env->__mask_was_saved) gmp::gsigmask(SIG_SETMASK, &env->__saved_mask, nullptr);
  real(env, val);
  __builtin_unreachable();  // the pointer's type does not say noreturn
}
}  // namespace

GMP_HOOK [[noreturn]] void siglongjmp(sigjmp_buf env, int val) {
  REAL(siglongjmp);
  jumpaway(real_siglongjmp, env, val);
}

GMP_HOOK [[noreturn]] void longjmp(jmp_buf env, int val) {
  REAL(longjmp);
  jumpaway(real_longjmp, env, val);
}

GMP_HOOK [[noreturn]] void _longjmp(jmp_buf env, int val) {
  REAL(_longjmp);
  jumpaway(real__longjmp, env, val);
}

// _FORTIFY_SOURCE's longjmp and siglongjmp.
extern "C" [[noreturn]] void __longjmp_chk(sigjmp_buf env, int val);
GMP_HOOK [[noreturn]] void __longjmp_chk(sigjmp_buf env, int val) {
  REAL(__longjmp_chk);
  jumpaway(real___longjmp_chk, env, val);
}
