// sched_test.cc — the scheduler end to end, on the live runtime (the test binary's main runs
// as goroutine 1). meson runs this binary at GMPMAXPROCS=1 and 2, and with pthread Ms.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <set>
#include <thread>
#include <vector>

#include "export_test.h"

using namespace gmp;
using namespace gmptest;

TEST(Sched, MainRunsAsGoroutineOne) {
  EXPECT_EQ(gmp_goid(), 1);
  EXPECT_NE(curm(), nullptr);
}

// A million goroutines, spawned before most of them run, each adding its index: the sum of
// 0..n-1 shows a lost or doubled goroutine.
TEST(Sched, MillionGoroutinesIndexSum) {
  constexpr uint64_t n = 1000000;
  static std::atomic<uint64_t> sum;
  static WaitGroup* wg;
  sum = 0;
  WaitGroup w{int64_t(n)};
  wg = &w;
  for (uint64_t i = 0; i < n; i++) {
    ASSERT_GT(gmp_go(
                  [](void* a) {
                    sum.fetch_add(reinterpret_cast<uintptr_t>(a), std::memory_order_relaxed);
                    wg->done();
                  },
                  reinterpret_cast<void*>(i)),
              0);
  }
  w.wait();
  EXPECT_EQ(sum.load(), n * (n - 1) / 2);
}

TEST(Sched, GoroutineIdsAreUniqueAndPositive) {
  constexpr int n = 10000;
  std::vector<int64_t> ids(n);
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    int64_t* slot = &ids[size_t(i)];
    int64_t got = go([slot, &wg] {
      *slot = gmp_goid();
      wg.done();
    });
    ASSERT_GT(got, 0);
  }
  wg.wait();
  std::set<int64_t> uniq(ids.begin(), ids.end());
  EXPECT_EQ(uniq.size(), size_t(n));
  EXPECT_GT(*uniq.begin(), 1);
}

// CPU-bound goroutines started on one P must spread over both: the other P steals them.
TEST(Sched, StealingSpreadsCpuBoundGoroutinesOverPs) {
  ScopedMaxprocs procs(2);
  struct gmp_stats before, after;
  ASSERT_EQ(gmp_stats(&before, sizeof before), 0);
  constexpr int n = 8;
  std::atomic<uint32_t> psSeen{0};
  std::atomic<int> running{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      psSeen.fetch_or(1u << curp()->id);
      running.fetch_add(1);
      // Spin (no yield) until all have started or 2 s pass: a goroutine only gets a P if
      // another P stole it, since the spawning P is busy with us.
      timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      do {
        clock_gettime(CLOCK_MONOTONIC, &t1);
      } while (running.load() < 2 && t1.tv_sec - t0.tv_sec < 2);
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(psSeen.load(), 3u) << "goroutines ran on P set mask " << psSeen.load();
  ASSERT_EQ(gmp_stats(&after, sizeof after), 0);
  EXPECT_GE(after.steals, before.steals + 1) << "gmp_stats counts the steals";
}

// Pairs of goroutines hand a token back and forth through semaphores (park/ready).
TEST(Sched, ParkReadyStormExactCounts) {
  constexpr int pairs = 200, rounds = 2000;
  struct pair {
    std::atomic<uint32_t> ping{0}, pong{0};
    int64_t hits = 0;
  };
  std::vector<pair> ps(pairs);
  WaitGroup wg(2 * pairs);
  for (auto& pr : ps) {
    go([&pr, &wg] {
      for (int r = 0; r < rounds; r++) {
        semrelease(&pr.ping);
        semacquire(&pr.pong);
      }
      wg.done();
    });
    go([&pr, &wg] {
      for (int r = 0; r < rounds; r++) {
        semacquire(&pr.ping);
        pr.hits++;  // ordered by the semaphore hand-off
        semrelease(&pr.pong);
      }
      wg.done();
    });
  }
  wg.wait();
  for (auto& pr : ps) {
    EXPECT_EQ(pr.hits, rounds);
    EXPECT_EQ(pr.ping.load(), 0u);
    EXPECT_EQ(pr.pong.load(), 0u);
  }
}

// Many goroutines park on one semaphore; released one at a time from a non-goroutine thread
// (goready without a P) and from goroutines.
TEST(Sched, ManyWaitersAllWokenExactlyOnce) {
  constexpr int n = 5000;
  std::atomic<uint32_t> sema{0};
  std::atomic<int> woke{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      semacquire(&sema);
      woke.fetch_add(1);
      wg.done();
    });
  }
  std::thread t([&] {
    for (int i = 0; i < n / 2; i++) semrelease(&sema);
  });
  for (int i = n / 2; i < n; i++) semrelease(&sema);
  t.join();
  wg.wait();
  EXPECT_EQ(woke.load(), n);
  EXPECT_EQ(sema.load(), 0u);
}

