// timerchan_test.cc — timers and tickers that deliver on channels (gmp_timer_*, gmp_after):
// they fire once or every period and never early, stop and reset as Go's, drop the ticks a
// slow receiver misses, stay exact when stops race firings or ticks, never deadlock a select
// that waits on a timer's channel while another M fires it, and work from a thread that is
// not a goroutine; underneath, a runtime timer in a heap always names its P.
#include <cerrno>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "export_test.h"

using namespace gmptest;

namespace {
constexpr int64_t ms = 1000 * 1000;

// recvwithin: the value c delivers within d ns, or -1 if none comes.
int64_t recvwithin(gmp_chan_t* c, int64_t d) {
  int64_t v = -1;
  gmp_select_case cs[] = {{c, GMP_RECV, &v, false}};
  return gmp_select(cs, 1, d) == 0 ? v : -1;
}
}  // namespace

TEST(Timer, BadArgumentsAreRejected) {
  errno = 0;
  EXPECT_EQ(gmp_timer_new(ms, -1), nullptr);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(gmp_timer_chan(nullptr), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(gmp_timer_stop(nullptr), -EINVAL);
  EXPECT_EQ(gmp_timer_reset(nullptr, ms, 0), -EINVAL);
  EXPECT_EQ(gmp_timer_free(nullptr), -EINVAL);
  gmp_timer_t* t = gmp_timer_new(10000 * ms, 0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(gmp_timer_reset(t, ms, -1), -EINVAL);
  EXPECT_EQ(gmp_timer_stop(t), 1) << "a rejected reset changes nothing";
  EXPECT_EQ(gmp_timer_free(t), 0);
}

TEST(Timer, FiresOnceNotBeforeItsDeadline) {
  int64_t t0 = gmp_nanotime();
  gmp_timer_t* t = gmp_timer_new(20 * ms, 0);
  ASSERT_NE(t, nullptr);
  gmp_chan_t* c = gmp_timer_chan(t);
  EXPECT_EQ(gmp_chan_cap(c), 1u);
  int64_t v = -1;
  EXPECT_EQ(gmp_chan_recv(c, &v), 1);
  EXPECT_GE(v - t0, 20 * ms) << "fired early";
  EXPECT_LE(v, gmp_nanotime()) << "the value is the time it fired";
  EXPECT_EQ(recvwithin(c, 50 * ms), -1) << "a one-shot fires once";
  EXPECT_EQ(gmp_timer_stop(t), 0) << "it had fired";
  EXPECT_EQ(gmp_timer_free(t), 0);

  t = gmp_timer_new(-5, 0);  // a deadline passed: at once
  EXPECT_NE(recvwithin(gmp_timer_chan(t), 5000 * ms), -1);
  EXPECT_EQ(gmp_timer_free(t), 0);
}

TEST(Timer, StoppedTimerSendsNothing) {
  gmp_timer_t* t = gmp_timer_new(30 * ms, 0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(gmp_timer_stop(t), 1);
  EXPECT_EQ(gmp_timer_stop(t), 0) << "stopped already";
  EXPECT_EQ(recvwithin(gmp_timer_chan(t), 80 * ms), -1);
  EXPECT_EQ(gmp_timer_free(t), 0);
}

TEST(Timer, ResetArmsItAgain) {
  int64_t t0 = gmp_nanotime();
  gmp_timer_t* t = gmp_timer_new(10000 * ms, 0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(gmp_timer_reset(t, 10 * ms, 0), 1) << "it was pending";
  int64_t v = recvwithin(gmp_timer_chan(t), 5000 * ms);
  ASSERT_NE(v, -1) << "the reset deadline, not the first one";
  EXPECT_GE(v - t0, 10 * ms);
  EXPECT_EQ(gmp_timer_reset(t, ms, 0), 0) << "it had fired";
  EXPECT_NE(recvwithin(gmp_timer_chan(t), 5000 * ms), -1) << "and fires again";
  EXPECT_EQ(gmp_timer_free(t), 0);
}

TEST(Ticker, TicksEveryPeriodAndDropsWhatASlowReceiverMisses) {
  constexpr int64_t period = 5 * ms;
  int64_t t0 = gmp_nanotime();
  gmp_timer_t* t = gmp_timer_new(period, period);
  ASSERT_NE(t, nullptr);
  gmp_chan_t* c = gmp_timer_chan(t);
  int64_t prev = t0;
  for (int i = 1; i <= 5; i++) {
    int64_t v = recvwithin(c, 5000 * ms);
    ASSERT_NE(v, -1) << "tick " << i;
    EXPECT_GE(v - t0, i * period) << "tick " << i << " came early";  // a skipped one only later
    EXPECT_GT(v, prev);
    prev = v;
  }
  gmp_sleep(60 * ms);  // a dozen periods unread
  EXPECT_EQ(gmp_chan_len(c), 1u) << "one tick waits; the others were dropped, not queued";
  EXPECT_EQ(gmp_timer_stop(t), 1) << "a running ticker is pending";
  int64_t v = -1;
  EXPECT_EQ(gmp_chan_recv(c, &v), 1);  // the tick sent before the stop stays
  EXPECT_EQ(recvwithin(c, 30 * ms), -1) << "nothing after the stop";
  EXPECT_EQ(gmp_timer_reset(t, period, period), 0) << "stopped";
  EXPECT_NE(recvwithin(c, 5000 * ms), -1) << "a reset ticker ticks again";
  EXPECT_EQ(gmp_timer_free(t), 0);
}

// A period past the clock's range: one tick, then none, and the P's M back from its
// timers (the wrapped next tick was always due, and kept it there at 100% CPU: the
// watchdog ends the test binary then).
TEST(Ticker, APeriodPastTheClocksRangeTicksOnce) {
  ScopedMaxprocs procs(1);
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    if (!waitfor([&] { return done.load(); }, 20)) {
      fprintf(stderr, "Ticker.APeriodPastTheClocksRangeTicksOnce: the P never came back\n");
      _exit(1);
    }
  });
  gmp_timer_t* t = gmp_timer_new(0, INT64_MAX);
  ASSERT_NE(t, nullptr);
  gmp_chan_t* c = gmp_timer_chan(t);
  EXPECT_NE(recvwithin(c, 5000 * ms), -1);
  EXPECT_EQ(recvwithin(c, 50 * ms), -1) << "a second tick";
  EXPECT_EQ(gmp_timer_reset(t, 0, INT64_MAX - 1), 1) << "still a ticker, its next tick never";
  EXPECT_NE(recvwithin(c, 5000 * ms), -1);
  EXPECT_EQ(recvwithin(c, 50 * ms), -1) << "a second tick after the reset";
  EXPECT_EQ(gmp_timer_free(t), 0);
  done.store(true);
  watchdog.join();
}

TEST(After, DeliversOnceAndFreesItself) {
  int64_t t0 = gmp_nanotime();
  gmp_chan_t* c = gmp_after(10 * ms);
  ASSERT_NE(c, nullptr);
  int64_t v = -1;
  EXPECT_EQ(gmp_chan_recv(c, &v), 1);
  EXPECT_GE(v - t0, 10 * ms);
  EXPECT_EQ(recvwithin(c, 30 * ms), -1) << "once";
  gmp_chan_release(c);
  // Released before or while they fire: each timer still fires and then frees itself and
  // the channel (the ASan build sees a use after free).
  for (int i = 0; i < 1000; i++) gmp_chan_release(gmp_after(i % 3 == 0 ? 0 : (i % 5) * 100000));
  gmp_sleep(10 * ms);
}

// Stops racing the firings: for every timer, either the stop came first (1) and nothing is
// ever sent, or the timer had fired (0) and exactly one value is in its channel. Timers
// are made on one goroutine and stopped from another (or the same), on any P.
TEST(Timer, StopsRacingFiringsAreExact) {
  constexpr int workers = 8, each = 300;
  std::atomic<int> wrong{0}, stopped{0}, fired{0};
  WaitGroup wg(workers);
  for (int w = 0; w < workers; w++) {
    go([&, w] {
      std::minstd_rand rng(uint32_t(w + 1));
      for (int i = 0; i < each; i++) {
        gmp_timer_t* t = gmp_timer_new(int64_t(rng() % 200) * 1000, 0);  // 0-200 us
        if (rng() % 2) gmp_yield();
        if (rng() % 4 == 0) gmp_sleep(int64_t(rng() % 150) * 1000);
        int r = gmp_timer_stop(t);
        gmp_chan_t* c = gmp_timer_chan(t);
        if (r == 1) {
          stopped++;
          gmp_sleep(250 * 1000);  // past its deadline: a stop that did not stop it shows now
          if (recvwithin(c, 0) != -1) wrong++;
        } else {
          fired++;
          if (recvwithin(c, 5000 * ms) == -1) wrong++;  // its one value
        }
        if (gmp_chan_len(c) != 0) wrong++;
        gmp_timer_free(t);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(stopped.load() + fired.load(), workers * each);
  EXPECT_GT(stopped.load(), 0) << "the test stops no pending timer";
  EXPECT_GT(fired.load(), 0) << "the test stops no fired timer";
}

// Tickers stopped while they tick, on any P: a stop always finds a ticker pending (it never
// leaves its heap while it runs, so a stop never takes it for a fired one-shot), and once
// the stop returns nothing more is sent (its f is not running).
TEST(Ticker, StopsRacingTicksAreExact) {
  constexpr int workers = 8, each = 300;
  std::atomic<int> notpending{0}, lateticks{0}, ticked{0};
  WaitGroup wg(workers);
  for (int w = 0; w < workers; w++) {
    go([&, w] {
      std::minstd_rand rng(uint32_t(w + 1));
      for (int i = 0; i < each; i++) {
        int64_t period = int64_t(10 + rng() % 40) * 1000;  // 10-50 us
        gmp_timer_t* t = gmp_timer_new(period, period);
        gmp_sleep(int64_t(rng() % 200) * 1000);
        if (gmp_timer_stop(t) != 1) notpending++;
        gmp_chan_t* c = gmp_timer_chan(t);
        if (recvwithin(c, 0) != -1) ticked++;  // at most one tick waits
        gmp_sleep(150 * 1000);  // several periods: a tick sent after the stop shows now
        if (gmp_chan_len(c) != 0) lateticks++;
        gmp_timer_free(t);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(notpending.load(), 0) << "a stop found a running ticker not pending";
  EXPECT_EQ(lateticks.load(), 0) << "a ticker sent after its stop returned";
  EXPECT_GT(ticked.load(), 0) << "no ticker ticked before its stop: the race is not tested";
}

// The runtime's timers underneath: a timer in a heap always names its P (t.pp), while
// procresize's movetimers hands it to another P and while a ticker fires. deltimer takes
// a null t.pp for "fired, or never added" and returns false at once: a stop then said a
// pending ticker or a moved timer had fired, and returned while its f could still run.
// A thread that is not a goroutine reads every t.pp all along (stop-the-world would not
// stop it); the heaps move back and forth and the other M fires the tickers meanwhile.
TEST(Timer, ATimerInAHeapAlwaysNamesItsP) {
  ScopedMaxprocs two(2);
  constexpr int n = 3000, tickers = 600;
  static std::atomic<int64_t> fires{0};
  std::vector<gmp::rttimer> ts(n);
  int64_t now = gmp_nanotime();
  for (int i = 0; i < n; i++) {
    ts[size_t(i)].when = i < tickers ? now : now + 1000000 * ms;
    ts[size_t(i)].period = i < tickers ? 50 * 1000 : 0;
    ts[size_t(i)].f = [](void*, int64_t) { fires++; };
    gmp::addtimer(&ts[size_t(i)]);
  }
  std::atomic<bool> over{false};
  std::atomic<int64_t> nulls{0}, scans{0};
  std::thread watcher([&] {
    while (!over.load(std::memory_order_relaxed)) {
      for (auto& t : ts) {
        if (!t.pp.load(std::memory_order_acquire)) nulls++;
      }
      scans++;
    }
  });
  int64_t firesbefore = fires.load();
  for (int k = 0; k < 300; k++) {
    gmp::movetimers(gmp::allp[0], gmp::allp[1]);
    gmp::movetimers(gmp::allp[1], gmp::allp[0]);
    if (k % 10 == 0) gmp_sleep(100 * 1000);  // the tickers' P's M runs them too
  }
  over = true;
  watcher.join();
  int removed = 0;
  for (auto& t : ts) removed += gmp::deltimer(&t);
  EXPECT_EQ(nulls.load(), 0) << "a timer in a heap read as in none";
  EXPECT_EQ(removed, n) << "every timer was pending";
  EXPECT_GT(fires.load(), firesbefore) << "no ticker fired while watched";
  EXPECT_GT(scans.load(), 10) << "the watcher hardly ran";
}

// A select with a timeout on a timer's channel while another M fires that timer: the select
// holds the channel's lock while it arms its timeout on its P's heap, and the timer's f
// (sendtime) takes the channel's lock. f used to run under the heap's lock, so each side held
// what the other waited for, and both Ms slept for ever (FiresOnceNotBeforeItsDeadline hung
// in about 1 of 30 ASan runs at 2 Ps). The timers are due in 0-30 us, so they fire around
// the moment the select arms. A watchdog thread turns a hang into a failure.
TEST(Timer, SelectOnATimersChannelWhileAnotherMFiresIt) {
  ScopedMaxprocs two(2);
  constexpr int workers = 4, each = 3000;
  std::atomic<int> got{0}, finished{0};
  std::atomic<bool> over{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 2000 && !over.load(); i++) usleep(10000);
    if (over.load()) return;
    fprintf(stderr, "deadlock: %d of %d selects finished in 20 s\n", finished.load(),
            workers * each);
    _exit(1);
  });
  WaitGroup wg(workers);
  for (int w = 0; w < workers; w++) {
    go([&, w] {
      std::minstd_rand rng(uint32_t(w + 1));
      for (int i = 0; i < each; i++) {
        gmp_timer_t* t = gmp_timer_new(int64_t(rng() % 30) * 1000, 0);
        if (recvwithin(gmp_timer_chan(t), 5000 * ms) != -1) got++;
        gmp_timer_free(t);
        finished++;
      }
      wg.done();
    });
  }
  wg.wait();
  over = true;
  watchdog.join();
  EXPECT_EQ(got.load(), workers * each) << "every timer fires within 5 s";
}

// A thread the runtime does not run: its timers go on P 0's heap and an M is woken for them
// (addtimerany); its receives block on a futex.
TEST(Timer, ThreadThatIsNotAGoroutineUsesTimersAndTickers) {
  int64_t elapsed = -1, afterelapsed = -1;
  int ticks = 0;
  std::thread th([&] {
    int64_t t0 = gmp_nanotime();
    gmp_timer_t* t = gmp_timer_new(10 * ms, 0);
    int64_t v = -1;
    if (gmp_chan_recv(gmp_timer_chan(t), &v) == 1) elapsed = v - t0;
    gmp_timer_free(t);
    gmp_timer_t* tk = gmp_timer_new(2 * ms, 2 * ms);
    while (ticks < 3 && gmp_chan_recv(gmp_timer_chan(tk), &v) == 1) ticks++;
    gmp_timer_free(tk);
    t0 = gmp_nanotime();
    gmp_chan_t* c = gmp_after(3 * ms);
    if (gmp_chan_recv(c, &v) == 1) afterelapsed = v - t0;
    gmp_chan_release(c);
  });
  th.join();
  EXPECT_GE(elapsed, 10 * ms);
  EXPECT_EQ(ticks, 3);
  EXPECT_GE(afterelapsed, 3 * ms);
}
