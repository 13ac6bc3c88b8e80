// fork_test.cc — the runtime in a forked child (src/fork.cc, FK1-FK3). A child reports
// through its exit status: 0, or the number of the first check that failed.
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "chan.h"
#include "export_test.h"

using namespace gmptest;

namespace {
// exitstatus: waitpid's status of pid as an exit code (128 + the signal that ended it).
int exitstatus(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// forkrun forks; the child runs f and exits with what it returns; the parent gets that.
template <typename F> int forkrun(F f) {
  pid_t pid = fork();
  if (pid == 0) _exit(f());
  return pid < 0 ? -1 : exitstatus(pid);
}
}  // namespace

// Goroutines parked on a channel, a condition and timers in the parent are ghosts in the
// child: a send there reaches the child's own receiver, queued behind them; a signal wakes
// the child's own waiter; their timers never fire. The child counts one goroutine (the
// caller), makes new ones, sleeps on a timer of its own. The parent's goroutines are intact.
TEST(Fork, ParkedGoroutinesOfTheParentNeverRunInTheChild) {
  constexpr int n = 50;
  gmp_chan_t* ch = gmp_chan_make(sizeof(int), 0);
  ASSERT_NE(ch, nullptr);
  gmp_mutex_t mu{};
  gmp_cond_t cond{};
  std::atomic<int> received{0}, signalled{0}, slept{0};
  bool go_on = false;  // mu
  WaitGroup wg(3 * n);
  for (int i = 0; i < n; i++) {
    go([&] {
      int v = 0;
      if (gmp_chan_recv(ch, &v) == 1 && v == 7) received++;
      wg.done();
    });
    go([&] {
      gmp_mutex_lock(&mu);
      while (!go_on) gmp_cond_wait(&cond, &mu);
      gmp_mutex_unlock(&mu);
      signalled++;
      wg.done();
    });
    go([&] {
      gmp_sleep(200 * 1000 * 1000);
      slept++;
      wg.done();
    });
  }
  ASSERT_TRUE(waitfor([&] { return gmp_num_goroutine() >= 3 * n + 1; }));
  gmp_sleep(50 * 1000 * 1000);  // all of them parked
  int st = forkrun([&]() -> int {
    if (gmp_num_goroutine() != 1) return 1;
    // A receiver of the child's own, queued behind the ghosts.
    std::atomic<int> got{0};
    WaitGroup cwg(2);
    go([&] {
      int v = 0;
      if (gmp_chan_recv(ch, &v) == 1) got = v;
      cwg.done();
    });
    std::atomic<bool> woken{false};
    go([&] {
      gmp_mutex_lock(&mu);
      while (!go_on) gmp_cond_wait(&cond, &mu);
      gmp_mutex_unlock(&mu);
      woken = true;
      cwg.done();
    });
    if (!waitfor([&] { return gmp_num_goroutine() == 3; }, 5)) return 2;
    gmp_sleep(20 * 1000 * 1000);  // both parked
    int v = 42;
    if (gmp_chan_send(ch, &v) != 0) return 3;
    gmp_mutex_lock(&mu);
    go_on = true;
    gmp_cond_signal(&cond);  // one wake-up: the child's waiter, not a ghost
    gmp_mutex_unlock(&mu);
    if (!waitfor([&] { return got == 42; }, 5)) return 4;  // not handed to a ghost
    if (!waitfor([&] { return woken.load(); }, 5)) return 5;
    cwg.wait();
    gmp_sleep(300 * 1000 * 1000);  // past the ghosts' timers
    if (received != 0 || signalled != 0 || slept != 0) return 6;
    return gmp_num_goroutine() == 1 ? 0 : 7;
  });
  EXPECT_EQ(st, 0);
  for (int i = 0; i < n; i++) {
    int v = 7;
    ASSERT_EQ(gmp_chan_send(ch, &v), 0);
  }
  gmp_mutex_lock(&mu);
  go_on = true;
  gmp_cond_broadcast(&cond);
  gmp_mutex_unlock(&mu);
  wg.wait();
  EXPECT_EQ(received, n);
  EXPECT_EQ(signalled, n);
  EXPECT_EQ(slept, n);
  gmp_chan_release(ch);
}

// anyring: some P has a ring. The child starts with none (netpollforkchild); a hook makes
// one only to park on it (a write into a pipe with room, a timer, make none).
bool anyring() {
  for (int32_t i = 0; i < gmp::gomaxprocs.load(); i++) {
    if (gmp::allp[i]->ring.load() != nullptr) return true;
  }
  return false;
}

// The child's I/O parks on rings of its own: a read of a pipe another goroutine of the child
// writes later, at each P count the parent has.
TEST(Fork, ChildParksItsIoOnItsOwnRings) {
  // The parent parks on a ring first (the test may run alone), so that "none in the child"
  // means the child dropped the parent's.
  int pp[2];
  ASSERT_EQ(pipe2(pp, O_CLOEXEC), 0);
  go([&] {
    gmp_sleep(5 * 1000 * 1000);
    (void)!write(pp[1], "p", 1);
  });
  char pc = 0;
  ASSERT_EQ(read(pp[0], &pc, 1), 1);
  close(pp[0]);
  close(pp[1]);
  ASSERT_TRUE(anyring());
  for (int procs : {1, 2}) {
    ScopedMaxprocs mp(procs);
    int st = forkrun([]() -> int {
      if (anyring()) return 1;  // the parent's are gone
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) return 2;
      go([&] {
        gmp_sleep(20 * 1000 * 1000);
        (void)!write(p[1], "x", 1);
      });
      char c = 0;
      if (read(p[0], &c, 1) != 1 || c != 'x') return 3;
      return anyring() ? 0 : 4;  // the read parked on a ring made in the child
    });
    EXPECT_EQ(st, 0) << "GMPMAXPROCS=" << procs;
  }
}

