// signal_test.cc — a handler of the program's cuts goroutine 1's blocking call short as it
// would the main thread's (src/sigintr.cc, preload/signal.cc): EINTR without SA_RESTART, the
// call going on with it, EINTR for poll, sleeps and pause whatever the flags, the time left
// for sleeps; sigaction reports the program's own handler. The tests run on goroutine 1; a
// plain thread sends the signal to the process once goroutine 1 is parked on an
// interruptible call (its g.intr armed), and the kernel delivers it to whichever thread.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cerrno>
#include <string>
#include <utility>
#include <thread>

#include "export_test.h"
#include "hooks.h"

using namespace gmptest;

namespace {

std::atomic<int> handled{0};
void onsignal(int) { handled.fetch_add(1); }

// handle installs fn (onsignal) for SIGUSR1 with flags for the scope of a test.
struct handle {
  struct sigaction old {};
  explicit handle(int flags, void (*fn)(int) = onsignal) {
    struct sigaction sa {};
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    EXPECT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    handled.store(0);
  }
  ~handle() { sigaction(SIGUSR1, &old, nullptr); }
};

// armed: goroutine 1 (the test) is parked on an interruptible operation, submitted (the
// park's commit has looked: sigintr.cc SI3). Armed (1), and nothing else but the mark of a
// read or a wait for input (intrReadlike, 64: SI6).
bool armed(gmp::g* gp) { return (gp->intr.load() & ~64u) == 1; }

// kicker signals the process once gp is parked on an interruptible call (after 10 s it
// signals anyway: the test then fails on its result), then runs then(parks), parks the
// count of parks before the signal.
template <typename F>
std::thread kicker(gmp::g* gp, F then) {
  return std::thread([gp, then] {
    waitfor([gp] { return armed(gp); });
    uint64_t before = parks();
    kill(getpid(), SIGUSR1);
    then(before);
  });
}

// reparked: gp, interrupted under SA_RESTART, parks on its call again (a park after the
// signal, and armed): only then may the data come, or the restart would go untested.
void reparked(gmp::g* gp, uint64_t before) {
  EXPECT_TRUE(waitfor([gp, before] { return parks() > before && armed(gp); }));
}
std::thread kicker(gmp::g* gp) {
  return kicker(gp, [](uint64_t) {});
}

// kicked: call()'s result and errno when the process is signalled while it waits.
template <typename F>
std::pair<long, int> kicked(F call) {
  std::thread t = kicker(curg());
  long r = call();
  int err = errnonow();
  t.join();
  return {r, err};
}
const std::pair<long, int> eintr{-1, EINTR};

}  // namespace

TEST(Signal, ReadEndsInEintrWithoutSaRestart) {
  handle h(0);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  char c = 0;
  EXPECT_EQ(kicked([&] { return read(p[0], &c, 1); }), eintr);
  EXPECT_EQ(handled.load(), 1);
  // Nothing was lost: the next read gets what comes next.
  ASSERT_EQ(write(p[1], "n", 1), 1);
  EXPECT_EQ(read(p[0], &c, 1), 1);
  EXPECT_EQ(c, 'n');
  close(p[0]);
  close(p[1]);
}

TEST(Signal, ReadGoesOnUnderSaRestart) {
  handle h(SA_RESTART);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  gmp::g* me = curg();
  // After the handler ran, the read parks again (armed again): only then does data come.
  std::thread t = kicker(me, [me, p](uint64_t before) {
    reparked(me, before);
    EXPECT_EQ(write(p[1], "r", 1), 1);
  });
  char c = 0;
  ssize_t r = read(p[0], &c, 1);
  t.join();
  EXPECT_EQ(r, 1);
  EXPECT_EQ(c, 'r');
  EXPECT_EQ(handled.load(), 1);
  close(p[0]);
  close(p[1]);
}

TEST(Signal, RecvEndsInEintrWithoutSaRestartAndGoesOnWith) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  {
    handle h(0);
    char buf[4];
    EXPECT_EQ(kicked([&] { return recv(sv[0], buf, sizeof buf, 0); }), eintr);
  }
  {
    handle h(SA_RESTART);
    gmp::g* me = curg();
    std::thread t = kicker(me, [me, sv](uint64_t before) {
      reparked(me, before);
      EXPECT_EQ(send(sv[1], "ok", 2, 0), 2);
    });
    char buf[4] = {};
    ssize_t r = recv(sv[0], buf, sizeof buf, 0);
    t.join();
    EXPECT_EQ(r, 2);
    EXPECT_EQ(std::string(buf, 2), "ok");
  }
  close(sv[0]);
  close(sv[1]);
}

