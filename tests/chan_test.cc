// chan_test.cc — channels and select: Go's semantics through the C ABI, exact counts under
// contention, close with waiters on both sides, FIFO service, threads that are not goroutines.
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "chan.h"
#include "export_test.h"

using namespace gmptest;

namespace {
// A channel reference released at scope exit.
struct Chan {
  gmp_chan_t* c;
  Chan(size_t elem, size_t cap) : c(gmp_chan_make(elem, cap)) {}
  ~Chan() { gmp_chan_release(c); }
  operator gmp_chan_t*() const { return c; }
};

// receiverswaiting / senderswaiting: how many goroutines are blocked on c now.
size_t waiting(gmp_chan_t* c, gmp::waitq gmp_chan::*q) {
  c->lock.lock();
  size_t n = 0;
  for (gmp::sudog* s = (c->*q).first; s; s = s->next) n++;
  c->lock.unlock();
  return n;
}
size_t receiverswaiting(gmp_chan_t* c) { return waiting(c, &gmp_chan::recvq); }
size_t senderswaiting(gmp_chan_t* c) { return waiting(c, &gmp_chan::sendq); }

int64_t recvInt(gmp_chan_t* c, int* ok = nullptr) {
  int64_t v = -1;
  int r = gmp_chan_recv(c, &v);
  if (ok) *ok = r;
  return v;
}
}  // namespace

TEST(Chan, BadArgumentsAreRejected) {
  EXPECT_EQ(gmp_chan_make(1 << 16, 1), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(gmp_chan_make(1 << 10, SIZE_MAX / 4), nullptr);
  EXPECT_EQ(errno, EINVAL);
  int64_t v = 0;
  EXPECT_EQ(gmp_chan_send(nullptr, &v), -EINVAL);
  EXPECT_EQ(gmp_chan_recv(nullptr, &v), -EINVAL);
  EXPECT_EQ(gmp_chan_close(nullptr), -EINVAL);
  EXPECT_EQ(gmp_chan_len(nullptr), 0u);
  EXPECT_EQ(gmp_chan_cap(nullptr), 0u);
  Chan c(sizeof v, 1);
  EXPECT_EQ(gmp_chan_send(c, nullptr), -EINVAL) << "a value is needed when elem_size > 0";
  gmp_chan_release(nullptr);
  EXPECT_EQ(gmp_chan_retain(nullptr), nullptr);
}

TEST(Chan, BufferedIsFifoWithLenAndCap) {
  Chan c(sizeof(int64_t), 8);
  EXPECT_EQ(gmp_chan_cap(c), 8u);
  for (int64_t i = 0; i < 8; i++) ASSERT_EQ(gmp_chan_send(c, &i), 0);
  EXPECT_EQ(gmp_chan_len(c), 8u);
  for (int64_t i = 0; i < 8; i++) EXPECT_EQ(recvInt(c), i);
  EXPECT_EQ(gmp_chan_len(c), 0u);
}

TEST(Chan, UnbufferedPingPongExactCounts) {
  constexpr int64_t n = 20000;
  Chan ping(sizeof(int64_t), 0), pong(sizeof(int64_t), 0);
  WaitGroup wg(1);
  go([&] {
    for (int64_t v; gmp_chan_recv(ping, &v) == 1;) gmp_chan_send(pong, &(++v));
    wg.done();
  });
  int64_t sum = 0;
  for (int64_t i = 0; i < n; i++) {
    ASSERT_EQ(gmp_chan_send(ping, &i), 0);
    sum += recvInt(pong);
  }
  gmp_chan_close(ping);
  wg.wait();
  EXPECT_EQ(sum, n * (n - 1) / 2 + n);
}

// Many senders and receivers, buffered and not: every value arrives exactly once.
TEST(Chan, ManyProducersAndConsumersExactlyOnce) {
  for (size_t cap : {size_t(0), size_t(1), size_t(16)}) {
    constexpr int producers = 4, consumers = 4;
    constexpr int64_t each = 5000;
    Chan c(sizeof(int64_t), cap);
    std::atomic<int64_t> sum{0}, count{0};
    WaitGroup sent(producers), got(consumers);
    for (int p = 0; p < producers; p++) {
      go([&, p] {
        for (int64_t i = 0; i < each; i++) {
          int64_t v = p * each + i;
          gmp_chan_send(c, &v);
        }
        sent.done();
      });
    }
    for (int k = 0; k < consumers; k++) {
      go([&] {
        for (int64_t v; gmp_chan_recv(c, &v) == 1;) {
          sum += v;
          count++;
        }
        got.done();
      });
    }
    sent.wait();
    gmp_chan_close(c);
    got.wait();
    constexpr int64_t total = producers * each;
    EXPECT_EQ(count.load(), total) << "cap " << cap;
    EXPECT_EQ(sum.load(), total * (total - 1) / 2) << "cap " << cap;
  }
}

TEST(Chan, CloseDrainsBufferThenReportsClosedWithZero) {
  Chan c(sizeof(int64_t), 4);
  int64_t v = 7;
  gmp_chan_send(c, &v);
  EXPECT_EQ(gmp_chan_close(c), 0);
  EXPECT_EQ(gmp_chan_close(c), -EPIPE);
  EXPECT_EQ(gmp_chan_send(c, &v), -EPIPE);
  int ok = -1;
  EXPECT_EQ(recvInt(c, &ok), 7);
  EXPECT_EQ(ok, 1);
  v = 99;
  EXPECT_EQ(gmp_chan_recv(c, &v), 0);
  EXPECT_EQ(v, 0) << "the zero value, as Go's";
}

TEST(Chan, CloseWakesEveryWaitingReceiverAndSender) {
  constexpr int n = 8;
  Chan r(sizeof(int64_t), 0), s(sizeof(int64_t), 0);
  std::atomic<int> closedRecv{0}, closedSend{0};
  WaitGroup wg(2 * n);
  for (int i = 0; i < n; i++) {
    go([&] {
      int64_t v = 5;
      if (gmp_chan_recv(r, &v) == 0 && v == 0) closedRecv++;
      wg.done();
    });
    go([&] {
      int64_t v = 5;
      if (gmp_chan_send(s, &v) == -EPIPE) closedSend++;
      wg.done();
    });
  }
  // Every one of them waits on its channel when the close comes.
  while (receiverswaiting(r) < n || senderswaiting(s) < n) gmp_yield();
  gmp_chan_close(r);
  gmp_chan_close(s);
  wg.wait();
  EXPECT_EQ(closedRecv.load(), n);
  EXPECT_EQ(closedSend.load(), n);
}

// Blocked receivers are served in the order they blocked.
TEST(Chan, WaitingReceiversAreServedFirstComeFirstServed) {
  ScopedMaxprocs procs(1);
  constexpr int n = 16;
  Chan c(sizeof(int64_t), 0);
  int64_t got[n];
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&, i] {
      got[i] = recvInt(c);
      wg.done();
    });
    // Receiver i blocks before receiver i + 1 is made: yields until it waits (one yield
    // was not always enough: the scheduler may run another goroutine first).
    while (receiverswaiting(c) < size_t(i + 1)) gmp_yield();
  }
  for (int64_t v = 0; v < n; v++) gmp_chan_send(c, &v);
  wg.wait();
  for (int i = 0; i < n; i++) EXPECT_EQ(got[i], i);
}

