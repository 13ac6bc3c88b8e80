// sync.cc — Go's sync package for C: Mutex (spinning, then parking; starvation mode),
// RWMutex, WaitGroup, Once, Cond and a counting semaphore. All wait in the runtime
// semaphore (sema.cc), so goroutines park and other threads sleep on a futex.
//
// The algorithms are Go's (sync/mutex.go, rwmutex.go, waitgroup.go, once.go, cond.go and
// runtime/sema.go's notifyList); the states live in the public structs of <gmp/gmp.h>, as
// plain integers a static initializer can zero, accessed here through std::atomic_ref.
#include <algorithm>
#include <atomic>
#include <cerrno>

#include "gmp/gmp.h"
#include "hooks.h"
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

namespace {
template <typename T> std::atomic_ref<T> at(T& v) { return std::atomic_ref<T>(v); }
std::atomic<uint32_t>* semaaddr(uint32_t* v) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  return reinterpret_cast<std::atomic<uint32_t>*>(v);
}

// ---- Mutex ------------------------------------------------------------------------------------

// state (64 bits): the locked byte (byte 0, nothing else in it), bytes 1-3 zero, then in
// the high word the woken bit (a spinner or a woken waiter is about to take it: unlock need
// not wake another), the starving bit, and the number of waiters above them.
// Differences from Go's sync.Mutex, for the light release (membarrier.cc):
//   - unlock stores 0 to the locked byte and then reads the high word, with no locked
//     instruction (the two do not overlap, so the load need not wait for the store); a waiter
//     that marked itself in the high word after that load fences (heavyfence), reads the
//     locked byte 0 and does what that unlock would have done (mutexunlockslow) before it
//     parks;
//   - in starvation mode unlock hands the mutex over still locked (Go clears the locked bit
//     and lets the starving bit keep newcomers out), so a plain store never ends a hand-off.
constexpr int64_t mutexLocked = 1;
constexpr int64_t mutexWoken = int64_t(1) << 32;
constexpr int64_t mutexStarving = int64_t(1) << 33;
constexpr int mutexWaiterShift = 34;
int64_t mutexwaiters(int64_t state) { return int64_t(uint64_t(state) >> mutexWaiterShift); }
// mutexhigh: the high word alone (the fast paths, which never load the whole word: see
// gmp_mutex_lock), and the starving bit in it.
uint32_t mutexhigh(gmp_mutex_t* m) { return loadword32(reinterpret_cast<uint32_t*>(&m->state) + 1); }
constexpr uint32_t mutexStarvingHigh = uint32_t(mutexStarving >> 32);
// A waiter that has waited this long switches the mutex to starvation mode: unlock hands
// it over to the first waiter directly, and newcomers queue instead of barging.
constexpr int64_t starvationThresholdNs = 1000 * 1000;
// canspin: Go's sync_runtime_canSpin. Spin only a few times, on a goroutine (a P), when
// another P is running (the holder may release soon) and nothing waits on our run queue.
bool canspin(int iter) {
  if (iter >= 4 || ncpu <= 1) return false;
  g* gp = curgoroutine();
  p* pp = gp ? gp->m_->p_ : nullptr;
  if (!pp) return false;
  if (gomaxprocs.load(std::memory_order_relaxed) <=
      sched.npidle.load(std::memory_order_relaxed) +
          sched.nmspinning.load(std::memory_order_relaxed) + 1) {
    return false;
  }
  return runqempty(pp);
}

// mutexunlockslow: after a release that left state old (the locked byte 0), wake a waiter
// or hand the mutex over if nobody else will. Also run by a waiter that just marked itself,
// for a light release that missed the mark.
void mutexunlockslow(gmp_mutex_t* m, int64_t old) {
  auto state = at(m->state);
  for (;;) {
    // Held again (its holder wakes at its unlock), or nobody waits: done.
    if ((old & mutexLocked) || mutexwaiters(old) == 0) return;
    if (old & mutexStarving) {
      // Starvation mode entered while the releaser held it: take it for the first waiter.
      if (state.compare_exchange_strong(old, old | mutexLocked, std::memory_order_acquire)) {
        semrelease(semaaddr(&m->sema), true);
        return;
      }
      continue;  // the CAS reloaded old
    }
    if (old & mutexWoken) return;  // a woken waiter or a spinner will take it
    if (state.compare_exchange_strong(old, (old - (int64_t(1) << mutexWaiterShift)) | mutexWoken)) {
      semrelease(semaaddr(&m->sema), false);
      return;
    }
  }
}