// signal(7): poll, select, epoll_wait and the sleeps are never restarted.
TEST(Signal, PollAndEpollEndInEintrEvenUnderSaRestart) {
  handle h(SA_RESTART);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  pollfd pf{p[0], POLLIN, 0};
  EXPECT_EQ(kicked([&] { return poll(&pf, 1, -1); }), eintr);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
  EXPECT_EQ(kicked([&] { return epoll_wait(ep, &ev, 1, 10000); }), eintr);
  EXPECT_EQ(handled.load(), 2);
  close(ep);
  close(p[0]);
  close(p[1]);
}

TEST(Signal, SleepsReportTheTimeLeft) {
  handle h(SA_RESTART);
  timespec req{30, 0}, rem{-1, -1};
  EXPECT_EQ(kicked([&] { return nanosleep(&req, &rem); }), eintr);
  EXPECT_TRUE(rem.tv_sec >= 0 && rem.tv_sec < 30 && (rem.tv_sec > 0 || rem.tv_nsec > 0))
      << rem.tv_sec << "." << rem.tv_nsec;
  long left = kicked([] { return sleep(30); }).first;
  EXPECT_TRUE(left > 0 && left <= 30) << left;
  EXPECT_EQ(kicked([&] { return clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem); }).first, EINTR);
  EXPECT_EQ(kicked([] { return usleep(30 * 1000 * 1000); }), eintr);
  EXPECT_EQ(handled.load(), 4);
  // A sleep nobody interrupts sleeps its time and returns 0; one until a time already past
  // returns at once.
  timespec shortreq{0, 1000000};
  EXPECT_EQ(nanosleep(&shortreq, nullptr), 0);
  timespec past{};
  clock_gettime(CLOCK_MONOTONIC, &past);
  past.tv_sec -= 1;
  EXPECT_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, nullptr), 0);
}

// The goroutines that block a signal are counted exactly (signal_unix.cc SM1) through
// masks inherited at spawn, changed, and dropped at exit, with goroutines on both Ps.
TEST(Signal, GoroutinesThatBlockASignalAreCounted) {
  const int32_t base = gmp::sigmaskblockers(SIGUSR2);
  constexpr int n = 200;
  std::atomic<uint32_t> gate{0};
  WaitGroup arrived(2 * n), done(2 * n);
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  for (int i = 0; i < n; i++) {
    go([&, i] {
      EXPECT_EQ(gmp::gsigmask(SIG_BLOCK, &usr2, nullptr), 0);
      go([&] {  // inherits the mask
        arrived.done();
        gmp::semacquire(&gate);
        done.done();
      });
      arrived.done();
      gmp::semacquire(&gate);
      if (i % 2) gmp::gsigmask(SIG_UNBLOCK, &usr2, nullptr);
      done.done();
    });
  }
  arrived.wait();
  EXPECT_EQ(gmp::sigmaskblockers(SIGUSR2), base + 2 * n);
  for (int i = 0; i < 2 * n; i++) gmp::semrelease(&gate);
  done.wait();
  // Those still running at the count's end are gone once the counts settle.
  EXPECT_TRUE(waitfor([&] { return gmp::sigmaskblockers(SIGUSR2) == base; }))
      << gmp::sigmaskblockers(SIGUSR2) - base;
}

// A sleep cut short writes the time left as the kernel's copy-out would: EFAULT where rem
// cannot be written (a store here would fault); and a sleep past the clock's range has the
// time to its saturated end left (KTIME_MAX), as the kernel's.
TEST(Signal, AnInterruptedSleepWritesRemAsTheKernelDoes) {
  handle h(0);
  timespec req{30, 0};
  auto* unmapped = reinterpret_cast<timespec*>(16);
  EXPECT_EQ(kicked([&] { return nanosleep(&req, unmapped); }), std::make_pair(-1L, EFAULT));
  EXPECT_EQ(kicked([&] { return clock_nanosleep(CLOCK_MONOTONIC, 0, &req, unmapped); }).first,
            EFAULT);
  timespec huge{INT64_MAX / 2, 0}, rem{};
  EXPECT_EQ(kicked([&] { return nanosleep(&huge, &rem); }), eintr);
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  int64_t expect = INT64_MAX / 1000000000 - now.tv_sec;  // KTIME_MAX less the clock
  EXPECT_TRUE(rem.tv_sec >= expect - 2 && rem.tv_sec <= expect) << rem.tv_sec << " " << expect;
  EXPECT_EQ(handled.load(), 3);
}