// A child forked by a thread that is not a goroutine has no scheduler: gmp_go fails with
// -EAGAIN and a hooked read blocks the thread, as in a plain program.
TEST(Fork, ChildOfAPlainThreadHasNoScheduler) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  ASSERT_EQ(pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM), 0);  // a real thread
  pthread_t t;
  int st = -1;
  ASSERT_EQ(pthread_create(&t, &a,
                           [](void* arg) -> void* {
                             *static_cast<int*>(arg) = forkrun([]() -> int {
                               if (gmp_go([](void*) {}, nullptr) != -EAGAIN) return 1;
                               int p[2];
                               if (pipe(p) != 0 || write(p[1], "y", 1) != 1) return 2;
                               char c = 0;
                               return read(p[0], &c, 1) == 1 && c == 'y' ? 0 : 3;
                             });
                             return nullptr;
                           },
                           &st),
            0);
  ASSERT_EQ(pthread_join(t, nullptr), 0);
  pthread_attr_destroy(&a);
  EXPECT_EQ(st, 0);
}

// _Fork runs no handlers: its child has no scheduler either, even from a goroutine.
TEST(Fork, UnderscoreForkChildHasNoScheduler) {
  pid_t pid = _Fork();
  if (pid == 0) {
    int p[2];
    if (gmp_go([](void*) {}, nullptr) != -EAGAIN) _exit(1);
    if (pipe(p) != 0 || write(p[1], "z", 1) != 1) _exit(2);
    char c = 0;
    _exit(read(p[0], &c, 1) == 1 && c == 'z' ? 0 : 3);
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(exitstatus(pid), 0);
}

// A gmp_timer_t pending in the parent is stopped in the child (its heap is gone: stop says
// it was not pending, and free is safe); the child's own timers fire. The parent's fires.
TEST(Fork, TimersOfTheParentAreStoppedInTheChild) {
  constexpr int64_t ms = 1000 * 1000;
  gmp_timer_t* t = gmp_timer_new(30 * ms, 0);
  ASSERT_NE(t, nullptr);
  int st = forkrun([&] {
    if (gmp_timer_stop(t) != 0) return 1;
    if (gmp_timer_free(t) != 0) return 2;
    gmp_timer_t* mine = gmp_timer_new(ms, 0);
    int64_t v = -1;
    if (!mine || gmp_chan_recv(gmp_timer_chan(mine), &v) != 1 || v <= 0) return 3;
    gmp_timer_free(mine);
    return 0;
  });
  EXPECT_EQ(st, 0);
  int64_t v = -1;
  EXPECT_EQ(gmp_chan_recv(gmp_timer_chan(t), &v), 1) << "the parent's timer fires";
  EXPECT_EQ(gmp_timer_free(t), 0);
}