// Not inlined: gmp_mutex_lock's fast path then saves no registers.
__attribute__((noinline)) void mutexlockslow(gmp_mutex_t* m) {
  auto state = at(m->state);
  int64_t waitstart = 0;
  bool starving = false, awoke = false;
  int iter = 0;
  int64_t old = state.load();
  for (;;) {
    // Spin while locked in normal mode, telling unlock (woken) not to wake anyone.
    if ((old & (mutexLocked | mutexStarving)) == mutexLocked && canspin(iter)) {
      if (!awoke && !(old & mutexWoken) && mutexwaiters(old) != 0 &&
          state.compare_exchange_strong(old, old | mutexWoken)) {
        awoke = true;
      }
      // Go spins procyield(30) each time; here the wait doubles (30, 60, 120, 240 pauses of
      // ~18 ns on these VMs): a waiter that looks less often lets the holder keep the
      // mutex's line for longer runs (mutex 2P: 18.7 -> 12.6 ns an operation, Go 18.4).
      procyield(30 << iter);
      iter++;
      old = state.load();
      continue;
    }
    int64_t next = old;
    if (!(old & mutexStarving)) next |= mutexLocked;  // starving: the owner hands it over
    if (old & (mutexLocked | mutexStarving)) next += int64_t(1) << mutexWaiterShift;
    if (starving && (old & mutexLocked)) next |= mutexStarving;
    if (awoke) {
      if (!(next & mutexWoken)) fatal("sync: inconsistent mutex state");
      next &= ~mutexWoken;
    }
    if (state.compare_exchange_strong(old, next)) {
      if (!(old & (mutexLocked | mutexStarving))) return;  // took it
      if (lightrelease) {
        // The holder we marked ourselves against may have read the high word first. Seeing
        // its release (the locked byte 0) after our mark is as good as the fence; it
        // usually comes within a few hundred ns from another CPU, and a fence costs ~20 us
        // there (a later holder took the lock after our mark and will see it).
        if (!awaitrelease(&m->state)) heavyfence();
        mutexunlockslow(m, state.load());
      }
      bool lifo = waitstart != 0;  // waited before: back to the front of the queue
      if (waitstart == 0) waitstart = nanotime();
      semacquire(semaaddr(&m->sema), lifo, waitReasonSyncMutexLock);
      starving = starving || nanotime() - waitstart > starvationThresholdNs;
      old = state.load();
      if (old & mutexStarving) {
        // Handed over to us (SEM3), still locked: the mutex is ours; fix the state.
        if (!(old & mutexLocked) || (old & mutexWoken) || mutexwaiters(old) == 0) {
          fatal("sync: inconsistent mutex state");
        }
        int64_t delta = -(int64_t(1) << mutexWaiterShift);
        if (!starving || mutexwaiters(old) == 1) delta -= mutexStarving;  // leave it
        state.fetch_add(delta);
        return;
      }
      awoke = true;
      iter = 0;
    }
    // else: the CAS reloaded old
  }
}
}  // namespace

}  // namespace gmp

using namespace gmp;

