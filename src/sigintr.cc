// sigintr.cc — a signal handler cuts a parked call short, as it does a thread's system call:
// the call ends in EINTR, or goes on under SA_RESTART (signal(7), "Interruption of system
// calls and library functions by signal handlers").
//
// Whom. A signal sent to the process is delivered to one thread that does not block it —
// the main thread when it can take it — and only that thread's blocking call is
// interrupted. Under the runtime the kernel picks an M, whose trampoline (preload/signal.cc)
// hands the handler to goroutine 1, which stands for the main thread, when that waits in a
// call the signal interrupts and does not block the signal (sigdefer, below); else the
// handler runs on that M and interrupts nobody (goroutine 1 was running, or blocks it; no
// other goroutine-thread's call is chosen instead). A signal aimed at one thread that is a
// goroutine (pthread_kill of a gthread) is not sent at all: preload/pthread.cc runs the
// handler on the sender and then interrupts the target's call here (sigintrg), so the
// handler has run when the call ends, as on a thread; a target that waits in a call that
// holds its thread (Gsyscall) is sent the signal there instead (gthreadsyscalltid). Other
// signals aimed at one thread (tgkill, raise: SI_TKILL) interrupt nobody.
//
// How. A goroutine parks on one ring operation (netpollwait); interrupting it means
// cancelling that operation by its user_data (IORING_REGISTER_SYNC_CANCEL, a system call any
// thread may make, a handler too). A goroutine in sem_wait parks on a semaphore instead
// (sema.cc, SEM6): the cancel wakes that word's waiters, by SEM5's async-signal-safe way. g.intr is the state, a set of bits; g.intrkey and
// g.intrring name the operation. Writers, and the order:
//   SI1: the owner arms (idle -> armed|commit, seq_cst) in netpollwait before the park,
//        after it wrote intrkey and intrring; it disarms (-> idle, CAS) after it resumed,
//        never while busy or commit is set, so nobody still reads the key and ring it is
//        about to overwrite, or cancels an operation of a later park by the same key.
//   SI2: a handler, on any thread, CASes armed (commit or not) -> hit|busy (|restart, commit
//        kept), cancels intrkey on intrring, then clears busy (release). One handler per
//        park: a second finds the state not armed.
//   SI3: the park's commit (pollcommitintr, on the M that parked, after the submission)
//        cancels the operation itself when it finds hit, then clears commit (release): the
//        handler may have run before the operation reached the kernel, whose ring lock
//        orders the handler's cancel before the submission, and so the handler's hit
//        before this look.
//   SI4: a cancel that does not take (the operation runs on an io-wq worker past the
//        bounded wait) leaves the call to complete as it would have; the handler ran.
//   SI6: a signal held for a thread that blocks it (pthread_kill, sigpend.cc) ends the
//        thread's parked read or wait for input (readlike: a signalfd read, a poll of one)
//        without a handler: the sender hits it with recheck (sigintrheld), and the call is
//        made again (restartcall, whatever its intrmode), now on the thread that has the
//        signal. Other parked calls (writes, sleeps) go on: a held signal does not end them.
//        Such a thread's readlike parks are armed even where the program has no handler.
//   SI7: pthread_cancel of a goroutine-thread (gthread.cc, GT2) is a hit too (intrCancelHit,
//        no handler): every interruptible park of a thread whose cancellation is enabled
//        is armed for it, and a park armed for nothing else (intrCancelOnly: pthread_join)
//        no signal's hit ends. The request is set (seq_cst) before the canceller's hit, the
//        arm (seq_cst) before the thread looks at the request, so one of them sees the
//        other: a thread that finds it looks as a handler that came first (SI3). Woken so,
//        the thread acts on it in intrdisarm, its operation over: it unwinds from there.
//        A ring park armed for the request alone (armedCancel) only publishes its
//        operation, as an unarmed one (NP6): after the publish its commit fences (seq_cst)
//        and looks for a hit, submitting and cancelling itself when it finds one; the
//        canceller hits (seq_cst) and then enters the ring itself before its cancel, the
//        published count notwithstanding (a submitter may have taken it and not entered
//        yet: a cancel that found nothing in the kernel left the read parked for good, 4
//        stress runs in 6). One of the two sees the other's write.
// A hit whose operation completed anyway (the data came first) returns the data: the
// handler ran, the call succeeded, as on a thread that got both.
//
// Where the handler runs. The kernel runs a thread's handler on that thread, on the way out
// of the call it interrupts, and a handler may leave by siglongjmp to a sigsetjmp of the
// thread's (a timeout's classic way out of a read). So a signal sent to the process while
// goroutine 1 is parked in a call it interrupts, and does not block, runs its handler on
// goroutine 1 (sigdefer): the trampoline hands it over instead of running it on its M, the
// call is cancelled, and goroutine 1 runs it as it resumes, before the call returns (with
// its sa_mask and the signal blocked, as the kernel's). Run on the M, a jump landed on
// goroutine 1's stack while goroutine 1 still waited in the scheduler, its read still in
// the ring (which took the next bytes), and the program went on outside the scheduler.
//   SI5: maindeferred is written by the handler whose CAS (SI2) set hit with intrHandler,
//        before it clears busy (release); goroutine 1 reads it after it saw busy clear
//        (acquire, intrdisarm), and copies it before it runs the handler (which may park
//        and be handed the next one).
#include <liburing.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <cerrno>