// What a signal handler's sem_post does (semreleasesig, sema.cc SEM5): the count at once,
// the wake-up left to the scheduler through a table of 64 posted words. More words than
// that overflow it (every waiter of every word is woken then), and a waiter that finds its
// count taken waits again: every waiter ends with exactly its own count, at 1 and 2 Ps.
// Posted from a thread the runtime does not know, as a handler's may come.
TEST(Sched, HandlerPostsWakeEveryWaiterPastTheTable) {
  constexpr int words = 150, each = 3;
  static std::atomic<uint32_t> sema[words];
  for (int procs : {1, 2}) {
    ScopedMaxprocs n(procs);
    std::atomic<int> woke{0}, waiting{0};
    WaitGroup wg(words * each);
    for (int i = 0; i < words * each; i++) {
      go([&, i] {
        waiting.fetch_add(1);
        semacquire(&sema[i % words]);
        woke.fetch_add(1);
        wg.done();
      });
    }
    while (waiting.load() < words * each) gmp_yield();
    for (int i = 0; i < 10; i++) gmp_yield();  // the last ones park too
    std::thread poster([] {
      for (int r = 0; r < each; r++) {
        for (auto& w : sema) gmp::semreleasesig(&w);
      }
    });
    poster.join();
    int64_t deadline = gmp_nanotime() + int64_t(10) * 1000 * 1000 * 1000;
    while (woke.load() < words * each && gmp_nanotime() < deadline) gmp_sleep(1000 * 1000);
    ASSERT_EQ(woke.load(), words * each) << "at " << procs << " Ps: a post's waiter slept on";
    wg.wait();
    for (auto& w : sema) EXPECT_EQ(w.load(), 0u);
  }
}

TEST(Sched, YieldLetsOthersRunOnOneP) {
  ScopedMaxprocs procs(1);
  std::vector<int> order;
  WaitGroup wg(2);
  for (int who = 0; who < 2; who++) {
    go([&, who] {
      for (int i = 0; i < 5; i++) {
        order.push_back(who);
        gmp_yield();
      }
      wg.done();
    });
  }
  wg.wait();
  ASSERT_EQ(order.size(), 10u);
  int switches = 0;
  for (size_t i = 1; i < order.size(); i++) switches += order[i] != order[i - 1];
  EXPECT_GE(switches, 8) << "yield did not alternate the two goroutines";
}

// A goroutine blocked in the kernel (entersyscall) must not hold up the others: sysmon
// retakes its P and hands it to another M.
TEST(Sched, SyscallRetakeLetsOthersRun) {
  ScopedMaxprocs procs(1);
  std::atomic<bool> otherRan{false}, otherRanDuringSyscall{false};
  WaitGroup wg(2);
  go([&] {
    entersyscall();
    sleepInKernel(200);
    otherRanDuringSyscall = otherRan.load();
    exitsyscall();
    wg.done();
  });
  go([&] {
    otherRan = true;
    wg.done();
  });
  wg.wait();
  EXPECT_TRUE(otherRanDuringSyscall.load());
}

TEST(Sched, MaxprocsResizeKeepsEveryGoroutine) {
  int orig = gmp_maxprocs(0);
  ASSERT_GE(orig, 1);
  constexpr int n = 20000;
  std::atomic<int> ran{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      ran.fetch_add(1);
      gmp_yield();
      wg.done();
    });
    if (i == n / 4) {
      EXPECT_EQ(gmp_maxprocs(4), orig);
    } else if (i == n / 2) {
      EXPECT_EQ(gmp_maxprocs(1), 4);
    } else if (i == 3 * n / 4) {
      EXPECT_EQ(gmp_maxprocs(3), 1);
    }
  }
  EXPECT_EQ(gmp_maxprocs(0), 3);
  wg.wait();
  EXPECT_EQ(ran.load(), n);
  EXPECT_EQ(gmp_maxprocs(orig), 3);
  EXPECT_EQ(gmp_maxprocs(0), orig);
}

TEST(Sched, NumGoroutineCountsLiveOnes) {
  int64_t base = gmp_num_goroutine();
  EXPECT_GE(base, 1);
  constexpr int n = 100;
  std::atomic<uint32_t> gate{0};
  WaitGroup started(n), finished(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      started.done();
      semacquire(&gate);
      finished.done();
    });
  }
  started.wait();
  EXPECT_EQ(gmp_num_goroutine(), base + n);
  for (int i = 0; i < n; i++) semrelease(&gate);
  finished.wait();
  // The last done() runs just before its goroutine exits, perhaps on the other P, whose
  // thread the host may have descheduled: wait (10 s at most) for the count to settle.
  // 1,000 yields were not always enough (1 in 30 runs at 2 Ps).
  waitfor([&] { return gmp_num_goroutine() == base; });
  EXPECT_EQ(gmp_num_goroutine(), base);
}