TEST(Signal, PauseReturnsOnceAHandlerRan) {
  handle h(SA_RESTART);
  EXPECT_EQ(kicked([] { return pause(); }), eintr);
  EXPECT_EQ(handled.load(), 1);
}

TEST(Signal, WaitpidEndsInEintrWithoutSaRestart) {
  handle h(0);
  pid_t child = fork();
  if (child == 0) {
    usleep(10 * 1000 * 1000);  // the forked child passes the hooks through: a real sleep
    _exit(7);
  }
  ASSERT_GT(child, 0);
  int status = 0;
  EXPECT_EQ(kicked([&] { return waitpid(child, &status, 0); }), eintr);
  kill(child, SIGKILL);
  EXPECT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
}

// A signal that comes while goroutine 1 runs interrupts nothing later: the next read waits
// for its data.
TEST(Signal, ASignalWhileRunningLeavesTheNextCallAlone) {
  handle h(0);
  kill(getpid(), SIGUSR1);
  ASSERT_TRUE(waitfor([] { return handled.load() == 1; }));
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  gmp::g* me = curg();
  std::thread t([me, p] {
    waitfor([me] { return armed(me); });
    EXPECT_EQ(write(p[1], "d", 1), 1);
  });
  char c = 0;
  EXPECT_EQ(read(p[0], &c, 1), 1);
  EXPECT_EQ(c, 'd');
  t.join();
  close(p[0]);
  close(p[1]);
}

// siginterrupt is deprecated (glibc 2.36) and still called by programs: the test calls it.
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

// The program sees its own handler and flags, never the runtime's trampoline; signal()
// has BSD semantics (SA_RESTART) until siginterrupt; SA_RESETHAND's reset shows.
TEST(Signal, SigactionReportsTheProgramsHandler) {
  struct sigaction sa {}, got{}, orig{};
  sa.sa_handler = onsignal;
  sa.sa_flags = SA_RESTART | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &orig), 0);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, onsignal);
  EXPECT_EQ(got.sa_flags & (SA_RESTART | SA_NODEFER | SA_SIGINFO), SA_RESTART | SA_NODEFER);
  EXPECT_EQ(signal(SIGUSR2, SIG_IGN), onsignal);
  EXPECT_EQ(signal(SIGUSR2, onsignal), SIG_IGN);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, onsignal);
  EXPECT_TRUE(got.sa_flags & SA_RESTART);
  EXPECT_EQ(siginterrupt(SIGUSR2, 1), 0);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_FALSE(got.sa_flags & SA_RESTART);
  EXPECT_EQ(got.sa_handler, onsignal);
  EXPECT_EQ(signal(SIGUSR2, onsignal), onsignal);  // siginterrupt holds for signal() too
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_FALSE(got.sa_flags & SA_RESTART);
  siginterrupt(SIGUSR2, 0);
  sa.sa_flags = SA_RESETHAND;
  handled.store(0);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, nullptr), 0);
  raise(SIGUSR2);
  EXPECT_EQ(handled.load(), 1);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, SIG_DFL);
  // SIG_IGN and SIG_DFL are the kernel's whatever the flags: SA_SIGINFO with SIG_IGN ignores.
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = SA_SIGINFO;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, nullptr), 0);
  raise(SIGUSR2);
  ASSERT_EQ(sigaction(SIGUSR2, nullptr, &got), 0);
  EXPECT_EQ(got.sa_handler, SIG_IGN);
  EXPECT_EQ(sigaction(SIGKILL, &sa, nullptr), -1);
  EXPECT_EQ(errnonow(), EINVAL);
  sigaction(SIGUSR2, &orig, nullptr);
}

