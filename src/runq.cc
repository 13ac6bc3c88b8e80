// runq.cc — the local run queues (Go's lock-free ring with runnext) and the global queue.
//
// The ring, per P: slots runq[0..256), indices runqhead/runqtail grow without bound and are
// taken modulo 256. The owner P puts at the tail and gets at the head; thieves (other Ps)
// take up to half from the head. Invariants:
//   RQ1: only the owner writes runqtail, and it writes slot t before publishing t+1
//        (store-release); consumers load-acquire runqtail before reading slots.
//   RQ2: runqhead only moves forward, by CAS (the owner in runqget, thieves in runqgrab); a
//        consumer reads its slots before its CAS, and the CAS (release) tells the owner those
//        slots may be reused; the owner load-acquires runqhead before it reuses them.
//   RQ3: 0 <= runqtail - runqhead <= 256 whenever observed consistently.
//   RN1: runnext is CASed to a g only by the owner; anyone may CAS it to null to take it.
#include "probes.h"
#include "runtime.h"

namespace gmp {

namespace {
constexpr auto relaxed = std::memory_order_relaxed;
constexpr auto acquire = std::memory_order_acquire;
constexpr auto release = std::memory_order_release;

// runqputslow: the ring is full. Move half of it plus gp to the global queue in one batch.
// Owner P. Returns false if a thief moved the head meanwhile (the caller retries).
bool runqputslow(p* pp, g* gp, uint32_t h, uint32_t t) {
  constexpr uint32_t n = runqsize / 2;
  if (t - h != runqsize) fatal("runqputslow: queue is not full");
  g* batch[n + 1];
  for (uint32_t i = 0; i < n; i++) batch[i] = pp->runq[(h + i) % runqsize].load(relaxed);
  if (!pp->runqhead.compare_exchange_strong(h, h + n, release, relaxed)) {  // RQ2
    return false;
  }
  batch[n] = gp;
  gqueue q;
  for (uint32_t i = 0; i <= n; i++) q.push_back(batch[i]);
  sched.lock.lock();
  globrunqputbatch(&q);
  sched.lock.unlock();
  return true;
}
}  // namespace

// runqput puts gp on pp's local queue; with next, into runnext (the old runnext goes to the
// tail). A full ring spills half to the global queue. Owner P.
void runqput(p* pp, g* gp, bool next) {
  if (next) {
    // RN1. A seq_cst RMW: also the #StoreLoad barrier of "Worker thread parking".
    g* old = pp->runnext.exchange(gp, std::memory_order_seq_cst);
    if (!old) return;
    gp = old;  // kick the old runnext out to the tail
  }
  for (;;) {
    uint32_t h = pp->runqhead.load(acquire);  // RQ2: slots below h are free to reuse
    uint32_t t = pp->runqtail.load(relaxed);  // RQ1: we are the only writer
    if (t - h < runqsize) {
      pp->runq[t % runqsize].store(gp, relaxed);
      pp->runqtail.store(t + 1, release);  // RQ1: publish slot t to consumers
      return;
    }
    if (runqputslow(pp, gp, h, t)) return;
  }
}

// runqget takes a g from pp's local queue: runnext first (it inherits the time slice).
// Owner P.
g* runqget(p* pp, bool* inheritTime) {
  g* next = pp->runnext.load(relaxed);
  // RN1: a thief may take runnext concurrently, so take it with a CAS.
  if (next && pp->runnext.compare_exchange_strong(next, nullptr, acquire, relaxed)) {
    *inheritTime = true;
    return next;
  }
  for (;;) {
    uint32_t h = pp->runqhead.load(acquire);  // RQ2: synchronise with other consumers
    uint32_t t = pp->runqtail.load(relaxed);  // RQ1: our own writes
    if (t == h) return nullptr;
    g* gp = pp->runq[h % runqsize].load(relaxed);
    if (pp->runqhead.compare_exchange_weak(h, h + 1, release, relaxed)) {  // RQ2: commit
      *inheritTime = false;
      return gp;
    }
  }
}

namespace {
// runqgrab copies up to half of pp's queue into batch[batchHead..] (a ring of runqsize) and
// returns how many it took. Any P (the thief). With stealRunNextG, an empty ring yields
// runnext instead — after a short sleep, so pp's M gets the chance to run the g it has just
// readied (stealing it at once makes goroutines that ping-pong thrash between Ps). The sleep
// is Go's usleep(3): the kernel's timer slack (50 us for a thread by default) stretches it,
// and it leaves the CPU to others. Spinning 3 us instead stole runnext from a producer about
// to fill its channel and park, and producer and consumer then ran on two CPUs, trading the
// channel's lines on every operation (bench/ab.py, before and after: buffered at 2 Ps 32.0
// -> 26.6 ns, pingpong 147.5 -> 130.4).
uint32_t runqgrab(p* pp, std::atomic<g*>* batch, uint32_t batchHead, bool stealRunNextG) {
  for (;;) {
    uint32_t h = pp->runqhead.load(acquire);  // RQ2: synchronise with other consumers
    uint32_t t = pp->runqtail.load(acquire);  // RQ1: synchronise with the producer
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (stealRunNextG) {
        if (g* next = pp->runnext.load(relaxed)) {
          if (pp->status.load(relaxed) == Prunning) usleep_ns(3000);
          if (!pp->runnext.compare_exchange_strong(next, nullptr, acquire, relaxed)) {
            continue;
          }
          batch[batchHead % runqsize].store(next, relaxed);
          return 1;
        }
      }
      return 0;
    }
    if (n > runqsize / 2) continue;  // read inconsistent h and t: retry
    for (uint32_t i = 0; i < n; i++) {
      g* gp = pp->runq[(h + i) % runqsize].load(relaxed);
      batch[(batchHead + i) % runqsize].store(gp, relaxed);
    }
    if (pp->runqhead.compare_exchange_strong(h, h + n, release, relaxed)) return n;  // RQ2
  }
}
}  // namespace

