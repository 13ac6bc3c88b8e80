// pthread_sync.cc — the pthread shim's blocking objects: mutexes, conditions, read-write
// locks, barriers, spin locks and unnamed semaphores wait by parking the goroutine (a thread
// that is not one sleeps on a futex), so a thousand threads blocked on a mutex cost a
// thousand parked goroutines, not a thousand OS threads.
//
// Each object keeps glibc's size and is ours inside, laid out so that glibc's static
// initialisers (all zero, and a mutex's __kind) mean "unlocked" here. Process-shared objects
// stay glibc's (another process reads them with glibc's code), told apart by what glibc's
// init writes where ours leave zero: a mutex's __kind bits (pshared, robust, priority
// inheritance or protection), a condition's __wrefs bit 0, a rwlock's __shared, a barrier's
// shared word. Semaphores are ours only with our mark (not sem_open's, not pshared ones).
//
// Waiting is hooks.h's: semwait/sempost on a count (sema.cc), condsleep/condwake on a list
// of waiters (sync.cc). Deadlines are absolute times turned into the monotonic clock at the
// call: a realtime clock set during the wait does not move them.
#include <pthread.h>
#include <semaphore.h>

#include <atomic>
#include <climits>
#include <cstring>

#include "hook.h"

using namespace gmp;

namespace {
template <typename T> std::atomic_ref<T> at(T& v) { return std::atomic_ref<T>(v); }

// ownerid: who holds a mutex: a thread's pthread_self() (a gthread's TCB; a real thread's),
// or, for goroutines of gmp_go and goroutine 1, which share their M's TLS, the goid with the
// top bit set (no TCB lies there).
uint64_t ownerid() {
  if (gthreadself()) return uint64_t(pthread_self());
  if (int64_t id = curgoid()) return uint64_t(id) | (uint64_t(1) << 63);
  return uint64_t(pthread_self());
}

// ---- the lock itself ------------------------------------------------------------------------
//
// A futex-style lock on a count: state 0 free, 1 held, 2 held and maybe waited for. A waiter
// swaps in 2 and waits on sema; unlock swaps in 0 and, if it saw 2, posts once. So sema may
// hold posts nobody waits for (a waiter's wait timed out, or its swap found the lock free):
// each wakes a later waiter once for nothing, which swaps 2 in again and waits again. First
// a short spin while the holder may be running on another P (syncspin, Go's canSpin).
struct lockword {
  uint32_t state;
  uint32_t sema;
};

bool locktry(lockword* l) {
  uint32_t zero = 0;
  return at(l->state).compare_exchange_strong(zero, 1, std::memory_order_acquire);
}

bool lockacquire(lockword* l, int64_t deadline) {
  if (locktry(l)) return true;
  for (int i = 0; syncspin(i); i++) {
    if (at(l->state).load(std::memory_order_relaxed) == 0 && locktry(l)) return true;
  }
  while (at(l->state).exchange(2, std::memory_order_acquire) != 0) {
    if (!semwait(&l->sema, deadline)) return false;
  }
  return true;
}

void lockrelease(lockword* l) {
  if (at(l->state).exchange(0, std::memory_order_release) == 2) sempost(&l->sema);
}

// ---- mutexes --------------------------------------------------------------------------------
//
// pthread_mutex_t, ours: __lock and __count are the lockword, __kind is glibc's (so its
// static initialisers and pthread_mutexattr_settype mean what they say), __nusers counts a
// recursive owner's depth, __list holds the owner (ownerid) of a recursive or error-checking
// one (normal and adaptive mutexes do not track it, as glibc's do not check it). Owner and
// depth are written by the holder only; others compare the owner with themselves, which a
// stale read cannot make equal.
constexpr int glibcKindMask = 3;  // PTHREAD_MUTEX_KIND_MASK_NP
constexpr int glibcOnlyBits = 16 | 32 | 64 | 128;  // robust, PI, PP, pshared (glibc's bits)

lockword* lockof(pthread_mutex_t* m) { return reinterpret_cast<lockword*>(&m->__data.__lock); }
uint64_t& ownerof(pthread_mutex_t* m) {
  return *reinterpret_cast<uint64_t*>(reinterpret_cast<char*>(m) +
                                      offsetof(__pthread_mutex_s, __list));
}
bool glibcmutex(pthread_mutex_t* m) {
  return at(m->__data.__kind).load(std::memory_order_relaxed) & glibcOnlyBits;
}
int kindof(pthread_mutex_t* m) { return m->__data.__kind & glibcKindMask; }

bool tracksowner(int kind) {
  return kind == PTHREAD_MUTEX_RECURSIVE || kind == PTHREAD_MUTEX_ERRORCHECK;
}

int mutexlock(pthread_mutex_t* m, int64_t deadline, bool trying) {
  int kind = kindof(m);
  if (!tracksowner(kind)) {
    if (trying ? locktry(lockof(m)) : lockacquire(lockof(m), deadline)) return 0;
    return trying ? EBUSY : ETIMEDOUT;
  }
  uint64_t me = ownerid();
  if (at(ownerof(m)).load(std::memory_order_relaxed) == me) {
    if (kind == PTHREAD_MUTEX_ERRORCHECK) return trying ? EBUSY : EDEADLK;
    if (m->__data.__nusers == UINT_MAX) return EAGAIN;
    m->__data.__nusers++;
    return 0;
  }
  if (trying ? !locktry(lockof(m)) : !lockacquire(lockof(m), deadline)) {
    return trying ? EBUSY : ETIMEDOUT;
  }
  at(ownerof(m)).store(me, std::memory_order_relaxed);
  m->__data.__nusers = 1;
  return 0;
}

// ownedbyother: m is recursive or error-checking and the caller does not hold it (EPERM).
bool ownedbyother(pthread_mutex_t* m) {
  return tracksowner(kindof(m)) && at(ownerof(m)).load(std::memory_order_relaxed) != ownerid();
}

int mutexunlock(pthread_mutex_t* m) {
  if (tracksowner(kindof(m))) {
    if (ownedbyother(m)) return EPERM;
    if (--m->__data.__nusers != 0) return 0;  // recursive, still held
    at(ownerof(m)).store(0, std::memory_order_relaxed);
  }
  lockrelease(lockof(m));
  return 0;
}
}  // namespace

