// netpoll_uring.cc — the network poller on io_uring (Go's netpoll.go and netpoll_epoll.go,
// redone for a completion queue): a goroutine that would block in a hooked call puts the
// operation on its P's ring and parks; whoever reaps the completion readies it.
//
// One ring per P (p.ring), made when a goroutine on the P first does I/O (a P that never
// does costs no ring and no fd) and kept when the P dies (operations may still be in flight
// on it). Ring fds are moved to high numbers, out of the range programs count on (select's
// FD_SETSIZE, the lowest free fd). Ownership and invariants:
//   NP1: only the M that holds the P writes its ring's submission queue (netpollsqe, and the
//        submit in the park's commit); a ring of a dead P gets no new submissions.
//   NP2: the completion queue has one consumer at a time: ring.reaping is a try-lock, and any
//        M may reap any ring with it (netpollall: findRunnable once its queues are empty and
//        every 61 ticks, the M that blocks in netpoll, sysmon after 10 ms without a poll). A
//        reaper that finds the lock taken skips the ring: its holder reaps what is there, and
//        a completion posted after the holder's last look signals the eventfd, which wakes
//        the M blocked in netpoll (NP4 keeps one there while operations are in flight).
//   NP3: an operation's user_data is its pollop, on the parked goroutine's stack. The reaper
//        reads op.gp, writes op.res and then readies the g; after that it does not touch op (the goroutine
//        may have returned). A pollop is submitted exactly once and completes exactly once: the
//        goroutine stays parked until its completion, whatever else happens.
//   NP4: ring.inflight counts submitted operations not yet reaped (incremented by the owner
//        before the submission, decremented by the reaper once per chunk): a process with operations in flight
//        is not deadlocked, and its last idle M must wait in netpoll, not sleep for good.
//        Relaxed: a reader that sees a stale 0 is never the last word. The submitting M reads
//        its own increment; an M that then goes idle does so under sched.lock, which the
//        deadlock check takes too. The reaper's decrement is a release: a deadlock check that
//        reads it and then fences (acquire) sees sched.sysmonpolling set by a reaping sysmon,
//        whose goroutines are in no run queue yet.
//   NP5: fdtable[fd] counts the goroutines parked on an operation on fd (netpollwait,
//        seq_cst around the park). close() cancels them when it is not 0 (netpollclose).
//   NP6: a park's commit only publishes its SQEs (the SQ tail, no system call: sqpublish) and
//        counts them in ring.published; one io_uring_enter then submits every published
//        SQE of the ring, whoever makes it (the kernel reads the SQ up to the tail under its
//        own lock). The owner enters when its P has nothing left in its local queue
//        (findRunnable: so a batch of goroutines that each park on I/O costs one system
//        call, not one each) and every 61 ticks; sysmon for a ring whose count stood still
//        for a round (its owner runs a long goroutine or is blocked) and for every ring
//        before it sleeps; entersyscall before a call that blocks; handoffp and procresize
//        for a P that changes hands or dies; close() before its cancel, so that it cancels
//        them too. A park a signal may interrupt submits at once (its cancel, SI3, must find
//        the operation in the kernel). Test of sysmon's part:
//        Netpoll.CompletionIsPostedWhileItsSubmitterComputes (the spinner keeps the P).
//   NP7: the numbers of the runtime's fds (wakefd, a ring's ring_fd and enter_ring_fd)
//        change only in netpollfreefd, under fdmovelock, before a dup2 of the program's
//        takes the old number. Every user loads the number afresh: a ring's with a
//        relaxed atomic load (sqenter makes io_uring_enter again if the number moved under
//        it), the eventfd's read and write under wakeio, so the dup2 waits for them.
// IORING_SETUP_COOP_TASKRUN: a completion that needs task work (a poll-armed read, a
// POLL_ADD) runs in the submitting thread. By default the kernel interrupts that thread with
// an IPI to run it at once; with COOP it only marks the thread (TIF_NOTIFY_SIGNAL) and the
// work runs at its next return to user mode: the end of any system call, and the timer tick's
// interrupt of a thread that computes (CONFIG_HZ: 4 ms at 250 Hz; a nohz_full CPU ticks once a
// second). A submitter asleep in an interruptible wait (an idle M's futex, ppoll on the
// eventfd) is woken either way (__set_notify_signal). So the cost is at most a tick of
// latency while the submitting M runs a goroutine that makes no system call; the gain is an
// IPI and an interrupted goroutine per completion (bench/echo). DESIGN.md ruled COOP out
// because a sleeping submitter would hold completions back; the kernel wakes it. Test: Netpoll.CompletionIsPostedWhileItsSubmitterComputes.
// Not DEFER_TASKRUN: it needs one issuer per ring, and any M may submit to a P's ring.
// Every ring signals one shared eventfd (io_uring_register_eventfd) on each completion. The M
// that blocks in netpoll (the "timer sleeper" of time.cc, which now also waits for I/O) sleeps
// in ppoll on it; netpollBreak writes it. The eventfd is only a hint: a woken M drains it and
// scans every ring, and a completion posted after the drain signals it again, so none is lost.
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>

