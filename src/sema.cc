// sema.cc — the runtime semaphore (Go's sema.go, simplified): the one place sync primitives
// wait. semacquire blocks until *addr > 0 and decrements it; semrelease increments it and
// wakes a waiter. Waiters queue on one of semTabSize roots chosen by the address; each
// waiter's record lives on its own stack. A waiter is a goroutine (it parks) or a thread that
// is not one (it sleeps on a note), so the sync primitives work from any thread.
// Invariants:
//   SEM1: a waiter increments root.nwait before it re-checks *addr (both seq_cst); a
//         releaser increments *addr before it reads root.nwait. So either the waiter sees
//         the new count, or the releaser sees the waiter and wakes it — never neither.
//   SEM2: the queue and nwait change only under root.lock; a goroutine is enqueued and parks
//         with the lock released by gopark's unlockf, after its context is saved.
//   SEM3: handoff: the releaser takes the count back for the first waiter (ticket = 1) and
//         yields to it, so a barging acquirer cannot take it first (sync.Mutex's
//         starvation mode). Without handoff a woken waiter re-tries the decrement.
//   SEM4: a waiter with a deadline is woken by whoever takes it off the queue (semwaiter).
//         The waiter reads expired without root.lock only after deltimer, which orders it
//         after the timer's write (the P's timersrun), or after its own semdequeue.
//   SEM5: a handler of the program's that posts (sem_post is async-signal-safe) may have
//         interrupted a thread that holds root.lock, sched.lock or its P's run queue, so
//         it takes no lock and readies nobody (semreleasesig): it adds the count (SEM1),
//         leaves addr in sigposted (a full table: sigpostedall), sets sigpending (release,
//         after the slot) and breaks netpoll. semsigflush, on an M that may lock, clears
//         sigpending (acquire) before it empties the slots, so a post it misses sets it
//         again; it wakes every waiter of each posted word, and each looks at the count
//         again and waits again if another took it. Waking them all never loses a count,
//         and never reads the word, which its owner may have freed since. An idle process
//         whose program handles signals keeps one M in netpoll for the break (proc.cc).
//   SEM6: a goroutine in sem_wait that a signal interrupts (sigintr.cc) is armed (SI1) on
//         its word, intrring null, once it is queued, under root.lock; the handler's cancel
//         is SEM5's wake-up of the word's waiters without a count (semintr), and the park's
//         commit (semunlockintr, after root.lock is released) makes it itself when a
//         handler came first (SI3). Woken, the goroutine takes a count if there is one (the
//         call succeeds: the handler ran, as on a thread that got both), or ends in EINTR
//         when it was hit (or waits again: sem_wait under SA_RESTART); every other waiter
//         woken looks at the count and waits again.
// lifo queues a waiter at the head (a mutex waiter that has waited before, as Go's).
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