GMP_HOOK int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* a) {
  REAL(pthread_mutex_init);
  int type = PTHREAD_MUTEX_DEFAULT, shared = PTHREAD_PROCESS_PRIVATE;
  int robust = PTHREAD_MUTEX_STALLED, protocol = PTHREAD_PRIO_NONE;
  if (a) {
    pthread_mutexattr_gettype(a, &type);
    pthread_mutexattr_getpshared(a, &shared);
    pthread_mutexattr_getrobust(a, &robust);
    pthread_mutexattr_getprotocol(a, &protocol);
  }
  if (shared != PTHREAD_PROCESS_PRIVATE || robust != PTHREAD_MUTEX_STALLED ||
      protocol != PTHREAD_PRIO_NONE) {
    return real_pthread_mutex_init(m, a);  // glibc's: its kind bits say so from now on
  }
  memset(m, 0, sizeof *m);
  m->__data.__kind = type;
  return 0;
}

GMP_HOOK int pthread_mutex_destroy(pthread_mutex_t* m) {
  REAL(pthread_mutex_destroy);
  if (glibcmutex(m)) return real_pthread_mutex_destroy(m);
  return at(lockof(m)->state).load(std::memory_order_relaxed) ? EBUSY : 0;
}

GMP_HOOK int pthread_mutex_lock(pthread_mutex_t* m) {
  REAL(pthread_mutex_lock);
  if (glibcmutex(m)) return real_pthread_mutex_lock(m);
  return mutexlock(m, -1, false);
}

GMP_HOOK int pthread_mutex_trylock(pthread_mutex_t* m) {
  REAL(pthread_mutex_trylock);
  if (glibcmutex(m)) return real_pthread_mutex_trylock(m);
  return mutexlock(m, -1, true);
}

GMP_HOOK int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const timespec* abs) {
  REAL(pthread_mutex_clocklock);
  if (glibcmutex(m)) return real_pthread_mutex_clocklock(m, clock, abs);
  if (!validclock(clock)) return EINVAL;      // glibc checks the clock first
  if (mutexlock(m, -1, true) == 0) return 0;  // POSIX: no check of abs when it need not wait
  if (!validts(abs)) return EINVAL;
  return mutexlock(m, deadlineat(clock, abs), false);
}

