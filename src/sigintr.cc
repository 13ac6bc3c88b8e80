// sigintr.cc — a signal handler cuts a parked call short, as it does a thread's system call:
// the call ends in EINTR, or goes on under SA_RESTART (signal(7), "Interruption of system
// calls and library functions by signal handlers").
//
// Whom. A signal sent to the process is delivered to one thread that does not block it —
// the main thread when it can take it — and only that thread's blocking call is
// interrupted. Under the runtime the handler runs on whichever M the kernel picks, so the
// trampoline of preload/signal.cc tells the runtime (sigintr), and the runtime interrupts
// the call of goroutine 1, which stands for the main thread. A signal aimed at one thread
// that is a goroutine (pthread_kill of a gthread) is not sent at all: preload/pthread.cc
// runs the handler on the sender and then interrupts the target's call here (sigintrthread),
// so the handler has run when the call ends, as on a thread. Other signals aimed at one
// thread (tgkill, raise: SI_TKILL) interrupt nobody.
//
// How. A goroutine parks on one ring operation (netpollwait); interrupting it means
// cancelling that operation by its user_data (IORING_REGISTER_SYNC_CANCEL, a system call any
// thread may make, a handler too). g.intr is the state, a set of bits; g.intrkey and
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
// A hit whose operation completed anyway (the data came first) returns the data: the
// handler ran, the call succeeded, as on a thread that got both.
#include <liburing.h>
#include <signal.h>

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
};

}  // namespace

__thread int32_t gmp_handlerdepth __attribute__((tls_model("initial-exec"))) = 0;

namespace {
// maing: goroutine 1 once it runs (sigintrmain), null again in a forked child. forwarding:
// the program installed a handler (sigforwarding). Written once each; read by handlers.
std::atomic<g*> maing{nullptr};
std::atomic<bool> forwarding{false};

// cancel asks the kernel to cancel gp's armed operation. A poll-armed operation, a timeout
// or a poll is cancelled at once; the wait is bounded all the same (a handler waits here:
// SI4).
void cancel(g* gp) {
  io_uring_sync_cancel_reg reg{};
  reg.addr = gp->intrkey;
  reg.timeout.tv_sec = 0;
  reg.timeout.tv_nsec = 100 * 1000 * 1000;
  netpollcancel(gp->intrring, reg);
}
// interruptible: gp's calls are cut short by a handler: goroutine 1's (signals to the
// process) and those of goroutines with a TCB of their own, threads (pthread_kill).
bool interruptible(g* gp) { return gp == maing.load(std::memory_order_relaxed) || gp->fsbase != 0; }
}  // namespace

void sigintrmain(g* gp) { maing.store(gp, std::memory_order_release); }
void sigforwarding() { forwarding.store(true, std::memory_order_release); }
bool sighandlers() { return forwarding.load(std::memory_order_relaxed); }


bool sigintrtarget() {
  g* gp = getg();
  return forwarding.load(std::memory_order_acquire) && gp && interruptible(gp);
}

bool intrarm(g* gp, pollring* r, void* op) {
  if (!interruptible(gp) || !forwarding.load(std::memory_order_acquire)) return false;
  gp->intrkey = reinterpret_cast<uint64_t>(op);
  gp->intrring = r;
  gp->intr.store(intrArmed | intrCommit, std::memory_order_seq_cst);  // SI1
  return true;
}

void intrcommit(g* gp) {
  if (gp->intr.load(std::memory_order_seq_cst) & intrHit) cancel(gp);  // SI3
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
  // Cancelled: -ECANCELED, or -EINTR from an io-wq worker that was reading or writing.
  if (!(st & intrHit) || (res != -ECANCELED && res != -EINTR)) return res;
  return mode == intrRestart && (st & intrRestartBit) ? restartcall : -EINTR;
}

void sigintr(int code, bool restart) {
  if (code == SI_TKILL) return;
  if (g* gp = maing.load(std::memory_order_acquire)) sigintrg(gp, restart);
}

// sigintrg: a handler ran for gp: end its armed call (SI2). Any thread, a handler too.
void sigintrg(g* gp, bool restart) {
  uint32_t st = gp->intr.load(std::memory_order_seq_cst);
  for (;;) {
    if ((st & ~uint32_t(intrCommit)) != intrArmed) return;  // SI2: not parked, or hit already
    uint32_t hit = (st & intrCommit) | intrHit | intrBusy | (restart ? uint32_t(intrRestartBit) : 0u);
    if (gp->intr.compare_exchange_weak(st, hit, std::memory_order_seq_cst)) break;
  }
  cancel(gp);
  gp->intr.fetch_and(~uint32_t(intrBusy), std::memory_order_release);
}

}  // namespace gmp