#include "hooks.h"
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

namespace {
enum : uint32_t {
  intrIdle = 0,
  intrArmed = 1,
  intrHit = 2,
  intrBusy = 4,        // a handler is in cancel() (SI2)
  intrRestartBit = 8,  // that handler had SA_RESTART
  intrCommit = 16,     // the park's commit has not looked yet (SI3)
  intrHandler = 32,    // goroutine 1 runs that handler (maindeferred, SI5)
  intrReadlike = 64,   // armed for a read or a wait for input, which a held signal ends (SI6)
  intrRecheck = 128,   // ended for a held signal: the call is made again (SI6)
  intrCancelHit = 256,   // ended by pthread_cancel (SI7)
  intrCancelOnly = 512,  // armed for pthread_cancel alone (intrCancel: join, a condition)
  intrCondWait = 1024,   // armed on a condition's waiter (intrarmcond), not an operation
  intrCancelArmed = 2048,  // armed for pthread_cancel too: its thread's cancellation is on
};

// A handler handed to goroutine 1 (SI5).
struct deferred {
  siginfo_t info;
  sigfn fn;
  sigset_t mask;  // blocked while it runs: its sa_mask, and the signal unless SA_NODEFER
};
deferred maindeferred;

}  // namespace

__thread int32_t gmp_handlerdepth __attribute__((tls_model("initial-exec"))) = 0;
__thread uint32_t gmp_handlersran __attribute__((tls_model("initial-exec"))) = 0;

namespace {
// maing: goroutine 1 once it runs (sigintrmain), null again in a forked child. forwarding:
// the program installed a handler (sigforwarding). Written once each; read by handlers.
std::atomic<g*> maing{nullptr};
std::atomic<bool> forwarding{false};

// cancel asks the kernel to cancel gp's armed operation. A poll-armed operation, a timeout
// or a poll is cancelled at once; the wait is bounded all the same (a handler waits here:
// SI4). Armed without a ring, gp waits in sem_wait on the word intrkey (sema.cc, SEM6), or
// (intrCondWait) on a condition, intrkey its waiter (sync.cc, CW4).
void cancel(g* gp, bool cancelhit) {
  if (gp->intr.load(std::memory_order_relaxed) & intrCondWait) {  // the arm's own bit
    condintr(reinterpret_cast<void*>(gp->intrkey));
    return;
  }
  if (!gp->intrring) {
    semintr(reinterpret_cast<std::atomic<uint32_t>*>(gp->intrkey));
    return;
  }
  // SI7: a park armed for pthread_cancel alone only published its operation (NP6); the
  // canceller, no handler, submits what is published first.
  if (cancelhit) netpollenterring(gp->intrring);
  io_uring_sync_cancel_reg reg{};
  reg.addr = gp->intrkey;
  reg.timeout.tv_sec = 0;
  reg.timeout.tv_nsec = 100 * 1000 * 1000;
  netpollcancel(gp->intrring, reg);
}
// interruptible: gp's calls are cut short by a handler: goroutine 1's (signals to the
// process) and those of goroutines with a TCB of their own, threads (pthread_kill).
bool interruptible(g* gp) { return gp == maing.load(std::memory_order_relaxed) || gp->fsbase != 0; }
// heldtarget: gp is a thread that blocks some signal, which pthread_kill may hold for it
// (SI6). Read when it arms, by itself.
bool heldtarget(g* gp) { return gp->fsbase != 0 && __atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) != 0; }
}  // namespace