// Blocked senders too: their values arrive in the order they blocked.
TEST(Chan, WaitingSendersAreServedFirstComeFirstServed) {
  ScopedMaxprocs procs(1);
  constexpr int n = 16;
  Chan c(sizeof(int64_t), 0);
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&, i] {
      int64_t v = i;
      gmp_chan_send(c, &v);
      wg.done();
    });
    while (senderswaiting(c) < size_t(i + 1)) gmp_yield();
  }
  for (int64_t want = 0; want < n; want++) EXPECT_EQ(recvInt(c), want);
  wg.wait();
}

TEST(Chan, ZeroSizeElementsAreSignals) {
  Chan c(0, 2);
  EXPECT_EQ(gmp_chan_send(c, nullptr), 0);
  EXPECT_EQ(gmp_chan_send(c, nullptr), 0);
  EXPECT_EQ(gmp_chan_len(c), 2u);
  EXPECT_EQ(gmp_chan_recv(c, nullptr), 1);
  EXPECT_EQ(gmp_chan_recv(c, nullptr), 1);
}

// A thread that is not a goroutine blocks on a futex, both as sender and as receiver.
TEST(Chan, ThreadsThatAreNotGoroutinesBlockAndWake) {
  constexpr int64_t n = 2000;
  Chan in(sizeof(int64_t), 0), out(sizeof(int64_t), 0);
  std::thread t([&] {
    for (int64_t v; gmp_chan_recv(in, &v) == 1;) gmp_chan_send(out, &(v = v * 2));
    gmp_chan_close(out);
  });
  int64_t sum = 0;
  go([&] {
    for (int64_t i = 0; i < n; i++) gmp_chan_send(in, &i);
    gmp_chan_close(in);
  });
  for (int64_t v; gmp_chan_recv(out, &v) == 1;) sum += v;
  t.join();
  EXPECT_EQ(sum, n * (n - 1));
}