GMP_HOOK int pthread_mutex_timedlock(pthread_mutex_t* m, const timespec* abs) {
  return pthread_mutex_clocklock(m, CLOCK_REALTIME, abs);
}

GMP_HOOK int pthread_mutex_unlock(pthread_mutex_t* m) {
  REAL(pthread_mutex_unlock);
  if (glibcmutex(m)) return real_pthread_mutex_unlock(m);
  return mutexunlock(m);
}

// ---- conditions -----------------------------------------------------------------------------
//
// pthread_cond_t, ours: a waitlist (hooks.h) in the first 24 bytes and the clock at 24; bytes
// 36-39 stay zero, where glibc's __wrefs has bit 0 set in a process-shared condition (then
// every call goes to libc). A process-shared condition is used with a process-shared mutex,
// which is glibc's too; with one of ours glibc's wait would unlock it its own way: EINVAL.
namespace {
struct condobj {
  waitlist list;
  int32_t clock;
};
static_assert(sizeof(condobj) <= offsetof(__pthread_cond_s, __wrefs));
condobj* condof(pthread_cond_t* c) { return reinterpret_cast<condobj*>(c); }
bool glibccond(pthread_cond_t* c) { return at(c->__data.__wrefs).load(std::memory_order_relaxed) & 1; }

int unlockmutex(void* m) { return pthread_mutex_unlock(static_cast<pthread_mutex_t*>(m)); }

int condwait(pthread_cond_t* c, pthread_mutex_t* m, int64_t deadline) {
  if (!glibcmutex(m) && ownedbyother(m)) return EPERM;
  int r = condsleep(&condof(c)->list, unlockmutex, m, deadline, true);
  if (r != 0 && r != ETIMEDOUT && r != ECANCELED) return r;  // not the caller's to unlock
  int relock = pthread_mutex_lock(m);  // EOWNERDEAD from a robust mutex comes first
  if (r == ECANCELED) cancelnow();     // with the mutex held again, as POSIX asks
  return relock ? relock : r;
}
}  // namespace

GMP_HOOK int pthread_cond_init(pthread_cond_t* c, const pthread_condattr_t* a) {
  REAL(pthread_cond_init);
  int shared = PTHREAD_PROCESS_PRIVATE;
  clockid_t clock = CLOCK_REALTIME;
  if (a) {
    pthread_condattr_getpshared(a, &shared);
    pthread_condattr_getclock(a, &clock);
  }
  if (shared != PTHREAD_PROCESS_PRIVATE) return real_pthread_cond_init(c, a);
  memset(c, 0, sizeof *c);
  condof(c)->clock = clock;
  return 0;
}

GMP_HOOK int pthread_cond_destroy(pthread_cond_t* c) {
  REAL(pthread_cond_destroy);
  if (glibccond(c)) return real_pthread_cond_destroy(c);
  return 0;
}

GMP_HOOK int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  testcancel();
  REAL(pthread_cond_wait);
  if (glibccond(c)) return glibcmutex(m) ? real_pthread_cond_wait(c, m) : EINVAL;
  return condwait(c, m, -1);
}

GMP_HOOK int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock,
                                    const timespec* abs) {
  testcancel();
  REAL(pthread_cond_clockwait);
  if (glibccond(c)) return glibcmutex(m) ? real_pthread_cond_clockwait(c, m, clock, abs) : EINVAL;
  if (!validclock(clock) || !validts(abs)) return EINVAL;
  return condwait(c, m, deadlineat(clock, abs));
}

GMP_HOOK int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const timespec* abs) {
  testcancel();
  REAL(pthread_cond_timedwait);
  if (glibccond(c)) return glibcmutex(m) ? real_pthread_cond_timedwait(c, m, abs) : EINVAL;
  if (!validts(abs)) return EINVAL;
  return condwait(c, m, deadlineat(condof(c)->clock, abs));
}

GMP_HOOK int pthread_cond_signal(pthread_cond_t* c) {
  REAL(pthread_cond_signal);
  if (glibccond(c)) return real_pthread_cond_signal(c);
  condwake(&condof(c)->list, false);
  return 0;
}

GMP_HOOK int pthread_cond_broadcast(pthread_cond_t* c) {
  REAL(pthread_cond_broadcast);
  if (glibccond(c)) return real_pthread_cond_broadcast(c);
  condwake(&condof(c)->list, true);
  return 0;
}