void sigintrmain(g* gp) { maing.store(gp, std::memory_order_release); }
void sigforwarding() { forwarding.store(true, std::memory_order_release); }
bool sighandlers() { return forwarding.load(std::memory_order_relaxed); }


bool sigintrtarget() {
  g* gp = getg();
  return (forwarding.load(std::memory_order_acquire) && gp && interruptible(gp)) ||
         gthreadcancelwatch();  // SI7
}

bool sigpendmain(int sig) {
  g* gp = maing.load(std::memory_order_acquire);
  if (!gp || sig < 1 || sig > 64) return false;
  if (!(__atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) & sigbit(sig) & ~sigmaskkeep)) return false;
  if (int tid = sigpendsyscall(gp, sig)) {
    return rawsyscall(SYS_tgkill, rawsyscall(SYS_getpid), tid, sig) == 0;
  }
  return sigpendg(gp, sig);
}

bool sigheldtarget() {
  g* gp = getg();
  return gp && heldtarget(gp);
}

namespace {
// rundeferred: the handler handed to goroutine 1 (SI5), on it, as the kernel runs one.
__attribute__((noinline)) void rundeferred() {
  deferred d = maindeferred;
  sigset_t saved;
  gsigmask(SIG_BLOCK, &d.mask, &saved);
  int e = errno;
  ucontext_t ctx;
  getcontext(&ctx);
  d.fn(d.info.si_signo, &d.info, &ctx);
  errno = e;
  gsigmask(SIG_SETMASK, &saved, nullptr);
}
}  // namespace

namespace {
// arm: SI1's arm of gp on op (ring r, or none) with the kept bits how; cancels: gp is a
// thread a pthread_cancel may end, whose request it looks for (SI7).
void arm(g* gp, pollring* r, void* op, uint32_t how, bool cancels) {
  gp->intrkey = reinterpret_cast<uint64_t>(op);
  gp->intrring = r;
  uint32_t armed = intrArmed | intrCommit | how | (cancels ? uint32_t(intrCancelArmed) : 0u);
  gp->intr.store(armed, std::memory_order_seq_cst);  // SI1
  // SI7: a request made before the arm finds it not armed yet; this look finds the request.
  // The park's commit cancels the operation (SI3), as for a handler that came first.
  if (cancels && gthreadcancelled()) {
    gp->intr.compare_exchange_strong(armed, armed | intrHit | intrCancelHit,
                                     std::memory_order_seq_cst);
  }
}
}  // namespace

intrarmed intrarm(g* gp, pollring* r, void* op, bool readlike, bool cancelonly) {
  bool handlers = !cancelonly && interruptible(gp) && forwarding.load(std::memory_order_acquire);
  bool held = !cancelonly && readlike && heldtarget(gp);
  bool cancels = gthreadcancelwatch();  // gp is the caller
  if (!handlers && !held && !cancels) return armedNot;
  arm(gp, r, op, (readlike ? uint32_t(intrReadlike) : 0u) |
                     (cancelonly ? uint32_t(intrCancelOnly) : 0u), cancels);
  return handlers || held ? armedSignals : armedCancel;
}

bool intrarmcond(g* gp, void* waiter) {
  if (!gthreadcancelwatch()) return false;
  arm(gp, nullptr, waiter, intrCancelOnly | intrCondWait, true);
  return true;
}

bool intrhit(g* gp) { return gp->intr.load(std::memory_order_seq_cst) & intrHit; }

void intrcommit(g* gp) {
  if (gp->intr.load(std::memory_order_seq_cst) & intrHit) cancel(gp, false);  // SI3
  gp->intr.fetch_and(~uint32_t(intrCommit), std::memory_order_release);
}

int32_t intrdisarm(g* gp, int32_t res, intrmode mode) {
  uint32_t st = gp->intr.load(std::memory_order_acquire);
  for (;;) {
    if (st & (intrBusy | intrCommit)) {  // a handler or the commit still looks: bounded
      osyield();
      st = gp->intr.load(std::memory_order_acquire);
      continue;
    }
    if (gp->intr.compare_exchange_weak(st, intrIdle, std::memory_order_acq_rel)) break;  // SI1
  }
  if (st & intrHandler) rundeferred();  // SI5: here, before the call returns
  // Cancelled: -ECANCELED, or -EINTR from an io-wq worker that was reading or writing.
  if (!(st & intrHit) || (res != -ECANCELED && res != -EINTR)) return res;
  // SI7: the thread acts on its cancellation here, its operation over; a wait that must
  // do more first (a condition's relock) gets EINTR and acts itself.
  if (st & intrCancelHit) {
    if (mode == intrCancel) return -EINTR;
    cancelnow();
  }
  if (st & intrRecheck) return restartcall;  // SI6: no handler ran, the call goes on
  return mode == intrRestart && (st & intrRestartBit) ? restartcall : -EINTR;
}