// ---- select -------------------------------------------------------------------------------------

TEST(Select, DefaultWhenNothingIsReady) {
  Chan a(sizeof(int64_t), 1);
  int64_t v;
  gmp_select_case cs[] = {{a.c, GMP_RECV, &v, false}, {nullptr, GMP_SEND, &v, false}};
  EXPECT_EQ(gmp_select(cs, 2, 0), -EAGAIN);
  EXPECT_EQ(gmp_select(nullptr, 0, 0), -EAGAIN);
}

TEST(Select, BadArgumentsAreRejected) {
  Chan a(sizeof(int64_t), 1);
  int64_t v;
  gmp_select_case bad[] = {{a.c, 3, &v, false}};
  EXPECT_EQ(gmp_select(bad, 1, 0), -EINVAL);
  gmp_select_case noval[] = {{a.c, GMP_SEND, nullptr, false}};
  EXPECT_EQ(gmp_select(noval, 1, 0), -EINVAL);
  EXPECT_EQ(gmp_select(nullptr, 1, -1), -EINVAL);
}

TEST(Select, ReadyCasesArePickedAtRandom) {
  constexpr int k = 4, rounds = 8000;
  Chan a(0, rounds), b(0, rounds), c(0, rounds), d(0, rounds);
  gmp_chan_t* chans[k] = {a, b, c, d};
  for (int i = 0; i < rounds; i++) {
    for (gmp_chan_t* ch : chans) gmp_chan_send(ch, nullptr);
  }
  int hits[k] = {};
  for (int i = 0; i < rounds; i++) {
    gmp_select_case cs[k];
    for (int j = 0; j < k; j++) cs[j] = {chans[j], GMP_RECV, nullptr, false};
    int r = gmp_select(cs, k, -1);
    ASSERT_TRUE(r >= 0 && r < k) << r;
    hits[r]++;
  }
  // Each of four always-ready cases: Binomial(8000, 1/4), mean 2000, sd 38.7; 1700..2300
  // is 7.7 sd from failing by chance. A first-ready or round-robin bias fails it, as does
  // one skewed by the lock order (the channels' addresses).
  for (int j = 0; j < k; j++) {
    EXPECT_GT(hits[j], 1700) << "case " << j << ": " << hits[0] << " " << hits[1] << " "
                             << hits[2] << " " << hits[3];
    EXPECT_LT(hits[j], 2300) << "case " << j;
  }
}

// A select waiting to send when its channel is closed reports the send's error, as Go's
// select panics there.
TEST(Select, WaitingSendCaseGetsEpipeWhenItsChannelCloses) {
  Chan a(sizeof(int64_t), 0), b(sizeof(int64_t), 0);
  std::atomic<int> r{1};
  WaitGroup wg(1);
  go([&] {
    int64_t v = 1, w = -1;
    gmp_select_case cs[] = {{a.c, GMP_SEND, &v, false}, {b.c, GMP_RECV, &w, false}};
    r = gmp_select(cs, 2, -1);
    wg.done();
  });
  while (senderswaiting(a) < 1) gmp_yield();
  gmp_chan_close(a);
  wg.wait();
  EXPECT_EQ(r.load(), -EPIPE);
}

TEST(Select, BlocksUntilACaseFiresAndReportsIt) {
  Chan a(sizeof(int64_t), 0), b(sizeof(int64_t), 0);
  go([&] {
    for (int i = 0; i < 50; i++) gmp_yield();
    int64_t v = 42;
    gmp_chan_send(b, &v);
  });
  int64_t va = -1, vb = -1;
  gmp_select_case cs[] = {{a.c, GMP_RECV, &va, false}, {b.c, GMP_RECV, &vb, false},
                          {nullptr, GMP_RECV, &va, false}};
  EXPECT_EQ(gmp_select(cs, 3, -1), 1);
  EXPECT_EQ(vb, 42);
  EXPECT_TRUE(cs[1].ok);
  EXPECT_EQ(va, -1);
}

TEST(Select, SendCaseHandsToAWaitingReceiver) {
  Chan a(sizeof(int64_t), 0);
  std::atomic<int64_t> got{0};
  WaitGroup wg(1);
  go([&] {
    got = recvInt(a);
    wg.done();
  });
  int64_t v = 9;
  gmp_select_case cs[] = {{a.c, GMP_SEND, &v, false}};
  EXPECT_EQ(gmp_select(cs, 1, -1), 0);
  wg.wait();
  EXPECT_EQ(got.load(), 9);
}

