// sync_test.cc — Go's sync primitives through the C ABI: exact counts under contention,
// starvation mode, readers and writers, wait groups, once, cond, semaphores, and threads
// that are not goroutines using them.
#include <cerrno>
#include <thread>

#include "export_test.h"

using namespace gmptest;

TEST(Mutex, BadUseIsRejectedAndChangesNothing) {
  gmp_mutex_t m = GMP_MUTEX_INIT;
  EXPECT_EQ(gmp_mutex_lock(nullptr), -EINVAL);
  EXPECT_EQ(gmp_mutex_unlock(&m), -EPERM);
  EXPECT_EQ(gmp_mutex_trylock(&m), 0);
  EXPECT_EQ(gmp_mutex_trylock(&m), -EBUSY);
  EXPECT_EQ(gmp_mutex_unlock(&m), 0);
  EXPECT_EQ(m.state, 0);
}

// Goroutines and threads increment a plain counter under the mutex: no increment is lost.
TEST(Mutex, ContendedCounterIsExact) {
  constexpr int goroutines = 8, threads = 2, each = 20000;
  gmp_mutex_t m = GMP_MUTEX_INIT;
  int64_t counter = 0;
  WaitGroup wg(goroutines);
  for (int i = 0; i < goroutines; i++) {
    go([&] {
      for (int k = 0; k < each; k++) {
        gmp_mutex_lock(&m);
        counter++;
        if (k % 64 == 0) gmp_yield();  // hold it across a switch now and then
        gmp_mutex_unlock(&m);
      }
      wg.done();
    });
  }
  std::thread ts[threads];
  for (auto& t : ts) {
    t = std::thread([&] {
      for (int k = 0; k < each; k++) {
        gmp_mutex_lock(&m);
        counter++;
        gmp_mutex_unlock(&m);
      }
    });
  }
  wg.wait();
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, int64_t(goroutines + threads) * each);
  EXPECT_EQ(m.state, 0) << "no waiter count or flag left behind";
}

// Goroutines on both Ps and threads that are not goroutines take the mutex with random
// hold times, so that holders that saw no waiter release with a plain store just as a waiter
// marks itself (mutexlockslow's heavyfence and rescue), and long holds push it into
// starvation mode and hand-offs. A lost wake-up hangs the run (the wait fails), a lost
// exclusion an increment; the state must end with no waiter or flag left.
TEST(Mutex, ReleasesRacingWaitersLoseNothing) {
  constexpr int goroutines = 6, threads = 2, each = 6000;
  gmp_mutex_t m = GMP_MUTEX_INIT;
  int64_t counter = 0;  // guarded by m
  std::atomic<int> finished{0};
  auto work = [&](uint32_t seed) {
    for (int k = 0; k < each; k++) {
      gmp_mutex_lock(&m);
      counter++;
      seed = seed * 1103515245 + 12345;
      // Mostly short holds; one in 64 over the 1 ms that starts starvation mode.
      int64_t hold = (seed >> 16) % 64 == 0 ? 1100000 : int64_t((seed >> 16) % 3000);
      if (k % 8) hold = 0;
      int64_t t0 = gmp_nanotime();
      while (gmp_nanotime() - t0 < hold) {
      }
      gmp_mutex_unlock(&m);
    }
    finished.fetch_add(1);
  };
  for (int i = 0; i < goroutines; i++) go([&, i] { work(uint32_t(i) + 1); });
  std::thread ts[threads];
  for (int i = 0; i < threads; i++) ts[i] = std::thread([&, i] { work(uint32_t(i) + 100); });
  if (!waitfor([&] { return finished.load() == goroutines + threads; }, 120)) {
    ADD_FAILURE() << finished.load() << " of " << goroutines + threads << " lockers finished";
    std::fflush(nullptr);
    _exit(1);  // one sleeps with nobody to wake it: joining would hang the run
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, int64_t(goroutines + threads) * each);
  EXPECT_EQ(m.state, 0) << "no waiter count or flag left behind";
}

// A waiter kept out for over 1 ms puts the mutex in starvation mode: it gets it next.
TEST(Mutex, StarvedWaiterGetsTheMutex) {
  ScopedMaxprocs procs(2);
  gmp_mutex_t m = GMP_MUTEX_INIT;
  std::atomic<bool> stop{false}, got{false};
  WaitGroup wg(2);
  go([&] {  // a barging hog: relocks at once
    while (!stop.load()) {
      gmp_mutex_lock(&m);
      int64_t t0 = gmp_nanotime();
      while (gmp_nanotime() - t0 < 100 * 1000) {
      }
      gmp_mutex_unlock(&m);
    }
    wg.done();
  });
  go([&] {
    gmp_sleep(1000 * 1000);
    gmp_mutex_lock(&m);
    got = true;
    gmp_mutex_unlock(&m);
    wg.done();
  });
  int64_t t0 = gmp_nanotime();
  while (!got.load() && gmp_nanotime() - t0 < int64_t(5) * 1000 * 1000 * 1000) gmp_sleep(1000 * 1000);
  stop = true;
  wg.wait();
  EXPECT_TRUE(got.load()) << "the waiter starved for 5 s";
}

