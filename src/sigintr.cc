// sigintr.cc — a signal handler cuts a parked call short, as it does a thread's system call:
// the call ends in EINTR, or goes on under SA_RESTART (signal(7), "Interruption of system
// calls and library functions by signal handlers").
//
// Whom. A signal sent to the process is delivered to one thread that does not block it —
// the main thread when it can take it — and only that thread's blocking call is
// interrupted. Under the runtime the handler runs on whichever M the kernel picks, so the
// trampoline of preload/signal.cc tells the runtime (sigintr), and the runtime interrupts
// the call of goroutine 1, which stands for the main thread. A signal aimed at one thread
// (tgkill, pthread_kill, raise: SI_TKILL) interrupts nobody: the runtime cannot yet tell
// which goroutine that thread stands for.
//
// How. A goroutine parks on one ring operation (netpollwait); interrupting it means
// cancelling that operation by its user_data (IORING_REGISTER_SYNC_CANCEL, a system call any
// thread may make, a handler too). g.intr is the state:
//   SI1: idle -> armed by the owner in netpollwait before the park, after it wrote
//        g.intrkey and g.intrring (seq_cst); armed -> idle by the owner after it resumed
//        (CAS), never while busy, so no handler still holds the key it then reuses.
//   SI2: a handler CASes armed -> hit|busy (|restart), cancels intrkey on intrring, then
//        clears busy (release). One handler per park: a second finds the state not armed.
//   SI3: the park's commit (pollcommit, after the submission) cancels the operation itself
//        when it finds hit: the handler may have run before the operation reached the
//        kernel, whose ring lock orders the handler's cancel before the submission, and so
//        the handler's hit before this look.
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
enum : uint32_t { intrIdle = 0, intrArmed = 1, intrHit = 2, intrBusy = 4, intrRestartBit = 8 };

std::atomic<g*> maing{nullptr};        // goroutine 1, once it runs (sigintrmain)
std::atomic<bool> forwarding{false};   // the program installed a handler (sigforwarding)

// cancel asks the kernel to cancel gp's armed operation. A poll-armed operation, a timeout
// or a poll is cancelled at once; the wait is bounded all the same (a handler waits here).
void cancel(g* gp) {
  io_uring_sync_cancel_reg reg{};
  reg.addr = gp->intrkey;
  reg.timeout.tv_sec = 0;
  reg.timeout.tv_nsec = 100 * 1000 * 1000;
  io_uring_register_sync_cancel(&gp->intrring->ring, &reg);
}
}  // namespace

void sigintrmain(g* gp) { maing.store(gp, std::memory_order_release); }
void sigforwarding() { forwarding.store(true, std::memory_order_release); }

bool sigintrtarget() {
  return forwarding.load(std::memory_order_acquire) &&
         getg() == maing.load(std::memory_order_relaxed);
}

bool intrarm(g* gp, pollring* r, void* op) {
  if (gp != maing.load(std::memory_order_relaxed) ||
      !forwarding.load(std::memory_order_acquire)) {
    return false;
  }
  gp->intrkey = reinterpret_cast<uint64_t>(op);
  gp->intrring = r;
  gp->intr.store(intrArmed, std::memory_order_seq_cst);  // SI1
  return true;
}

void intrcommit(g* gp) {
  if (gp->intr.load(std::memory_order_seq_cst) & intrHit) cancel(gp);  // SI3
}

int32_t intrdisarm(g* gp, int32_t res, intrmode mode) {
  uint32_t st = gp->intr.load(std::memory_order_acquire);
  for (;;) {
    if (st & intrBusy) {  // a handler on another thread is inside cancel(): bounded
      osyield();
      st = gp->intr.load(std::memory_order_acquire);
      continue;
    }
    if (gp->intr.compare_exchange_weak(st, intrIdle, std::memory_order_acq_rel)) break;  // SI1
  }
  if (!(st & intrHit) || res != -ECANCELED) return res;
  return mode == intrRestart && (st & intrRestartBit) ? restartcall : -EINTR;
}

void sigintr(int code, bool restart) {
  if (code == SI_TKILL) return;
  g* gp = maing.load(std::memory_order_acquire);
  if (!gp) return;
  uint32_t armed = intrArmed;
  uint32_t hit = intrHit | intrBusy | (restart ? uint32_t(intrRestartBit) : 0u);
  if (!gp->intr.compare_exchange_strong(armed, hit, std::memory_order_seq_cst)) return;  // SI2
  cancel(gp);
  gp->intr.fetch_and(~uint32_t(intrBusy), std::memory_order_release);
}

}  // namespace gmp