#include "hooks.h"
#include "netpoll.h"
#include "probes.h"

namespace gmp {

namespace {
constexpr unsigned ringEntries = 256;   // submission queue slots per P
constexpr unsigned ringCqEntries = 8192;  // completion slots; beyond, the kernel buffers (NODROP)

// The shared eventfd. Set by netpollinit (and a forked child's netpollforkchild); moved to
// another number only by netpollfreefd, before a dup2 of the program's takes this one. A
// ppoll that used the old number polls the program's file once: a late wake-up at worst
// (netpollfreefd wakes it). A read or write of it must not touch the program's file:
// wakeio counts those between their load of the number and the end of their call
// (seq_cst), and netpollfreefd lets the dup2 go on only once none is left that may have
// loaded the old one. Any thread, signal handlers too: a count, not a lock.
std::atomic<int> wakefd{-1};
std::atomic<int32_t> wakeio{0};

// wakefdio: op(the eventfd's number) under wakeio.
template <typename F>
void wakefdio(F op) {
  wakeio.fetch_add(1, std::memory_order_seq_cst);
  op(wakefd.load(std::memory_order_seq_cst));
  wakeio.fetch_sub(1, std::memory_order_seq_cst);
}

// A child of fork() has the parent's rings, whose memory and requests it shares with the
// parent: it must never touch them. forked: every hook passes through — while
// netpollforkchild replaces them, and for good in a child without a scheduler (netpolloff).
std::atomic<bool> forked{false};

// NP5, for the fds below fdtableSize; a reserved, lazily committed table (4 MiB of address
// space, a page per 1,024 fds touched).
constexpr int fdtableSize = 1 << 20;
// Set once by netpollinit (release); close() may run on any thread, before that too (null).
std::atomic<std::atomic<int32_t>*> fdtable{nullptr};

// highfd: fd moved above the range programs use, when the fd limit leaves room.
int highfd(int fd) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 256) return fd;
  long hi = syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, long(rl.rlim_cur / 2));
  if (hi < 0) return fd;
  syscall(SYS_close, fd);
  return int(hi);
}


// pollop: one parked operation, on its goroutine's stack (NP3).
struct pollop {
  g* gp = nullptr;  // the parked goroutine
  int32_t res = 0;  // the CQE's result: a count, or -errno
};

// sqpublish: r's prepared SQEs become the kernel's to take at the next io_uring_enter, as
// liburing's flush does (NP1: the owner). Release: the SQEs before the tail.
void sqpublish(pollring* r) {
  io_uring_sq* sq = &r->ring.sq;
  unsigned tail = sq->sqe_tail;
  if (sq->sqe_head == tail) return;
  sq->sqe_head = tail;
  io_uring_smp_store_release(sq->ktail, tail);
}

// sqenter: one io_uring_enter for every published SQE of r (NP6); the kernel's result.
// Any thread.
int sqenter(pollring* r) {
  r->published.exchange(0, std::memory_order_relaxed);
  for (;;) {
    int fd = __atomic_load_n(&r->ring.enter_ring_fd, __ATOMIC_RELAXED);
    int n = io_uring_enter(unsigned(fd), ringEntries, 0, 0, nullptr);
    // The number is no longer the ring's: netpollfreefd moved it, and the program's dup2
    // put a file of its own there (EOPNOTSUPP), or had not yet (EBADF, or the ring still).
    if ((n != -EOPNOTSUPP && n != -EBADF) ||
        __atomic_load_n(&r->ring.enter_ring_fd, __ATOMIC_RELAXED) == fd) {
      return n;
    }
  }
}

