// lock_test.cc — the runtime's own lock (rtmutex) and the asymmetric fence its release relies
// on (membarrier.cc): exact counts while lockers go to sleep in the kernel and holders
// release with a plain store.
#include <linux/membarrier.h>

#include <random>
#include <thread>
#include <vector>

#include "export_test.h"

using namespace gmptest;

// Where membarrier(2) works, releases are plain stores unless GMPDEBUG turns them off: the
// configuration runtime-P2-pthread-Ms does, so each path runs in one configuration.
TEST(Lock, LightReleaseWhereMembarrierWorks) {
  long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) {
    GTEST_SKIP() << "membarrier(2) has no private expedited command here: locks release "
                    "with an exchange";
  }
  EXPECT_EQ(gmp::lightrelease, !gmp::debug.nomembarrier);
}

// Threads take an rtmutex, some holding it long enough that the others spin out and sleep
// in futex_wait, the rest releasing it at once, at random: the moments a locker marks the
// key sleeping and a holder stores 0 meet many times. A wake-up lost there hangs a thread
// for good (the wait below fails); an exclusion lost there loses an increment.
TEST(Lock, SleepingLockersAreWokenByEveryRelease) {
  constexpr int threads = 4, each = 20000;
  gmp::rtmutex mu;
  int64_t counter = 0;  // guarded by mu
  std::atomic<int> finished{0};
  std::atomic<int64_t> slept{0};  // acquisitions with the key marked: a locker slept
  std::thread ts[threads];
  for (int t = 0; t < threads; t++) {
    ts[t] = std::thread([&, t] {
      std::minstd_rand rnd(t + 1);
      for (int k = 0; k < each; k++) {
        mu.lock();
        if (mu.key.load(std::memory_order_relaxed) >> 16) slept.fetch_add(1);
        counter++;
        // Mostly short holds; one in 16 outlasts a locker's spinning (a few us).
        uint32_t r = rnd();
        int64_t hold = r % 16 == 0 ? 20000 : int64_t(r % 2000);
        int64_t t0 = gmp_nanotime();
        while (gmp_nanotime() - t0 < hold) {
        }
        mu.unlock();
      }
      finished.fetch_add(1);
    });
  }
  bool done = waitfor([&] { return finished.load() == threads; }, 120);
  if (!done) {
    // A thread sleeps with nobody left to wake it: say so and end the run here (joining
    // would hang it).
    ADD_FAILURE() << finished.load() << " of " << threads << " threads finished in 120 s";
    std::fflush(nullptr);
    _exit(1);
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(counter, int64_t(threads) * each);
  EXPECT_EQ(mu.key.load(), 0u) << "unlocked, and no sleeper mark left behind";
  EXPECT_GT(slept.load(), 0) << "no locker ever slept: the race under test never happened";
}

// notesleep yields the CPU before it sleeps in the kernel (lock_futex.cc), with the key left
// clear meanwhile, so a notewakeup may come before the sleep, during the yields (no futex
// wake: the key says nobody sleeps) or while the sleeper is in futex_wait. Half the rounds
// wake after a short random delay, landing before the sleep or in the yields; the other half
// wait until the sleeper is in the kernel (the key says so) and then a while longer. A wake
// lost in any phase leaves the sleeper asleep for good (the wait fails), and a sleep that
// ends without its wake is counted.
TEST(Lock, NoteWakesItsSleeperInEveryPhase) {
  constexpr int rounds = 3000;
  std::vector<gmp::note> notes(rounds);
  std::vector<std::atomic<bool>> entered(rounds);  // the sleeper called notesleep
  std::atomic<int> woken{0};
  int early = 0;  // notesleep returned before its notewakeup (sleeper only)
  std::thread sleeper([&] {
    for (int r = 0; r < rounds; r++) {
      entered[r].store(true, std::memory_order_relaxed);
      gmp::notesleep(&notes[r]);
      if (notes[r].key.load(std::memory_order_acquire) != 1) early++;  // not noteWoken
      woken.store(r + 1, std::memory_order_release);
    }
  });
  std::minstd_rand rnd(7);
  int before = 0, yielding = 0, inkernel = 0;  // where each wake found the sleeper
  for (int r = 0; r < rounds; r++) {
    // Round r's sleeper starts once round r-1's wake reached it.
    while (woken.load(std::memory_order_acquire) < r) {
    }
    uint32_t x = rnd();
    if (x % 2) {
      int64_t t0 = gmp_nanotime(), delay = int64_t(x % 20000);
      while (gmp_nanotime() - t0 < delay) {
      }
    } else {
      // Into the kernel: bounded (1 s), for a sleeper that a loaded machine keeps off the CPU.
      int64_t t0 = gmp_nanotime();
      while (notes[r].key.load(std::memory_order_relaxed) != 2 &&
             gmp_nanotime() - t0 < 1000 * 1000 * 1000) {
      }
      int64_t t1 = gmp_nanotime(), delay = int64_t(x % 100000);
      while (gmp_nanotime() - t1 < delay) {
      }
    }
    if (notes[r].key.load(std::memory_order_relaxed) == 2) {
      inkernel++;
    } else if (entered[r].load(std::memory_order_relaxed)) {
      yielding++;
    } else {
      before++;
    }
    gmp::notewakeup(&notes[r]);
  }
  bool done = waitfor([&] { return woken.load() == rounds; }, 60);
  if (!done) {
    ADD_FAILURE() << "the sleeper woke " << woken.load() << " times of " << rounds;
    std::fflush(nullptr);
    _exit(1);
  }
  sleeper.join();
  std::printf("wakes before the sleep %d, during the yields %d, in the kernel %d\n", before,
              yielding, inkernel);
  EXPECT_EQ(early, 0) << "notesleep returned without a wake-up";
  EXPECT_GT(before + yielding, 0) << "no wake came before the sleeper was in the kernel";
  EXPECT_GT(inkernel, 0) << "no wake found the sleeper in futex_wait";
}