namespace {
// hit: end gp's armed call (SI2), with the bits of how; false when it was not armed (not
// parked, or hit already) or, with need, not armed with need. Before the cancel, while busy
// keeps gp from looking, set() runs.
template <typename Set>
bool hit(g* gp, uint32_t how, Set set, uint32_t need = 0) {
  constexpr uint32_t kept =
      intrCommit | intrReadlike | intrCancelOnly | intrCondWait | intrCancelArmed;
  uint32_t st = gp->intr.load(std::memory_order_seq_cst);
  for (;;) {
    if ((st & ~kept) != intrArmed || (st & need) != need) return false;
    if ((st & intrCancelOnly) && !(how & intrCancelHit)) return false;  // a signal's hit
    uint32_t to = (st & kept) | intrHit | intrBusy | how;
    if (gp->intr.compare_exchange_weak(st, to, std::memory_order_seq_cst)) break;
  }
  set();
  cancel(gp, how & intrCancelHit);
  gp->intr.fetch_and(~uint32_t(intrBusy), std::memory_order_release);
  return true;
}
uint32_t restartbit(bool restart) { return restart ? uint32_t(intrRestartBit) : 0u; }
}  // namespace

bool sigdefer(const siginfo_t* info, sigfn fn, int flags, const sigset_t* mask, bool aimed) {
  // SIGPIPE and SIGXFSZ: the kernel sends them to the thread whose write raised them, with
  // the siginfo of a kill() by this process (SI_USER, our pid); they stay where they are, as
  // do other signals aimed at one thread (tgkill, raise).
  int sig = info->si_signo;
  if (!aimed && (info->si_code == SI_TKILL || sig == SIGPIPE || sig == SIGXFSZ)) return false;
  g* gp = maing.load(std::memory_order_acquire);
  if (!gp || sig < 1 || sig > 64) return false;
  bool blocked = __atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) & sigbit(sig);
  if (!blocked && hit(gp, intrHandler | restartbit(flags & SA_RESTART), [&] {
        maindeferred.info = *info;
        maindeferred.fn = fn;
        maindeferred.mask = *mask;
      })) {
    return true;
  }
  // Goroutine 1 runs, or waits in a system call, on another thread (one nothing parks:
  // flock, sigtimedwait, a ppoll with a mask, sigsuspend, a call nothing hooks): the signal
  // goes to that thread, where the kernel interrupts the call (or leaves the signal pending
  // there while goroutine 1 blocks it, or hands it to its sigtimedwait) and runs the handler
  // on goroutine 1, as on the main thread. Its siginfo goes along, as SI_QUEUE when it says
  // the kernel or kill sent it (only the receiving thread itself may queue those). Racy
  // reads: goroutine 1 may have moved on by the time it arrives, and the handler then runs
  // on that thread instead, as it would here.
  uint32_t st = readgstatus(gp);
  m* mp = __atomic_load_n(&gp->m_, __ATOMIC_RELAXED);
  g* self = getg();
  if ((st != Grunning && st != Gsyscall) || !mp || (self && self->m_ == mp)) return false;
  int tid = mp->procid.load(std::memory_order_relaxed);
  if (tid <= 0) return false;
  long pid = rawsyscall(SYS_getpid);
  if (aimed) return rawsyscall(SYS_tgkill, pid, tid, sig) == 0;  // there as it was sent
  siginfo_t fwd = *info;
  if (fwd.si_code >= 0) fwd.si_code = SI_QUEUE;
  return rawsyscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, long(&fwd)) == 0;
}

void sigintrg(g* gp, bool restart) {
  hit(gp, restartbit(restart), [] {});
}

void sigintrcancel(g* gp) {
  // Only a park armed while its thread's cancellation was on (it cannot turn it off while
  // it waits): one armed for handlers alone stays (SI7).
  hit(gp, intrCancelHit, [] {}, intrCancelArmed);
}

void sigintrheld(g* gp) {
  hit(gp, intrRecheck, [] {}, intrReadlike);
}

}  // namespace gmp