// netpollsubmit sends every queued SQE of r to the kernel (NP1: the M holding r's P). All
// of them: an SQE may point at memory on its goroutine's stack (a linked timeout's
// timespec) that only lives until the goroutine resumes, which its completion allows.
void netpollsubmit(pollring* r) {
  sqpublish(r);
  for (;;) {
    int n = sqenter(r);
    if (n < 0 && n != -EINTR && n != -EBUSY && n != -EAGAIN) {
      fatal("netpoll: io_uring_enter failed");
    }
    if (io_uring_sq_ready(&r->ring) == 0) return;
    // EBUSY/EAGAIN or a short count: the completion side is backed up (or the kernel is
    // short of memory): let the other Ms reap, then go on. None is lost.
    osyield();
  }
}
}  // namespace

void netpollinit() {
  int fd = int(syscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (fd < 0) fatal("netpollinit: eventfd failed");
  wakefd.store(highfd(fd), std::memory_order_relaxed);
  void* t = mmap(nullptr, fdtableSize * sizeof(int32_t), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (t == MAP_FAILED) fatal("netpollinit: out of memory for the fd table");
  fdtable.store(static_cast<std::atomic<int32_t>*>(t), std::memory_order_release);
}

void netpolloff() {
  forked.store(true, std::memory_order_relaxed);
  sigintrmain(nullptr);  // nor may its signals cancel the parent's operations
}

void netpollforkchild() {
  forked.store(true, std::memory_order_relaxed);
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    p* pp = allp[i];
    if (pollring* r = pp->ring.load(std::memory_order_relaxed)) {
      io_uring_queue_exit(&r->ring);  // the child's mappings and fd; the parent keeps its own
      // r itself is left behind: no free in a child handler (fork.cc).
    }
    pp->ring.store(nullptr, std::memory_order_relaxed);
    pp->ringfailed = false;
  }
  // The eventfd too is the parent's: a new one under the same number. A child that cannot
  // have one (at its fd limit, or a limit lowered below the number since) keeps the
  // parent's, whose wake-ups both then share (spurious ones: the woken M scans and finds
  // nothing), and makes no rings: its hooks pass through for good (netpolloff).
  int fd = int(rawsyscall(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK));
  bool own = fd >= 0 && rawsyscall(SYS_dup3, fd, wakefd.load(std::memory_order_relaxed),
                                   O_CLOEXEC) >= 0;
  if (fd >= 0) rawsyscall(SYS_close, fd);
  if (!own) {
    netpolloff();
    return;
  }
  std::atomic<int32_t>* fdwaiters = fdtable.load(std::memory_order_relaxed);
  madvise(fdwaiters, fdtableSize * sizeof(int32_t), MADV_DONTNEED);  // zeroes, privately
  forked.store(false, std::memory_order_relaxed);
}

namespace {
pollring* newring() {
  auto* r = new (std::nothrow) pollring();  // acquirem: netpollring
  if (!r) return nullptr;
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_COOP_TASKRUN;
  params.cq_entries = ringCqEntries;
  int err = io_uring_queue_init_params(ringEntries, &r->ring, &params);
  if (err < 0) {
    delete r;
    return nullptr;
  }
  if (io_uring_register_eventfd(&r->ring, wakefd.load(std::memory_order_relaxed)) < 0) {
    io_uring_queue_exit(&r->ring);
    delete r;
    return nullptr;
  }
  r->ring.ring_fd = r->ring.enter_ring_fd = highfd(r->ring.ring_fd);
  return r;
}
}  // namespace

pollring* netpollring(p* pp) {
  if (pollring* r = pp->ring.load(std::memory_order_relaxed)) return r;  // the owner made it
  if (pp->ringfailed) return nullptr;
  m* mp = acquirem();  // the ring is pp's (LS2)
  pollring* r = newring();
  releasem(mp);
  if (!r) {
    // io_uring disabled (sysctl, seccomp) or out of memory: the hooks pass calls through
    // and they block the M, as in a plain program.
    pp->ringfailed = true;
    if (debug.set) printerr("gmp: no io_uring for a P; its blocking calls block the thread\n");
    return nullptr;
  }
  pp->ring.store(r, std::memory_order_release);
  return r;
}

bool netpollinflight() {
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (r && r->inflight.load(std::memory_order_relaxed) != 0) return true;  // NP4
  }
  return false;
}