extern "C" {

// The fast paths take the locked byte alone (casbyte0) when the high word says the mutex is
// not starving: in normal mode a newcomer may take a free mutex with waiters, as Go's
// lockSlow lets it. The high word is read first, apart from the byte (no wait for this
// thread's own release); a waiter that turns starvation mode on between that read and the
// byte's CAS lets this one newcomer in once: the mutex stays exclusive, and its unlock sees
// the starving bit and hands the mutex over.
int gmp_mutex_lock(gmp_mutex_t* m) {
  if (!m) return -EINVAL;
  if (!(mutexhigh(m) & mutexStarvingHigh) && casbyte0(&m->state)) return 0;
  mutexlockslow(m);
  return 0;
}

int gmp_mutex_trylock(gmp_mutex_t* m) {
  if (!m) return -EINVAL;
  if (mutexhigh(m) & mutexStarvingHigh) return -EBUSY;
  return casbyte0(&m->state) ? 0 : -EBUSY;
}

int gmp_mutex_unlock(gmp_mutex_t* m) {
  if (!m) return -EINVAL;
  auto state = at(m->state);
  // The byte and the high word apart, never the whole word: a load of it just after the
  // lock's casbyte0 would wait for that byte's store as a CAS would (casbyte0).
  if (!(loadword8(&m->state) & mutexLocked)) return -EPERM;
  // Starving is set only while the mutex is held, and cleared only by its next owner: what
  // we read is so until we release.
  if (mutexhigh(m) & mutexStarvingHigh) {
    semrelease(semaaddr(&m->sema), true);  // hand it, still locked, to the first waiter (SEM3)
    return 0;
  }
  int64_t next;
  if (lightrelease) {
    storebyte0(&m->state);
    if (mutexhigh(m) == 0) return 0;
    next = state.load(std::memory_order_relaxed);
  } else {
    next = state.fetch_sub(mutexLocked, std::memory_order_release) - mutexLocked;
  }
  if (next != 0) mutexunlockslow(m, next);
  return 0;
}

// ---- RWMutex ------------------------------------------------------------------------------------

// reader_count goes negative by rwmutexMaxReaders while a writer holds or waits for the
// lock; reader_wait counts the readers the writer still waits for.
constexpr int32_t rwmutexMaxReaders = 1 << 30;

int gmp_rwmutex_rlock(gmp_rwmutex_t* rw) {
  if (!rw) return -EINVAL;
  if (at(rw->reader_count).fetch_add(1) + 1 < 0) {
    semacquire(semaaddr(&rw->reader_sem), false, waitReasonSyncRWMutexRLock);  // a writer
  }
  return 0;
}

int gmp_rwmutex_runlock(gmp_rwmutex_t* rw) {
  if (!rw) return -EINVAL;
  int32_t r = at(rw->reader_count).fetch_sub(1) - 1;
  if (r < 0) {
    if (r + 1 == 0 || r + 1 == -rwmutexMaxReaders) {
      at(rw->reader_count).fetch_add(1);  // undo: it was not read-locked
      return -EPERM;
    }
    if (at(rw->reader_wait).fetch_sub(1) - 1 == 0) semrelease(semaaddr(&rw->writer_sem));
  }
  return 0;
}

int gmp_rwmutex_lock(gmp_rwmutex_t* rw) {
  if (!rw) return -EINVAL;
  gmp_mutex_lock(&rw->w);  // first, exclude other writers
  // The old count: the readers active when we announced ourselves.
  int32_t r = at(rw->reader_count).fetch_sub(rwmutexMaxReaders);
  if (r != 0 && at(rw->reader_wait).fetch_add(r) + r != 0) {
    semacquire(semaaddr(&rw->writer_sem), false, waitReasonSyncRWMutexLock);
  }
  return 0;
}

int gmp_rwmutex_unlock(gmp_rwmutex_t* rw) {
  if (!rw) return -EINVAL;
  // Not write-locked: no writer, or one that still waits for readers to leave (the holder
  // sees reader_wait 0: a reader's departure brings it to 0 before the writer goes on, and
  // later readers wait without touching it).
  if (at(rw->reader_count).load() >= 0 || at(rw->reader_wait).load() > 0) return -EPERM;
  int32_t r = at(rw->reader_count).fetch_add(rwmutexMaxReaders) + rwmutexMaxReaders;
  for (int32_t i = 0; i < r; i++) semrelease(semaaddr(&rw->reader_sem));  // queued readers
  return gmp_mutex_unlock(&rw->w);
}

int gmp_rwmutex_tryrlock(gmp_rwmutex_t* rw) {
  if (!rw) return -EINVAL;
  auto rc = at(rw->reader_count);
  int32_t c = rc.load();
  while (c >= 0) {  // no writer holds or waits
    if (rc.compare_exchange_weak(c, c + 1, std::memory_order_acquire)) return 0;
  }
  return -EBUSY;
}

int gmp_rwmutex_trylock(gmp_rwmutex_t* rw) {
  if (!rw) return -EINVAL;
  if (gmp_mutex_trylock(&rw->w) != 0) return -EBUSY;
  int32_t zero = 0;
  if (!at(rw->reader_count).compare_exchange_strong(zero, -rwmutexMaxReaders)) {
    gmp_mutex_unlock(&rw->w);  // readers inside
    return -EBUSY;
  }
  return 0;
}

// ---- WaitGroup ------------------------------------------------------------------------------------

// state: the counter in the high 32 bits, the number of waiters in the low 32.
int gmp_waitgroup_add(gmp_waitgroup_t* wg, int64_t delta) {
  if (!wg || delta > INT32_MAX || delta < INT32_MIN) return -EINVAL;
  auto state = at(wg->state);
  // A counter that would go negative (or past INT32_MAX) is never stored: a wait or an add
  // beside it sees the counter as it was.
  uint64_t st = state.load();
  int64_t v;
  do {
    v = int64_t(int32_t(st >> 32)) + delta;
    if (v < 0 || v > INT32_MAX) return -EINVAL;
  } while (!state.compare_exchange_weak(st, uint64_t(v) << 32 | uint32_t(st)));
  if (v > 0 || uint32_t(st) == 0) return 0;
  // The counter reached 0 with waiters: clear their count (an add beside this one, which Go
  // calls misuse, keeps its counter) and wake as many.
  st = uint64_t(v) << 32 | uint32_t(st);
  while (!state.compare_exchange_weak(st, st & ~uint64_t(UINT32_MAX))) {
  }
  for (uint32_t i = 0, w = uint32_t(st); i < w; i++) semrelease(semaaddr(&wg->sema));
  return 0;
}

int gmp_waitgroup_done(gmp_waitgroup_t* wg) { return gmp_waitgroup_add(wg, -1); }

int gmp_waitgroup_wait(gmp_waitgroup_t* wg) {
  if (!wg) return -EINVAL;
  auto state = at(wg->state);
  uint64_t st = state.load();
  for (;;) {
    if ((st >> 32) == 0) return 0;
    if (state.compare_exchange_weak(st, st + 1)) {  // one more waiter
      semacquire(semaaddr(&wg->sema), false, waitReasonSyncWaitGroupWait);
      return 0;
    }
  }
}

// ---- Once -----------------------------------------------------------------------------------------

int gmp_once(gmp_once_t* o, void (*fn)(void*), void* arg) {
  if (!o || !fn) return -EINVAL;
  if (at(o->done).load(std::memory_order_acquire)) return 0;
  gmp_mutex_lock(&o->m);
  if (!at(o->done).load(std::memory_order_relaxed)) {
    fn(arg);
    at(o->done).store(1, std::memory_order_release);
  }
  gmp_mutex_unlock(&o->m);
  return 0;
}

// ---- Cond -----------------------------------------------------------------------------------------

// A waitlist (hooks.h; condsleep and condwake below): a waiter queues before it unlocks the
// caller's mutex (CW1), so a signal after that unlock is never lost.
}  // extern "C"