// ---- read-write locks -----------------------------------------------------------------------
//
// pthread_rwlock_t, ours: an inner lock, the readers inside, the writers waiting, the writer
// inside (its ownerid, 0: none), one waitlist for everyone (woken all at once when the lock
// may have come free), and glibc's __flags (PTHREAD_RWLOCK_PREFER_*, from the attribute or
// the static initialiser). All fields under the inner lock. Bytes 28-31, glibc's __shared
// (set in a process-shared lock, which then goes to libc), are the waitlist's padding after
// its lock word: zero in ours. Readers are preferred, as glibc's default: a reader may enter
// while a writer waits, so a thread can take its read lock recursively; with
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP new readers wait for waiting writers. The
// writer asking again, for either lock, gets EDEADLK as from glibc.
namespace {
struct rwobj {
  lockword inner;
  uint32_t readers;
  uint32_t wwaiting;
  uint64_t writer;
  waitlist list;
};
static_assert(offsetof(rwobj, list) + sizeof(uint32_t) ==
                  offsetof(pthread_rwlock_t, __data.__shared) &&
              offsetof(rwobj, list) + offsetof(waitlist, head) >=
                  offsetof(pthread_rwlock_t, __data.__shared) + sizeof(int));
static_assert(sizeof(rwobj) <= offsetof(pthread_rwlock_t, __data.__flags));
rwobj* rwof(pthread_rwlock_t* rw) { return reinterpret_cast<rwobj*>(rw); }
bool glibcrw(pthread_rwlock_t* rw) { return at(rw->__data.__shared).load(std::memory_order_relaxed); }
bool preferwriter(pthread_rwlock_t* rw) {
  return rw->__data.__flags == PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP;
}
int unlockinner(void* o) {
  lockrelease(&static_cast<rwobj*>(o)->inner);
  return 0;
}

int rwlock(pthread_rwlock_t* rw, bool write, int64_t deadline, bool trying) {
  rwobj* o = rwof(rw);
  uint64_t me = ownerid();
  lockacquire(&o->inner, -1);
  int r = 0;
  if (o->writer == me) {
    r = EDEADLK;
  } else {
    bool waiting = false;  // this writer counts in wwaiting
    for (;;) {
      if (write ? !o->writer && o->readers == 0
                : !o->writer && !(preferwriter(rw) && o->wwaiting)) {
        break;
      }
      if (trying) {
        r = EBUSY;
        break;
      }
      if (write && !waiting) {
        o->wwaiting++;
        waiting = true;
      }
      r = condsleep(&o->list, unlockinner, o, deadline, false);
      lockacquire(&o->inner, -1);
      if (r) break;  // ETIMEDOUT
    }
    if (waiting) o->wwaiting--;
    if (r == ETIMEDOUT && waiting) {
      lockrelease(&o->inner);
      condwake(&o->list, true);  // readers that waited behind us
      return r;
    }
    if (r == 0) {
      if (write) {
        o->writer = me;
      } else if (o->readers == UINT32_MAX) {
        r = EAGAIN;
      } else {
        o->readers++;
      }
    }
  }
  lockrelease(&o->inner);
  return r;
}

// rwclock: the timed lock calls: the clock first, then without waiting, then abs (as glibc).
int rwclock(pthread_rwlock_t* rw, bool write, clockid_t clock, const timespec* abs) {
  if (!validclock(clock)) return EINVAL;
  int r = rwlock(rw, write, -1, true);
  if (r != EBUSY) return r;
  if (!validts(abs)) return EINVAL;
  return rwlock(rw, write, deadlineat(clock, abs), false);
}
}  // namespace

GMP_HOOK int pthread_rwlock_init(pthread_rwlock_t* rw, const pthread_rwlockattr_t* a) {
  REAL(pthread_rwlock_init);
  int shared = PTHREAD_PROCESS_PRIVATE, kind = PTHREAD_RWLOCK_DEFAULT_NP;
  if (a) {
    pthread_rwlockattr_getpshared(a, &shared);
    pthread_rwlockattr_getkind_np(a, &kind);
  }
  if (shared != PTHREAD_PROCESS_PRIVATE) return real_pthread_rwlock_init(rw, a);
  memset(rw, 0, sizeof *rw);
  rw->__data.__flags = static_cast<unsigned char>(kind);
  return 0;
}

