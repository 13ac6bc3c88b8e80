// stack.cc — goroutine stacks.
//
// A stack is [lo, hi) with a guard page just below lo. Stacks are mmap(MAP_NORESERVE) memory,
// committed page by page by the kernel as the goroutine touches it. The guard is installed
// with madvise(MADV_GUARD_INSTALL) (Linux >= 6.13: a page-table marker, no extra VMA, so a
// million stacks stay far below vm.max_map_count); on older kernels with mprotect(PROT_NONE),
// which splits VMAs, so only the first mprotectGuardCap stacks get one (documented limit).
//
// Default-size stacks (stackdefault: GMPSTACK or 64 KiB) are recycled:
//   per-P cache (owner only, LIFO: the stack just freed is the hottest)
//     -> global pool (pool.lock): committed ("hot") stacks, of which sysmon decommits all
//        but poolHotMax (stackscavenge, off the Ps' path), the rest MADV_DONTNEED'ed ("cold":
//        address space only), so RSS follows live goroutines a sysmon round or so behind.
// Other sizes (goroutine 1, threads of pthread_create, gmp_go_with's sizes) are mapped one
// by one; freed, up to bigCacheMax bytes of them wait in pool.big for a goroutine asking
// for the same size (as glibc's stack cache for its threads: a thread made and joined in a
// loop reuses one stack, with its pages and page tables, instead of an mmap, a guard, page
// faults and an munmap each time), and beyond that are unmapped.
//
// Executable stacks: a program or library whose PT_GNU_STACK asks for one (or that has none:
// glibc's default on x86-64 is executable) gets executable goroutine stacks, as glibc gives
// its threads (stackexec): GCC's nested functions that take a local build a trampoline on
// the stack and jump to it, which a plain read-write stack faulted on (a fatal SIGSEGV, on
// goroutine 1 too). Decided once, from the objects loaded at start-up; a library dlopen'ed
// later that asks for one does not change stacks already made or the rule (glibc's
// _dl_make_stack_executable does both: README).
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "annotate.h"
#include "runtime.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13 uapi
#endif

