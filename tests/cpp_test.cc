// cpp_test.cc — the C++ layer (<gmp/gmp.hpp>): goroutines from callables, typed channels
// with move-only and non-trivial types, select, Lockable mutexes, wait groups, chrono time.
#include <gmp/gmp.hpp>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "export_test.h"

using namespace std::chrono_literals;

namespace {
// Counts live instances: a leaked or doubly destroyed value shows.
struct tracked {
  static inline std::atomic<int> live{0};
  std::string s;
  explicit tracked(std::string v) : s(std::move(v)) { live++; }
  tracked(tracked&& o) noexcept : s(std::move(o.s)) { live++; }
  tracked(const tracked&) = delete;
  ~tracked() { live--; }
};
}  // namespace

TEST(Cpp, GoRunsAnyCallableWithMovedArguments) {
  gmp::wait_group wg;
  wg.add(2);
  auto p = std::make_unique<int>(41);
  std::atomic<int> got{0};
  int64_t id = gmp::go([&wg, &got](std::unique_ptr<int> v, int plus) {
    got = *v + plus;
    wg.done();
  }, std::move(p), 1);
  EXPECT_GT(id, 0);
  std::string name = "x";
  gmp::go([&, name] {
    EXPECT_EQ(name, "x");
    wg.done();
  });
  wg.wait();
  EXPECT_EQ(got.load(), 42);
}

TEST(Cpp, ChanOfMoveOnlyValuesTransfersOwnership) {
  gmp::chan<std::unique_ptr<int>> c(2);
  gmp::go([c]() mutable {
    for (int i = 0; i < 100; i++) c.send(std::make_unique<int>(i));
    c.close();
  });
  int sum = 0, n = 0;
  while (auto v = c.recv()) {
    sum += **v;
    n++;
  }
  EXPECT_EQ(n, 100);
  EXPECT_EQ(sum, 4950);
}

TEST(Cpp, ChanOfNonTrivialTypesLeaksNothing) {
  {
    gmp::chan<tracked> c(4);
    c.send(tracked("a"));
    c.send(tracked("b"));
    auto v = c.recv();
    ASSERT_TRUE(v);
    EXPECT_EQ(v->s, "a");
    c.send(tracked("c"));
    // "b" and "c" stay buffered: the channel's end destroys them
  }
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(Cpp, SendOnClosedChannelThrowsLogicError) {
  gmp::chan<std::string> c(1);
  c.close();
  EXPECT_THROW(c.send("x"), std::logic_error);
  EXPECT_THROW(c.close(), gmp::closed_channel);
  EXPECT_FALSE(c.recv().has_value());
  EXPECT_EQ(tracked::live.load(), 0);
}

// Misuse the C ABI answers with an error code throws here instead of passing unseen: a
// handle moved from, an unlock of what is not locked, a ticker that would not tick.
TEST(Cpp, MisuseThrows) {
  gmp::chan<int> a(1);
  gmp::chan<int> b(std::move(a));
  EXPECT_THROW(a.send(1), std::system_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_THROW(a.close(), std::system_error);
  EXPECT_THROW(a.recv(), std::system_error);
  gmp::chan<tracked> t(1);
  gmp::chan<tracked> t2(std::move(t));
  EXPECT_THROW(t.send(tracked("lost")), std::system_error);
  EXPECT_EQ(tracked::live.load(), 0) << "the value a failed send took is destroyed";
  gmp::mutex m;
  EXPECT_THROW(m.unlock(), std::system_error);
  gmp::shared_mutex sm;
  EXPECT_THROW(sm.unlock(), std::system_error);
  EXPECT_THROW(sm.unlock_shared(), std::system_error);
  EXPECT_THROW(gmp::ticker(0ms), std::invalid_argument);
  EXPECT_THROW(gmp::ticker(-1ms), std::invalid_argument);
}

TEST(Cpp, UnbufferedChanPingPong) {
  gmp::chan<int> ping, pong;
  gmp::go([=]() mutable {
    while (auto v = ping.recv()) pong.send(*v + 1);
    pong.close();
  });
  int64_t sum = 0;
  for (int i = 0; i < 1000; i++) {
    ping.send(i);
    sum += *pong.recv();
  }
  ping.close();
  EXPECT_FALSE(pong.recv().has_value());
  EXPECT_EQ(sum, 1000 * 999 / 2 + 1000);
}

TEST(Cpp, SelectReadsWell) {
  gmp::chan<std::string> words(1);
  gmp::chan<int> numbers(1), out(1);
  words.send("hi");
  std::string got;
  size_t which = gmp::select(
      gmp::on_recv(numbers, [&](std::optional<int>) { got = "number"; }),
      gmp::on_recv(words, [&](std::optional<std::string> w) { got = w.value_or("(closed)"); }));
  EXPECT_EQ(which, 1u);
  EXPECT_EQ(got, "hi");

  bool sent = false;
  gmp::select(gmp::on_send(out, 7, [&] { sent = true; }));
  EXPECT_TRUE(sent);
  EXPECT_EQ(*out.recv(), 7);

  bool idle = false;
  EXPECT_EQ(gmp::select(gmp::on_recv(numbers, [](std::optional<int>) {}),
                        gmp::otherwise([&] { idle = true; })), 1u);
  EXPECT_TRUE(idle);

  bool timedout = false;
  auto t0 = std::chrono::steady_clock::now();
  gmp::select(gmp::on_recv(numbers, [](std::optional<int>) {}),
              gmp::after(5ms, [&] { timedout = true; }));
  EXPECT_TRUE(timedout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);

  numbers.close();
  bool closed = false;
  gmp::select(gmp::on_recv(numbers, [&](std::optional<int> v) { closed = !v; }));
  EXPECT_TRUE(closed);
}

TEST(Cpp, SelectSendOfNonTrivialValueIsDestroyedWhenNotSent) {
  {
    gmp::chan<tracked> full(0);  // nobody receives: this send never happens
    gmp::chan<int> ready(1);
    ready.send(1);
    gmp::select(gmp::on_send(full, tracked("never"), [] {}),
                gmp::on_recv(ready, [](std::optional<int>) {}));
  }
  EXPECT_EQ(tracked::live.load(), 0);
}

TEST(Cpp, MutexesMeetTheStandardConcepts) {
  gmp::mutex m;
  gmp::shared_mutex sm;
  std::condition_variable_any cv;
  int counter = 0;
  bool go = false;
  gmp::wait_group wg;
  constexpr int n = 8;
  wg.add(n);
  for (int i = 0; i < n; i++) {
    gmp::go([&] {
      {
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return go; });
      }
      for (int k = 0; k < 1000; k++) {
        std::scoped_lock lk(m);
        counter++;
      }
      {
        std::shared_lock rl(sm);
        EXPECT_GE(counter, 0);
      }
      wg.done();
    });
  }
  {
    std::lock_guard lk(m);
    go = true;
  }
  cv.notify_all();
  wg.wait();
  EXPECT_EQ(counter, n * 1000);
  std::unique_lock wl(sm);
  EXPECT_FALSE(sm.try_lock_shared());
}

