// stack_test.cc — goroutine stacks: bound at first run, reused hot, guarded, and given back
// so that RSS follows the live goroutines.
#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <vector>

#include "export_test.h"

using namespace gmp;
using namespace gmptest;

namespace {
sigjmp_buf faultJmp;
void onFault(int) { siglongjmp(faultJmp, 1); }

// faults: whether reading addr raises SIGSEGV (caught here, restored after).
bool faults(uintptr_t addr) {
  struct sigaction sa {}, old {};
  sa.sa_handler = onFault;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old);
  volatile bool faulted = true;  // volatile: it changes between sigsetjmp and siglongjmp
  if (sigsetjmp(faultJmp, 1) == 0) {
    (void)*reinterpret_cast<volatile char*>(addr);
    faulted = false;
  }
  sigaction(SIGSEGV, &old, nullptr);
  return faulted;
}

long rssKiB() {
  FILE* f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * long(physpagesize / 1024);
}
}  // namespace

TEST(Stack, BoundAtFirstRunNotAtCreation) {
  WaitGroup wg(1);
  stack seen{};
  g* gp = nullptr;
  go([&] {
    seen = curg()->stk;
    gp = curg();
    wg.done();
  });
  wg.wait();
  EXPECT_NE(seen.lo, 0u);
  EXPECT_EQ(seen.hi - seen.lo, stackdefault);
  // A queued-but-unstarted goroutine has no stack yet: at one P the new g waits in runnext.
  ScopedMaxprocs procs(1);
  WaitGroup wg2(1);
  go([&] { wg2.done(); });
  g* queued = curp()->runnext.load();
  ASSERT_NE(queued, nullptr);
  EXPECT_EQ(queued->stk.lo, 0u);
  wg2.wait();
}

// Goroutines run one after another on one P reuse the same hot stack, and its guard page
// still faults after every reuse.
TEST(Stack, GuardPageFaultsOnReusedStacks) {
  ScopedMaxprocs procs(1);
  constexpr int n = 50;
  std::vector<uintptr_t> los;
  int guarded = 0, usable = 0;
  for (int i = 0; i < n; i++) {
    WaitGroup wg(1);
    go([&] {
      uintptr_t lo = curg()->stk.lo;
      los.push_back(lo);
      guarded += faults(lo - 1);  // the guard page below the stack
      usable += !faults(lo);      // the stack's lowest byte
      wg.done();
    });
    wg.wait();
  }
  EXPECT_EQ(guarded, n);
  EXPECT_EQ(usable, n);
  int reused = 0;
  for (size_t i = 1; i < los.size(); i++) reused += los[i] == los[0];
  EXPECT_GT(reused, 0) << "no stack was reused: the guard-after-reuse path was not tested";
}

// Stacks of other sizes (threads', gmp_go_with's) are reused as glibc reuses its threads'
// stacks, guard included, and at most 40 MiB of them wait for reuse.
TEST(Stack, OtherSizesAreReusedUpToACap) {
  ScopedMaxprocs procs(1);
  const int64_t base = gmp_num_goroutine();  // earlier tests may leave some parked
  constexpr size_t size = 1 << 20;
  struct run {
    WaitGroup wg{1};
    uintptr_t lo = 0;
    bool guarded = false;
  };
  gmp_go_attr_t attr{};
  attr.stack_size = size;
  auto lowof = [](void* a) {
    auto* r = static_cast<run*>(a);
    r->lo = curg()->stk.lo;
    r->guarded = faults(r->lo - 1);
    r->wg.done();
  };
  uintptr_t first = 0;
  for (int i = 0; i < 3; i++) {
    run r;
    ASSERT_GT(gmp_go_with(lowof, &r, &attr), 0);
    r.wg.wait();
    EXPECT_TRUE(r.guarded) << "no guard page below a reused stack";
    if (i == 0) {
      first = r.lo;
    } else {
      EXPECT_EQ(r.lo, first) << "the stack was not reused";
    }
    EXPECT_TRUE(waitfor([&] { return gmp_num_goroutine() == base; }));  // it gave it back
  }
  // 60 at once (60 MiB), then all freed: the cache keeps 40 MiB, the rest is unmapped.
  constexpr int n = 60;
  std::vector<run> rs(n);
  std::atomic<bool> release{false};
  std::atomic<int> holding{0};
  struct hold {
    run* r;
    std::atomic<bool>* release;
    std::atomic<int>* holding;
  };
  std::vector<hold> hs(n);
  for (int i = 0; i < n; i++) {
    hs[i] = {&rs[i], &release, &holding};
    ASSERT_GT(gmp_go_with([](void* a) {
      auto* h = static_cast<hold*>(a);
      h->r->lo = curg()->stk.lo;
      h->holding->fetch_add(1);
      while (!h->release->load()) gmp_yield();
      h->r->wg.done();
    }, &hs[i], &attr), 0);
  }
  // All 60 hold their stacks at once (10 s at most).
  ASSERT_TRUE(waitfor([&] { return holding.load() == n; })) << holding.load() << " of " << n;
  release = true;
  for (auto& r : rs) r.wg.wait();
  EXPECT_TRUE(waitfor([&] { return gmp_num_goroutine() == base; }));
  EXPECT_GT(stackbigcached(), 0u);
  EXPECT_LE(stackbigcached(), size_t(40) << 20);
}

// A storm of goroutines that all hold a deep stack at once; after they end, RSS falls back
// to within the pool's bound of where it started.
TEST(Stack, RssBoundedAfterGoroutineStorm) {
  constexpr int n = 8000;
  constexpr size_t touch = 48 << 10;
  std::atomic<uint32_t> gate{0};
  WaitGroup started(n), finished(n);
  while (stackscavenge(1 << 20)) {  // what earlier tests freed, as sysmon would soon
  }
  long before = rssKiB();
  for (int i = 0; i < n; i++) {
    go([&] {
      volatile char deep[touch];
      for (size_t k = 0; k < touch; k += 4096) deep[k] = 1;
      started.done();
      semacquire(&gate);
      (void)deep[0];
      finished.done();
    });
  }
  started.wait();
  long during = rssKiB();
  for (int i = 0; i < n; i++) semrelease(&gate);
  finished.wait();
  long storm = long(n) * long(touch / 1024);
  long bound = long((stackpool_bound() + size_t(stackcachemax) * size_t(gmp_maxprocs(0)) + 64) *
                    stackdefault / 1024);
  // sysmon decommits the stacks beyond the pool's bound (stackscavenge), 256 a round.
  long after = 0;
  waitfor([&] {
    gmp_yield();  // let the last ones exit
    after = rssKiB();
    return after - before <= bound;
  });
  EXPECT_GE(during - before, storm * 9 / 10);
  EXPECT_LE(after - before, bound) << "before " << before << " KiB, during " << during
                                   << " KiB, after " << after << " KiB";
}
