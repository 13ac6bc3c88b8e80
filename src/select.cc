// select.cc — select over channel operations (Go's select.go: selectgo).
//
// 1. Order: poll the cases in a random order (pollorder: no case can starve another when
//    several are ready), lock the channels in address order (lockorder: two selects over
//    the same channels cannot deadlock), each channel once however many cases name it.
// 2. Pass 1, all locks held: the first ready case in pollorder completes as the plain
//    operation would (chan.cc's halves), and select returns it.
// 3. Nothing ready and non-blocking: -EAGAIN. Else pass 2: one sudog per case, all sharing
//    one waiter, enqueued on every channel; park, the locks released once parked.
// 4. The first waker to claim the waiter (waiter.selectdone, in waitq::dequeue) completes
//    its case through that case's sudog and records it in waiter.fired. Pass 3, all locks
//    held again: take the other sudogs off their queues (some may already be off: a waker
//    that lost the claim removed it and moved on), and report the fired case.
// 5. A timeout is one more party that can claim the waiter: a timer (goroutines) whose f
//    claims it with fired = null, or (threads) the sleeper itself once its timed sleep ends.
// Cases with a null channel never fire (Go's nil channel). A send case on a closed channel
// is an error (-EPIPE), as it is a panic in Go.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "chan.h"
#include "gmp/gmp.h"

