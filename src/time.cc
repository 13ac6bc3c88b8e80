// time.cc — timers (Go's time.go, simplified): a 4-ary heap of timers per P, run by the
// scheduler (checktimers in findRunnable, and on other Ps when stealing), and an idle M that
// sleeps until the earliest timer when nothing else is runnable.
//
// Ownership. A timer is in at most one P's heap (t.pp, under that P's timerslock). addtimer
// puts it on the caller's P; checktimers, holding the P's timersrun lock, pops expired ones
// under timerslock and runs each t.f with timerslock released (as Go's runtimer). deltimer
// waits on the timersrun lock of the P that last popped the timer (t.runningon), so it
// returns only once t.f is not running: the caller may then free the timer (most live on a
// goroutine's stack). t.f must be short and must not touch timers: it readies a goroutine,
// claims a select, sends on a channel without blocking.
// Lock order: a P's timersrun, then anything t.f takes (sched.lock, a channel's lock, a
// semaphore root's lock), then a P's timerslock, which is innermost: a select arms its
// timeout with its channels locked. (t.f ran under timerslock once: a select arming its
// timeout on a P whose M was firing a timer channel's timer waited for that P's timerslock
// while holding the channel's lock, and sendtime, under the timerslock, waited for the
// channel's lock: both Ms slept for ever.)
//
// "Sleeping until a timer". When findRunnable finds nothing to run it looks at the earliest
// timer of all Ps (timer0when) and at the I/O in flight. If there is either (or the program
// handles signals: a handler's sem_post breaks netpoll, SEM5) and no other M waits, this M
// becomes the timer sleeper, which is Go's blocking netpoll(delay): it publishes its
// deadline in sched.timerwhen (INT64_MAX: no timer) and blocks in
// netpollblock until then or until a completion. addtimer with an earlier deadline claims the
// sleeper by CASing timerwhen to 0 and wakes it with netpollBreak (TW1). TW2: the sleeper
// spends old wake-ups (netpollclear) before it publishes timerwhen, so a claim made after
// the publication is always seen by its wait; a claim's wake-up that lands after the sleeper
// woke for another reason only makes a later wait return early, which is harmless.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "probes.h"
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

namespace {
constexpr int heapArity = 4;

// Heap order on when; idx kept current. pp->timerslock held for all three.
void siftup(p* pp, int32_t i) {
  rttimer** h = pp->timers;
  rttimer* t = h[i];
  while (i > 0) {
    int32_t parent = (i - 1) / heapArity;
    if (h[parent]->when <= t->when) break;
    h[i] = h[parent];
    h[i]->idx = i;
    i = parent;
  }
  h[i] = t;
  t->idx = i;
}

void siftdown(p* pp, int32_t i) {
  rttimer** h = pp->timers;
  int32_t n = pp->ntimers;
  rttimer* t = h[i];
  for (;;) {
    int32_t c = i * heapArity + 1;
    if (c >= n) break;
    int32_t best = c;
    for (int32_t k = c + 1; k < c + heapArity && k < n; k++) {
      if (h[k]->when < h[best]->when) best = k;
    }
    if (t->when <= h[best]->when) break;
    h[i] = h[best];
    h[i]->idx = i;
    i = best;
  }
  h[i] = t;
  t->idx = i;
}

void settimer0(p* pp) {
  pp->timer0when.store(pp->ntimers ? pp->timers[0]->when : 0, std::memory_order_release);
}

bool heappush(p* pp, rttimer* t) {
  if (pp->ntimers == pp->timerscap) {
    int32_t cap = pp->timerscap ? 2 * pp->timerscap : 16;
    m* mp = acquirem();  // the P's timerslock is held (LS2)
    auto* h = static_cast<rttimer**>(realloc(pp->timers, size_t(cap) * sizeof(rttimer*)));
    releasem(mp);
    if (!h) return false;
    pp->timers = h;
    pp->timerscap = cap;
  }
  t->pp.store(pp, std::memory_order_relaxed);
  pp->timers[pp->ntimers] = t;
  siftup(pp, pp->ntimers++);
  settimer0(pp);
  return true;
}

void heapremove(p* pp, rttimer* t) {
  int32_t i = t->idx;
  int32_t last = --pp->ntimers;
  if (i != last) {
    pp->timers[i] = pp->timers[last];
    pp->timers[i]->idx = i;
    siftdown(pp, i);
    siftup(pp, pp->timers[i]->idx);
  }
  t->pp.store(nullptr, std::memory_order_release);  // after runningon (checktimers)
  settimer0(pp);
}

// wakeTimerSleeper: a timer at when was added; if the timer sleeper sleeps past it, claim
// and wake it (TW1).
void wakeTimerSleeper(int64_t when) {
  // TW1 is a Dekker pair: the adder's timer0when store, then this load; the sleeper's
  // timerwhen store, then its nexttimer. The fences keep each store before its load.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  int64_t w = sched.timerwhen.load(std::memory_order_seq_cst);
  while (w != 0 && when < w) {
    if (sched.timerwhen.compare_exchange_weak(w, 0, std::memory_order_seq_cst)) {
      netpollBreak();
      return;
    }
  }
}
}  // namespace

