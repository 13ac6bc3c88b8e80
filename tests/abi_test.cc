// abi_test.cc — the C ABI's contract: argument checks, error codes, calls before the runtime
// starts (ELF constructors) and from threads that are not goroutines.
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#include "export_test.h"

using namespace gmptest;

namespace {
// What the C ABI answered from an ELF constructor, before rt0 ran.
struct {
  int64_t go, goid, num;
  int maxprocs, dump, stats;
} early;

__attribute__((constructor)) void callBeforeStart() {
  early.go = gmp_go([](void*) {}, nullptr);
  early.goid = gmp_goid();
  early.num = gmp_num_goroutine();
  early.maxprocs = gmp_maxprocs(0);
  early.dump = gmp_dump(2);
  struct gmp_stats st;
  early.stats = gmp_stats(&st, sizeof st);
  gmp_yield();  // must not crash either
}
}  // namespace

TEST(Abi, BeforeStartEveryEntryDegradesGracefully) {
  EXPECT_EQ(early.go, -EAGAIN);
  EXPECT_EQ(early.goid, 0);
  EXPECT_EQ(early.num, 0);
  EXPECT_EQ(early.maxprocs, -EAGAIN);
  EXPECT_EQ(early.dump, -EAGAIN);
}

TEST(Abi, GoRejectsNullFunction) { EXPECT_EQ(gmp_go(nullptr, nullptr), -EINVAL); }

TEST(Abi, OffGoroutineAnswers) {
  int64_t goid = -1;
  int setprocs = 0, getprocs = 0;
  std::thread t([&] {
    goid = gmp_goid();
    setprocs = gmp_maxprocs(3);
    getprocs = gmp_maxprocs(0);
    gmp_yield();
  });
  t.join();
  EXPECT_EQ(goid, 0);
  EXPECT_EQ(setprocs, -EPERM);
  EXPECT_EQ(getprocs, gmp_maxprocs(0));
}

TEST(Abi, MaxprocsClampsAndReturnsPrevious) {
  int orig = gmp_maxprocs(0);
  EXPECT_EQ(gmp_maxprocs(5000), orig);
  EXPECT_EQ(gmp_maxprocs(0), gmp::maxgomaxprocs);
  EXPECT_EQ(gmp_maxprocs(orig), gmp::maxgomaxprocs);
  EXPECT_EQ(gmp_maxprocs(-1), orig);
}

TEST(Abi, GoidOfNewGoroutineMatchesReturnValue) {
  int64_t inside = 0;
  WaitGroup wg(1);
  int64_t id = go([&] {
    inside = gmp_goid();
    wg.done();
  });
  wg.wait();
  EXPECT_EQ(inside, id);
}

TEST(Abi, StatsRejectsBadArguments) {
  struct gmp_stats st;
  EXPECT_EQ(gmp_stats(nullptr, sizeof st), -EINVAL);
  EXPECT_EQ(gmp_stats(&st, 0), -EINVAL);
  EXPECT_EQ(early.stats, -EAGAIN);
}

// An older caller's smaller struct: only its bytes are written.
TEST(Abi, StatsFillsOnlyTheCallersSize) {
  struct gmp_stats st;
  memset(&st, 0xab, sizeof st);
  ASSERT_EQ(gmp_stats(&st, offsetof(struct gmp_stats, ms)), 0);
  EXPECT_GE(st.goroutines, 1);
  EXPECT_GE(st.goroutines_created, 1u);
  EXPECT_EQ(st.ms, int32_t(0xabababab));
  EXPECT_EQ(st.netpoll_waits, 0xababababababababull);
}

// The counters move by what the program did: 100 goroutines created, each parked once.
TEST(Abi, StatsCountWhatHappened) {
  struct gmp_stats before, after;
  ASSERT_EQ(gmp_stats(&before, sizeof before), 0);
  constexpr int n = 100;
  std::atomic<uint32_t> sema{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      gmp::semacquire(&sema);
      wg.done();
    });
  }
  while (gmp_stats(&after, sizeof after) == 0 && after.parks - before.parks < n) gmp_yield();
  for (int i = 0; i < n; i++) gmp::semrelease(&sema);
  wg.wait();
  while (gmp_num_goroutine() != before.goroutines) gmp_yield();
  ASSERT_EQ(gmp_stats(&after, sizeof after), 0);
  EXPECT_EQ(after.goroutines_created - before.goroutines_created, uint64_t(n));
  EXPECT_EQ(after.goroutines, before.goroutines);
  EXPECT_GE(after.parks - before.parks, uint64_t(n));  // (goroutine 1 may park in wait too)
  EXPECT_GE(after.context_switches - before.context_switches, uint64_t(2 * n));
  EXPECT_EQ(after.ps, gmp_maxprocs(0));
  EXPECT_GE(after.ps_idle, 0);
  EXPECT_LT(after.ps_idle, after.ps);  // this goroutine's P is busy
  EXPECT_GE(after.ms, 2);              // M0 and sysmon at least
  EXPECT_GE(after.ms_idle, 0);
  EXPECT_LT(after.ms_idle, after.ms);
}

// The idle M waiting for a timer is a blocking netpoll wait (Go's netpoll(delay)).
TEST(Abi, StatsCountNetpollWaits) {
  struct gmp_stats before, after;
  ASSERT_EQ(gmp_stats(&before, sizeof before), 0);
  gmp_sleep(5 * 1000 * 1000);  // every P idles until the timer
  ASSERT_EQ(gmp_stats(&after, sizeof after), 0);
  EXPECT_GE(after.netpoll_waits, before.netpoll_waits + 1);
}