namespace {
waitlist* listof(gmp_cond_t* c) {
  static_assert(sizeof(gmp_cond_t) == sizeof(waitlist) &&
                offsetof(gmp_cond_t, head) == offsetof(waitlist, head) &&
                offsetof(gmp_cond_t, tail) == offsetof(waitlist, tail));
  return reinterpret_cast<waitlist*>(c);
}
int unlockgmp(void* m) { return -gmp_mutex_unlock(static_cast<gmp_mutex_t*>(m)); }
}  // namespace

extern "C" {

int gmp_cond_wait(gmp_cond_t* c, gmp_mutex_t* m) {
  if (!c || !m) return -EINVAL;
  if (!(at(m->state).load(std::memory_order_relaxed) & mutexLocked)) return -EPERM;
  if (int err = condsleep(listof(c), unlockgmp, m, -1, false)) return -err;
  gmp_mutex_lock(m);
  return 0;
}

int gmp_cond_signal(gmp_cond_t* c) {
  if (!c) return -EINVAL;
  condwake(listof(c), false);
  return 0;
}

int gmp_cond_broadcast(gmp_cond_t* c) {
  if (!c) return -EINVAL;
  condwake(listof(c), true);
  return 0;
}

// ---- counting semaphore ----------------------------------------------------------------------

int gmp_sem_acquire(gmp_sem_t* s) {
  if (!s) return -EINVAL;
  semacquire(semaaddr(&s->count), false, waitReasonSemacquire);
  return 0;
}

int gmp_sem_tryacquire(gmp_sem_t* s) {
  if (!s) return -EINVAL;
  return semtry(&s->count) ? 0 : -EAGAIN;
}

int gmp_sem_release(gmp_sem_t* s) {
  if (!s) return -EINVAL;
  // A full count: as sem_post's EOVERFLOW, a look before the add (two releases racing at
  // the last count could still wrap it: four billion releases nobody acquired).
  if (at(s->count).load(std::memory_order_relaxed) == UINT32_MAX) return -EOVERFLOW;
  semrelease(semaaddr(&s->count));
  return 0;
}

}  // extern "C"

