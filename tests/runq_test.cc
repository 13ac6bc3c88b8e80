// runq_test.cc — the local run queue as a data structure, on private Ps that the scheduler
// never sees: an owner and thieves hammer it, and every g must come out exactly once.
#include <thread>
#include <vector>

#include "export_test.h"

using namespace gmp;

namespace {
struct fakeGs {
  std::vector<g> gs;
  std::vector<std::atomic<int>> seen;
  explicit fakeGs(size_t n) : gs(n), seen(n) {}
  void take(g* gp) { seen[size_t(gp - gs.data())].fetch_add(1, std::memory_order_relaxed); }
};
}  // namespace

TEST(Runq, PutGetIsFifoWithRunnextFirst) {
  p pp{};
  fakeGs f(4);
  runqput(&pp, &f.gs[0], false);
  runqput(&pp, &f.gs[1], false);
  runqput(&pp, &f.gs[2], true);  // runnext
  runqput(&pp, &f.gs[3], true);  // kicks gs[2] to the tail
  bool inherit;
  EXPECT_EQ(runqget(&pp, &inherit), &f.gs[3]);
  EXPECT_TRUE(inherit);
  EXPECT_EQ(runqget(&pp, &inherit), &f.gs[0]);
  EXPECT_FALSE(inherit);
  EXPECT_EQ(runqget(&pp, &inherit), &f.gs[1]);
  EXPECT_EQ(runqget(&pp, &inherit), &f.gs[2]);
  EXPECT_EQ(runqget(&pp, &inherit), nullptr);
  EXPECT_TRUE(runqempty(&pp));
}

TEST(Runq, StealTakesHalfRoundedUp) {
  p victim{}, thief{};
  fakeGs f(7);
  for (int i = 0; i < 7; i++) runqput(&victim, &f.gs[size_t(i)], false);
  g* gp = runqsteal(&thief, &victim, false);
  ASSERT_NE(gp, nullptr);
  // 4 taken: one returned, three left in the thief's queue; 3 remain with the victim.
  EXPECT_EQ(thief.runqtail.load() - thief.runqhead.load(), 3u);
  EXPECT_EQ(victim.runqtail.load() - victim.runqhead.load(), 3u);
  EXPECT_EQ(gp, &f.gs[3]);  // the last of the stolen batch
}

TEST(Runq, StealsRunnextOnlyWhenAsked) {
  p victim{}, thief{};
  fakeGs f(1);
  runqput(&victim, &f.gs[0], true);
  EXPECT_EQ(runqsteal(&thief, &victim, false), nullptr);
  EXPECT_EQ(runqsteal(&thief, &victim, true), &f.gs[0]);
  EXPECT_TRUE(runqempty(&victim));
}

// One owner putting (ring and runnext) and getting, two thieves stealing and draining their
// own queues: 2,000,000 gs, each seen exactly once. The owner keeps its ring below full so
// nothing spills to the live global queue.
TEST(Runq, ContendedOwnerAndThievesSeeEveryGExactlyOnce) {
  constexpr size_t n = 2000000;
  fakeGs f(n);
  p owner{};
  std::atomic<bool> stop{false};
  std::atomic<size_t> stolen{0};
  auto thief = [&] {
    p mine{};
    bool inherit;
    while (!stop.load(std::memory_order_acquire) || !runqempty(&owner)) {
      if (g* gp = runqsteal(&mine, &owner, true)) {
        f.take(gp);
        stolen.fetch_add(1, std::memory_order_relaxed);
        while (g* more = runqget(&mine, &inherit)) {
          f.take(more);
          stolen.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  };
  std::thread t1(thief), t2(thief);
  bool inherit;
  for (size_t i = 0; i < n; i++) {
    while (owner.runqtail.load() - owner.runqhead.load() >= runqsize - 2) {
      if (g* gp = runqget(&owner, &inherit)) f.take(gp);
    }
    runqput(&owner, &f.gs[i], i % 7 == 0);
    if (i % 3 == 0) {
      if (g* gp = runqget(&owner, &inherit)) f.take(gp);
    }
  }
  stop.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  while (g* gp = runqget(&owner, &inherit)) f.take(gp);
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += f.seen[i].load() != 1;
  EXPECT_EQ(bad, 0u);
  EXPECT_GT(stolen.load(), 0u) << "the thieves never got anything: no contention tested";
}
