// netpoll.h — the io_uring poller (netpoll_uring.cc): one ring per P, operations that park
// their goroutine until the completion. Invariants NP1-NP5 are in netpoll_uring.cc.
#pragma once

#include <liburing.h>

#include <atomic>
#include <cstdint>

#include "hooks.h"
#include "runtime.h"

namespace gmp {

struct pollring {
  // SQ: the P's M (NP1); CQ: the holder of reaping (NP2); REGISTER calls (the synchronous
  // cancels of netpollcancel): any thread, a signal handler too (ring_fd is constant).
  io_uring ring;
  std::atomic<uint32_t> reaping{0};  // NP2: 1 while an M reaps the CQ
  std::atomic<int64_t> inflight{0};  // NP4
  // NP6: parks published since the last io_uring_enter (a hint: 0 means nothing waits for
  // one). The owner adds with a plain load and store; a submitter takes it with exchange.
  std::atomic<uint32_t> published{0};
  uint32_t sysmonseen = 0;  // published as sysmon last saw it (sysmon only)
  uint32_t cqseen = 0;  // the CQ tail at the last netpollclear (the timer sleeper only)
};

void netpollinit();              // schedinit: the shared eventfd
// netpollforkchild: a forked child's poller: the parent's rings (shared with it) unmapped
// and closed, a new eventfd, no fd waited on; rings are made again on first use (FK1).
void netpollforkchild();
// netpolloff: a child without a scheduler (forkoff): every hook passes through for good.
void netpolloff();
pollring* netpollring(p* pp);    // pp's ring, made on first use; null if io_uring fails. Owner
bool netpollinflight();  // some ring has operations in flight (NP4). Any M
// netpollpending: pp's ring has operations in flight (a cheap hint for the scheduler's
// fairness checks). The owner of pp (its ring pointer, read relaxed, is its own write).
inline bool netpollpending(p* pp) {
  pollring* r = pp->ring.load(std::memory_order_relaxed);
  return r && r->inflight.load(std::memory_order_relaxed) != 0;
}

// netpollsqe / netpollwait: hooks.h.

// netpollflush: submit pp's published operations (NP6); the owner of pp, before it looks
// for work elsewhere or sleeps. netpollflushstale: any thread (sysmon), for a ring whose
// operations have waited a whole sysmon round for their owner.
void netpollflush(p* pp);
void netpollflushstale();
// netpollenter: submit pp's published operations from any thread, for a P that changes
// hands or goes idle without its owner's findRunnable (handoffp, procresize, sysmon before
// it sleeps).
void netpollenter(p* pp);
// netpollenterring: one io_uring_enter for r's published operations, whatever its published
// count says (null: nothing); any thread (SI7: a canceller before its cancel).
void netpollenterring(pollring* r);

// netpoll: reap r's completions onto out (the gs made runnable); false if none or r was
// being reaped by another M. netpollall: every ring. Any M.
bool netpoll(pollring* r, gqueue* out);
bool netpollall(gqueue* out);
// netpollblock: the one M waiting for I/O (and timers): sleep until a completion, a
// netpollBreak, or until (a nanotime; 0 = no deadline). May return early. No P.
// netpollclear spends the wake-ups sent so far; call it before publishing the wait.
void netpollclear();
void netpollblock(int64_t until);
void netpollBreak();

// netpollcancel: IORING_REGISTER_SYNC_CANCEL of reg's operations on r, made again when a
// signal cut the wait short; the kernel's result. Any thread, a signal handler too (the
// ring's fd is constant): the cancel needs no submission queue (NP1 holds).
int netpollcancel(pollring* r, io_uring_sync_cancel_reg reg);

// Signal interruption of a parked operation (sigintr.cc, SI1-SI4), for netpollwait and
// sem_wait's semacquireintr: intrarm arms gp's interruption for op on r (r null: op is the
// semaphore's word, SEM6; false: gp is not interruptible; an armed park commits
// with intrcommit; readlike: op reads or waits for input, SI6; cancelonly: only a
// pthread_cancel ends it, SI7); intrcommit, in the park's commit after the submission, cancels op if a
// handler came first; intrdisarm, after the resumption, turns the completion's result res
// into -EINTR or restartcall if a handler cancelled it.
// intrarm's answer: not armed, armed for handlers (and maybe pthread_cancel), or for
// pthread_cancel alone (a ring park then only publishes, SI7).
enum intrarmed : uint8_t { armedNot, armedSignals, armedCancel };
intrarmed intrarm(g* gp, pollring* r, void* op, bool readlike, bool cancelonly);
// intrarmcond: intrarm for a condition's waiter (sync.cc, CW4), which only a pthread_cancel
// ends: armed when gp is a thread whose cancellation is enabled.
bool intrarmcond(g* gp, void* waiter);
void intrcommit(g* gp);
bool intrhit(g* gp);  // gp's armed park was hit (seq_cst): its commit looks (SI3, SI7)
int32_t intrdisarm(g* gp, int32_t res, intrmode mode);

}  // namespace gmp