namespace gmp {

size_t stackdefault = 64 << 10;

namespace {
constexpr int stackBatch = 16;             // default stacks mapped per mmap
constexpr size_t poolHotMax = 256;         // committed stacks scavenging leaves (16 MiB at 64 KiB)
constexpr int64_t mprotectGuardCap = 16384;  // guards by mprotect (2 VMAs each) at most
constexpr size_t bigCacheMax = 40 << 20;     // bytes of other-size stacks kept (glibc's 40 MiB)
constexpr int bigCacheSlots = 64;

size_t guardsize;
// stackexec: stacks are mapped executable too. Written by stackinit (schedinit, before any
// other M), constant after.
bool stackexec;
std::atomic<bool> guardInstall{true};  // MADV_GUARD_INSTALL works here (cleared once)
std::atomic<int64_t> nmprotectGuards{0};

// A growable array of stack lo addresses (pool.lock).
struct stackvec {
  uintptr_t* v = nullptr;
  size_t n = 0, cap = 0;
  bool push(uintptr_t lo) {
    if (n == cap) {
      size_t nc = cap ? cap * 2 : 256;
      m* mp = acquirem();  // pool.lock is held (LS2)
      auto* nv = static_cast<uintptr_t*>(realloc(v, nc * sizeof(uintptr_t)));
      releasem(mp);
      if (!nv) return false;
      v = nv;
      cap = nc;
    }
    v[n++] = lo;
    return true;
  }
};

struct bigstack {
  uintptr_t lo;
  size_t size;
};

struct {
  rtmutex lock;
  stackvec hot;   // committed, ready to use; beyond poolHotMax until sysmon's stackscavenge
  stackvec cold;  // MADV_DONTNEED'ed: first touch faults fresh zero pages
  // Other-size stacks (pool.lock): big[0, nbig), in no order (bigget moves the last into
  // the slot it empties); bigbytes, their total, <= bigCacheMax.
  bigstack big[bigCacheSlots];
  int nbig;
  size_t bigbytes;
} pool;

size_t roundpage(size_t n) { return (n + physpagesize - 1) & ~(physpagesize - 1); }

// setguard makes [base, base+guardsize) fault on access. False only on a real error.
bool setguard(uintptr_t base) {
  void* v = reinterpret_cast<void*>(base);
  if (guardInstall.load(std::memory_order_relaxed)) {
    if (madvise(v, guardsize, MADV_GUARD_INSTALL) == 0) return true;
    if (errno != EINVAL) return false;
    guardInstall.store(false, std::memory_order_relaxed);  // kernel < 6.13
  }
  if (nmprotectGuards.fetch_add(1, std::memory_order_relaxed) >= mprotectGuardCap) return true;
  return mprotect(v, guardsize, PROT_NONE) == 0;
}

// mapstacks maps n stacks of size bytes (each with its guard) and stores their lo in out.
bool mapstacks(size_t size, int n, uintptr_t* out) {
  size_t one = size + guardsize;
  void* v = sysAlloc(one * size_t(n));
  if (!v) return false;
  if (stackexec && mprotect(v, one * size_t(n), PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
    sysFree(v, one * size_t(n));
    return false;
  }
  auto base = reinterpret_cast<uintptr_t>(v);
  for (int i = 0; i < n; i++) {
    if (!setguard(base + one * size_t(i))) {
      sysFree(v, one * size_t(n));
      return false;
    }
    out[i] = base + one * size_t(i) + guardsize;
  }
  return true;
}

// bigget takes a cached stack of exactly size bytes into *lo, if there is one.
bool bigget(size_t size, uintptr_t* lo) {
  bool got = false;
  pool.lock.lock();
  for (int i = pool.nbig - 1; i >= 0; i--) {
    if (pool.big[i].size != size) continue;
    *lo = pool.big[i].lo;
    pool.bigbytes -= size;
    pool.big[i] = pool.big[--pool.nbig];
    got = true;
    break;
  }
  pool.lock.unlock();
  return got;
}

// bigput caches a freed other-size stack, or unmaps it when the cache is full.
void bigput(uintptr_t lo, size_t size) {
  pool.lock.lock();
  bool kept = pool.nbig < bigCacheSlots && pool.bigbytes + size <= bigCacheMax;
  if (kept) {
    pool.big[pool.nbig++] = {lo, size};
    pool.bigbytes += size;
  }
  pool.lock.unlock();
  if (!kept) sysFree(reinterpret_cast<void*>(lo - guardsize), size + guardsize);
}

// poolget moves up to n default stacks from the pool into out; returns how many.
int poolget(uintptr_t* out, int n) {
  int got = 0;
  pool.lock.lock();
  while (got < n && pool.hot.n > 0) out[got++] = pool.hot.v[--pool.hot.n];
  while (got < n && pool.cold.n > 0) out[got++] = pool.cold.v[--pool.cold.n];
  pool.lock.unlock();
  return got;
}

// poolput gives n default stacks to the pool, committed: those beyond poolHotMax are
// decommitted later by stackscavenge, off the Ps' path (each madvise costs a TLB shootdown
// of every CPU running our threads: ~45% of the samples while 10,000 sleepers ended at 2 Ps).
void poolput(const uintptr_t* in, int n) {
  int i = 0;
  pool.lock.lock();
  while (i < n && pool.hot.push(in[i])) i++;
  pool.lock.unlock();
  for (; i < n; i++) {  // no memory for the list: give them back now
    sysFree(reinterpret_cast<void*>(in[i] - guardsize), stackdefault + guardsize);
  }
}
}  // namespace

bool stackscavenge(int max) {
  constexpr int batch = 64;
  uintptr_t out[batch];
  int done = 0;
  bool more = true;
  while (more && done < max) {
    int k = 0;
    pool.lock.lock();
    while (k < batch && done + k < max && pool.hot.n > poolHotMax) {
      out[k++] = pool.hot.v[--pool.hot.n];
    }
    more = pool.hot.n > poolHotMax;
    pool.lock.unlock();
    if (k == 0) return false;
    // Off every list meanwhile: nobody can take them before they are decommitted (a fork
    // in between leaves them out of the child's empty pool, as stackforkchild says).
    for (int i = 0; i < k; i++) {
      madvise(reinterpret_cast<void*>(out[i]), stackdefault, MADV_DONTNEED);
    }
    pool.lock.lock();
    for (int i = 0; i < k; i++) {
      if (!pool.cold.push(out[i])) {
        sysFree(reinterpret_cast<void*>(out[i] - guardsize), stackdefault + guardsize);
      }
    }
    pool.lock.unlock();
    done += k;
  }
  return more;
}

namespace {
// wantsexec: dl_iterate_phdr's callback; *data becomes true for an object whose stack must be
// executable (PT_GNU_STACK with PF_X, or none: glibc's default here). The vDSO, which glibc
// does not load, has none and does not count.
int wantsexec(dl_phdr_info* info, size_t, void* data) {
  if (info->dlpi_addr == getauxval(AT_SYSINFO_EHDR)) return 0;
  bool exec = true;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type == PT_GNU_STACK) exec = (info->dlpi_phdr[i].p_flags & PF_X) != 0;
  }
  if (exec) *static_cast<bool*>(data) = true;
  return 0;
}
}  // namespace

