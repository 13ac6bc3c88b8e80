// abi.cc — the C ABI (include/gmp/gmp.h): argument checks and error codes, then the runtime.
#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstring>

#include "chan.h"
#include "gmp/gmp.h"
#include "runtime.h"

using namespace gmp;

namespace {
bool started() { return runtimeStarted.load(std::memory_order_acquire); }

// spawned: what gmp_go and gmp_go_with do after a goroutine is made. A goroutine yields to
// what it spawned at every spawnYieldEvery-th spawn, as Go's preemption stops a spawning
// loop every 10 ms so that the queue drains. Without it, a loop of a million gmp_go at one
// P queued a million records before any ran (200 MB, each page's first touch a trap of the
// VM's: 419 ns a goroutine here); with it they run in batches and their records and stacks
// are reused hot. Counted per goroutine, not by the queue's length: a tree of goroutines
// that each spawn a few (skynet) must not yield at every spawn once the queue is long, or
// it runs breadth-first with every node alive at once (22 x slower, tried). Not on a thread
// that is not a goroutine, nor with a runtime lock held (m.locks).
constexpr uint32_t spawnYieldEvery = runqsize;

int64_t spawned(int64_t goid) {
  g* gp = goid > 0 ? curgoroutine() : nullptr;
  if (gp && ++gp->spawnstreak >= spawnYieldEvery && gp->m_->locks == 0) {
    gp->spawnstreak = 0;
    gosched();
  }
  return goid;
}
}  // namespace

extern "C" {

int64_t gmp_go(void (*fn)(void*), void* arg) {
  if (!fn) return -EINVAL;
  if (!started()) return -EAGAIN;
  return spawned(newproc(fn, arg, reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0));
}

int64_t gmp_go_with(void (*fn)(void*), void* arg, const gmp_go_attr_t* attr) {
  if (!fn || !attr || (attr->flags & ~GMP_GO_OWN_TLS)) return -EINVAL;
  size_t size = attr->stack_size;
  if (size && (size < GMP_GO_STACK_MIN || size > GMP_GO_STACK_MAX)) return -EINVAL;
  if (!started()) return -EAGAIN;
  auto pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  return spawned(attr->flags & GMP_GO_OWN_TLS ? gotls(fn, arg, pc, size)
                                              : newproc(fn, arg, pc, size, 0, true));
}

void gmp_yield(void) {
  // No started() check: before start (and off an M) the TLS g is null.
  if (curgoroutine()) {
    gosched();
  } else {
    sched_yield();
  }
}

int64_t gmp_goid(void) {
  g* gp = started() ? curgoroutine() : nullptr;
  return gp ? gp->goid : 0;
}

int gmp_maxprocs(int n) {
  if (!started()) return -EAGAIN;
  if (n <= 0) return gomaxprocs.load(std::memory_order_relaxed);
  if (!curgoroutine()) return -EPERM;
  return procresize_world(n > maxgomaxprocs ? maxgomaxprocs : n);
}

int64_t gmp_num_goroutine(void) { return started() ? gcount() : 0; }

int gmp_dump(int fd) {
  if (!started()) return -EAGAIN;
  if (fd < 0 || fcntl(fd, F_GETFD) < 0) return -EBADF;
  dumpgoroutines(fd, curgoroutine(), nullptr, false, tracebackAll);
  return 0;
}

int gmp_stats(struct gmp_stats* out, size_t size) {
  if (!out || size == 0) return -EINVAL;
  if (!started()) return -EAGAIN;
  struct gmp_stats st;
  schedstats(&st);
  memcpy(out, &st, size < sizeof st ? size : sizeof st);
  return 0;
}

gmp_chan_t* gmp_chan_make_drop(size_t elem_size, size_t cap, void (*drop)(void*)) {
  int err = 0;
  hchan* c = chanmake(elem_size, cap, drop, &err);
  if (!c) errno = err;
  return c;
}

gmp_chan_t* gmp_chan_make(size_t elem_size, size_t cap) {
  return gmp_chan_make_drop(elem_size, cap, nullptr);
}

int gmp_chan_send(gmp_chan_t* ch, const void* elem) {
  if (!ch || (!elem && ch->elemsize)) return -EINVAL;
  int r = chansend(ch, elem, true);
  return r < 0 ? r : 0;
}

int gmp_chan_recv(gmp_chan_t* ch, void* elem_out) {
  if (!ch) return -EINVAL;
  return chanrecv(ch, elem_out, true) == 1 ? 1 : 0;
}

int gmp_chan_close(gmp_chan_t* ch) { return ch ? chanclose(ch) : -EINVAL; }

size_t gmp_chan_len(gmp_chan_t* ch) {
  return ch ? ch->qcount.load(std::memory_order_relaxed) : 0;
}

size_t gmp_chan_cap(gmp_chan_t* ch) { return ch ? ch->dataqsiz : 0; }

gmp_chan_t* gmp_chan_retain(gmp_chan_t* ch) {
  if (ch) ch->refs.fetch_add(1, std::memory_order_relaxed);
  return ch;
}

void gmp_chan_release(gmp_chan_t* ch) {
  if (ch) chanrelease(ch);
}

int gmp_select(gmp_select_case* cases, size_t n, int64_t timeout_ns) {
  if (!cases && n > 0) return -EINVAL;
  if (n > UINT32_MAX) return -EINVAL;
  for (size_t i = 0; i < n; i++) {
    gmp_select_case* cs = &cases[i];
    if (cs->dir != GMP_SEND && cs->dir != GMP_RECV) return -EINVAL;
    if (cs->chan && cs->dir == GMP_SEND && !cs->elem && cs->chan->elemsize) return -EINVAL;
  }
  return selectgo(cases, n, timeout_ns);
}

void gmp_sleep(int64_t ns) { timesleep(ns); }

void gmp_panic(const char* msg) {
  printerrf("gmp: panic: %s\n\n", msg ? msg : "(null)");
  g* gp = getg();
  dumpgoroutines(2, gp && gp->m_ ? gp->m_->curg : nullptr, nullptr, true,
                 tracebacklevel(debug.traceback));
  crash(0);
}

int64_t gmp_nanotime(void) { return nanotime(); }

}  // extern "C"
