// allg.cc — g records. Never freed (dead ones wait on gFree lists, as in Go), so they live
// in one arena: allgs[0..allglen) is every g ever made, which is what a goroutine dump or a
// debugger walks. The arena is reserved once (PROT_NONE, no memory) and committed in steps;
// it asks for transparent huge pages, so a million new records cost ~100 page faults rather
// than ~50,000.
#include <sys/mman.h>
#include <sys/resource.h>

#include <new>

#include "runtime.h"

namespace gmp {

namespace {
size_t allgReserve = size_t(16) << 30;  // address space (~89 M records); set by allginit
constexpr size_t allgGrow = size_t(32) << 20;     // committed per step
constexpr int32_t gBatch = 64;                    // records a P takes at a time
}  // namespace

// allgs: the arena base, constant after allginit. allglen: records handed out, including
// those still in a P's batch (zeroed, status Gidle). committed: bytes of the arena that are
// read-write (growlock to change; read with acquire).
extern "C" {
g* gmp_allgs;
std::atomic<int64_t> gmp_allglen{0};
}
namespace {
std::atomic<size_t> committed{0};
mutex growlock;

// grow makes the arena read-write up to `need` bytes. Any thread.
bool grow(size_t need) {
  if (need > allgReserve) return false;
  growlock.lock();
  size_t c = committed.load(std::memory_order_relaxed);
  bool ok = true;
  if (c < need) {
    size_t to = (need + allgGrow - 1) / allgGrow * allgGrow;
    if (to > allgReserve) to = allgReserve;
    ok = mprotect(reinterpret_cast<char*>(gmp_allgs) + c, to - c, PROT_READ | PROT_WRITE) == 0;
    if (ok) committed.store(to, std::memory_order_release);
  }
  growlock.unlock();
  return ok;
}
}  // namespace

void allginit() {
  // The reservation counts against RLIMIT_AS (ulimit -v): take at most a quarter of it, and
  // less if the kernel refuses.
  rlimit rl{};
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur / 4 < allgReserve) {
    allgReserve = (rl.rlim_cur / 4) & ~(allgGrow - 1);
  }
  void* v = MAP_FAILED;
  for (; allgReserve >= allgGrow; allgReserve /= 2) {
    v = mmap(nullptr, allgReserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
             0);
    if (v != MAP_FAILED) break;
  }
  if (v == MAP_FAILED) fatal("allginit: cannot reserve the g arena");
  madvise(v, allgReserve, MADV_HUGEPAGE);  // a hint; fine if THP is off
  gmp_allgs = static_cast<g*>(v);
}

namespace {
g* initg(void* mem) {
  g* gp = new (mem) g();
  gp->sched.gp = gp;
  return gp;
}
}  // namespace

// malg returns a zeroed g record in status Gidle, from pp's batch when it has one (owner P),
// else straight from the arena (pp null: any thread). Null when the arena is exhausted.
g* malg(p* pp) {
  if (!pp || pp->gbatchn == 0) {
    int32_t n = pp ? gBatch : 1;
    int64_t i = gmp_allglen.fetch_add(n, std::memory_order_relaxed);
    size_t need = size_t(i + n) * sizeof(g);
    if (need > committed.load(std::memory_order_acquire) && !grow(need)) return nullptr;
    if (!pp) return initg(&gmp_allgs[i]);
    pp->gbatch = &gmp_allgs[i];
    pp->gbatchn = n;
  }
  pp->gbatchn--;
  return initg(pp->gbatch++);
}

}  // namespace gmp
