// abi_test.cc — the C ABI's contract: argument checks, error codes, calls before the runtime
// starts (ELF constructors) and from threads that are not goroutines.
#include <cerrno>
#include <thread>

#include "export_test.h"

using namespace gmptest;

namespace {
// What the C ABI answered from an ELF constructor, before rt0 ran.
struct {
  int64_t go, goid, num;
  int maxprocs, dump;
} early;

__attribute__((constructor)) void callBeforeStart() {
  early.go = gmp_go([](void*) {}, nullptr);
  early.goid = gmp_goid();
  early.num = gmp_num_goroutine();
  early.maxprocs = gmp_maxprocs(0);
  early.dump = gmp_dump(2);
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