bool cansemacquire(std::atomic<uint32_t>* addr) {
  uint32_t v = addr->load(std::memory_order_seq_cst);
  while (v > 0) {
    if (addr->compare_exchange_weak(v, v - 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

namespace {
struct semaroot;
struct semwaiter {  // on its own stack
  g* gp;            // the goroutine, or null: a thread sleeping on n
  note n;
  std::atomic<uint32_t>* addr;
  semwaiter* next;
  uint32_t ticket;  // SEM3: the releaser handed the count over
  // SEM4, a wait with a deadline: queued says s is on the root's queue, expired that the
  // deadline passed (both root.lock). Whoever takes s off the queue — a releaser, or the
  // deadline (the timer on a goroutine, the thread itself after its timed sleep) — is the
  // one that wakes it, so it is woken once.
  bool queued;
  bool expired;
  semaroot* root;
};

struct semaroot {
  rtmutex lock;
  std::atomic<uint32_t> nwait{0};  // waiters (SEM1)
  semwaiter* head = nullptr;       // FIFO, or LIFO insertions at the head (root.lock)
  semwaiter* tail = nullptr;
};

constexpr size_t semTabSize = 251;
struct alignas(64) semtabentry {
  semaroot root;
};
semtabentry semtable[semTabSize];

semaroot* semroot(std::atomic<uint32_t>* addr) {
  return &semtable[(reinterpret_cast<uintptr_t>(addr) >> 3) % semTabSize].root;
}

bool semunlock(g*, void* root) {
  static_cast<semaroot*>(root)->lock.unlock();
  return true;
}

// semunlockintr: semunlock for a waiter a handler may interrupt (SEM6).
bool semunlockintr(g* gp, void* root) {
  semunlock(gp, root);
  intrcommit(gp);
  return true;
}

// semdequeue takes off root's queue (root.lock held) the first waiter for addr, or s itself
// when s is given; returns it, or null when there is none (s: not queued any more).
semwaiter* semdequeue(semaroot* root, std::atomic<uint32_t>* addr, semwaiter* s = nullptr) {
  if (s && !s->queued) return nullptr;
  for (semwaiter **pp = &root->head, *prev = nullptr; *pp; prev = *pp, pp = &(*pp)->next) {
    semwaiter* w = *pp;
    if (s ? w != s : w->addr != addr) continue;
    *pp = w->next;
    if (root->tail == w) root->tail = prev;
    w->queued = false;
    root->nwait.fetch_sub(1, std::memory_order_seq_cst);
    return w;
  }
  return nullptr;
}

// semwake: wake w, taken off its queue. Nothing of w may be touched after: its owner may
// run at once and reuse its stack.
void semwake(semwaiter* w) {
  if (g* gp = w->gp) {
    goready(gp);
  } else {
    notewakeup(&w->n);
  }
}

// semexpire: a goroutine's deadline timer (SEM4). Runs under its P's timersrun, which is
// taken before any root.lock (time.cc's lock order).
void semexpire(void* arg, int64_t) {
  auto* s = static_cast<semwaiter*>(arg);
  semaroot* root = s->root;
  root->lock.lock();
  s->expired = true;
  bool mine = semdequeue(root, s->addr, s) != nullptr;
  g* gp = s->gp;
  root->lock.unlock();
  if (mine) goready(gp);
}
}  // namespace

// semacquire, the whole of it: a handler cuts the wait short as mode says (SEM6; intrNever:
// it does not). 0, ETIMEDOUT or EINTR. The frame a goroutine dump shows under gopark.
int semacquire(std::atomic<uint32_t>* addr, bool lifo, waitreason reason, int64_t deadline,
               intrmode mode) {
  if (cansemacquire(addr)) return 0;
  semaroot* root = semroot(addr);
  g* gp = curgoroutine();
  auto acquired = [&](bool got) { return got ? 0 : ETIMEDOUT; };
  for (;;) {
    if (deadline >= 0 && nanotime() >= deadline) return acquired(cansemacquire(addr));
    semwaiter s{gp, {}, addr, nullptr, 0, false, false, root};
    rttimer t{};
    if (gp && deadline >= 0) {  // before root.lock: semexpire finds s queued or not yet
      t.when = deadline;
      t.f = semexpire;
      t.arg = &s;
      addtimer(&t);
    }
    root->lock.lock();
    root->nwait.fetch_add(1, std::memory_order_seq_cst);  // SEM1
    if (s.expired || cansemacquire(addr)) {
      root->nwait.fetch_sub(1, std::memory_order_seq_cst);
      root->lock.unlock();
      if (gp && deadline >= 0) deltimer(&t);
      return acquired(!s.expired || cansemacquire(addr));
    }
    s.queued = true;
    if (lifo && root->head) {
      s.next = root->head;
      root->head = &s;
    } else {
      if (root->tail) root->tail->next = &s; else root->head = &s;
      root->tail = &s;
    }
    if (gp) {
      bool armed = mode != intrNever &&
                   intrarm(gp, nullptr, addr, false, mode == intrCancel) != armedNot;  // SEM6
      gopark(armed ? semunlockintr : semunlock, root, reason);  // SEM2
      if (deadline >= 0) deltimer(&t);  // it may be running: s lives until it is done
      if (armed) {
        bool got = s.ticket != 0 || cansemacquire(addr);  // SEM3
        // The handler handed to goroutine 1 runs in intrdisarm, the count taken or not;
        // under SA_RESTART (restartcall) the wait goes on.
        if (intrdisarm(gp, got ? 0 : -ECANCELED, mode) == -EINTR) return EINTR;
        if (got) return 0;
        if (s.expired) return ETIMEDOUT;
        continue;
      }
    } else {
      root->lock.unlock();
      if (!notetsleepuntil(&s.n, deadline)) {
        root->lock.lock();
        s.expired = semdequeue(root, addr, &s) != nullptr;
        root->lock.unlock();
        if (!s.expired) notesleep(&s.n);  // a releaser took s: wait for its wake-up
      }
    }
    if (s.ticket != 0 || cansemacquire(addr)) return 0;  // SEM3
    if (s.expired) return ETIMEDOUT;
  }
}

bool semacquire(std::atomic<uint32_t>* addr, bool lifo, waitreason reason, int64_t deadline) {
  return semacquire(addr, lifo, reason, deadline, intrNever) == 0;
}

int semacquireintr(std::atomic<uint32_t>* addr, int64_t deadline) {
  // sem_wait is a futex wait, which Linux restarts under SA_RESTART; sem_timedwait's
  // (a timed futex wait) ends in EINTR whatever the flags.
  return semacquire(addr, false, waitReasonSemacquire, deadline,
                    deadline < 0 ? intrRestart : intrAlways);
}

int semacquirejoin(std::atomic<uint32_t>* addr, int64_t deadline) {
  return semacquire(addr, false, waitReasonThreadJoin, deadline, intrCancel);
}

void semacquire(std::atomic<uint32_t>* addr) { semacquire(addr, false, waitReasonSemacquire); }

void semrelease(std::atomic<uint32_t>* addr, bool handoff) {
  semaroot* root = semroot(addr);
  addr->fetch_add(1, std::memory_order_seq_cst);  // SEM1
  if (root->nwait.load(std::memory_order_seq_cst) == 0) return;
  root->lock.lock();
  semwaiter* s = semdequeue(root, addr);
  root->lock.unlock();
  if (!s) return;
  if (handoff && cansemacquire(addr)) s->ticket = 1;  // SEM3
  g* wgp = s->gp;
  // Nor *addr after the fetch_add above: a waiter's owner may free the word once it has its
  // count (gthread.cc's join frees the thread that holds it).
  semwake(s);
  if (handoff && wgp && curgoroutine()) gosched();  // let the handed-to goroutine run now
}

void semrelease(std::atomic<uint32_t>* addr) { semrelease(addr, false); }

namespace {
// SEM5's table: words posted by handlers whose waiters are still to be woken.
constexpr int sigpostedSlots = 64;
std::atomic<std::atomic<uint32_t>*> sigposted[sigpostedSlots];
std::atomic<bool> sigpostedall{false};  // the table was full: wake every waiter there is
std::atomic<bool> sigpending{false};    // something above for semsigflush

// semwakeall: take every waiter for addr (null: any) off root and wake it (SEM5).
void semwakeall(semaroot* root, std::atomic<uint32_t>* addr) {
  if (root->nwait.load(std::memory_order_seq_cst) == 0) return;
  semwaiter* woken = nullptr;
  root->lock.lock();
  while (semwaiter* w = root->head ? semdequeue(root, addr ? addr : root->head->addr) : nullptr) {
    w->next = woken;  // off the queue: its link is ours until it is woken
    woken = w;
  }
  root->lock.unlock();
  while (semwaiter* w = woken) {
    woken = w->next;  // before the wake-up: then w may be gone
    semwake(w);
  }
}

// sigpost: leave addr's waiters to semsigflush (SEM5). Async-signal-safe.
void sigpost(std::atomic<uint32_t>* addr) {
  bool placed = false;
  for (auto& slot : sigposted) {
    std::atomic<uint32_t>* seen = nullptr;
    if (slot.compare_exchange_strong(seen, addr, std::memory_order_acq_rel) || seen == addr) {
      placed = true;
      break;
    }
  }
  if (!placed) sigpostedall.store(true, std::memory_order_relaxed);
  sigpending.store(true, std::memory_order_release);
}
}  // namespace

void semreleasesig(std::atomic<uint32_t>* addr) {
  addr->fetch_add(1, std::memory_order_seq_cst);  // SEM1
  semaroot* root = semroot(addr);
  if (root->nwait.load(std::memory_order_seq_cst) == 0) return;
  bool started = runtimeStarted.load(std::memory_order_acquire);
  if (!started) {
    // No scheduler to flush (before rt0, or a child of fork left without one): every waiter
    // is a thread on its note, which a futex wake-up reaches from here. The root's lock may
    // be held by the thread this handler interrupted: a few tries, then the table, which
    // nobody reads there (a hang, the one case SEM5 does not cover).
    for (int i = 0; i < 100; i++) {
      if (root->lock.trylock()) {
        semwaiter* s = semdequeue(root, addr);
        root->lock.unlock();
        if (s) notewakeup(&s->n);  // a thread (no goroutine runs): not semwake's goready
        return;
      }
      osyield();
    }
  }
  sigpost(addr);
  if (started) netpollBreak();  // (a forked child's eventfd would be its parent's)
}

void semintr(std::atomic<uint32_t>* addr) {
  sigpost(addr);
  netpollBreak();
}

bool semsigpending() { return sigpending.load(std::memory_order_acquire); }

void semsigflush() {
  if (!sigpending.load(std::memory_order_relaxed)) return;
  if (!sigpending.exchange(false, std::memory_order_acquire)) return;
  for (auto& slot : sigposted) {
    if (std::atomic<uint32_t>* addr = slot.exchange(nullptr, std::memory_order_acq_rel)) {
      semwakeall(semroot(addr), addr);
    }
  }
  if (sigpostedall.exchange(false, std::memory_order_relaxed)) {
    for (auto& e : semtable) semwakeall(&e.root, nullptr);
  }
}

void semforkchild() {
  for (auto& slot : sigposted) slot.store(nullptr, std::memory_order_relaxed);
  sigpostedall.store(false, std::memory_order_relaxed);
  sigpending.store(false, std::memory_order_relaxed);
  for (auto& e : semtable) {
    e.root.lock.key.store(0, std::memory_order_relaxed);
    e.root.nwait.store(0, std::memory_order_relaxed);
    e.root.head = e.root.tail = nullptr;
  }
}

}  // namespace gmp