void stackinit() {
  guardsize = physpagesize;
  dl_iterate_phdr(wantsexec, &stackexec);
  if (debug.stacksize) {
    size_t s = roundpage(debug.stacksize);
    stackdefault = s < (16 << 10) ? (16 << 10) : s;
  }
}

size_t stackpool_bound() { return poolHotMax; }

size_t stackbigcached() {
  pool.lock.lock();
  size_t n = pool.bigbytes;
  pool.lock.unlock();
  return n;
}

// mainstacksize: goroutine 1 gets what the main thread would have had (RLIMIT_STACK; 1 GiB
// of address space when unlimited).
size_t mainstacksize() {
  rlimit rl{};
  size_t s = 8 << 20;
  if (getrlimit(RLIMIT_STACK, &rl) == 0) {
    s = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (size_t(1) << 30) ? size_t(1) << 30
                                                                          : size_t(rl.rlim_cur);
  }
  // Address space counts against RLIMIT_AS (ulimit -v): stay within an eighth of it.
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && s > rl.rlim_cur / 8) {
    s = size_t(rl.rlim_cur / 8);
  }
  if (s < stackdefault) s = stackdefault;
  return roundpage(s);
}

// stackalloc binds a stack of size bytes into *out. pp: the caller's P (owner) or null.
bool stackalloc(p* pp, size_t size, stack* out) {
  size = roundpage(size);
  uintptr_t lo;
  if (size != stackdefault) {
    if (!bigget(size, &lo) && !mapstacks(size, 1, &lo)) return false;
  } else if (pp) {
    if (pp->nstack == 0) {
      pp->nstack = poolget(pp->stackcache, stackcachemax / 2);
      if (pp->nstack == 0) {
        if (!mapstacks(size, stackBatch, pp->stackcache)) return false;
        pp->nstack = stackBatch;
      }
    }
    lo = pp->stackcache[--pp->nstack];
  } else if (poolget(&lo, 1) == 0) {
    uintptr_t batch[stackBatch];
    if (!mapstacks(size, stackBatch, batch)) return false;
    lo = batch[0];
    poolput(batch + 1, stackBatch - 1);
  }
  out->lo = lo;
  out->hi = lo + size;
#if GMP_STACK_ANNOTATIONS
  out->vgid = stackregister(out->lo, out->hi - 1);  // Valgrind wants the last byte
#endif
  stackunpoison(out->lo, out->hi);
  return true;
}

// stackfree takes back a stack that nothing runs on any more. pp: the caller's P or null.
void stackfree(p* pp, stack s) {
  size_t size = s.hi - s.lo;
#if GMP_STACK_ANNOTATIONS
  stackderegister(s.vgid);
#endif
  if (size != stackdefault) {
    bigput(s.lo, size);
    return;
  }
  if (!pp) {
    poolput(&s.lo, 1);
    return;
  }
  if (pp->nstack == stackcachemax) {
    constexpr int half = stackcachemax / 2;
    poolput(pp->stackcache, half);  // give away the older half: the newest are hot
    memmove(pp->stackcache, pp->stackcache + half, half * sizeof(uintptr_t));
    pp->nstack = half;
  }
  pp->stackcache[pp->nstack++] = s.lo;
}

void stackforkchild() {
  pool.lock.key.store(0, std::memory_order_relaxed);
  pool.hot = stackvec{};  // half-pushed, perhaps: its stacks are left behind
  pool.cold = stackvec{};
  pool.nbig = 0;  // their stacks are left behind too
  pool.bigbytes = 0;
}

void stackcache_drain(p* pp) {
  poolput(pp->stackcache, pp->nstack);
  pp->nstack = 0;
}

}  // namespace gmp