TEST(Select, ClosedChannelFiresWithOkFalse) {
  Chan a(sizeof(int64_t), 0), never(sizeof(int64_t), 0);
  go([&] {
    for (int i = 0; i < 20; i++) gmp_yield();
    gmp_chan_close(a);
  });
  int64_t v = 3;
  gmp_select_case cs[] = {{never.c, GMP_RECV, &v, false}, {a.c, GMP_RECV, &v, true}};
  EXPECT_EQ(gmp_select(cs, 2, -1), 1);
  EXPECT_FALSE(cs[1].ok);
  EXPECT_EQ(v, 0);
  gmp_select_case send[] = {{a.c, GMP_SEND, &v, false}};
  EXPECT_EQ(gmp_select(send, 1, -1), -EPIPE);
}

// Selecting goroutines compete for values from several channels while producers send:
// every value is taken exactly once, and every select's leftover sudogs come off the queues.
TEST(Select, ContendedSelectsTakeEveryValueOnce) {
  constexpr int chans = 3, selectors = 4;
  constexpr int64_t each = 3000;
  std::vector<gmp_chan_t*> cs;
  for (int i = 0; i < chans; i++) cs.push_back(gmp_chan_make(sizeof(int64_t), i == 0 ? 0 : 2));
  gmp_chan_t* done = gmp_chan_make(0, 0);
  std::atomic<int64_t> sum{0}, count{0};
  WaitGroup producers(chans), consumers(selectors);
  for (int i = 0; i < chans; i++) {
    go([&, i] {
      for (int64_t k = 0; k < each; k++) {
        int64_t v = i * each + k;
        gmp_chan_send(cs[i], &v);
      }
      producers.done();
    });
  }
  for (int s = 0; s < selectors; s++) {
    go([&] {
      for (;;) {
        int64_t v[chans];
        gmp_select_case sc[chans + 1];
        for (int i = 0; i < chans; i++) sc[i] = {cs[i], GMP_RECV, &v[i], false};
        sc[chans] = {done, GMP_RECV, nullptr, false};
        int r = gmp_select(sc, chans + 1, -1);
        if (r == chans) break;
        sum += v[r];
        count++;
      }
      consumers.done();
    });
  }
  producers.wait();
  while (count.load() < chans * each) gmp_yield();
  gmp_chan_close(done);
  consumers.wait();
  constexpr int64_t total = chans * each;
  EXPECT_EQ(count.load(), total);
  EXPECT_EQ(sum.load(), total * (total - 1) / 2);
  for (auto* c : cs) {
    EXPECT_EQ(c->recvq.first, nullptr) << "a select left a sudog behind";
    gmp_chan_release(c);
  }
  gmp_chan_release(done);
}

// A select in a thread that is not a goroutine blocks on a futex.
TEST(Select, ThreadThatIsNotAGoroutineSelects) {
  Chan a(sizeof(int64_t), 0), b(sizeof(int64_t), 0);
  int r = -1;
  int64_t va = 0, vb = 0;
  std::thread t([&] {
    gmp_select_case cs[] = {{a.c, GMP_RECV, &va, false}, {b.c, GMP_RECV, &vb, false}};
    r = gmp_select(cs, 2, -1);
  });
  for (int i = 0; i < 50; i++) gmp_yield();
  int64_t v = 5;
  gmp_chan_send(a, &v);
  t.join();
  EXPECT_EQ(r, 0);
  EXPECT_EQ(va, 5);
}

// ---- time ---------------------------------------------------------------------------------------

TEST(Time, SleepParksForAtLeastTheDuration) {
  int64_t t0 = gmp_nanotime();
  gmp_sleep(5 * 1000 * 1000);
  EXPECT_GE(gmp_nanotime() - t0, 5 * 1000 * 1000);
  gmp_sleep(0);   // returns at once
  gmp_sleep(-1);
}