io_uring_sqe* netpollsqe(unsigned n) {
  pollring* r = getg()->m_->p_->ring.load(std::memory_order_relaxed);  // NP1: ours
  // The queue is full of earlier operations: send them first. n free slots, so that a
  // linked chain is never split across two submissions.
  while (io_uring_sq_space_left(&r->ring) < n) netpollsubmit(r);
  io_uring_sqe* sqe = io_uring_get_sqe(&r->ring);
  io_uring_sqe_set_data(sqe, nullptr);
  return sqe;
}

namespace {
// pollcommit: gopark's commit for an operation: the goroutine is parked, so its completion
// may be reaped from now on. Publishes the operation for the next io_uring_enter (NP6; NP1:
// still on the M that holds the P).
bool pollcommit(g*, void* arg) {
  auto* r = static_cast<pollring*>(arg);
  sqpublish(r);
  r->published.store(r->published.load(std::memory_order_relaxed) + 1,
                     std::memory_order_relaxed);
  return true;
}

// pollcommitintr: the same for an operation a signal may interrupt (SI3).
bool pollcommitintr(g* gp, void* arg) {
  netpollsubmit(static_cast<pollring*>(arg));
  intrcommit(gp);
  return true;
}

// pollcommitcancel: pollcommit for an operation only a pthread_cancel may interrupt: it
// joins the batch unless the request came first (SI7).
bool pollcommitcancel(g* gp, void* arg) {
  pollcommit(gp, arg);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // SI7: the publish, then the look
  if (intrhit(gp)) netpollsubmit(static_cast<pollring*>(arg));
  intrcommit(gp);
  return true;
}

// kernelrestart: -ERESTARTSYS and its kin, which a cancel that signalled an io-wq worker in
// the middle of a call may leave in the completion instead of -ECANCELED.
bool kernelrestart(int32_t res) { return res <= -512 && res >= -516; }
}  // namespace

int netpollcancel(pollring* r, io_uring_sync_cancel_reg reg) {
  int ret;
  do {
    ret = io_uring_register_sync_cancel(&r->ring, &reg);
  } while (ret == -EINTR);
  return ret;
}

namespace {
// readlike: sqe reads, or waits for input, which a signal held for its goroutine-thread
// may end (SI6: a signalfd's read, a poll of one or of an epoll).
bool readlike(const io_uring_sqe* sqe) {
  switch (sqe->opcode) {
    case IORING_OP_READ:
    case IORING_OP_READV:
    case IORING_OP_RECV:
    case IORING_OP_RECVMSG:
      return true;
    case IORING_OP_POLL_ADD:
      return (sqe->poll32_events & POLLIN) != 0;
    default:
      return false;
  }
}
}  // namespace

int32_t netpollwait(io_uring_sqe* sqe, intrmode mode) {
  m* mp = getg()->m_;
  pollring* r = mp->p_->ring.load(std::memory_order_relaxed);  // NP1: ours
  pollop op;  // NP3: lives here until the completion
  op.gp = mp->curg;
  io_uring_sqe_set_data(sqe, &op);
  intrarmed armed = mode != intrNever ? intrarm(op.gp, r, &op, readlike(sqe), false) : armedNot;
  int fd = sqe->fd;
  bool tracked = fd >= 0 && fd < fdtableSize;
  std::atomic<int32_t>* fdwaiters = fdtable.load(std::memory_order_relaxed);  // set by now
  // NP4 before NP5: a close() that sees this waiter (seq_cst) sees the ring's count too.
  r->inflight.fetch_add(1, std::memory_order_relaxed);
  if (tracked) fdwaiters[fd].fetch_add(1, std::memory_order_seq_cst);
  // A hooked sleep that a signal may cut short parks on a ring timeout (preload/sleep.cc).
  gopark(armed == armedSignals ? pollcommitintr : armed == armedCancel ? pollcommitcancel : pollcommit, r,
         sqe->opcode == IORING_OP_TIMEOUT ? waitReasonSleep : waitReasonIOWait);
  if (tracked) fdwaiters[fd].fetch_sub(1, std::memory_order_seq_cst);
  // op.res was written before the goready that resumed us.
  int32_t res = kernelrestart(op.res) ? -ECANCELED : op.res;
  return armed != armedNot ? intrdisarm(op.gp, res, mode) : res;
}

