// sema.cc — the runtime semaphore (Go's sema.go, simplified): parks goroutines, not Ms.
//
// Waiters queue on one of semTabSize roots chosen by the semaphore's address; each waiter's
// record lives on its own (parked) stack. Invariants:
//   SEM1: a waiter increments root.nwait before it re-checks *addr (both seq_cst); a
//         releaser increments *addr before it reads root.nwait. So either the waiter sees
//         the new count, or the releaser sees the waiter and wakes it — never neither.
//   SEM2: the queue and nwait change only under root.lock; a waiter is enqueued and parks
//         with the lock released by gopark's unlockf, after its context is saved.
// A woken waiter re-tries the decrement (another goroutine may take the count first).
#include "runtime.h"

namespace gmp {

namespace {
struct sudog {  // a waiter, on its own stack
  g* gp;
  std::atomic<uint32_t>* addr;
  sudog* next;
};

struct semaroot {
  mutex lock;
  std::atomic<uint32_t> nwait{0};  // waiters (SEM1)
  sudog* head = nullptr;           // FIFO (root.lock)
  sudog* tail = nullptr;
};

constexpr size_t semTabSize = 251;
struct alignas(64) semtabentry {
  semaroot root;
};
semtabentry semtable[semTabSize];

semaroot* semroot(std::atomic<uint32_t>* addr) {
  return &semtable[(reinterpret_cast<uintptr_t>(addr) >> 3) % semTabSize].root;
}

bool cansemacquire(std::atomic<uint32_t>* addr) {
  uint32_t v = addr->load(std::memory_order_seq_cst);
  while (v > 0) {
    if (addr->compare_exchange_weak(v, v - 1, std::memory_order_seq_cst)) return true;
  }
  return false;
}

bool semunlock(g*, void* root) {
  static_cast<semaroot*>(root)->lock.unlock();
  return true;
}
}  // namespace

void semacquire(std::atomic<uint32_t>* addr) {
  if (cansemacquire(addr)) return;
  semaroot* root = semroot(addr);
  for (;;) {
    root->lock.lock();
    root->nwait.fetch_add(1, std::memory_order_seq_cst);  // SEM1
    if (cansemacquire(addr)) {
      root->nwait.fetch_sub(1, std::memory_order_seq_cst);
      root->lock.unlock();
      return;
    }
    sudog s{getg(), addr, nullptr};
    if (root->tail) root->tail->next = &s; else root->head = &s;
    root->tail = &s;
    gopark(semunlock, root, waitReasonSemacquire);  // SEM2
    if (cansemacquire(addr)) return;
  }
}

void semrelease(std::atomic<uint32_t>* addr) {
  semaroot* root = semroot(addr);
  addr->fetch_add(1, std::memory_order_seq_cst);           // SEM1
  if (root->nwait.load(std::memory_order_seq_cst) == 0) return;
  root->lock.lock();
  sudog* s = nullptr;
  for (sudog **pp = &root->head, *prev = nullptr; *pp; prev = *pp, pp = &(*pp)->next) {
    if ((*pp)->addr == addr) {
      s = *pp;
      *pp = s->next;
      if (root->tail == s) root->tail = prev;
      root->nwait.fetch_sub(1, std::memory_order_seq_cst);
      break;
    }
  }
  root->lock.unlock();
  if (s) goready(s->gp);
}

}  // namespace gmp
