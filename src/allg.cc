// allg.cc — g records. Never freed (dead ones wait on gFree lists, as in Go), so they live
// in one arena: allgs[0..allglen) is every g ever made, which is what a goroutine dump or a
// debugger walks. The arena is reserved once (PROT_NONE, no memory) and committed in steps;
// the committed part is faulted in ahead of use in growing steps (see grow), so a million new
// records cost a few dozen madvise calls rather than ~35,000 page-fault traps.
#include <sys/mman.h>
#include <sys/resource.h>

#include <new>

#include "runtime.h"

namespace gmp {

namespace {
size_t allgReserve = size_t(16) << 30;  // address space (~89 M records); set by allginit
constexpr size_t allgGrow = size_t(32) << 20;     // committed per step
constexpr int32_t gBatch = 64;                    // records a P takes at a time
// Prefaulted at least: about a batch. (256 KiB were 6% of a preloaded /bin/true's time in
// a cpu-clock profile, 0.12 ms of 2.1 in interleaved runs, one-off; spawn and skynet, whose
// steps then grow by an eighth, did not move.)
constexpr size_t populateMin = size_t(16) << 10;
}  // namespace

// allgs: the arena base, constant after allginit. allglen: records handed out, including
// those still in a P's batch (zeroed, status Gidle). committed: bytes of the arena that are
// read-write (growlock). populated: bytes of those already faulted in, always <= committed
// (growlock to change; malg's fast path reads it with acquire, pairing with grow's release).
extern "C" {
g* gmp_allgs;
std::atomic<int64_t> gmp_allglen{0};
}
namespace {
size_t committed = 0;
std::atomic<size_t> populated{0};
rtmutex growlock;

// grow makes the arena read-write and faulted in up to at least `need` bytes. Any thread.
bool grow(size_t need) {
  if (need > allgReserve) return false;
  growlock.lock();
  bool ok = true;
  if (committed < need) {
    size_t to = (need + allgGrow - 1) / allgGrow * allgGrow;
    if (to > allgReserve) to = allgReserve;
    char* base = reinterpret_cast<char*>(gmp_allgs);
    ok = mprotect(base + committed, to - committed, PROT_READ | PROT_WRITE) == 0;
    if (ok) {
      madvise(base + committed, to - committed, MADV_DODUMP);  // see allginit
      committed = to;
    }
  }
  size_t pop = populated.load(std::memory_order_relaxed);
  if (ok && pop < need) {
    // Fault the next pages in with one call rather than one trap per page (several times
    // cheaper; a THP hint was faster still but, with THP defrag=madvise, a fault may stall
    // for compaction: spawn at 1 P swung 80-480 ns). Go an eighth past the need so RSS
    // stays within 12.5% of the records handed out. A failure (a kernel before 5.14:
    // EINVAL) only means the pages fault in one by one later.
    size_t to = need + need / 8;
    if (to < populateMin) to = populateMin;
    to = (to + physpagesize - 1) & ~(physpagesize - 1);
    if (to > committed) to = committed;
    madvise(reinterpret_cast<char*>(gmp_allgs) + pop, to - pop, MADV_POPULATE_WRITE);
    populated.store(to, std::memory_order_release);
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
  // Leave the reservation out of core dumps (gcore writes PROT_NONE ranges too: 16 GiB of
  // zeros); grow puts each committed part back in.
  madvise(v, allgReserve, MADV_DONTDUMP);
  gmp_allgs = static_cast<g*>(v);
}

// allgforkchild: in a forked child, every g but keep that was running or waiting is a
// ghost (fork.cc, FK2): dead, on no free list. Only the committed part is read: a record
// counted in allglen may not be mapped yet (malg counts before grow). The copy of committed
// may lag the mapping, never lead it (grow writes it after the mprotect).
void allgforkchild(g* keep) {
  growlock.key.store(0, std::memory_order_relaxed);
  int64_t n = gmp_allglen.load(std::memory_order_acquire);
  if (int64_t c = int64_t(committed / sizeof(g)); c < n) n = c;
  for (int64_t i = 0; i < n; i++) {
    g* x = &gmp_allgs[i];
    uint32_t st = x->atomicstatus.load(std::memory_order_relaxed);
    if (x == keep || st == Gidle || st == Gdead) continue;
    x->atomicstatus.store(Gdead, std::memory_order_relaxed);
    x->m_ = nullptr;
  }
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
    if (need > populated.load(std::memory_order_acquire) && !grow(need)) return nullptr;
    if (!pp) return initg(&gmp_allgs[i]);
    pp->gbatch = &gmp_allgs[i];
    pp->gbatchn = n;
  }
  pp->gbatchn--;
  return initg(pp->gbatch++);
}

}  // namespace gmp
