// chan.cc — channels: make, send, receive, close (Go's chan.go). Structures and invariants
// (CH1-CH3) are in chan.h; select is select.cc.
#include "chan.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace gmp {

// ---- wait queues ------------------------------------------------------------------------------

void waitq::enqueue(sudog* s) {
  s->next = nullptr;
  s->prev = last;
  if (last) last->next = s; else first = s;
  last = s;
}

// remove takes s off the queue if it is still on it (Go's dequeueSudoG): a select's sudog
// may already be off, taken by a waker that then lost the claim.
void waitq::remove(sudog* s) {
  sudog* x = s->prev;
  sudog* y = s->next;
  if (x) {
    x->next = y;
    if (y) y->prev = x; else last = x;
  } else if (y) {
    y->prev = nullptr;
    first = y;
  } else if (first == s) {
    first = last = nullptr;
  } else {
    return;  // not queued
  }
  s->prev = s->next = nullptr;
}

sudog* waitq::dequeue() {
  for (;;) {
    sudog* s = first;
    if (!s) return nullptr;
    remove(s);
    if (s->w->gen != forkgen.load(std::memory_order_relaxed)) continue;  // a ghost (FK2)
    // A select waits on several channels; the first waker to claim it wins. A sudog whose
    // select was claimed elsewhere stays queued only until that select takes its channel
    // locks to clean up: skip it.
    if (s->isselect) {
      uint32_t zero = 0;
      if (!s->w->selectdone.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) continue;
      s->w->fired = s;
    }
    return s;
  }
}

// ---- waking and parking -----------------------------------------------------------------------

void waiterready(sudog* sg, bool success) {
  waiter* w = sg->w;
  sg->success = success;
  // CH3: nothing of sg or w may be touched once the waiter can run.
  if (g* gp = w->gp) {
    goready(gp);
  } else {
    notewakeup(&w->n);
  }
}

namespace {
struct parkunlock {
  void (*fn)(void*);
  void* arg;
};
bool parkunlockf(g*, void* p) {
  auto* pu = static_cast<parkunlock*>(p);
  pu->fn(pu->arg);
  return true;
}
}  // namespace

void waiterpark(waiter* w, void (*unlock)(void*), void* arg, waitreason reason) {
  if (w->gp) {
    // The context is saved before unlock runs (gopark), so a waker that takes the lock
    // right after finds a complete goroutine to ready.
    parkunlock pu{unlock, arg};
    gopark(parkunlockf, &pu, reason);
  } else {
    unlock(arg);
    notesleep(&w->n);  // a wake-up before the sleep is kept by the note
  }
}

namespace {

void unlockchan(void* c) { static_cast<hchan*>(c)->lock.unlock(); }

inline unsigned char* chanbuf(hchan* c, size_t i) { return c->buf + i * c->elemsize; }

inline void copyelem(hchan* c, void* dst, const void* src) {
  if (!dst || !src) return;
  // The common small sizes as single moves (the copy runs under the channel's lock).
  switch (c->elemsize) {
    case 0: return;
    case 4: memcpy(dst, src, 4); return;
    case 8: memcpy(dst, src, 8); return;
    case 16: memcpy(dst, src, 16); return;
    default: memcpy(dst, src, c->elemsize);
  }
}
}  // namespace

// ---- the buffer and the direct hand-offs (lock held) -------------------------------------------