GMP_HOOK int pthread_rwlock_destroy(pthread_rwlock_t* rw) {
  REAL(pthread_rwlock_destroy);
  return glibcrw(rw) ? real_pthread_rwlock_destroy(rw) : 0;
}

GMP_HOOK int pthread_rwlock_rdlock(pthread_rwlock_t* rw) {
  REAL(pthread_rwlock_rdlock);
  return glibcrw(rw) ? real_pthread_rwlock_rdlock(rw) : rwlock(rw, false, -1, false);
}

GMP_HOOK int pthread_rwlock_wrlock(pthread_rwlock_t* rw) {
  REAL(pthread_rwlock_wrlock);
  return glibcrw(rw) ? real_pthread_rwlock_wrlock(rw) : rwlock(rw, true, -1, false);
}

GMP_HOOK int pthread_rwlock_tryrdlock(pthread_rwlock_t* rw) {
  REAL(pthread_rwlock_tryrdlock);
  return glibcrw(rw) ? real_pthread_rwlock_tryrdlock(rw) : rwlock(rw, false, -1, true);
}

GMP_HOOK int pthread_rwlock_trywrlock(pthread_rwlock_t* rw) {
  REAL(pthread_rwlock_trywrlock);
  return glibcrw(rw) ? real_pthread_rwlock_trywrlock(rw) : rwlock(rw, true, -1, true);
}

GMP_HOOK int pthread_rwlock_clockrdlock(pthread_rwlock_t* rw, clockid_t c, const timespec* abs) {
  REAL(pthread_rwlock_clockrdlock);
  return glibcrw(rw) ? real_pthread_rwlock_clockrdlock(rw, c, abs) : rwclock(rw, false, c, abs);
}

GMP_HOOK int pthread_rwlock_clockwrlock(pthread_rwlock_t* rw, clockid_t c, const timespec* abs) {
  REAL(pthread_rwlock_clockwrlock);
  return glibcrw(rw) ? real_pthread_rwlock_clockwrlock(rw, c, abs) : rwclock(rw, true, c, abs);
}

GMP_HOOK int pthread_rwlock_timedrdlock(pthread_rwlock_t* rw, const timespec* abs) {
  return pthread_rwlock_clockrdlock(rw, CLOCK_REALTIME, abs);
}

GMP_HOOK int pthread_rwlock_timedwrlock(pthread_rwlock_t* rw, const timespec* abs) {
  return pthread_rwlock_clockwrlock(rw, CLOCK_REALTIME, abs);
}

GMP_HOOK int pthread_rwlock_unlock(pthread_rwlock_t* rw) {
  REAL(pthread_rwlock_unlock);
  if (glibcrw(rw)) return real_pthread_rwlock_unlock(rw);
  rwobj* o = rwof(rw);
  lockacquire(&o->inner, -1);
  bool wake;
  if (o->writer) {
    o->writer = 0;
    wake = true;
  } else if (o->readers) {
    wake = --o->readers == 0;
  } else {
    lockrelease(&o->inner);
    return EPERM;
  }
  lockrelease(&o->inner);
  if (wake) condwake(&o->list, true);
  return 0;
}

// ---- barriers -------------------------------------------------------------------------------
//
// pthread_barrier_t, ours: an inner lock, the count, the arrivals of this round, the round,
// and two counts to wait on, one per round's parity: a thread through round r cannot reach
// round r + 2 before every thread of round r is through, so a round's wake-ups are never
// taken by the next one. Bytes 12-15 stay zero: glibc's process-shared barrier has its
// shared word there (then every call goes to libc). A waiter's last touch of the barrier is
// taking its count from sema, so destroy waits until both counts are taken.
namespace {
struct barrierobj {
  lockword inner;
  uint32_t count;
  uint32_t glibcshared;  // never written by us
  uint32_t arrived;
  uint32_t round;
  uint32_t sema[2];
};
static_assert(sizeof(barrierobj) == sizeof(pthread_barrier_t));
barrierobj* barrierof(pthread_barrier_t* b) { return reinterpret_cast<barrierobj*>(b); }
bool glibcbarrier(pthread_barrier_t* b) {
  return at(barrierof(b)->glibcshared).load(std::memory_order_relaxed) != 0;
}
}  // namespace