TEST(Cpp, ThisGoroutine) {
  EXPECT_GT(gmp::this_goroutine::id(), 0);
  auto t0 = std::chrono::steady_clock::now();
  gmp::this_goroutine::sleep_for(2ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2ms);
  gmp::this_goroutine::yield();
  gmp::wait_group wg;
  EXPECT_THROW(wg.done(), std::system_error);
}

TEST(Cpp, TimersTickersAndAfterDeliverOnChannels) {
  int64_t t0 = gmp_nanotime();
  std::optional<gmp::chan<int64_t>> kept;
  {
    gmp::timer t(5ms);
    std::optional<int64_t> v = t.c().recv();
    ASSERT_TRUE(v);
    EXPECT_GE(*v - t0, 5 * 1000 * 1000);
    EXPECT_FALSE(t.stop()) << "it had fired";
    EXPECT_FALSE(t.reset(1ms));
    EXPECT_TRUE(t.c().recv()) << "fires again after reset";
    EXPECT_THROW(t.reset(1ms, -1ns), std::system_error);
    EXPECT_FALSE(t.reset(1h)) << "it had fired again";
    EXPECT_TRUE(t.reset(1h)) << "and is pending now";
    kept = t.c();  // a copy of the channel outlives the timer
  }
  EXPECT_EQ(kept->capacity(), 1u);
  EXPECT_EQ(kept->size(), 0u) << "the timer stopped with its destructor";

  gmp::ticker tk(2ms);
  int64_t prev = 0;
  for (int i = 0; i < 3; i++) {
    std::optional<int64_t> v = tk.c().recv();
    ASSERT_TRUE(v);
    EXPECT_GT(*v, prev);
    prev = *v;
  }
  EXPECT_TRUE(tk.stop());

  // time.After in a select: the ticker, stopped, never fires; after does.
  gmp::chan<int64_t> late = gmp::after(3ms);
  size_t which = gmp::select(gmp::on_recv(tk.c(), [](std::optional<int64_t>) {}),
                             gmp::on_recv(late, [](std::optional<int64_t> v) { EXPECT_TRUE(v); }));
  EXPECT_EQ(which, 1u);
}