void bufput(hchan* c, const void* elem) {
  unsigned char* slot = chanbuf(c, c->sendx);
  if (elem) {
    copyelem(c, slot, elem);
  } else if (c->elemsize) {
    memset(slot, 0, c->elemsize);
  }
  if (++c->sendx == c->dataqsiz) c->sendx = 0;
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void bufget(hchan* c, void* elem) {
  unsigned char* slot = chanbuf(c, c->recvx);
  copyelem(c, elem, slot);
  if (++c->recvx == c->dataqsiz) c->recvx = 0;
  c->qcount.store(c->qcount.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void sendto(hchan* c, sudog* sg, const void* elem) {
  // A waiting receiver: the buffer is empty (CH1); the value goes straight to it.
  if (sg->elem) {
    if (elem) {
      copyelem(c, sg->elem, elem);
    } else if (c->elemsize) {
      memset(sg->elem, 0, c->elemsize);
    }
  }
}

void recvfrom(hchan* c, sudog* sg, void* elem) {
  if (c->dataqsiz == 0) {  // unbuffered: straight from the sender
    copyelem(c, elem, sg->elem);
  } else {
    // Full buffer (CH1): take the oldest value, and the sender's goes to the tail, which is
    // the slot just freed.
    bufget(c, elem);
    bufput(c, sg->elem);
  }
}

// ---- operations ---------------------------------------------------------------------------------

namespace {
// chanblock: the operation cannot complete now (c.lock held). Without block, give up: 0.
// Else wait on q (the lock released once parked): 1 when a partner completed it, -1 when
// close woke us. elem: the value to send or where to receive.
int chanblock(hchan* c, waitq* q, void* elem, bool block, waitreason reason) {
  if (!block) {
    c->lock.unlock();
    return 0;
  }
  waiter w;
  w.gp = curgoroutine();
  sudog s{&w, c, elem, false, false, nullptr, nullptr};
  q->enqueue(&s);
  waiterpark(&w, unlockchan, c, reason);
  return s.success ? 1 : -1;
}
}  // namespace

int chansend(hchan* c, const void* elem, bool block) {
  // Fast path without the lock (as Go's, for buffered channels, whose count is atomic): a
  // non-blocking send on a full, open channel fails.
  if (!block && c->dataqsiz > 0 && !c->closed.load(std::memory_order_relaxed) &&
      c->qcount.load(std::memory_order_relaxed) == c->dataqsiz) {
    return 0;
  }
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    return -EPIPE;
  }
  if (sudog* sg = c->recvq.dequeue()) {
    sendto(c, sg, elem);
    c->lock.unlock();
    waiterready(sg, true);
    return 1;
  }
  if (c->qcount.load(std::memory_order_relaxed) < c->dataqsiz) {
    bufput(c, elem);
    c->lock.unlock();
    return 1;
  }
  int r = chanblock(c, &c->sendq, const_cast<void*>(elem), block, waitReasonChanSend);
  return r < 0 ? -EPIPE : r;  // woken by close: CH2
}

int chanrecv(hchan* c, void* elem, bool block) {
  // Fast path: a non-blocking receive on an empty, open buffered channel fails.
  if (!block && c->dataqsiz > 0 && !c->closed.load(std::memory_order_acquire) &&
      c->qcount.load(std::memory_order_relaxed) == 0) {
    return 0;
  }
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed) && c->qcount.load(std::memory_order_relaxed) == 0) {
    c->lock.unlock();
    if (elem && c->elemsize) memset(elem, 0, c->elemsize);
    return 2;
  }
  if (sudog* sg = c->sendq.dequeue()) {
    recvfrom(c, sg, elem);
    c->lock.unlock();
    waiterready(sg, true);
    return 1;
  }
  if (c->qcount.load(std::memory_order_relaxed) > 0) {
    bufget(c, elem);
    c->lock.unlock();
    return 1;
  }
  int r = chanblock(c, &c->recvq, elem, block, waitReasonChanReceive);
  return r < 0 ? 2 : r;  // woken by close: the closer zeroed elem (CH2)
}

hchan* chanmake(size_t elemsize, size_t cap, void (*drop)(void*), int* err) {
  // Go's limits: an element under 64 KiB, and a buffer that fits the address space.
  if (elemsize >= (size_t(1) << 16) || (elemsize && cap > (SIZE_MAX / 2) / elemsize)) {
    *err = EINVAL;
    return nullptr;
  }
  size_t bytes = (sizeof(hchan) + elemsize * cap + 63) & ~size_t(63);  // aligned_alloc's rule
  void* mem = aligned_alloc(alignof(hchan), bytes);
  if (!mem) {
    *err = ENOMEM;
    return nullptr;
  }
  memset(mem, 0, bytes);
  auto* c = new (mem) hchan{};
  c->refs.store(1, std::memory_order_relaxed);
  c->elemsize = elemsize;
  c->dataqsiz = cap;
  c->buf = static_cast<unsigned char*>(mem) + sizeof(hchan);
  c->drop = drop;
  return c;
}

int chanclose(hchan* c) {
  c->lock.lock();
  if (c->closed.load(std::memory_order_relaxed)) {
    c->lock.unlock();
    return -EPIPE;
  }
  c->closed.store(true, std::memory_order_release);
  // CH2: collect every waiter, then wake them with the lock released (as Go's glist).
  sudog* woken = nullptr;
  while (sudog* sg = c->recvq.dequeue()) {
    if (sg->elem && c->elemsize) memset(sg->elem, 0, c->elemsize);
    sg->next = woken;
    woken = sg;
  }
  while (sudog* sg = c->sendq.dequeue()) {
    sg->next = woken;
    woken = sg;
  }
  c->lock.unlock();
  while (sudog* sg = woken) {
    woken = sg->next;  // read before the wake-up (CH3)
    waiterready(sg, false);
  }
  return 0;
}

void chanrelease(hchan* c) {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    if (c->drop) {  // values nobody received
      for (size_t n = c->qcount.load(std::memory_order_relaxed), i = c->recvx; n > 0; n--) {
        c->drop(chanbuf(c, i));
        if (++i == c->dataqsiz) i = 0;
      }
    }
    c->~hchan();
    free(c);
  }
}

}  // namespace gmp