void netpollflush(p* pp) {
  pollring* r = pp->ring.load(std::memory_order_relaxed);  // NP1: ours
  if (r && r->published.load(std::memory_order_relaxed) != 0) netpollsubmit(r);
}

namespace {
// enterpublished: sqenter r if it has published operations (NP6). Any thread.
void enterpublished(pollring* r) {
  if (r && r->published.load(std::memory_order_relaxed) != 0) sqenter(r);
}
}  // namespace

void netpollenter(p* pp) { enterpublished(pp->ring.load(std::memory_order_acquire)); }
void netpollenterring(pollring* r) {
  // Whatever published says: 0 may mean another thread took the count (sqenter's exchange)
  // and has not entered yet, the operation still outside the kernel (SI7).
  if (r) sqenter(r);
}

void netpollflushstale() {
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (!r) continue;
    uint32_t n = r->published.load(std::memory_order_relaxed);
    // Unchanged and not 0 since the last round: nobody entered meanwhile. A count that
    // merely looks the same again costs one needless enter.
    if (n != 0 && n == r->sysmonseen) sqenter(r);
    r->sysmonseen = n;
  }
}

void netpollclose(int fd) {
  std::atomic<int32_t>* fdwaiters = fdtable.load(std::memory_order_acquire);
  // A forked child's table and rings are the parent's: its close cancels nothing there.
  if (!fdwaiters || fd < 0 || fd >= fdtableSize || forked.load(std::memory_order_relaxed) ||
      fdwaiters[fd].load(std::memory_order_seq_cst) == 0) {
    return;
  }
  // Any ring may hold them (the waiters' Ps at the time). The synchronous cancel needs no
  // submission queue, so any thread may run it on any ring (NP1 holds).
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (!r || r->inflight.load(std::memory_order_relaxed) == 0) continue;
    enterpublished(r);  // NP6
    io_uring_sync_cancel_reg reg{};
    reg.fd = fd;
    reg.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL;
    reg.timeout.tv_sec = -1;
    reg.timeout.tv_nsec = -1;
    netpollcancel(r, reg);
  }
}

namespace {
// coroutinestack: the caller, off its goroutine's stack, runs on a stack of the program's
// (a makecontext/swapcontext coroutine's), not on the thread's signal stack in a handler
// (the runtime's own run there; the program's counted ones are inhandler already). Such
// a stack is the program's memory, which lives on while the call that parks on it
// waits: the goroutine parks there as on its own (a dump then shows no frames for it).
// Parking only where libc would block the thread: a plain thread that blocks there
// holds only itself, but at 1 P a goroutine holds every other (tests/apps/ucontext.c).
bool coroutinestack() {
  stack_t ss;
  return rawsyscall(SYS_sigaltstack, 0, long(&ss)) == 0 && !(ss.ss_flags & SS_ONSTACK);
}
}  // namespace

// The runtime's fds are the eventfd and the rings'. Any thread; a ring made or moved
// meanwhile is seen or not, as a close racing its open would be.
bool netpollownfd(int fd) {
  if (fd < 0 || forked.load(std::memory_order_relaxed)) return false;
  if (fd == wakefd.load(std::memory_order_relaxed)) return true;
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (r && __atomic_load_n(&r->ring.ring_fd, __ATOMIC_RELAXED) == fd) return true;
  }
  return false;
}

namespace {
rtmutex fdmovelock;  // one netpollfreefd at a time

// movedfd: a copy of fd at another number, above it (close-on-exec), or -1.
int movedfd(int fd) { return int(rawsyscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, fd + 1)); }
}  // namespace