namespace gmp {

namespace {
constexpr size_t stackCases = 16;  // up to this many cases need no allocation

// cheaprandn: a random number in [0, n). Per-thread xorshift state: used only before the
// select parks, so no TLS address survives a park point.
uint32_t cheaprandn(uint32_t n) {
  static thread_local uint64_t state = 0;
  if (state == 0) state = uint64_t(nanotime()) ^ reinterpret_cast<uintptr_t>(&state) ^ 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return uint32_t((uint64_t(uint32_t(state >> 32)) * n) >> 32);
}

struct selstate {
  gmp_select_case* cases;
  uint32_t* lockorder;
  size_t nn;  // cases with a channel
};

void sellock(selstate* s) {
  hchan* prev = nullptr;
  for (size_t i = 0; i < s->nn; i++) {
    hchan* c = s->cases[s->lockorder[i]].chan;
    if (c != prev) c->lock.lock();
    prev = c;
  }
}

void selunlock(void* arg) {
  auto* s = static_cast<selstate*>(arg);
  // Reverse order; a channel named twice is unlocked once, at its first (lowest) place.
  for (size_t i = s->nn; i-- > 0;) {
    hchan* c = s->cases[s->lockorder[i]].chan;
    if (i > 0 && s->cases[s->lockorder[i - 1]].chan == c) continue;
    c->lock.unlock();
  }
}

// pass1 completes the first ready case in pollorder, or returns -1. All locks held; the
// completed case's locks are released before a waiter is woken.
int pass1(selstate* s, const uint32_t* pollorder) {
  for (size_t k = 0; k < s->nn; k++) {
    uint32_t i = pollorder[k];
    gmp_select_case* cs = &s->cases[i];
    hchan* c = cs->chan;
    if (cs->dir == GMP_RECV) {
      if (sudog* sg = c->sendq.dequeue()) {
        recvfrom(c, sg, cs->elem);
        selunlock(s);
        waiterready(sg, true);
        cs->ok = true;
        return int(i);
      }
      if (c->qcount.load(std::memory_order_relaxed) > 0) {
        bufget(c, cs->elem);
        selunlock(s);
        cs->ok = true;
        return int(i);
      }
      if (c->closed.load(std::memory_order_relaxed)) {
        selunlock(s);
        if (cs->elem && c->elemsize) memset(cs->elem, 0, c->elemsize);
        cs->ok = false;
        return int(i);
      }
    } else {
      if (c->closed.load(std::memory_order_relaxed)) {
        selunlock(s);
        return -EPIPE;
      }
      if (sudog* sg = c->recvq.dequeue()) {
        sendto(c, sg, cs->elem);
        selunlock(s);
        waiterready(sg, true);
        return int(i);
      }
      if (c->qcount.load(std::memory_order_relaxed) < c->dataqsiz) {
        bufput(c, cs->elem);
        selunlock(s);
        return int(i);
      }
    }
  }
  return -1;
}

// The timeout's claim on a goroutine's select (a timer's f, under its P's timersrun).
void selecttimeout(void* arg, int64_t) {
  auto* w = static_cast<waiter*>(arg);
  uint32_t zero = 0;
  if (w->selectdone.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) {
    w->fired = nullptr;
    goready(w->gp);
  }
}

// Park commit with a timeout: the timer armed once the goroutine is parked, so that the
// timer cannot ready it first, and before the channels are unlocked. sc, s and t live on the
// parked goroutine's stack: once the last channel lock is released a sender may claim the
// select and the goroutine resume on another M, deltimer a timer not yet added and return,
// and an addtimer after that put a timer of a dead frame into the heap (its later firing
// readied a running goroutine: "casgstatus: goroutine N from 4 to 1, but status is 2", and
// ASan saw siftup write into another frame). sc and t may be gone once addtimer has put t
// in the heap (a timeout due at once fires, and the goroutine runs on to pass 3, where it
// waits for the channels' locks); s lives until selunlock's last unlock. Lock order: the
// channels' locks, then the P's timerslock, which is innermost (time.cc): a timer's f that
// takes a channel's lock (sendtime) runs without it.
struct selcommit {
  selstate* s;
  rttimer* t;
};
void selunlockarm(void* arg) {
  auto* sc = static_cast<selcommit*>(arg);
  selstate* s = sc->s;  // sc is in selwait's frame, which a timeout that fires at once ends
  addtimer(sc->t);  // may fire at once: the claim (selecttimeout) readies a parked g, which
  selunlock(s);     // runs up to selectgo's pass 3 and waits there for the channels' locks
}

// selwait parks the caller (all channel locks held, sudogs queued) until a case fires or
// the timeout (ns; < 0: none) passes; then w->fired is the fired case's sudog, or null.
void selwait(waiter* w, selstate* s, int64_t timeout) {
  if (timeout < 0) {
    waiterpark(w, selunlock, s, waitReasonSelect);
    return;
  }
  if (w->gp) {
    rttimer t{};
    t.when = whenafter(nanotime(), timeout);
    t.f = selecttimeout;
    t.arg = w;
    selcommit sc{s, &t};
    waiterpark(w, selunlockarm, &sc, waitReasonSelect);
    deltimer(&t);  // a case fired first; after this the timer's f is not running
    return;
  }
  selunlock(s);
  if (notetsleep(&w->n, timeout)) return;  // a waker claimed us and woke us
  uint32_t zero = 0;
  if (w->selectdone.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) {
    w->fired = nullptr;  // the timeout won
    return;
  }
  notesleep(&w->n);  // a waker won the claim: wait for its wake-up (CH3)
}

// blockforever: a select with no channel to wait on (Go's `select {}`).
[[noreturn]] void blockforever(g* gp) {
  for (;;) {
    if (gp) {
      gopark(nullptr, nullptr, waitReasonSelectNoCases);
    } else {
      note n;
      notesleep(&n);
    }
  }
}
}  // namespace

// selectgo runs a select: timeout 0 does not wait (-EAGAIN when no case is ready), < 0
// waits for ever, > 0 up to that many ns (-ETIMEDOUT). Cases are validated by the caller.
// Returns the index of the case that fired, or -EPIPE (a send case on a closed channel),
// -EAGAIN, -ETIMEDOUT, -ENOMEM.
int selectgo(gmp_select_case* cases, size_t n, int64_t timeout) {
  bool block = timeout != 0;
  g* gp = getg();
  if (gp && !(gp->m_ && gp->m_->curg == gp)) gp = nullptr;  // g0: not a goroutine
  uint32_t small[2 * stackCases];
  uint32_t* orders = small;
  void* heap = nullptr;
  if (n > stackCases) {
    heap = malloc(2 * n * sizeof(uint32_t));
    if (!heap) return -ENOMEM;
    orders = static_cast<uint32_t*>(heap);
  }
  uint32_t* pollorder = orders;
  uint32_t* lockorder = orders + n;
  size_t nn = 0;
  for (size_t i = 0; i < n; i++) {
    if (!cases[i].chan) continue;
    uint32_t j = cheaprandn(uint32_t(nn + 1));  // an inside-out Fisher-Yates shuffle
    pollorder[nn] = pollorder[j];
    pollorder[j] = uint32_t(i);
    lockorder[nn] = uint32_t(i);
    nn++;
  }
  if (nn == 0) {
    free(heap);
    if (!block) return -EAGAIN;
    if (timeout > 0) {
      timesleep(timeout);
      return -ETIMEDOUT;
    }
    blockforever(gp);
  }
  std::sort(lockorder, lockorder + nn, [&](uint32_t a, uint32_t b) {
    return reinterpret_cast<uintptr_t>(cases[a].chan) < reinterpret_cast<uintptr_t>(cases[b].chan);
  });
  selstate s{cases, lockorder, nn};
  sellock(&s);
  int r = pass1(&s, pollorder);
  if (r != -1 || !block) {
    if (r == -1) {
      selunlock(&s);
      r = -EAGAIN;
    }
    free(heap);
    return r;
  }

  // Pass 2: wait on every channel.
  waiter w;
  w.gp = gp;
  sudog smallsg[stackCases];
  sudog* sgs = smallsg;
  if (nn > stackCases) {
    m* mp = acquirem();  // the channels are locked (LS2)
    sgs = static_cast<sudog*>(malloc(nn * sizeof(sudog)));
    releasem(mp);
    if (!sgs) {
      selunlock(&s);
      free(heap);
      return -ENOMEM;
    }
  }
  for (size_t k = 0; k < nn; k++) {
    gmp_select_case* cs = &cases[lockorder[k]];
    sudog* sg = &sgs[k];
    *sg = sudog{&w, cs->chan, cs->elem, true, false, nullptr, nullptr};
    if (cs->dir == GMP_RECV) cs->chan->recvq.enqueue(sg); else cs->chan->sendq.enqueue(sg);
  }
  selwait(&w, &s, timeout);

  // Pass 3: woken through w.fired (null: the timeout); take the other sudogs off their
  // queues.
  sellock(&s);
  int casi = -1;
  for (size_t k = 0; k < nn; k++) {
    sudog* sg = &sgs[k];
    gmp_select_case* cs = &cases[lockorder[k]];
    if (sg == w.fired) {
      casi = int(lockorder[k]);
      continue;
    }
    if (cs->dir == GMP_RECV) cs->chan->recvq.remove(sg); else cs->chan->sendq.remove(sg);
  }
  selunlock(&s);
  sudog* fired = w.fired;
  if (!fired) {
    if (sgs != smallsg) free(sgs);
    free(heap);
    return -ETIMEDOUT;
  }
  if (casi < 0) fatal("selectgo: woken without a fired case");
  gmp_select_case* cs = &cases[casi];
  if (cs->dir == GMP_RECV) {
    cs->ok = fired->success;  // false: closed, and the closer zeroed elem
  } else if (!fired->success) {
    casi = -EPIPE;  // the channel was closed while we waited to send
  }
  if (sgs != smallsg) free(sgs);
  free(heap);
  return casi;
}

}  // namespace gmp
