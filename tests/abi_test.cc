// abi_test.cc — the C ABI's contract: argument checks, error codes, calls before the runtime
// starts (ELF constructors) and from threads that are not goroutines.
#include <sys/resource.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#include "export_test.h"

using namespace gmptest;

namespace {
// What the C ABI answered from an ELF constructor, before rt0 ran.
struct {
  int64_t go, gowith, goid, num;
  int maxprocs, dump, stats;
  bool timernull, afternull;
  int timererrno, aftererrno;
} early;

__attribute__((constructor)) void callBeforeStart() {
  early.go = gmp_go([](void*) {}, nullptr);
  gmp_go_attr_t attr{};
  attr.flags = GMP_GO_OWN_TLS;
  early.gowith = gmp_go_with([](void*) {}, nullptr, &attr);
  early.goid = gmp_goid();
  early.num = gmp_num_goroutine();
  early.maxprocs = gmp_maxprocs(0);
  early.dump = gmp_dump(2);
  struct gmp_stats st;
  early.stats = gmp_stats(&st, sizeof st);
  errno = 0;
  early.timernull = gmp_timer_new(1000, 0) == nullptr;
  early.timererrno = errno;
  errno = 0;
  early.afternull = gmp_after(1000) == nullptr;
  early.aftererrno = errno;
  gmp_yield();  // must not crash either
}
}  // namespace

TEST(Abi, BeforeStartEveryEntryDegradesGracefully) {
  EXPECT_EQ(early.go, -EAGAIN);
  EXPECT_EQ(early.gowith, -EAGAIN);
  EXPECT_EQ(early.goid, 0);
  EXPECT_EQ(early.num, 0);
  EXPECT_EQ(early.maxprocs, -EAGAIN);
  EXPECT_EQ(early.dump, -EAGAIN);
  EXPECT_TRUE(early.timernull);
  EXPECT_EQ(early.timererrno, EAGAIN);
  EXPECT_TRUE(early.afternull);
  EXPECT_EQ(early.aftererrno, EAGAIN);
}

TEST(Abi, GoRejectsNullFunction) { EXPECT_EQ(gmp_go(nullptr, nullptr), -EINVAL); }

TEST(Abi, GoWithRejectsBadArguments) {
  auto fn = [](void*) {};
  gmp_go_attr_t attr{};
  EXPECT_EQ(gmp_go_with(nullptr, nullptr, &attr), -EINVAL);
  EXPECT_EQ(gmp_go_with(fn, nullptr, nullptr), -EINVAL);
  attr.flags = 0x2;
  EXPECT_EQ(gmp_go_with(fn, nullptr, &attr), -EINVAL) << "a flag gmp.h does not define";
  attr.flags = 0;
  attr.stack_size = GMP_GO_STACK_MIN - 1;
  EXPECT_EQ(gmp_go_with(fn, nullptr, &attr), -EINVAL);
  attr.stack_size = GMP_GO_STACK_MAX + 1;
  EXPECT_EQ(gmp_go_with(fn, nullptr, &attr), -EINVAL);
  EXPECT_EQ(gmp_num_goroutine(), 1) << "a rejected call made a goroutine";
}

// A stack of the size asked for: the goroutine can use all of it but the top frames.
TEST(Abi, GoWithGivesTheStackAskedFor) {
  const int64_t base = gmp_num_goroutine();
  for (size_t size : {GMP_GO_STACK_MIN, size_t(1) << 20}) {
    gmp_go_attr_t attr{};
    attr.stack_size = size;
    struct arg {
      WaitGroup wg{1};
      uintptr_t lo = 0, hi = 0;
    } a;
    int64_t id = gmp_go_with([](void* p) {
      auto* a = static_cast<arg*>(p);
      a->lo = gmp::getg()->stk.lo;
      a->hi = gmp::getg()->stk.hi;
      char deep[12 << 10];  // within the 16 KiB at least
      memset(deep, 1, sizeof deep);
      asm volatile("" ::"r"(deep) : "memory");  // kept
      a->wg.done();
    }, &a, &attr);
    ASSERT_GT(id, 0);
    a.wg.wait();
    EXPECT_EQ(a.hi - a.lo, size);
    // Gone before the next test counts goroutines (its done() comes just before its end).
    EXPECT_TRUE(waitfor([&] { return gmp_num_goroutine() == base; }));
  }
}

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
  EXPECT_EQ(st.sysmon_rounds, 0xababababababababull);
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
  // Bounded (10 s): a goroutine of an earlier test ending meanwhile would keep the count
  // from ever matching, and the test must fail rather than hang.
  ASSERT_TRUE(waitfor([&] { return gmp_num_goroutine() == before.goroutines; }))
      << gmp_num_goroutine() << " goroutines, " << before.goroutines << " before";
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

// A stack of the caller's size is mapped when the goroutine is made: one that cannot be
// (the address-space limit lowered in a child) is gmp_go_with's -ENOMEM, and a smaller one
// still runs. Before, the call succeeded and the goroutine's first run was a fatal error.
TEST(Abi, AStackThatCannotBeMappedIsENOMEM) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    long pages = 0;
    FILE* f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld", &pages) != 1) _exit(10);
    fclose(f);
    rlim_t limit = rlim_t(pages) * rlim_t(sysconf(_SC_PAGESIZE)) + (rlim_t(256) << 20);
    rlimit rl{limit, limit};
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(11);
    static std::atomic<int> ran{0};
    gmp_go_attr_t attr{};
    attr.stack_size = GMP_GO_STACK_MAX;
    int64_t big = gmp_go_with([](void*) { ran.store(2); }, nullptr, &attr);
    attr.stack_size = size_t(1) << 20;
    int64_t small = gmp_go_with([](void*) { ran.store(1); }, nullptr, &attr);
    for (int i = 0; i < 5000 && ran.load() == 0; i++) gmp_sleep(1000 * 1000);
    if (big != -ENOMEM) _exit(12);
    _exit(small > 0 && ran.load() == 1 ? 0 : 13);
  }
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << "signal " << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  EXPECT_EQ(WEXITSTATUS(st), 0) << "10-11: set-up; 12: the 1 GiB stack was not -ENOMEM; 13: the "
                                   "1 MiB one did not run";
}