// runqsteal steals half of p2's queue into pp's and returns one of the stolen gs.
// pp's owner (the thief), p2 any other P.
g* runqsteal(p* pp, p* p2, bool stealRunNextG) {
  uint32_t t = pp->runqtail.load(relaxed);  // RQ1: we own pp
  uint32_t n = runqgrab(p2, pp->runq, t, stealRunNextG);
  if (n == 0) return nullptr;
  pp->nsteal.store(pp->nsteal.load(relaxed) + 1, relaxed);
  GMP_PROBE(steal, pp->id, p2->id, n);
  n--;
  g* gp = pp->runq[(t + n) % runqsize].load(relaxed);
  if (n == 0) return gp;
  uint32_t h = pp->runqhead.load(acquire);
  if (t - h + n >= runqsize) fatal("runqsteal: runq overflow");
  pp->runqtail.store(t + n, release);  // RQ1: publish the stolen slots
  return gp;
}

// runqempty: whether pp has no local work. Any thread. A g moving from runnext to the ring
// (runqput with next) must not make the queue look empty in between: re-read until the tail
// is stable (Go's runqempty).
bool runqempty(p* pp) {
  for (;;) {
    uint32_t head = pp->runqhead.load(acquire);
    uint32_t tail = pp->runqtail.load(acquire);
    g* next = pp->runnext.load(acquire);
    if (tail == pp->runqtail.load(acquire)) return head == tail && !next;
  }
}

// runqdrain empties pp into out. World stopped (no thieves, no owner running).
void runqdrain(p* pp, gqueue* out) {
  if (g* next = pp->runnext.exchange(nullptr, relaxed)) out->push_back(next);
  uint32_t h = pp->runqhead.load(relaxed);
  uint32_t t = pp->runqtail.load(relaxed);
  for (; h != t; h++) out->push_back(pp->runq[h % runqsize].load(relaxed));
  pp->runqhead.store(h, relaxed);
}

// globrunqput puts gp at the tail of the global queue. sched.lock held.
void globrunqput(g* gp) {
  sched.runq.push_back(gp);
  sched.runqsize_.store(sched.runq.n, relaxed);
}

// globrunqputbatch appends q to the global queue and empties q. sched.lock held.
void globrunqputbatch(gqueue* q) {
  if (!q->head) return;
  if (sched.runq.tail) sched.runq.tail->schedlink = q->head; else sched.runq.head = q->head;
  sched.runq.tail = q->tail;
  sched.runq.n += q->n;
  sched.runqsize_.store(sched.runq.n, relaxed);
  *q = gqueue{};
}

// globrunqget takes a fair share of the global queue (at most max if max > 0, at most half a
// ring): returns one g and moves the rest to pp's local queue. sched.lock held, pp's owner.
g* globrunqget(p* pp, int32_t max) {
  int64_t n = sched.runq.n;
  if (n == 0) return nullptr;
  int64_t procs = gomaxprocs.load(relaxed);
  int64_t share = n / procs + 1;
  if (share > n) share = n;
  if (max > 0 && share > max) share = max;
  if (share > int64_t(runqsize / 2)) share = runqsize / 2;
  g* gp = sched.runq.pop();
  for (int64_t i = 1; i < share; i++) runqput(pp, sched.runq.pop(), false);
  sched.runqsize_.store(sched.runq.n, relaxed);
  return gp;
}

}  // namespace gmp