// Goroutines created by threads that are not goroutines go through the global queue.
TEST(Sched, GoFromForeignThread) {
  constexpr int n = 10000;
  static std::atomic<int> ran;
  static WaitGroup* wg;
  ran = 0;
  WaitGroup w(n);
  wg = &w;
  std::thread t([] {
    EXPECT_EQ(gmp_goid(), 0);
    for (int i = 0; i < n; i++) {
      ASSERT_GT(gmp_go(
                    [](void*) {
                      ran.fetch_add(1);
                      wg->done();
                    },
                    nullptr),
                0);
    }
  });
  t.join();
  w.wait();
  EXPECT_EQ(ran.load(), n);
}

// An idle process burns no CPU: every M sleeps, and sysmon stops ticking (it parks once
// every P has been idle for a millisecond).
TEST(Sched, IdleProcessUsesNoCpu) {
  std::atomic<uint32_t> wake{0};
  // Stacks freed by earlier tests are returned by sysmon a slice at a time: its work, not
  // idling's (20,000 goroutines alive at once before this cost 30-50 ms of the window).
  while (stackscavenge(1 << 20)) {
  }
  sleepInKernel(50);  // let spinning from earlier tests settle
  timespec c0, c1;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  bool sysmonparked = false;
  std::thread t([&] {
    sleepInKernel(500);
    sched.lock.lock();
    sysmonparked = sched.sysmonwait;
    sched.lock.unlock();
    semrelease(&wake);
  });
  semacquire(&wake);  // goroutine 1 parks; all Ps go idle
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  t.join();
  double cpuMs = double(c1.tv_sec - c0.tv_sec) * 1e3 + double(c1.tv_nsec - c0.tv_nsec) / 1e6;
  // A spinning M or a ticking sysmon would cost hundreds of ms over the 500 ms window.
  EXPECT_LT(cpuMs, 50.0) << "CPU used while idle: " << cpuMs << " ms";
  EXPECT_TRUE(sysmonparked) << "sysmon still ticked after 500 ms with every P idle";
}

// A process idle but for its timers (4 goroutines waking from 1 ms sleeps, so a wake-up
// every 250 us) must not keep sysmon on 20 us rounds: woken because a P turned busy, sysmon
// resumes its rounds at the length they had, doubling up to 10 ms (sysmon.cc). Going back to
// 20 us at each such wake-up made ~1,450 rounds in these 200 ms (checked); now ~80.
TEST(Sched, TimerWakesLeaveSysmonsRoundsLong) {
  while (stackscavenge(1 << 20)) {  // freed stacks of earlier tests keep sysmon's rounds short
  }
  struct gmp_stats before, after;
  ASSERT_EQ(gmp_stats(&before, sizeof before), 0);
  constexpr int sleepers = 4, wakes = 200;
  constexpr int64_t ms = 1000 * 1000;
  WaitGroup wg(sleepers);
  for (int i = 0; i < sleepers; i++) {
    go([&, i] {
      gmp_sleep(i * ms / sleepers);
      for (int k = 0; k < wakes; k++) gmp_sleep(ms);
      wg.done();
    });
  }
  wg.wait();
  ASSERT_EQ(gmp_stats(&after, sizeof after), 0);
  uint64_t rounds = after.sysmon_rounds - before.sysmon_rounds;
  EXPECT_GT(rounds, 0u) << "sysmon made no round in 200 ms of a busy process";
  EXPECT_LT(rounds, 400u) << "sysmon went back to short rounds at the timers' wake-ups";
}

// A P turning busy wakes a parked sysmon without making its rounds short, but marks them
// (sysmonslow) so that the first system call after it still does: otherwise a P blocked in the
// kernel right after an idle spell would wait out a round of up to 10 ms for its retake, as
// Go's would not (a P turning busy does not wake Go's sysmon; that system call does). Here:
// idle until sysmon parks, a timer wakes this goroutine (sysmonslow), it enters a system call,
// which must turn the long rounds short (sysmonwake(true)) before it blocks.
TEST(Sched, SyscallAfterAnIdleSpellMakesSysmonsRoundsShort) {
  bool sawslow = false;
  for (int i = 0; i < 200 && !sawslow; i++) {
    gmp_sleep(3 * 1000 * 1000);  // every P idle: sysmon parks, and this timer wakes it
    sched.lock.lock();
    sawslow = sched.sysmonslow;
    sched.lock.unlock();
    if (!sawslow) continue;
    entersyscall();
    sched.lock.lock();
    bool slowafter = sched.sysmonslow;
    sched.lock.unlock();
    exitsyscall();
    EXPECT_FALSE(slowafter) << "the system call left sysmon's rounds long";
  }
  EXPECT_TRUE(sawslow) << "no idle spell ended with sysmon on long rounds in 200 tries";
}