// The trampoline counts the handlers a thread runs, so that what they call neither parks
// nor takes a runtime lock (hooks.h, inhandler), and restores the count when the handler
// returns; a handler that leaves by siglongjmp ends it (the count would otherwise stay up
// and keep every later call of the thread from parking). tgkill: a real signal to this
// thread, which the kernel delivers before the call returns.
namespace {
std::atomic<int> insidehandler{-1};
sigjmp_buf jumpenv;
void notehandler(int) { insidehandler.store(gmp::inhandler() ? 1 : 0); }
void jumphandler(int) {
  insidehandler.store(gmp::inhandler() ? 1 : 0);
  siglongjmp(jumpenv, 1);
}
void signalself(int sig) { syscall(SYS_tgkill, getpid(), gettid(), sig); }
}  // namespace

TEST(Signal, HandlersAreCountedAndALongjmpOutEndsTheCount) {
  struct sigaction sa {}, old{};
  sa.sa_handler = notehandler;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  EXPECT_FALSE(gmp::inhandler());
  signalself(SIGUSR2);
  EXPECT_EQ(insidehandler.load(), 1) << "the handler ran, counted";
  EXPECT_FALSE(gmp::inhandler()) << "and the count is back when it returned";

  sa.sa_handler = jumphandler;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, nullptr), 0);
  insidehandler.store(-1);
  volatile int jumped = 0;
  if (sigsetjmp(jumpenv, 1) == 0) {
    signalself(SIGUSR2);
  } else {
    jumped = 1;
  }
  EXPECT_EQ(jumped, 1);
  EXPECT_EQ(insidehandler.load(), 1);
  EXPECT_FALSE(gmp::inhandler()) << "siglongjmp out of the handler ends its count";
  sigaction(SIGUSR2, &old, nullptr);
}

// A handler that leaves a parked read by siglongjmp (a timeout's classic way out) runs on
// goroutine 1, as the kernel runs it on the thread whose call it interrupts (sigintr.cc,
// SI5): the jump lands where the program waits, the read is over (the pipe's next bytes
// stay for the next read), and the mask sigsetjmp saved is goroutine 1's again. Run on an
// M, the handler found itself elsewhere (it does not jump then: the read ends in EINTR);
// when it jumped, the ring's read went on and took the next bytes, and the program ran on
// outside the scheduler.
namespace {
sigjmp_buf readjump;
std::atomic<gmp::g*> ranon{nullptr};
std::atomic<gmp::g*> jumpfrom{nullptr};
void jumpoutofread(int) {
  ranon.store(curg());
  if (curg() == jumpfrom.load()) siglongjmp(readjump, 1);
}
}  // namespace

TEST(Signal, ALongjmpOutOfAParkedReadLeavesFromGoroutine1AndLosesNothing) {
  handle h(0, jumpoutofread);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  jumpfrom.store(curg());
  ranon.store(nullptr);
  std::thread t = kicker(curg());
  volatile int jumped = 0;
  char c = 0;
  if (sigsetjmp(readjump, 1) == 0) {
    read(p[0], &c, 1);
  } else {
    jumped = 1;
  }
  t.join();
  EXPECT_EQ(jumped, 1);
  EXPECT_EQ(ranon.load(), jumpfrom.load()) << "the handler ran on goroutine 1";
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  EXPECT_FALSE(sigismember(&now, SIGUSR1)) << "the jump restored the mask sigsetjmp saved";
  ASSERT_EQ(write(p[1], "ab", 2), 2);
  pollfd pf{p[0], POLLIN, 0};
  EXPECT_EQ(poll(&pf, 1, 2000), 1);
  int n = 0;
  ioctl(p[0], FIONREAD, &n);
  EXPECT_EQ(n, 2) << "the abandoned read took none of them";
  char buf[2] = {};
  EXPECT_EQ(read(p[0], buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "ab");
  close(p[0]);
  close(p[1]);
}

// A signal sent to the process that the kernel gives another thread while goroutine 1 waits
// in a call that holds its own thread (sigtimedwait: no ring wait) goes on to that thread
// (sigintr.cc, sigdefer), whose call the kernel then interrupts, as the main thread's. The
// kernel's choice is made here: the signal is queued to the sending thread (SI_QUEUE, as
// sigqueue's), which is not goroutine 1's. Before, its handler ran on the sender and
// sigtimedwait waited out its 5 s.
TEST(Signal, ACallThatHoldsItsThreadIsInterruptedWhereGoroutine1Runs) {
  handle h(0);
  sigset_t want, saved;
  sigemptyset(&want);
  sigaddset(&want, SIGUSR2);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &want, &saved), 0);
  gmp::g* gp = curg();
  std::atomic<bool> returned{false};
  std::thread t([gp, &returned] {
    // Gsyscall comes just before the call itself: a signal in between is handled before
    // the call and interrupts nothing, as on a thread. So again every 100 ms until it ends.
    while (!returned.load()) {
      waitfor([&] { return returned.load() || gmp::readgstatus(gp) == gmp::Gsyscall; });
      if (returned.load()) break;
      siginfo_t si{};
      si.si_signo = SIGUSR1;
      si.si_code = SI_QUEUE;
      si.si_pid = getpid();
      si.si_uid = getuid();
      syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGUSR1, &si);
      for (int i = 0; i < 100 && !returned.load(); i++) usleep(1000);
    }
  });
  timespec ts{5, 0};
  int64_t t0 = gmp::nanotime();
  int r = sigtimedwait(&want, nullptr, &ts);
  int err = errnonow();
  returned.store(true);
  t.join();
  EXPECT_EQ(r, -1);
  EXPECT_EQ(err, EINTR);
  EXPECT_GE(handled.load(), 1);
  EXPECT_LT(gmp::nanotime() - t0, int64_t(4e9)) << "the wait ran its course";
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
}