// ---- waits for the preload's pthread objects (hooks.h) -------------------------------------------

namespace gmp {

bool semwait(uint32_t* sema, int64_t deadline) {
  return semacquire(semaaddr(sema), false, waitReasonThreadSync, deadline);
}

int semwaitintr(uint32_t* sema, int64_t deadline) {
  return semacquireintr(semaaddr(sema), deadline);
}

void sempost(uint32_t* sema) { semrelease(semaaddr(sema)); }
void sempostsig(uint32_t* sema) { semreleasesig(semaaddr(sema)); }

bool semtry(uint32_t* sema) { return cansemacquire(semaaddr(sema)); }

bool syncspin(int iter) {
  if (!canspin(iter)) return false;
  procyield(30);
  return true;
}

bool gyield() {
  if (!hookable(false)) return false;
  gosched();
  return true;
}

int64_t curgoid() {
  g* gp = curgoroutine();
  return gp ? gp->goid : 0;
}

// A condition's waiters (condsleep, condwake). CW1: a waiter is queued (queued, under the
// list's lock) before the caller's mutex is released, so a wake after that release finds
// it. CW2: whoever takes it off the list (condwake, or its deadline) wakes it, once; a
// goroutine's state goes queued (0) -> parked (1, its park's commit) or woken (2, the
// waker): a waker that finds it still queued leaves it to see 2 and not park. CW3: a
// waiter queued before a fork is a ghost in the child (fork.cc, FK2): condwake drops it
// without a wake-up. CW4: a goroutine-thread whose cancellation is enabled is armed on its
// waiter (intrarmcond, sigintr.cc SI7); pthread_cancel takes it off the list as its
// deadline would (condintr, under busy: the waiter lives until intrdisarm), so a cancelled
// waiter consumed no wake-up (POSIX), and the park's commit looks after the arm's own.
namespace {
struct condwaiter {  // on its own stack
  g* gp;             // or null: a thread sleeping on n
  note n;
  condwaiter* next;
  std::atomic<uint32_t> state;  // CW2 (goroutines)
  bool queued;                  // the list's lock
  bool expired;                 // the deadline took it off the list (the list's lock)
  bool cancelled;               // pthread_cancel took it off the list (CW4, the list's lock)
  waitlist* l;
  uint32_t gen;                 // CW3: forkgen when it queued
};
rtmutex* listlock(waitlist* l) {
  static_assert(sizeof(rtmutex) == sizeof(l->lock));
  return reinterpret_cast<rtmutex*>(&l->lock);
}
bool listremove(waitlist* l, condwaiter* s) {  // the list's lock held
  if (!s->queued) return false;
  for (auto** pp = reinterpret_cast<condwaiter**>(&l->head); *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  if (l->tail == s) {  // the new tail: walk to the end (lists are short)
    auto* t = static_cast<condwaiter*>(l->head);
    while (t && t->next) t = t->next;
    l->tail = t;
  }
  s->queued = false;
  return true;
}
void condwakeone(condwaiter* s) {
  g* gp = s->gp;  // s may vanish once its owner runs
  if (!gp) {
    notewakeup(&s->n);
  } else if (s->state.exchange(2, std::memory_order_acq_rel) == 1) {
    goready(gp);
  }
}
bool condcommit(g*, void* s) {
  uint32_t queued = 0;
  return static_cast<condwaiter*>(s)->state.compare_exchange_strong(queued, 1,
                                                                    std::memory_order_acq_rel);
}
bool condcommitintr(g* gp, void* s) {  // CW4: a hit before the park finds it queued
  intrcommit(gp);
  return condcommit(gp, s);
}
void condexpire(void* arg, int64_t) {  // under the P's timersrun, which comes first
  auto* s = static_cast<condwaiter*>(arg);
  listlock(s->l)->lock();
  bool mine = listremove(s->l, s);  // else a waker took it first: a wake-up, not a timeout
  if (mine) s->expired = true;
  listlock(s->l)->unlock();
  if (mine) condwakeone(s);
}
}  // namespace

void condintr(void* waiter) {
  auto* s = static_cast<condwaiter*>(waiter);
  listlock(s->l)->lock();
  bool mine = listremove(s->l, s);  // else a waker or the deadline took it first
  if (mine) s->cancelled = true;
  listlock(s->l)->unlock();
  if (mine) condwakeone(s);
}

int condsleep(waitlist* l, int (*unlock)(void*), void* arg, int64_t deadline, bool cancels) {
  g* gp = curgoroutine();
  condwaiter s{gp, {}, nullptr, {0}, false, false, false, l,
               forkgen.load(std::memory_order_relaxed)};
  listlock(l)->lock();  // CW1
  s.queued = true;
  if (l->tail) static_cast<condwaiter*>(l->tail)->next = &s; else l->head = &s;
  l->tail = &s;
  listlock(l)->unlock();
  rttimer t{};
  bool timed = gp && deadline >= 0;
  if (timed) {  // after queueing: the timer finds s queued or taken
    t.when = deadline;
    t.f = condexpire;
    t.arg = &s;
    addtimer(&t);
  }
  int err = unlock(arg);
  bool armed = cancels && !err && gp && intrarmcond(gp, &s);  // CW4
  if (err) {  // not the caller's to unlock: leave without waiting
    listlock(l)->lock();
    bool mine = listremove(l, &s);
    listlock(l)->unlock();
    if (!mine) {  // a waker took s: its wake-up is on the way and uses s (CW2)
      if (gp) gopark(condcommit, &s, waitReasonSyncCondWait); else notesleep(&s.n);
    }
  } else if (gp) {
    gopark(armed ? condcommitintr : condcommit, &s, waitReasonSyncCondWait);
  } else if (!notetsleepuntil(&s.n, deadline)) {
    listlock(l)->lock();
    s.expired = listremove(l, &s);
    listlock(l)->unlock();
    if (!s.expired) notesleep(&s.n);  // a waker took it: wait for its wake-up
  }
  // s.expired: set by the timer under the list's lock, read after deltimer (which waits
  // for the timer's run), or by this thread itself.
  if (timed) deltimer(&t);
  if (armed && intrdisarm(gp, s.cancelled ? -ECANCELED : 0, intrCancel) == -EINTR) {
    return ECANCELED;
  }
  if (err) return err;
  return s.expired ? ETIMEDOUT : 0;
}

void condwake(waitlist* l, bool all) {
  // A peek without the lock: a waiter queued after the caller's own unlock is not one it
  // must wake (CW1 covers those queued before).
  if (!std::atomic_ref<void*>(l->head).load(std::memory_order_acquire)) return;
  uint32_t gen = forkgen.load(std::memory_order_relaxed);
  listlock(l)->lock();
  auto* s = static_cast<condwaiter*>(l->head);
  if (all) {
    l->head = l->tail = nullptr;
    for (auto* w = s; w; w = w->next) w->queued = false;
  } else {
    while (s && s->gen != gen) {  // CW3
      listremove(l, s);
      s = static_cast<condwaiter*>(l->head);
    }
    if (s) {
      listremove(l, s);
      s->next = nullptr;
    }
  }
  listlock(l)->unlock();
  while (s) {
    condwaiter* next = s->next;  // read before the wake-up
    if (s->gen == gen) condwakeone(s);  // CW3
    s = next;
  }
}

}  // namespace gmp