// Two goroutines that ready each other through runnext must not starve the rest of their P:
// here goroutine 1, queued on the ring behind them, is the only one that can stop them.
TEST(Sched, RunnextPingPongDoesNotStarveOthers) {
  ScopedMaxprocs procs(1);
  std::atomic<uint32_t> a{0}, b{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> rounds{0};
  WaitGroup wg(2);
  go([&] {
    while (!stop.load()) {
      semrelease(&b);
      semacquire(&a);
      rounds++;
    }
    semrelease(&b);
    wg.done();
  });
  go([&] {
    while (!stop.load()) {
      semacquire(&b);
      semrelease(&a);
    }
    semrelease(&a);
    wg.done();
  });
  while (rounds.load() < 10000) gmp_yield();  // hangs here if the pair starves the ring
  stop = true;
  wg.wait();
  EXPECT_GE(rounds.load(), 10000);
}

// A goroutine queued by a thread without a P while every M is idle still runs: the last
// spinning M re-checks the global queue before it sleeps.
TEST(Sched, GlobalQueueWorkFromForeignThreadIsNotLost) {
  constexpr int rounds = 2000;
  static std::atomic<int> ran;
  static std::atomic<uint32_t> each;
  ran = 0;
  each = 0;
  std::thread t([] {
    for (int i = 0; i < rounds; i++) {
      gmp_go([](void*) { ran.fetch_add(1); }, nullptr);
      while (ran.load() <= i) sched_yield();  // hangs here if the goroutine was lost
    }
    semrelease(&each);
  });
  semacquire(&each);  // goroutine 1 parks: Ps go idle between rounds
  t.join();
  EXPECT_EQ(ran.load(), rounds);
}

// A goroutine that never yields must not strand the work queued behind it on its P while
// another P is idle: here goroutine 1 yields to a spinner (its runnext) and is left on the
// spinner's queue; sysmon sees the stuck queue and wakes an M, which steals goroutine 1.
TEST(Sched, WorkQueuedBehindABusyGoroutineGetsAnIdleP) {
  ScopedMaxprocs procs(2);
  for (int round = 0; round < 20; round++) {
    std::atomic<bool> started{false}, release{false}, stranded{false};
    WaitGroup wg(1);
    go([&] {
      started = true;
      int64_t deadline = gmp::nanotime() + int64_t(5) * 1000 * 1000 * 1000;
      while (!release.load()) {
        if (gmp::nanotime() > deadline) {  // goroutine 1 never ran again: fail, not hang
          stranded = true;
          break;
        }
      }
      wg.done();
    });
    while (!started.load()) gmp_yield();  // runs the spinner on this P, then us elsewhere
    release = true;
    wg.wait();
    ASSERT_FALSE(stranded.load()) << "round " << round;
  }
}

// A goroutine that spawns in a loop at one P lets what it spawned run once the run queue
// is long (abi.cc, spawned): the goroutines waiting to run stay in the hundreds, not the
// hundred thousand spawned, and every one runs exactly once.
TEST(Sched, SpawningLoopYieldsToWhatItSpawned) {
  ScopedMaxprocs procs(1);
  constexpr int n = 100000;
  struct run {
    std::atomic<int64_t> ran{0}, sum{0};
    WaitGroup wg{n};
  } r;
  int64_t most = 0;
  for (int i = 0; i < n; i++) {
    struct arg {
      run* r;
      int i;
    };
    ASSERT_GT(gmp_go([](void* a) {
      auto* x = static_cast<arg*>(a);
      x->r->sum.fetch_add(x->i);
      x->r->ran.fetch_add(1);
      x->r->wg.done();
      delete x;
    }, new arg{&r, i}), 0);
    int64_t waiting = i + 1 - r.ran.load();
    if (waiting > most) most = waiting;
  }
  r.wg.wait();
  EXPECT_EQ(r.ran.load(), n);
  EXPECT_EQ(r.sum.load(), int64_t(n) * (n - 1) / 2);
  EXPECT_LE(most, 1024) << "spawned goroutines waited in the queue: none ran during the loop";
  EXPECT_GT(most, 1) << "each ran at once: the loop yielded at every spawn";
}
