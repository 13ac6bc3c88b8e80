// linked_test.cc — a program linked with -lgmp (libgmp.so, not the test objects) and only
// the public header: rt0 takes over through the link, main is goroutine 1.
#include <gtest/gtest.h>

#include <atomic>

#include "gmp/gmp.h"

namespace {
std::atomic<int64_t> sum{0};
std::atomic<int> done{0};
}  // namespace

TEST(Linked, MainIsGoroutineOne) { EXPECT_EQ(gmp_goid(), 1); }

TEST(Linked, GoroutinesRunThroughThePublicAbi) {
  constexpr int n = 100000;
  for (int i = 0; i < n; i++) {
    ASSERT_GT(gmp_go(
                  [](void* a) {
                    sum.fetch_add(reinterpret_cast<intptr_t>(a));
                    done.fetch_add(1, std::memory_order_release);
                  },
                  reinterpret_cast<void*>(intptr_t(i))),
              0);
  }
  while (done.load(std::memory_order_acquire) < n) gmp_yield();
  EXPECT_EQ(sum.load(), int64_t(n) * (n - 1) / 2);
  EXPECT_GE(gmp_num_goroutine(), 1);
  EXPECT_GE(gmp_maxprocs(0), 1);
}
