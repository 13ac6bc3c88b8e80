// chan.h — channels (Go's chan.go): the structures chan.cc and select.cc share.
//
// A channel is a lock, a ring of cap elements, and two FIFO queues of blocked parties
// (sudogs): receivers waiting for a value, senders waiting for room. Invariants, all under
// hchan.lock:
//   CH1: at most one of recvq and sendq is non-empty, and then the buffer is empty (waiting
//        receivers) or full (waiting senders). An operation that finds a party waiting on the
//        other side hands the value over directly (sudog.elem), never through the buffer —
//        except a receive from a full buffer with a waiting sender, which takes the oldest
//        buffered value and moves the sender's value into the freed slot (FIFO order).
//   CH2: once closed, no sudog is ever enqueued again, and close empties both queues: waiting
//        receivers get the zero value and ok = false, waiting senders fail with -EPIPE.
//   CH3: a sudog lives on its waiter's stack. The party that dequeues it writes elem and
//        success, then wakes the waiter (waiterready); after that it must not touch the
//        sudog or the waiter: the waiter may have returned and reused its stack.
// A waiter is a goroutine (it parks with gopark, the channel locks released by gopark's
// unlockf once its context is saved) or a thread that is not a goroutine (it sleeps on a
// note after releasing the locks). Select puts one sudog per case on several channels;
// the first party to claim the waiter (a CAS on waiter.selectdone) wins, the others skip
// that sudog (waitq::dequeue), and the select removes its leftover sudogs when it wakes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime.h"

struct gmp_chan;  // the C ABI's gmp_chan_t

namespace gmp {

struct sudog;

// waiter: one blocked goroutine or thread, on its stack (CH3).
struct waiter {
  g* gp = nullptr;  // the parked goroutine, or null for a thread (then n)
  note n;           // a non-goroutine sleeps here
  // select only: 0 until a waker claims this waiter (CAS to 1); fired is the sudog it
  // claimed through. Written by the claiming waker before waiterready.
  std::atomic<uint32_t> selectdone{0};
  sudog* fired = nullptr;
  // The fork generation it waits in: one queued before a fork is a ghost in the child,
  // which waitq::dequeue skips (fork.cc, FK2). Constant.
  uint32_t gen = forkgen.load(std::memory_order_relaxed);
};

struct sudog {
  waiter* w;
  gmp_chan* c;     // the channel it waits on (select's pass 3)
  void* elem;      // where the value comes from (send) or goes (receive); may be null
  bool isselect;   // part of a select: claim w->selectdone before using it
  bool success;    // the operation completed (false: woken by close)
  sudog* next;
  sudog* prev;
};

// waitq: a FIFO of sudogs (hchan.lock).
struct waitq {
  sudog* first = nullptr;
  sudog* last = nullptr;
  void enqueue(sudog* s);
  sudog* dequeue();       // the first sudog of this fork generation that is not a select
                          // someone else claimed
  void remove(sudog* s);  // take s off if it is still queued
};

}  // namespace gmp

// The channel record; the C ABI's opaque gmp_chan_t. Its buffer follows it in memory.
// Cache lines: what operations write under the lock shares the record's first line (64-byte
// aligned), so a send or receive on another CPU moves one line, not two; the constants and
// refs are in the second, where the writes of the first do not disturb their readers.
struct alignas(64) gmp_chan {
  gmp::rtmutex lock;
  std::atomic<bool> closed;              // (lock to write; racy reads for fast paths)
  std::atomic<size_t> qcount;            // buffered values (lock; racy reads: gmp_chan_len)
  size_t sendx;                          // next slot to fill (lock)
  size_t recvx;                          // next slot to empty (lock)
  gmp::waitq recvq;                      // blocked receivers (lock)
  gmp::waitq sendq;                      // blocked senders (lock)
  size_t elemsize;                       // constant
  size_t dataqsiz;                       // capacity, constant
  unsigned char* buf;                    // dataqsiz * elemsize bytes, just after the record
  void (*drop)(void*);                   // called on buffered values when freed; constant
  std::atomic<int64_t> refs;             // gmp_chan_retain/release; freed at 0
};
static_assert(offsetof(gmp_chan, elemsize) == 64, "the lock's line holds what it guards");

namespace gmp {

using hchan = gmp_chan;

// waiterready: dequeued sg's operation is done (success says how): wake its waiter (CH3).
// Any thread, any lock held.
void waiterready(sudog* sg, bool success);
// waiterpark: block the caller until waiterready. The channel locks (unlock(arg)) are
// released only once the caller can no longer miss the wake-up. Any thread.
void waiterpark(waiter* w, void (*unlock)(void*), void* arg, waitreason reason);

// chansend / chanrecv: one operation on c (not null) by the calling goroutine or thread.
// block false: do it only if it can complete now. Results: 1 done (recv: with a value), 0
// would block (block false only), recv 2: closed and drained (elem zeroed), -EPIPE: send on
// a closed channel.
int chansend(hchan* c, const void* elem, bool block);
int chanrecv(hchan* c, void* elem, bool block);

// The halves select.cc shares with chan.cc: with c.lock held, hand a value to or take one
// from the waiter sg dequeued from the other side (unlocks nothing).
void sendto(hchan* c, sudog* sg, const void* elem);
void recvfrom(hchan* c, sudog* sg, void* elem);
// Buffer slots (lock held).
void bufput(hchan* c, const void* elem);
void bufget(hchan* c, void* elem);

// The rest of the C ABI's channel calls (abi.cc checks arguments first).
hchan* chanmake(size_t elemsize, size_t cap, void (*drop)(void*),
               int* err);  // null: *err is EINVAL or ENOMEM
int chanclose(hchan* c);                                 // 0, or -EPIPE if already closed
void chanrelease(hchan* c);                              // drop a reference; free at 0
}  // namespace gmp

struct gmp_select_case;
namespace gmp {
// selectgo: a select over cases[0, n) (select.cc); timeout as gmp_select's.
int selectgo(gmp_select_case* cases, size_t n, int64_t timeout);

}  // namespace gmp