// 10,000 goroutines sleep 1 ms at once: all wake, none before its deadline. (How late they
// are is for the benchmarks; here only a generous bound against lost timers.)
TEST(Time, ManySleepersAllWakeAfterTheirDeadline) {
  constexpr int n = 10000;
  std::atomic<int> early{0}, woke{0};
  std::atomic<int64_t> latest{0};
  WaitGroup wg(n);
  int64_t start = gmp_nanotime();
  for (int i = 0; i < n; i++) {
    go([&] {
      int64_t t0 = gmp_nanotime();
      gmp_sleep(1000 * 1000);
      int64_t t1 = gmp_nanotime();
      if (t1 - t0 < 1000 * 1000) early++;
      int64_t l = latest.load();
      while (t1 > l && !latest.compare_exchange_weak(l, t1)) {
      }
      woke++;
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(woke.load(), n);
  EXPECT_EQ(early.load(), 0);
  EXPECT_LT(latest.load() - start, int64_t(5) * 1000 * 1000 * 1000) << "a lost timer";
}

// A goroutine sleeping while every other goroutine is parked: the idle M sleeps until its
// timer and wakes it.
TEST(Time, SleepWakesWhenEveryPIsIdle) {
  Chan done(0, 0);
  go([&] {
    gmp_sleep(20 * 1000 * 1000);
    gmp_chan_close(done);
  });
  int64_t t0 = gmp_nanotime();
  EXPECT_EQ(gmp_chan_recv(done, nullptr), 0);  // goroutine 1 parks too
  EXPECT_GE(gmp_nanotime() - t0, 20 * 1000 * 1000);
}

TEST(Time, ThreadThatIsNotAGoroutineSleeps) {
  int64_t slept = 0;
  std::thread t([&] {
    int64_t t0 = gmp_nanotime();
    gmp_sleep(3 * 1000 * 1000);
    slept = gmp_nanotime() - t0;
  });
  t.join();
  EXPECT_GE(slept, 3 * 1000 * 1000);
}

TEST(Select, TimeoutFiresWhenNothingIsReady) {
  Chan a(sizeof(int64_t), 0);
  int64_t v;
  gmp_select_case cs[] = {{a.c, GMP_RECV, &v, false}};
  int64_t t0 = gmp_nanotime();
  EXPECT_EQ(gmp_select(cs, 1, 10 * 1000 * 1000), -ETIMEDOUT);
  EXPECT_GE(gmp_nanotime() - t0, 10 * 1000 * 1000);
  EXPECT_EQ(a.c->recvq.first, nullptr) << "the timed-out select left its sudog";
  gmp_select_case none[] = {{nullptr, GMP_RECV, &v, false}};
  EXPECT_EQ(gmp_select(none, 1, 1000 * 1000), -ETIMEDOUT);
}

// A timeout past the clock's range waits as long as it takes (the deadline saturates).
TEST(Select, ATimeoutPastTheClocksRangeWaitsForACase) {
  for (int64_t timeout : {INT64_MAX, INT64_MAX - 1000000000}) {
    Chan a(sizeof(int64_t), 0);
    go([&] {
      gmp_sleep(20 * 1000 * 1000);
      int64_t v = 7;
      gmp_chan_send(a.c, &v);
    });
    int64_t v = 0;
    gmp_select_case cs[] = {{a.c, GMP_RECV, &v, false}};
    EXPECT_EQ(gmp_select(cs, 1, timeout), 0) << timeout;
    EXPECT_EQ(v, 7);
  }
}

TEST(Select, CaseBeatsTimeoutAndTheTimerIsDisarmed) {
  for (int round = 0; round < 200; round++) {
    Chan a(sizeof(int64_t), 0);
    go([&] {
      int64_t v = round;
      gmp_chan_send(a, &v);
    });
    int64_t v = -1;
    gmp_select_case cs[] = {{a.c, GMP_RECV, &v, false}};
    ASSERT_EQ(gmp_select(cs, 1, int64_t(1000) * 1000 * 1000), 0);
    ASSERT_EQ(v, round);
  }
  gmp_sleep(2 * 1000 * 1000);  // no stale timer readies anything meanwhile (it would crash)
}

// Cases and timeouts racing, on goroutines and on a thread: every outcome is one of the two.
TEST(Select, TimeoutRacingSendsLosesNoValue) {
  constexpr int n = 3000;
  Chan a(sizeof(int64_t), 0);
  std::atomic<int64_t> received{0}, sent{0};
  WaitGroup wg(1);
  go([&] {
    for (int64_t i = 0; i < n; i++) {
      gmp_select_case cs[] = {{a.c, GMP_SEND, &i, false}};
      if (gmp_select(cs, 1, 20 * 1000) == 0) sent++;
    }
    wg.done();
  });
  std::thread t([&] {
    for (int i = 0; i < n; i++) {
      int64_t v;
      gmp_select_case cs[] = {{a.c, GMP_RECV, &v, false}};
      if (gmp_select(cs, 1, 20 * 1000) == 0) received++;
    }
  });
  wg.wait();
  t.join();
  EXPECT_EQ(sent.load(), received.load());
}