int netpollownfds(int* out, int max) {
  if (forked.load(std::memory_order_relaxed) || max < 1) return 0;
  int n = 0;
  out[n++] = wakefd.load(std::memory_order_relaxed);
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np && n < max; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (r) out[n++] = __atomic_load_n(&r->ring.ring_fd, __ATOMIC_RELAXED);
  }
  std::sort(out, out + n);
  return n;
}

void netpollfreefd(int fd) {
  if (!netpollownfd(fd)) return;
  fdmovelock.lock();
  if (fd == wakefd.load(std::memory_order_relaxed)) {
    // The rings hold the eventfd itself (io_uring_register_eventfd): only the number moves.
    if (int to = movedfd(fd); to >= 0) {
      wakefd.store(to, std::memory_order_seq_cst);
      while (wakeio.load(std::memory_order_seq_cst) != 0) osyield();
    }
  }
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (!r || __atomic_load_n(&r->ring.ring_fd, __ATOMIC_RELAXED) != fd) continue;
    if (int to = movedfd(fd); to >= 0) {
      __atomic_store_n(&r->ring.ring_fd, to, __ATOMIC_RELAXED);
      __atomic_store_n(&r->ring.enter_ring_fd, to, __ATOMIC_RELAXED);
    }
  }
  fdmovelock.unlock();
  netpollBreak();  // an M asleep on the old number wakes and polls the new one
}

bool hookable(bool needring) {
  g* gp = getg();  // null before the runtime starts and on threads it does not know
  if (!gp || debug.notakeover || forked.load(std::memory_order_relaxed) || dumpactive() ||
      inhandler()) {
    return false;
  }
  m* mp = gp->m_;
  if (!mp || mp->curg != gp || !mp->p_ || (needring && !netpollring(mp->p_))) return false;
  auto sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if ((sp <= gp->stk.lo || sp > gp->stk.hi) && !coroutinestack()) return false;
  // Signals pending for the goroutine: its I/O waits on its thread, which has them (SP).
  if (needring && __builtin_expect((gp->sigpending.load(std::memory_order_relaxed) |
                        mp->sigonthread.load(std::memory_order_relaxed)) != 0, 0)) {
    return !sigpendhere(mp, gp);
  }
  return true;
}

bool netpoll(pollring* r, gqueue* out) {
  uint32_t zero = 0;
  if (!r->reaping.compare_exchange_strong(zero, 1, std::memory_order_acquire)) return false;  // NP2
  bool any = false;
  // A batch's ops (each on its goroutine's stack) and their gs are cold in this CPU's
  // cache, and each completion's loads depend on the one before: op, then op.gp, then the
  // g. So a chunk of completions is read in three passes, each of which prefetches what the
  // next one reads, and the misses of a chunk overlap instead of following one another.
  // The last pass also prefetches the two lines of each g's saved frame
  // (asm/amd64/switchframe.inc), which gogo pops when it runs the g. (Eight lines, the
  // frames of the park above it too, measured no better.)
  constexpr unsigned chunk = 32;
  constexpr int framelines = 2;
  for (;;) {
    pollop* ops[chunk];
    int32_t res[chunk];
    unsigned n = 0, nops = 0;
    io_uring_cqe* cqe;
    unsigned head;
    io_uring_for_each_cqe(&r->ring, head, cqe) {
      if (auto* op = reinterpret_cast<pollop*>(io_uring_cqe_get_data(cqe))) {
        __builtin_prefetch(op, 1);
        res[nops] = cqe->res;
        ops[nops++] = op;
      }
      if (++n == chunk) break;
    }
    if (n == 0) {
      // More completions than the CQ holds wait in the kernel's overflow list until an
      // io_uring_enter with GETEVENTS moves them in (any thread may: the ring is not
      // single-issuer). Without it they would wait for ever.
      if (!io_uring_cq_has_overflow(&r->ring)) break;
      io_uring_get_events(&r->ring);
      continue;
    }
    g* gps[chunk];
    for (unsigned i = 0; i < nops; i++) {
      gps[i] = ops[i]->gp;
      __builtin_prefetch(gps[i], 1);
    }
    for (unsigned i = 0; i < nops; i++) {
      ops[i]->res = res[i];  // NP3: the last touch of op (its g was read above)
      casgstatus(gps[i], Gwaiting, Grunnable);
      auto* frame = reinterpret_cast<const char*>(gps[i]->sched.sp);
      for (int line = 0; line < framelines; line++) __builtin_prefetch(frame + 64 * line);
      out->push_back(gps[i]);
    }
    io_uring_cq_advance(&r->ring, n);
    // NP4 once per chunk: until then the count is high, which only keeps an M polling.
    if (nops) r->inflight.fetch_sub(nops, std::memory_order_release);  // NP4, checkdead
    any = any || nops;
  }
  r->reaping.store(0, std::memory_order_release);
  return any;
}