TEST(RWMutex, ReadersShareWritersExclude) {
  constexpr int readers = 6, writers = 2, rounds = 3000;
  gmp_rwmutex_t rw = GMP_RWMUTEX_INIT;
  int64_t value = 0;
  std::atomic<int> inside{0}, bad{0};
  WaitGroup wg(readers + writers);
  for (int i = 0; i < writers; i++) {
    go([&] {
      for (int k = 0; k < rounds; k++) {
        gmp_rwmutex_lock(&rw);
        if (inside.fetch_add(100) != 0) bad++;  // alone
        value++;
        inside.fetch_sub(100);
        gmp_rwmutex_unlock(&rw);
        if (k % 16 == 0) gmp_yield();
      }
      wg.done();
    });
  }
  for (int i = 0; i < readers; i++) {
    go([&] {
      for (int k = 0; k < rounds; k++) {
        gmp_rwmutex_rlock(&rw);
        if (inside.fetch_add(1) >= 100) bad++;  // no writer inside
        (void)value;
        inside.fetch_sub(1);
        gmp_rwmutex_runlock(&rw);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(value, int64_t(writers) * rounds);
  EXPECT_EQ(gmp_rwmutex_runlock(&rw), -EPERM);
  EXPECT_EQ(gmp_rwmutex_unlock(&rw), -EPERM);
}

// An unlock by a goroutine that does not hold the write lock, while a reader holds it and
// a writer waits for that reader, changes nothing (it used to let the writer's lock go).
TEST(RWMutex, UnlockWhileAWriterWaitsForReadersIsRejected) {
  gmp_rwmutex_t rw = GMP_RWMUTEX_INIT;
  ASSERT_EQ(gmp_rwmutex_rlock(&rw), 0);
  std::atomic<int> got{0};
  WaitGroup wg(1);
  go([&] {
    gmp_rwmutex_lock(&rw);
    got.store(1);
    EXPECT_EQ(gmp_rwmutex_unlock(&rw), 0);
    wg.done();
  });
  ASSERT_TRUE(waitfor([&] { return __atomic_load_n(&rw.reader_wait, __ATOMIC_RELAXED) == 1; }));
  EXPECT_EQ(gmp_rwmutex_unlock(&rw), -EPERM);
  EXPECT_EQ(got.load(), 0);
  EXPECT_EQ(gmp_rwmutex_runlock(&rw), 0);
  wg.wait();
  EXPECT_EQ(got.load(), 1);
  EXPECT_EQ(gmp_rwmutex_rlock(&rw), 0) << "free again";
  EXPECT_EQ(gmp_rwmutex_runlock(&rw), 0);
}

// A rejected add is never seen: adds and dones beside it on another thread all succeed.
TEST(WaitGroup, ARejectedAddIsNeverSeen) {
  gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> rejected{0};
  std::thread bad([&] {
    while (!stop.load()) rejected += gmp_waitgroup_add(&wg, -1000) == -EINVAL;
  });
  ASSERT_TRUE(waitfor([&] { return rejected.load() > 0; }));
  constexpr int n = 200000;
  int ok = 0;
  for (int i = 0; i < n; i++) {
    ok += gmp_waitgroup_add(&wg, 1) == 0;
    ok += gmp_waitgroup_done(&wg) == 0;
  }
  stop.store(true);
  bad.join();
  EXPECT_EQ(ok, 2 * n);
  EXPECT_EQ(wg.state, 0u);
  EXPECT_EQ(gmp_waitgroup_add(&wg, INT32_MAX), 0);
  EXPECT_EQ(gmp_waitgroup_add(&wg, 1), -EINVAL) << "past INT32_MAX";
  EXPECT_EQ(gmp_waitgroup_add(&wg, -int64_t(INT32_MAX)), 0);
  EXPECT_EQ(wg.state, 0u);
}

TEST(WaitGroup, WaitsForEveryDoneAndRejectsNegative) {
  constexpr int n = 1000;
  gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;
  std::atomic<int> ran{0};
  ASSERT_EQ(gmp_waitgroup_add(&wg, n), 0);
  for (int i = 0; i < n; i++) {
    gmp_go([](void* a) {
      auto* p = static_cast<std::pair<gmp_waitgroup_t*, std::atomic<int>*>*>(a);
      p->second->fetch_add(1);
      gmp_waitgroup_done(p->first);
    }, new std::pair<gmp_waitgroup_t*, std::atomic<int>*>(&wg, &ran));  // leaked: test only
  }
  std::thread t([&] { gmp_waitgroup_wait(&wg); });  // a thread waits too
  EXPECT_EQ(gmp_waitgroup_wait(&wg), 0);
  t.join();
  EXPECT_EQ(ran.load(), n);
  EXPECT_EQ(gmp_waitgroup_done(&wg), -EINVAL);
  EXPECT_EQ(wg.state, 0u) << "the failed done changed nothing";
}

TEST(Once, RunsExactlyOnceUnderContention) {
  static gmp_once_t once = GMP_ONCE_INIT;
  static std::atomic<int> runs{0};
  std::atomic<int> sawDone{0};
  constexpr int n = 64;
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      gmp_once(&once, [](void*) {
        gmp_yield();  // others arrive while it runs: they must wait
        runs++;
      }, nullptr);
      if (runs.load() == 1) sawDone++;
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(runs.load(), 1);
  EXPECT_EQ(sawDone.load(), n) << "every caller returned after fn had run";
}

TEST(Cond, SignalWakesOneBroadcastWakesAll) {
  constexpr int n = 10;
  gmp_mutex_t m = GMP_MUTEX_INIT;
  gmp_cond_t c = GMP_COND_INIT;
  int tokens = 0, woken = 0, waiting = 0, returns = 0;  // m
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      gmp_mutex_lock(&m);
      waiting++;
      while (tokens == 0) {
        gmp_cond_wait(&c, &m);
        returns++;  // every wake-up, wanted or not
      }
      tokens--;
      woken++;
      gmp_mutex_unlock(&m);
      wg.done();
    });
  }
  auto locked = [&](auto f) {
    gmp_mutex_lock(&m);
    f();
    gmp_mutex_unlock(&m);
  };
  for (bool all = false; !all;) locked([&] { all = waiting == n; }), gmp_yield();
  locked([&] { tokens = 3; });
  for (int i = 0; i < 3; i++) gmp_cond_signal(&c);
  for (bool three = false; !three;) locked([&] { three = woken == 3; }), gmp_yield();
  gmp_sleep(20 * 1000 * 1000);  // time for any other waiter a signal woke by mistake to run
  locked([&] { EXPECT_EQ(returns, 3) << "each signal wakes exactly one waiter"; });
  locked([&] { tokens += n - 3; });
  gmp_cond_broadcast(&c);
  wg.wait();
  EXPECT_EQ(woken, n);
  gmp_mutex_t unlocked = GMP_MUTEX_INIT;
  EXPECT_EQ(gmp_cond_wait(&c, &unlocked), -EPERM);
}

TEST(Cond, ThreadThatIsNotAGoroutineWaits) {
  gmp_mutex_t m = GMP_MUTEX_INIT;
  gmp_cond_t c = GMP_COND_INIT;
  bool ready = false, saw = false;
  std::thread t([&] {
    gmp_mutex_lock(&m);
    while (!ready) gmp_cond_wait(&c, &m);
    saw = ready;
    gmp_mutex_unlock(&m);
  });
  gmp_sleep(2 * 1000 * 1000);
  gmp_mutex_lock(&m);
  ready = true;
  gmp_mutex_unlock(&m);
  gmp_cond_broadcast(&c);
  t.join();  // a lost wake-up hangs here
  EXPECT_TRUE(saw);
}

TEST(Sem, CountsPermitsExactly) {
  constexpr int permits = 3, n = 30;
  gmp_sem_t s = GMP_SEM_INIT(permits);
  std::atomic<int> inside{0}, maxInside{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      gmp_sem_acquire(&s);
      int now = inside.fetch_add(1) + 1;
      int mx = maxInside.load();
      while (now > mx && !maxInside.compare_exchange_weak(mx, now)) {
      }
      gmp_sleep(200 * 1000);
      inside.fetch_sub(1);
      gmp_sem_release(&s);
      wg.done();
    });
  }
  wg.wait();
  EXPECT_LE(maxInside.load(), permits);
  EXPECT_EQ(s.count, uint32_t(permits));
  gmp_sem_t empty = GMP_SEM_INIT(0);
  EXPECT_EQ(gmp_sem_tryacquire(&empty), -EAGAIN);
  gmp_sem_t full = GMP_SEM_INIT(UINT32_MAX);
  EXPECT_EQ(gmp_sem_release(&full), -EOVERFLOW);
  EXPECT_EQ(full.count, UINT32_MAX) << "the count did not wrap";
}