namespace {
// addtimeron: t into pp's heap, and the timer sleeper woken if it sleeps past t (TW1).
void addtimeron(p* pp, rttimer* t) {
  int64_t when = t->when;  // once t is in the heap it may fire, and its owner free it
  pp->timerslock.lock();
  bool ok = heappush(pp, t);
  pp->timerslock.unlock();
  if (!ok) fatal("addtimer: out of memory for the timer heap");
  wakeTimerSleeper(when);
}
}  // namespace

void addtimer(rttimer* t) {
  p* pp = getg()->m_->p_;
  if (!pp) fatal("addtimer: no P");
  addtimeron(pp, t);
}

void addtimerany(rttimer* t) {
  g* gp = getg();
  if (gp && gp->m_ && gp->m_->p_) {
    addtimeron(gp->m_->p_, t);
    return;
  }
  // No P to put it on: P 0's heap (never destroyed; its timerslock guards it like any
  // other). Its M may be busy or gone idle; the timer sleeper, or with none a spinning M
  // (which sees the timer in nexttimer when it finds nothing else and becomes the sleeper,
  // and runs other Ps' timers when it steals), takes care of it.
  addtimeron(allp[0], t);
  wakep();
}

namespace {
// waitrun: t.f is not running once this returns, if r (t.runningon) is the P that last
// popped t: its checktimers holds r's timersrun from before the pop until after t.f.
void waitrun(p* r) {
  if (!r) return;
  r->timersrun.lock();
  r->timersrun.unlock();
}
}  // namespace

bool deltimer(rttimer* t) {
  for (;;) {
    p* pp = t->pp.load(std::memory_order_acquire);
    if (!pp) {
      // Not in a heap (a ticker never leaves one while it is armed, movetimers included):
      // a one-shot's t.f may still be running.
      waitrun(t->runningon.load(std::memory_order_acquire));
      return false;
    }
    pp->timerslock.lock();
    if (t->pp.load(std::memory_order_relaxed) == pp) {
      // A forked child's heaps are empty (timersforkchild) while its timers still name their
      // P: such a timer is in no heap, and never fires there (a gmp_timer_t made before fork).
      if (t->idx >= pp->ntimers || pp->timers[t->idx] != t) {
        t->pp.store(nullptr, std::memory_order_relaxed);
        pp->timerslock.unlock();
        return false;
      }
      heapremove(pp, t);
      // A ticker's f may be running: it stays in the heap while f runs. A one-shot in a
      // heap is not running (its owner re-adds it only after a deltimer).
      p* r = t->period > 0 ? t->runningon.load(std::memory_order_relaxed) : nullptr;
      pp->timerslock.unlock();
      waitrun(r);
      return true;
    }
    pp->timerslock.unlock();  // it moved (ran, or procresize): look again
  }
}