GMP_HOOK int pthread_barrier_init(pthread_barrier_t* b, const pthread_barrierattr_t* a,
                                  unsigned count) {
  REAL(pthread_barrier_init);
  int shared = PTHREAD_PROCESS_PRIVATE;
  if (a) pthread_barrierattr_getpshared(a, &shared);
  if (shared != PTHREAD_PROCESS_PRIVATE) return real_pthread_barrier_init(b, a, count);
  if (count == 0) return EINVAL;
  memset(b, 0, sizeof *b);
  barrierof(b)->count = count;
  return 0;
}

GMP_HOOK int pthread_barrier_destroy(pthread_barrier_t* b) {
  REAL(pthread_barrier_destroy);
  if (glibcbarrier(b)) return real_pthread_barrier_destroy(b);
  barrierobj* o = barrierof(b);
  lockacquire(&o->inner, -1);
  bool busy = o->arrived != 0;
  lockrelease(&o->inner);
  if (busy) return EBUSY;
  while (at(o->sema[0]).load(std::memory_order_acquire) ||
         at(o->sema[1]).load(std::memory_order_acquire)) {
    sched_yield();  // the last round's waiters are still leaving
  }
  return 0;
}

GMP_HOOK int pthread_barrier_wait(pthread_barrier_t* b) {
  REAL(pthread_barrier_wait);
  if (glibcbarrier(b)) return real_pthread_barrier_wait(b);
  barrierobj* o = barrierof(b);
  lockacquire(&o->inner, -1);
  uint32_t* sema = &o->sema[o->round & 1];
  if (++o->arrived == o->count) {
    uint32_t others = o->count - 1;
    o->arrived = 0;
    o->round++;
    lockrelease(&o->inner);
    for (uint32_t i = 0; i < others; i++) sempost(sema);
    return PTHREAD_BARRIER_SERIAL_THREAD;
  }
  lockrelease(&o->inner);
  semwait(sema, -1);
  return 0;
}

// ---- spin locks -----------------------------------------------------------------------------
//
// glibc's value on x86-64 (1 free, 0 or less held: pthread_spin_init and _unlock store 1,
// _trylock swaps 1 for 0), so that its trylock and unlock, which are not hooked, agree; a
// waiter spins a bounded while, then yields its goroutine (or thread) and tries again.
GMP_HOOK int pthread_spin_lock(pthread_spinlock_t* vs) {
  int* s = const_cast<int*>(vs);
  for (;;) {
    for (int i = 0; i < 1000; i++) {
      int free = 1;
      if (at(*s).load(std::memory_order_relaxed) == 1 &&
          at(*s).compare_exchange_weak(free, 0, std::memory_order_acquire)) {
        return 0;
      }
      __builtin_ia32_pause();
    }
    sched_yield();
  }
}

// ---- unnamed semaphores ---------------------------------------------------------------------
//
// sem_t, ours: the count (the semaphore's value, waited on as sema.cc's count) and a mark in
// the last word; glibc's (sem_open's, or process-shared) lack it and go to libc.
namespace {
constexpr uint32_t semMark = 0x676d7073;  // "gmps"
struct semobj {
  uint32_t count;
  uint32_t pad[6];
  uint32_t mark;
};
static_assert(sizeof(semobj) == sizeof(sem_t));
semobj* semof(sem_t* s) { return reinterpret_cast<semobj*>(s); }
bool oursem(sem_t* s) { return semof(s)->mark == semMark; }

int semfail(int e) {
  seterrno(e);  // perhaps after a park (hooks.h)
  return -1;
}
}  // namespace

GMP_HOOK int sem_init(sem_t* s, int shared, unsigned value) {
  REAL(sem_init);
  if (shared) {
    semof(s)->mark = 0;  // glibc's init leaves the last word alone
    return real_sem_init(s, shared, value);
  }
  if (value > SEM_VALUE_MAX) return semfail(EINVAL);
  memset(s, 0, sizeof *s);
  semof(s)->count = value;
  semof(s)->mark = semMark;
  return 0;
}

GMP_HOOK int sem_destroy(sem_t* s) {
  REAL(sem_destroy);
  if (!oursem(s)) return real_sem_destroy(s);
  semof(s)->mark = 0;
  return 0;
}

