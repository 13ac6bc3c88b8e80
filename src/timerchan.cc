// timerchan.cc — Go's time.Timer, time.Ticker and time.After on the runtime's timers
// (time.cc): a timer whose f sends the time it fired on a channel of capacity 1, and drops
// the value when the channel is full (Go's sendTime). The C ABI's gmp_timer_t.
// Invariants:
//   TC1: tc.mu serialises stop, reset and free of one timer, so deltimer and addtimer of
//        tc.t never overlap (time.cc lets one owner add or delete a timer at a time). f
//        does not take it: f runs under its P's timersrun, and stop waits f out in deltimer.
//   TC2: tc.t is in a heap only while tc.armed; written under tc.mu. A one-shot's f clears
//        nothing: deltimer finding it in no heap is what says it fired.
//   TC3: tc holds one reference to tc.c, dropped by free; for gmp_after, f drops it after
//        its one send and frees tc (nobody else holds tc: gmp_after returns the channel).
#include <cerrno>
#include <cstdlib>
#include <new>

#include "chan.h"
#include "gmp/gmp.h"
#include "runtime.h"

struct gmp_timer {
  gmp::rttimer t;  // the runtime timer; t.arg is tc
  gmp::hchan* c;
  gmp::rtmutex mu;
  bool armed;     // TC2: tc.t was added and not deleted since (tc.mu)
  bool selffree;  // gmp_after's: f frees it (TC3)
};

namespace gmp {
namespace {

// sendtime: f of a timer channel's timer, under the timersrun of the P that ran it: a send
// that does not block, so a full channel drops the value. It takes the channel's lock, which
// a select may hold while it arms its timeout (time.cc's lock order allows both).
void sendtime(void* arg, int64_t now) {
  auto* tc = static_cast<gmp_timer*>(arg);
  chansend(tc->c, &now, false);  // a closed channel (the program closed it): nothing sent
  if (tc->selffree) {
    m* mp = acquirem();  // free and chanrelease call into libc (LS2)
    chanrelease(tc->c);
    tc->~gmp_timer();
    free(tc);
    releasem(mp);
  }
}

// arm: tc.t fires after ns, then every period (0: once). tc.mu held, tc.t in no heap.
void arm(gmp_timer* tc, int64_t ns, int64_t period) {
  tc->t.when = whenafter(nanotime(), ns);
  tc->t.period = period;
  tc->armed = true;
  addtimerany(&tc->t);
}

// disarm: stop tc.t (TC1, TC2); whether it was pending. tc.mu held.
bool disarm(gmp_timer* tc) {
  if (!tc->armed) return false;
  tc->armed = false;
  return deltimer(&tc->t);
}

// timerchannew: a timer channel's timer, armed; null with *err on failure. *c: its channel,
// stored before the timer is armed (a gmp_after timer may fire and free itself at once).
gmp_timer* timerchannew(int64_t ns, int64_t period, bool selffree, hchan** c, int* err) {
  void* mem = malloc(sizeof(gmp_timer));
  if (!mem) {
    *err = ENOMEM;
    return nullptr;
  }
  *c = chanmake(sizeof(int64_t), 1, nullptr, err);
  if (!*c) {
    free(mem);
    return nullptr;
  }
  auto* tc = new (mem) gmp_timer{};
  tc->t.f = sendtime;
  tc->t.arg = tc;
  tc->c = *c;
  tc->selffree = selffree;
  if (selffree) {
    (*c)->refs.fetch_add(1, std::memory_order_relaxed);  // the caller's; tc's goes with f (TC3)
    arm(tc, ns, period);  // no tc.mu: nobody else holds tc, which may be gone on return
    return tc;
  }
  tc->mu.lock();
  arm(tc, ns, period);
  tc->mu.unlock();
  return tc;
}

}  // namespace
}  // namespace gmp

using namespace gmp;

extern "C" {

gmp_timer_t* gmp_timer_new(int64_t ns, int64_t period_ns) {
  if (period_ns < 0) {
    errno = EINVAL;
    return nullptr;
  }
  if (!runtimeStarted.load(std::memory_order_acquire)) {
    errno = EAGAIN;
    return nullptr;
  }
  int err = 0;
  hchan* c;
  gmp_timer* tc = timerchannew(ns, period_ns, false, &c, &err);
  if (!tc) errno = err;
  return tc;
}

gmp_chan_t* gmp_timer_chan(gmp_timer_t* t) {
  if (!t) {
    errno = EINVAL;
    return nullptr;
  }
  return t->c;
}

int gmp_timer_stop(gmp_timer_t* t) {
  if (!t) return -EINVAL;
  t->mu.lock();
  bool pending = disarm(t);
  t->mu.unlock();
  return pending ? 1 : 0;
}

int gmp_timer_reset(gmp_timer_t* t, int64_t ns, int64_t period_ns) {
  if (!t || period_ns < 0) return -EINVAL;
  t->mu.lock();
  bool pending = disarm(t);
  arm(t, ns, period_ns);
  t->mu.unlock();
  return pending ? 1 : 0;
}

int gmp_timer_free(gmp_timer_t* t) {
  if (!t) return -EINVAL;
  t->mu.lock();
  disarm(t);  // f is not running after it (TC1)
  t->mu.unlock();
  chanrelease(t->c);
  t->~gmp_timer();
  free(t);
  return 0;
}

gmp_chan_t* gmp_after(int64_t ns) {
  if (!runtimeStarted.load(std::memory_order_acquire)) {
    errno = EAGAIN;
    return nullptr;
  }
  int err = 0;
  hchan* c;
  if (!timerchannew(ns, 0, true, &c, &err)) {  // the timer may be gone already: fired, freed
    errno = err;
    return nullptr;
  }
  return c;
}

}  // extern "C"
