// fork.cc — the runtime in a child of fork() (DESIGN.md, "Preload layer"; Go has only
// syscall.forkExec, whose child execs at once, so there is no Go original for this).
//
// The child has one thread, the one fork returned on. Every other M is gone, and with them
// every goroutine they ran and every goroutine that waited on a queue, a timer or a ring:
// the ghosts. Their records are still in the child's memory, in a copy the kernel took page
// by page while the other Ms kept running, so whatever they were changing may be half
// changed there, locks included. Hence:
//   FK1: the child reuses only what the forking thread owned (its g, its M, its P's private
//        caches) and what is written once; every shared structure of the scheduler (run
//        queues, idle lists, timer heaps, rings, the semaphore table, the stack pool) is
//        rebuilt empty, its lock included, without being read.
//   FK2: no ghost ever runs in the child. Ghosts are marked dead but put on no free list
//        (their stacks stay mapped: wait queues in the program's objects may still point
//        into them), and every wait queue that lives in the program's memory (a channel's,
//        a condition's) skips the waiters queued before the fork: waiter.gen != forkgen.
//   FK3: the caller stays the goroutine it was: the same goid and TCB, so pthread_self(),
//        mutex owners and thread_local values are what they were, as POSIX has it for the
//        forking thread. It stands for the main thread (signals to the process interrupt
//        its calls). DESIGN.md says "the caller as goroutine 1": a new goid would change
//        the owner of every mutex it holds (recursive and error-checking ones compare it).
// The handler runs first among the child handlers (preload/fork.cc registers it before any
// other), so the program's own find a working runtime, and with every signal blocked since
// the last prepare handler (a handler must not run on the half-rebuilt runtime, nor cancel
// the parent's operations through the rings the two share). It allocates nothing: a malloc
// that replaces glibc's (jemalloc) unlocks its own in its child handler, which comes later.
// So sysmon, which needs memory, starts when fork returns (forkdone), or with the child's
// first new M. Timers do not carry over, as POSIX timers do not: a timer of the parent never
// fires in the child.
//
// A fork the runtime cannot rebuild around — made by a thread that is not a goroutine, in
// a signal handler, or through _Fork, which runs no handlers — leaves a child without a
// scheduler (forkoff): the thread is a plain one to the runtime, the hooks pass calls
// through, pthread_create makes real threads and gmp_go fails with -EAGAIN.
#include "hooks.h"
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

// Its own cache line: every blocking channel operation and condition wake-up reads it, and
// nothing near it may be written beside it.
alignas(64) std::atomic<uint32_t> forkgen{0};

namespace {
// rebuildable: gp is a goroutine running normally on its own stack (not a signal handler,
// not in runtime code that holds P state), so the runtime can be rebuilt around it.
bool rebuildable(g* gp) {
  if (!gp || !gp->m_ || gp->m_->curg != gp || !gp->m_->p_ || gp->m_->locks != 0) return false;
  auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  return sp > gp->stk.lo && sp <= gp->stk.hi;
}
}  // namespace

uint32_t forkgeneration() { return forkgen.load(std::memory_order_relaxed); }

void forkoff() {
  procfsforkchild();
  forkgen.fetch_add(1, std::memory_order_relaxed);
  if (!runtimeStarted.load(std::memory_order_acquire)) return;
  netpolloff();
  runtimeStarted.store(false, std::memory_order_release);
  semforkchild();
  setg(nullptr);
}

void afterforkchild() {
  if (!runtimeStarted.load(std::memory_order_acquire)) return;  // no runtime to rebuild yet
  g* gp = getg();
  if (!rebuildable(gp)) {
    forkoff();
    return;
  }
  procfsforkchild();
  forkgen.fetch_add(1, std::memory_order_relaxed);  // FK2
  m* mp = gp->m_;
  int tid = gettid_();
  if (gp->fsbase) tcbforkchild(mp, gp->fsbase, tid, gthreadself() != nullptr);
  gthreadforkchild();
  mp->procid.store(tid, std::memory_order_relaxed);
  netpollforkchild();  // before procforkchild, which forgets the Ps' rings
  semforkchild();
  stackforkchild();
  allgforkchild(gp);
  procforkchild(gp);
  sigintrmain(gp);  // FK3
}

}  // namespace gmp
