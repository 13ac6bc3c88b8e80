// abi.cc — the C ABI (include/gmp/gmp.h): argument checks and error codes, then the runtime.
#include <fcntl.h>
#include <sched.h>

#include <cerrno>
#include <cstring>

#include "gmp/gmp.h"
#include "runtime.h"

using namespace gmp;

namespace {
// ongoroutine: the caller runs on a goroutine (not g0, not a foreign thread).
g* curgoroutine() {
  g* gp = getg();
  if (!gp || gp == gp->m_->g0) return nullptr;
  return gp;
}
bool started() { return runtimeStarted.load(std::memory_order_acquire); }
}  // namespace

extern "C" {

int64_t gmp_go(void (*fn)(void*), void* arg) {
  if (!fn) return -EINVAL;
  if (!started()) return -EAGAIN;
  return newproc(fn, arg, reinterpret_cast<uintptr_t>(__builtin_return_address(0)), 0);
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

}  // extern "C"