namespace {
// reapable: r has completions in its CQ or in the kernel's overflow list.
bool reapable(pollring* r) {
  return io_uring_cq_ready(&r->ring) != 0 || io_uring_cq_has_overflow(&r->ring);
}
}  // namespace

bool netpollall(gqueue* out) {
  // The clock moves once per sysmon round: write the shared line only when it did.
  int64_t now = sched.coarsenow.load(std::memory_order_relaxed);
  if (sched.lastpoll.load(std::memory_order_relaxed) != now) {
    sched.lastpoll.store(now, std::memory_order_relaxed);
  }
  bool any = false;
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (r && reapable(r) && netpoll(r, out)) any = true;
  }
  return any;
}

namespace {
// breaksent: a netpollBreak may have written the eventfd since the last netpollclear (set
// before the write, taken by netpollclear).
std::atomic<bool> breaksent{false};

void drainwakefd() {
  uint64_t v;
  wakefdio([&](int fd) {
    while (rawsyscall(SYS_read, fd, long(&v), sizeof v) == -EINTR) {
    }
  });
}
}  // namespace

// netpollclear reads the eventfd only when something may have written it since the last
// clear: a netpollBreak, or a completion on some ring (its CQ tail moved; the kernel moves
// the tail before it signals). A sleep that only waits for a timer then costs no read(2):
// bench/tick at 1 P, 578 reads -> 10 (GMPMAXPROCS=1 perf stat -e syscalls:sys_enter_read
// build/bench/bench_tick) and 6.2 -> 5.3 us of CPU a wake-up (bench/ab.py, 7 runs; at 2 Ps
// within the noise). A write this misses (a tail moved before the last clear, signalled
// after it) is one wake-up of netpollblock too early, which netpollblock drains: never a
// busy loop, and never a lost wake-up, since only old counts are left unread.
void netpollclear() {
  bool dirty = breaksent.exchange(false, std::memory_order_acq_rel);
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (!r) continue;
    uint32_t tail = io_uring_smp_load_acquire(r->ring.cq.ktail);
    if (tail != r->cqseen) {
      r->cqseen = tail;
      dirty = true;
    }
  }
  if (dirty) drainwakefd();
}

void netpollblock(int64_t until) {
  sched.npollwait.fetch_add(1, std::memory_order_relaxed);
  int64_t now = nanotime();
  GMP_PROBE(netpoll__wait, until ? until - now : -1);
  // The caller spent older wake-ups (netpollclear) before it published itself: a completion
  // posted since then is either in a CQ now or signals the eventfd again.
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    pollring* r = allp[i]->ring.load(std::memory_order_acquire);
    if (r && reapable(r)) return;  // already something to reap
  }
  timespec ts{}, *tsp = nullptr;
  if (until != 0) {
    int64_t d = until - now;
    if (d <= 0) return;
    ts.tv_sec = time_t(d / 1000000000);
    ts.tv_nsec = long(d % 1000000000);
    tsp = &ts;
  }
  struct pollfd pfd{wakefd.load(std::memory_order_relaxed), POLLIN, 0};
  // EINTR or a timeout: the caller looks again. Woken by the eventfd: spend its count now,
  // so that the next wait does not return at once for it (netpollclear may not read it).
  if (rawsyscall(SYS_ppoll, long(&pfd), 1, long(tsp), 0, 0) > 0) drainwakefd();
}

void netpollBreak() {
  breaksent.store(true, std::memory_order_release);
  uint64_t one = 1;
  wakefdio([&](int fd) {
    while (rawsyscall(SYS_write, fd, long(&one), sizeof one) == -EINTR) {
    }
  });
}

}  // namespace gmp