int64_t checktimers(p* pp, int64_t now) {
  int64_t next = pp->timer0when.load(std::memory_order_acquire);
  if (next == 0) return 0;
  if (now == 0) now = nanotime();  // read the clock only when there are timers
  if (next > now) return next;
  pp->timersrun.lock();
  pp->timerslock.lock();
  while (pp->ntimers > 0 && pp->timers[0]->when <= now) {
    rttimer* t = pp->timers[0];
    t->runningon.store(pp, std::memory_order_relaxed);  // heapremove's release, or timerslock
    if (t->period > 0) {
      // A ticker: the next tick, skipping the ones already missed, or never (INT64_MAX)
      // past the clock's range. It stays in the heap (t.pp never reads null: a deltimer
      // that saw null would take it for stopped).
      int64_t step, next;
      if (__builtin_mul_overflow(t->period, (now - t->when) / t->period + 1, &step) ||
          __builtin_add_overflow(t->when, step, &next)) {
        next = INT64_MAX;
      }
      t->when = next;
      siftdown(pp, 0);
      settimer0(pp);
    } else {
      heapremove(pp, t);
    }
    pp->timerslock.unlock();
    t->f(t->arg, now);  // the last touch of t: its owner may free it once f has run
    pp->timerslock.lock();
  }
  next = pp->timer0when.load(std::memory_order_relaxed);
  pp->timerslock.unlock();
  pp->timersrun.unlock();
  return next;
}

int64_t nexttimer() {
  int64_t next = 0;
  int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
  for (int32_t i = 0; i < procs; i++) {
    int64_t w = allp[i]->timer0when.load(std::memory_order_acquire);
    if (w != 0 && (next == 0 || w < next)) next = w;
  }
  return next;
}

void timersleep(int64_t until) {
  netpollclear();  // TW2
  // SEM5: a handler's sem_post sets sigpending before it breaks, and the clear may have
  // spent that break: do not sleep past the wake-up it left.
  if (semsigpending()) return;
  int64_t want = until != 0 ? until : INT64_MAX;
  sched.timerwhen.store(want, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // TW1, wakeTimerSleeper
  // A timer added before the store above was missed by its adder: look once more.
  int64_t again = nexttimer();
  if (again != 0 && again < want) want = again;
  sigmaskidle(getg()->m_);
  netpollblock(want == INT64_MAX ? 0 : want);
  sched.timerwhen.store(0, std::memory_order_seq_cst);
}

void movetimers(p* from, p* to) {
  from->timerslock.lock();
  to->timerslock.lock();
  while (from->ntimers > 0) {  // the last: no sift; t.pp goes from `from` to `to` directly
    rttimer* t = from->timers[--from->ntimers];
    if (!heappush(to, t)) fatal("movetimers: out of memory for the timer heap");
  }
  settimer0(from);
  to->timerslock.unlock();
  from->timerslock.unlock();
}

// timersforkchild: every timer in a heap is a ghost's (the caller, running, waits on none),
// and timers live on their goroutines' stacks: nobody looks at them again.
void timersforkchild(p* pp) {
  pp->timersrun.key.store(0, std::memory_order_relaxed);
  pp->timerslock.key.store(0, std::memory_order_relaxed);
  pp->timers = nullptr;  // the array may be mid-realloc: left behind
  pp->ntimers = 0;
  pp->timerscap = 0;
  pp->timer0when.store(0, std::memory_order_relaxed);
}

// ---- sleeping -----------------------------------------------------------------------------------

namespace {
void goreadyf(void* arg, int64_t) { goready(static_cast<g*>(arg)); }

// Park commit for sleep: the timer goes in only once the goroutine is parked, so its
// goready cannot come first.
bool sleepcommit(g*, void* t) {
  addtimer(static_cast<rttimer*>(t));
  return true;
}
}  // namespace

void timesleep(int64_t ns) {
  if (ns <= 0) return;
  g* gp = getg();
  if (!gp || !gp->m_ || gp->m_->curg != gp) {  // not a goroutine: the thread sleeps
    timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return;
  }
  rttimer t{};
  t.when = whenafter(nanotime(), ns);
  t.f = goreadyf;
  t.arg = gp;
  gopark(sleepcommit, &t, waitReasonSleep);
}

}  // namespace gmp