GMP_HOOK int sem_post(sem_t* s) {
  if (!oursem(s)) {
    // Resolved on first use (a static and dlsym, not async-signal-safe): never for a
    // semaphore of ours, which a handler's post most often is.
    REAL(sem_post);
    return real_sem_post(s);
  }
  if (at(semof(s)->count).load(std::memory_order_relaxed) >= SEM_VALUE_MAX) {
    return semfail(EOVERFLOW);
  }
  if (inhandler()) {
    sempostsig(&semof(s)->count);  // async-signal-safe, as POSIX lists sem_post
  } else {
    sempost(&semof(s)->count);
  }
  return 0;
}

GMP_HOOK int sem_wait(sem_t* s) {
  testcancel();
  REAL(sem_wait);
  if (!oursem(s)) return real_sem_wait(s);
  int e = semwaitintr(&semof(s)->count, -1);
  return e != 0 ? semfail(e) : 0;
}

GMP_HOOK int sem_trywait(sem_t* s) {
  REAL(sem_trywait);
  if (!oursem(s)) return real_sem_trywait(s);
  return semtry(&semof(s)->count) ? 0 : semfail(EAGAIN);
}

GMP_HOOK int sem_clockwait(sem_t* s, clockid_t clock, const timespec* abs) {
  testcancel();
  REAL(sem_clockwait);
  if (!oursem(s)) return real_sem_clockwait(s, clock, abs);
  // glibc checks the clock and the nanoseconds before it tries, and takes a deadline
  // before 1970 for one that passed (its futex wait) after it tried.
  if (!validclock(clock)) return semfail(EINVAL);
  if (abs->tv_nsec < 0 || abs->tv_nsec >= 1000000000) return semfail(EINVAL);
  if (semtry(&semof(s)->count)) return 0;
  if (abs->tv_sec < 0) return semfail(ETIMEDOUT);
  int e = semwaitintr(&semof(s)->count, deadlineat(clock, abs));
  return e != 0 ? semfail(e) : 0;
}

GMP_HOOK int sem_timedwait(sem_t* s, const timespec* abs) {
  testcancel();
  return sem_clockwait(s, CLOCK_REALTIME, abs);
}

GMP_HOOK int sem_getvalue(sem_t* s, int* v) {
  REAL(sem_getvalue);
  if (!oursem(s)) return real_sem_getvalue(s, v);
  *v = int(at(semof(s)->count).load(std::memory_order_relaxed));
  return 0;
}

// ---- once -----------------------------------------------------------------------------------
//
// glibc's values: 0 not run, 2 done (__PTHREAD_ONCE_DONE); while a thread runs it, 1 plus
// the fork generation times 4, as glibc's: a once left running by a thread the forked child
// does not have is run again there. Others wait on one process-wide list, woken all when
// any once completes or its function throws.
namespace {
waitlist oncewaiters;
int oncerunning() { return int(1 | (forkgeneration() << 2 & INT_MAX)); }
}  // namespace

// Every waiter is a thread the forked child does not have, one may have held the lock
// (preload/fork.cc).
void gmp::pthreadsyncforkchild() { oncewaiters = waitlist{}; }

namespace {
// oncerecheck, after queueing: if the once is no longer running (done, or its function threw
// and another may run it), wake ourselves: its wake-up may have come before we queued.
int oncerecheck(void* once) {
  if (at(*static_cast<int*>(once)).load(std::memory_order_acquire) != oncerunning()) {
    condwake(&oncewaiters, true);
  }
  return 0;
}
}  // namespace

GMP_HOOK int pthread_once(pthread_once_t* once, void (*fn)()) {
  auto o = at(*once);
  for (;;) {
    int v = o.load(std::memory_order_acquire);
    if (v == 2) return 0;
    int running = oncerunning();
    if ((v == 0 || ((v & 1) && v != running)) &&
        o.compare_exchange_strong(v, running, std::memory_order_acquire)) {
      try {
        fn();
      } catch (...) {  // as a cancelled fn in glibc: not run, the next caller tries again
        o.store(0, std::memory_order_release);
        condwake(&oncewaiters, true);
        throw;
      }
      o.store(2, std::memory_order_release);
      condwake(&oncewaiters, true);
      return 0;
    }
    condsleep(&oncewaiters, oncerecheck, once, -1, false);
  }
}