// A blocking connect a handler interrupted goes on in the kernel; the next connect on the
// socket waits for it and returns its outcome, and under SA_RESTART the interrupted call
// itself waits on (signal(7)), as a thread's. The ring's connect is non-blocking: it
// answered EALREADY at once to the second call, and the first ended in EINTR even under
// SA_RESTART.
namespace {
// backlogged: a listener on loopback whose accept queue is full (listen 0, and a connection
// waiting in it), so that a connect of c to it waits: its SYN is dropped and sent again
// after a second. roomonce accepts the waiting one once gp parked again after before (on
// its call, armed); the next SYN then gets through. connects: c's connect, made while t
// runs, succeeds.
struct backlogged {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int accepted = -1;
  sockaddr_in addr{};
  backlogged() {
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(ls, 0);
    socklen_t len = sizeof addr;
    getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &len);
    EXPECT_EQ(connect(filler, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  int connectto() { return connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr); }
  void roomonce(gmp::g* gp, uint64_t before) {
    reparked(gp, before);
    accepted = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  }
  void connects(std::thread& t) {
    int r = connectto();
    int err = errnonow();
    t.join();
    EXPECT_EQ(r, 0) << strerrorname_np(err);
  }
  ~backlogged() {
    close(c);
    close(accepted);
    close(filler);
    close(ls);
  }
};
}  // namespace

TEST(Signal, AConnectThatWasInterruptedIsWaitedForByTheNextOne) {
  handle h(0);
  backlogged b;
  EXPECT_EQ(kicked([&] { return b.connectto(); }), eintr);
  gmp::g* gp = curg();
  uint64_t before = parks();
  std::thread t([&] { b.roomonce(gp, before); });
  b.connects(t);
}

TEST(Signal, AConnectGoesOnUnderSaRestart) {
  handle h(SA_RESTART);
  backlogged b;
  gmp::g* gp = curg();
  std::thread t = kicker(gp, [&](uint64_t before) { b.roomonce(gp, before); });
  b.connects(t);
  EXPECT_EQ(handled.load(), 1);
}

// A SIGURG that lands in the middle of a switch finds getg() still naming the outgoing g,
// whose m_ is already null: its handler finds the M by the thread instead, and so answers
// (clears) sysmon's request. It found none and left the request set, and sysmon, which
// sends no second one while one is set, never preempted that M again: a program of
// spin-waiting threads hung at one P (tests/apps/spinbarrier.c: 3 runs in 48, one-off).
TEST(Signal, AHandlerFindsItsMInTheMiddleOfASwitch) {
  gmp::g outgoing{};  // a g whose m_ is null, as getg() gives it in that window
  EXPECT_EQ(gmp::threadm(&outgoing), curm());
  EXPECT_EQ(gmp::threadm(nullptr), curm());
  EXPECT_EQ(gmp::threadm(curg()), curm());
  gmp::m* other = reinterpret_cast<gmp::m*>(1);
  std::thread([&] { other = gmp::threadm(nullptr); }).join();
  EXPECT_EQ(other, nullptr) << "a thread that is no M";
}
