// syscall_test.cc — blocking calls that cannot be parked run between entersyscall and
// exitsyscall (preload/syscall.cc): sysmon hands the P to another M, so with one P the other
// goroutines keep running while one is blocked in the kernel.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <spawn.h>
#include <liburing.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <linux/futex.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <pthread.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "export_test.h"

using namespace gmptest;

extern char** environ;

// A goroutine blocks in flock on a file main holds locked: main (same single P) goes on,
// sleeps, and then unlocks, which it could not do if the blocked goroutine held the P.
TEST(Syscall, BlockedFlockLeavesThePToOthers) {
  NoLazySyscalls hooksonly;
  ScopedMaxprocs one(1);
  char path[] = "/tmp/gmp-flock-XXXXXX";
  int fd1 = mkstemp(path);
  ASSERT_GE(fd1, 0);
  int fd2 = open(path, O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd2, 0);
  unlink(path);
  ASSERT_EQ(flock(fd1, LOCK_EX), 0);
  EXPECT_EQ(flock(fd2, LOCK_EX | LOCK_NB), -1) << "held by fd1";
  std::atomic<bool> calling{false}, locked{false};
  std::atomic<int> result{-2};
  WaitGroup wg(1);
  go([&] {
    calling.store(true);
    result.store(flock(fd2, LOCK_EX));  // blocks in the kernel until main unlocks
    locked.store(true);
    wg.done();
  });
  while (!calling.load()) gmp_yield();
  for (int i = 0; i < 20; i++) gmp_sleep(1000 * 1000);  // hangs if the P stayed with flock
  EXPECT_FALSE(locked.load()) << "still blocked: main ran beside it";
  ASSERT_EQ(flock(fd1, LOCK_UN), 0);
  wg.wait();
  EXPECT_EQ(result.load(), 0);
  close(fd1);
  close(fd2);
}

// waitpid for one child parks on the ring (a waitid that leaves the child to collect); with
// one P another goroutine runs meanwhile, and the status is the child's.
TEST(Syscall, WaitpidParksAndReturnsTheStatus) {
  NoLazySyscalls hooksonly;
  ScopedMaxprocs one(1);
  pid_t pid;
  char sh[] = "sh", c[] = "-c", script[] = "sleep 0.05; exit 7";
  char* argv[] = {sh, c, script, nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ), 0);
  int status = 0;
  pid_t got = 0;
  uint64_t before = parks();  // yieldsduring's own goroutines yield, never park
  int64_t ticks = yieldsduring([&] { got = waitpid(pid, &status, 0); });
  EXPECT_GT(parks(), before) << "waitpid parked on the ring, not in the kernel";
  EXPECT_EQ(got, pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_GT(ticks, 10) << "main ran while the goroutine waited";
  errno = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errnonow(), ECHILD);
}

namespace {
// waitidring: the kernel has IORING_OP_WAITID (Linux 6.7), which waitpid parks on.
bool waitidring() {
  io_uring_probe* p = io_uring_get_probe();
  bool ok = p && io_uring_opcode_supported(p, 50);
  if (p) io_uring_free_probe(p);
  return ok;
}
}  // namespace

// A tracer's waitpid reports its traced child's stops without WUNTRACED (a pidfd never
// signals them: strace hung preloaded), with the kernel's own status.
TEST(Syscall, WaitpidReportsTheStopsOfATracedChild) {
  NoLazySyscalls hooksonly;
  ScopedMaxprocs one(1);
  pid_t pid = fork();
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) _exit(99);  // not permitted here
    usleep(50 * 1000);  // the parent is parked by then
    raise(SIGSTOP);
    _exit(3);
  }
  ASSERT_GT(pid, 0);
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 99) GTEST_SKIP() << "ptrace is not permitted here";
  EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP) << st;
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << st;
}

// WUNTRACED reports a stopped child, and waitpid(-1) waits for any child: parked on the
// ring, with the kernel's own status.
TEST(Syscall, WaitpidReportsAStoppedChildAndAnyChild) {
  NoLazySyscalls hooksonly;
  ScopedMaxprocs one(1);
  uint64_t before = parks();
  int st = 0;
  pid_t pid = fork();
  if (pid == 0) {
    usleep(50 * 1000);
    raise(SIGSTOP);
    _exit(4);
  }
  ASSERT_GT(pid, 0);
  ASSERT_EQ(waitpid(pid, &st, WUNTRACED), pid);
  EXPECT_TRUE(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP) << st;
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  ASSERT_EQ(waitpid(-1, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 4) << st;
  errno = 0;
  EXPECT_EQ(waitpid(-1, &st, 0), -1);
  EXPECT_EQ(errnonow(), ECHILD);
  if (!waitidring()) GTEST_SKIP() << "no IORING_OP_WAITID (Linux < 6.7): waitpid blocks its M";
  EXPECT_GT(parks(), before) << "the wait for a sleeping child parked on the ring";
}

// The resolver blocks its M in libc-internal I/O (NSS reads /etc/hosts for localhost):
// whatever the hook does around it, the answer on goroutines is still libc's.
TEST(Syscall, GetaddrinfoAnswersOnGoroutinesAsLibc) {
  constexpr int n = 8;
  std::atomic<int> right{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      addrinfo hints{};
      hints.ai_family = AF_INET;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (getaddrinfo("localhost", "80", &hints, &res) == 0 && res &&
          res->ai_family == AF_INET) {
        right.fetch_add(1);
      }
      if (res) freeaddrinfo(res);
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(right.load(), n);
}

// ---- calls nothing hooks (src/lazysyscall.cc) --------------------------------------------------

namespace {

// progresswhile runs blocked (a goroutine that blocks its M in a call no hook sees) beside a
// goroutine that counts 1 ms sleeps, with maxprocs Ps: once the counter shows the other
// goroutines ran while blocked was stuck (20 sleeps), release() unblocks it. A watchdog
// thread releases it after 10 s so a broken hand-off fails instead of hanging. Returns
// whether the sleeper made its progress before the release.
bool progresswhile(int maxprocs, int nblocked, const std::function<void(int)>& blocked,
                   const std::function<void()>& release) {
  ScopedMaxprocs n(maxprocs);
  std::atomic<int> inside{0};
  std::atomic<int64_t> sleeps{0};
  std::atomic<bool> released{false};
  WaitGroup wg(nblocked + 1);
  for (int i = 0; i < nblocked; i++) {
    go([&, i] {
      inside.fetch_add(1);
      blocked(i);
      wg.done();
    });
  }
  go([&] {
    while (!released.load()) {
      gmp_sleep(1000 * 1000);
      sleeps.fetch_add(1);
    }
    wg.done();
  });
  std::thread watchdog([&] {
    for (int i = 0; i < 1000 && !released.load(); i++) usleep(10000);
    if (!released.exchange(true)) release();
  });
  while (inside.load() < nblocked) gmp_yield();
  int64_t deadline = gmp_nanotime() + int64_t(10) * 1000 * 1000 * 1000;
  while (sleeps.load() < 20 && gmp_nanotime() < deadline) gmp_sleep(1000 * 1000);
  bool progressed = sleeps.load() >= 20;
  if (!released.exchange(true)) release();
  wg.wait();
  watchdog.join();
  return progressed;
}

}  // namespace

// The runtime reads /proc while the program runs (sysmon looks at the system call of a
// thread that kept its P for 10 ms), but never with a descriptor of the program's: an open
// gets the lowest free number, as POSIX says, all along. (sysmon's own open took it: a
// preloaded shell's `seq > file` redirection lost its stdout.) Raw system calls: the loop
// never schedules, so sysmon looks at its thread every 10 ms.
TEST(Syscall, RuntimeReadsOfProcTakeNoDescriptorOfTheProgram) {
  ScopedMaxprocs two(2);
  uint64_t before = gmp::procfsrequests();
  int lowest = int(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_GE(lowest, 0);
  syscall(SYS_close, lowest);
  int64_t end = gmp_nanotime() + int64_t(300) * 1000 * 1000;
  long opens = 0, elsewhere = 0;
  while (gmp_nanotime() < end) {
    int fd = int(syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC));
    elsewhere += fd != lowest;
    opens++;
    syscall(SYS_close, fd);
  }
  EXPECT_EQ(elsewhere, 0) << "of " << opens << " opens";
  EXPECT_GT(gmp::procfsrequests(), before) << "sysmon looked at the looping thread";
}

// syscall(2) itself: libc's wrapper, no hook. The read gives up its P while it waits and
// then returns the byte, errno untouched.
TEST(Syscall, RawReadLeavesThePToOthers) {
  for (int procs : {1, 2}) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    long got[2] = {-2, -2};
    char c[2] = {};
    bool progressed = progresswhile(procs, procs, [&](int i) {
      errno = 0;
      got[i] = syscall(SYS_read, p[0], &c[i], 1);
      if (errno != 0) got[i] = -100 - errno;
    }, [&] { ASSERT_EQ(write(p[1], "xy", 2), 2); });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run while the reads blocked";
    for (int i = 0; i < procs; i++) EXPECT_EQ(got[i], 1) << procs << " P, reader " << i;
    EXPECT_EQ(std::string(c, size_t(procs)), procs == 1 ? "x" : (c[0] == 'x' ? "xy" : "yx"));
    close(p[0]);
    close(p[1]);
  }
}

namespace {
// fillpipe: fills the pipe whose write end is w with 'f' bytes (non-blocking meanwhile, w
// blocking again after); how many went in.
size_t fillpipe(int w) {
  int flags = fcntl(w, F_GETFL);
  fcntl(w, F_SETFL, flags | O_NONBLOCK);
  char b[4096];
  memset(b, 'f', sizeof b);
  size_t filled = 0;
  for (ssize_t n; (n = syscall(SYS_write, w, b, sizeof b)) > 0;) filled += size_t(n);
  fcntl(w, F_SETFL, flags & ~O_NONBLOCK);
  return filled;
}
}  // namespace

// A write of PIPE_BUF bytes or less to a full pipe, as stdio's flush of its 4 KiB buffer
// makes it (glibc's own write, no hook): it gives up its P, and the reader runs.
TEST(Syscall, SmallPipeWriteLeavesThePToOthers) {
  for (int procs : {1, 2}) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    size_t filled = fillpipe(p[1]);
    char buf[4096] = {'w'};
    long got = -2;
    bool progressed = progresswhile(procs, 1, [&](int) {
      errno = 0;
      got = syscall(SYS_write, p[1], buf, sizeof buf);
      if (errno != 0) got = -100 - errno;
    }, [&] {
      char sink[8192];
      ASSERT_EQ(read(p[0], sink, sizeof sink), ssize_t(sizeof sink));
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the write";
    EXPECT_EQ(got, 4096) << procs << " P: the write, whole";
    EXPECT_GT(filled, 0u);
    close(p[0]);
    close(p[1]);
  }
}

namespace {
// filewith: an unlinked temporary file holding data (what sendfile sends), or -1.
int filewith(const std::string& data) {
  char path[] = "/tmp/gmp-sendfile-XXXXXX";
  int file = mkstemp(path);
  if (file < 0) return -1;
  unlink(path);
  if (write(file, data.data(), data.size()) != ssize_t(data.size())) {
    close(file);
    return -1;
  }
  return file;
}

// readexactly: n bytes from fd (hooked reads: the goroutine parks), or what came before EOF
// or 5 s without a byte (a writer that stopped short: the test fails instead of hanging).
std::string readexactly(int fd, size_t n) {
  std::string got(n, '\0');
  size_t have = 0;
  while (have < n) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 5000) != 1) break;
    ssize_t r = read(fd, &got[have], n - have);
    if (r <= 0) break;
    have += size_t(r);
  }
  got.resize(have);
  return got;
}
}  // namespace

// A write of more bytes than its pipe or socket holds, made where no hook sees it (glibc's
// own write under fwrite, a raw system call): it blocks with some bytes out (or none, the
// pipe full already), and sysmon's SIGURG cuts it short there. It gives up its P and goes
// on with the rest, unseen (lazysyscall.cc, LS3): the call returns the whole count and
// every byte arrives in order. Before, at 1 P such a write kept the P and the reader never
// ran (a hang); given up as a plain restart, it would have returned a short count no
// plain thread sees.
TEST(Syscall, LargeWritesLeaveThePToOthersWhole) {
  constexpr size_t total = 512 * 1024;  // more than a pipe's 64 KiB and a UNIX socket's buffer
  std::string data(total, '\0');
  for (size_t i = 0; i < total; i++) data[i] = char('a' + (i * 7 + i / 4093) % 26);
  enum how { rawwrite, rawwritev, rawsendto, stdiofwrite, rawsendfile };
  struct kind {
    const char* name;
    bool sock, full;
    how call;
  };
  const kind kinds[] = {
      {"pipe write", false, false, rawwrite},    {"full pipe write", false, true, rawwrite},
      {"pipe writev", false, false, rawwritev},  {"pipe fwrite", false, false, stdiofwrite},
      {"socket write", true, false, rawwrite},   {"socket writev", true, false, rawwritev},
      {"socket sendto", true, false, rawsendto},  {"socket sendfile", true, false, rawsendfile},
  };
  int file = filewith(data);  // what sendfile sends
  ASSERT_GE(file, 0);
  for (int procs : {1, 2}) {
    for (const kind& k : kinds) {
      int fds[2];
      if (k.sock) {
        ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
      } else {
        ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
      }
      std::string prefix;  // nothing of a full pipe's write goes out before the reader runs
      if (k.full) prefix.assign(fillpipe(fds[1]), 'f');
      long got = -2;
      std::string arrived;
      bool progressed = progresswhile(procs, 1, [&](int) {
        iovec iov[3] = {{&data[0], 1000}, {&data[1000], total / 2}, {&data[1000 + total / 2],
                                                                      total / 2 - 1000}};
        errno = 0;
        switch (k.call) {
          case rawwrite: got = syscall(SYS_write, fds[1], data.data(), total); break;
          case rawwritev: got = syscall(SYS_writev, fds[1], iov, 3); break;
          case rawsendto: got = syscall(SYS_sendto, fds[1], data.data(), total, 0, nullptr, 0);
                          break;
          case rawsendfile: {
            off_t off = 0;
            got = syscall(SYS_sendfile, fds[1], file, &off, total);
            break;
          }
          case stdiofwrite: {
            FILE* f = fdopen(dup(fds[1]), "w");
            setvbuf(f, nullptr, _IONBF, 0);  // the whole buffer in glibc's own write
            got = long(fwrite(data.data(), 1, total, f));
            fclose(f);
            break;
          }
        }
        if (errno != 0) got = -100 - errno;
      }, [&] { arrived = readexactly(fds[0], prefix.size() + total); });
      EXPECT_TRUE(progressed) << procs << " P, " << k.name << ": the others did not run";
      EXPECT_EQ(got, long(total)) << procs << " P, " << k.name << ": the count";
      EXPECT_TRUE(arrived == prefix + data) << procs << " P, " << k.name << ": " << arrived.size()
                                            << " bytes arrived, not all in order";
      close(fds[0]);
      close(fds[1]);
    }
  }
  close(file);
}

// A receive with MSG_WAITALL that has some of its bytes when sysmon's SIGURG cuts it short
// goes on for the rest too (LS3).
TEST(Syscall, WaitallReceiveLeavesThePToOthersWhole) {
  for (int procs : {1, 2}) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    ASSERT_EQ(write(fds[1], "first part;", 11), 11);
    char in[32] = {};
    long got = -2;
    bool progressed = progresswhile(procs, 1, [&](int) {
      errno = 0;
      got = syscall(SYS_recvfrom, fds[0], in, 24, MSG_WAITALL, nullptr, nullptr);
      if (errno != 0) got = -100 - errno;
    }, [&] { ASSERT_EQ(write(fds[1], "second part.", 13), 13); });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the receive";
    EXPECT_EQ(got, 24) << procs << " P";
    EXPECT_STREQ(in, "first part;second part.");
    close(fds[0]);
    close(fds[1]);
  }
}

// vmsplice and sendfile into a full pipe wait for room, then move what fits and return
// (a short count, as natively): made again after sysmon's SIGURG, they leave the P.
TEST(Syscall, SplicesIntoAFullPipeLeaveThePToOthers) {
  std::string data(8192, 'd');
  for (size_t i = 0; i < data.size(); i++) data[i] = char('a' + i % 26);
  int file = filewith(data);
  ASSERT_GE(file, 0);
  for (int procs : {1, 2}) {
    for (bool splice : {true, false}) {
      int fds[2];
      ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
      size_t filled = fillpipe(fds[1]);
      long got = -2;
      bool progressed = progresswhile(procs, 1, [&](int) {
        iovec iov{data.data(), data.size()};
        off_t off = 0;
        errno = 0;
        got = splice ? syscall(SYS_vmsplice, fds[1], &iov, 1, 0)
                     : syscall(SYS_sendfile, fds[1], file, &off, data.size());
        if (errno != 0) got = -100 - errno;
      }, [&] { EXPECT_EQ(readexactly(fds[0], filled).size(), filled); });
      const char* name = splice ? "vmsplice" : "sendfile";
      EXPECT_TRUE(progressed) << procs << " P, " << name << ": the others did not run";
      ASSERT_GT(got, 0) << procs << " P, " << name;
      ASSERT_LE(got, long(data.size())) << procs << " P, " << name;
      EXPECT_EQ(readexactly(fds[0], size_t(got)), data.substr(0, size_t(got)))
          << procs << " P, " << name;
      close(fds[0]);
      close(fds[1]);
    }
  }
  close(file);
}

// Datagrams in and out by the message: a recvmmsg that returns with its first datagram is
// made again (nothing was taken), a sendmmsg to a full datagram socket goes on with the
// messages left (LS3). Both kept their P before.
TEST(Syscall, MessageBatchesLeaveThePToOthersWhole) {
  for (int procs : {1, 2}) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds), 0);
    char in[2][16] = {};
    iovec iv[2] = {{in[0], sizeof in[0]}, {in[1], sizeof in[1]}};
    mmsghdr mm[2] = {};
    for (int i = 0; i < 2; i++) {
      mm[i].msg_hdr.msg_iov = &iv[i];
      mm[i].msg_hdr.msg_iovlen = 1;
    }
    long got = -2;
    bool progressed = progresswhile(procs, 1, [&](int) {
      errno = 0;
      got = syscall(SYS_recvmmsg, fds[1], mm, 2, MSG_WAITFORONE, nullptr);
      if (errno != 0) got = -100 - errno;
    }, [&] { ASSERT_EQ(send(fds[0], "one", 4, 0), 4); });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during recvmmsg";
    EXPECT_EQ(got, 1) << procs << " P: recvmmsg";
    EXPECT_STREQ(in[0], "one");

    // Fill the receiver's queue, then send 3 more in one sendmmsg; the release reads all.
    int queued = 0;
    while (send(fds[0], "fill", 5, MSG_DONTWAIT) == 5) queued++;
    ASSERT_GT(queued, 0);
    const char* words[3] = {"a", "bb", "ccc"};
    iovec ov[3];
    mmsghdr om[3] = {};
    for (int i = 0; i < 3; i++) {
      ov[i] = {const_cast<char*>(words[i]), strlen(words[i]) + 1};
      om[i].msg_hdr.msg_iov = &ov[i];
      om[i].msg_hdr.msg_iovlen = 1;
    }
    std::string tail;
    progressed = progresswhile(procs, 1, [&](int) {
      errno = 0;
      got = syscall(SYS_sendmmsg, fds[0], om, 3, 0);
      if (errno != 0) got = -100 - errno;
    }, [&] {
      char b[16];
      for (int i = 0; i < queued + 3; i++) {
        ssize_t n = recv(fds[1], b, sizeof b, 0);
        if (i >= queued && n > 0) tail += std::string(b) + ",";
      }
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during sendmmsg";
    EXPECT_EQ(got, 3) << procs << " P: sendmmsg";
    EXPECT_EQ(tail, "a,bb,ccc,");
    for (int i = 0; i < 3; i++) EXPECT_EQ(om[i].msg_len, ov[i].iov_len) << i;
    close(fds[0]);
    close(fds[1]);
  }
}

// pthread_cond_wait on a condition a plain thread signals: the futex wait deep in libc
// gives up the P; the mutex comes back held by the waiter, as it must.
TEST(Syscall, CondWaitForAThreadLeavesThePToOthers) {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  bool ready = false;
  int relocked = -1;
  bool progressed = progresswhile(1, 1, [&](int) {
    pthread_mutex_lock(&mu);
    while (!ready) pthread_cond_wait(&cv, &mu);
    relocked = pthread_mutex_trylock(&mu);  // EBUSY: we hold it
    pthread_mutex_unlock(&mu);
  }, [&] {
    std::thread t([&] {
      pthread_mutex_lock(&mu);
      ready = true;
      pthread_cond_signal(&cv);
      pthread_mutex_unlock(&mu);
    });
    t.join();
  });
  EXPECT_TRUE(progressed);
  EXPECT_EQ(relocked, EBUSY);
}

// Calls a signal handler ends in EINTR whatever SA_RESTART says, which may be made again as
// they were (no timeout, or an absolute one: lazysyscall.cc, remakenr: semop, msgrcv, futex
// waits, a wait on the program's own io_uring), give up their P too:
// sysmon's SIGURG ends them and they are made again, unseen (no EINTR). Without that, at 1 P
// they held it until they returned, and the goroutine that would end them never ran.
TEST(Syscall, CallsAHandlerEndsLeaveThePToOthersUnseen) {
  for (int procs : {1, 2}) {
    int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    ASSERT_GE(sem, 0);
    long got = -2;
    bool progressed = progresswhile(procs, 1, [&](int) {
      sembuf down{0, -1, 0};
      errno = 0;
      got = semop(sem, &down, 1);
      if (errno != 0) got = -100 - errno;
    }, [&] {
      sembuf up{0, 1, 0};
      ASSERT_EQ(semop(sem, &up, 1), 0);
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the semop";
    EXPECT_EQ(got, 0) << procs << " P: semop";
    semctl(sem, 0, IPC_RMID);

    int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    ASSERT_GE(q, 0);
    struct {
      long type;
      char text[8];
    } in{}, out{1, "hello"};
    got = -2;
    std::atomic<pid_t> tid{0};
    progressed = progresswhile(procs, 1, [&](int) {
      tid = pid_t(syscall(SYS_gettid));  // the M's thread, where the call is made again
      errno = 0;
      got = msgrcv(q, &in, sizeof in.text, 0, 0);
      if (errno != 0) got = -100 - errno;
    }, [&] {
      // More SIGURGs while gmp_lazysyscall makes it again (sysmon's next request, a dump's
      // ask): each ends it in EINTR there, and it is made once more, unseen.
      for (int i = 0; i < 3; i++) {
        syscall(SYS_tgkill, getpid(), tid.load(), SIGURG);
        usleep(2000);
      }
      ASSERT_EQ(msgsnd(q, &out, 6, 0), 0);
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the msgrcv";
    EXPECT_EQ(got, 6) << procs << " P: msgrcv";
    EXPECT_STREQ(in.text, "hello");
    msgctl(q, IPC_RMID, nullptr);

    // libstdc++'s timed waits (a future's wait_for): FUTEX_WAIT_BITSET until a deadline.
    std::atomic<uint32_t> word{0};
    timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 60;
    got = -2;
    progressed = progresswhile(procs, 1, [&](int) {
      got = 0;
      while (word.load() == 0) {
        errno = 0;
        long r = syscall(SYS_futex, &word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, &deadline,
                         nullptr, FUTEX_BITSET_MATCH_ANY);
        if (r != 0 && errno != EAGAIN) got = -100 - errno;
      }
    }, [&] {
      word.store(1);
      syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the futex wait";
    EXPECT_EQ(got, 0) << procs << " P: the futex wait (-100 - errno: it ended in one)";

    // A hand-written waiter (Abseil's): FUTEX_WAIT for 50 ms at a time until the word turns.
    word.store(0);
    got = -2;
    progressed = progresswhile(procs, 1, [&](int) {
      got = 0;
      while (word.load() == 0) {
        timespec rel{0, 50 * 1000 * 1000};
        errno = 0;
        long r = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, &rel, nullptr, 0);
        if (r != 0 && errno != EAGAIN && errno != ETIMEDOUT) got = -100 - errno;
      }
    }, [&] {
      word.store(1);
      syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the timed waits";
    EXPECT_EQ(got, 0) << procs << " P: the relative futex waits (-100 - errno: one ended so)";
  }
}

// A wait on the program's own io_uring (liburing's io_uring_wait_cqe: io_uring_enter with
// GETEVENTS, remakenr), ended by a completion another thread submits. It held its P before.
// (A test of its own: the ring's teardown queues task work on the thread that made it, which
// ends a semop there in EINTR, as it does natively.)
TEST(Syscall, WaitsOnTheProgramsOwnRingLeaveThePToOthers) {
  for (int procs : {1, 2}) {
    io_uring ring;
    ASSERT_EQ(io_uring_queue_init(4, &ring, 0), 0);
    int got = -2;
    uint64_t data = 0;
    bool progressed = progresswhile(procs, 1, [&](int) {
      io_uring_cqe* cqe = nullptr;
      int r = io_uring_wait_cqe(&ring, &cqe);
      got = r < 0 ? -100 + r : cqe->res;
      if (r == 0) {
        data = cqe->user_data;
        io_uring_cqe_seen(&ring, cqe);
      }
    }, [&] {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, 42);
      ASSERT_EQ(io_uring_submit(&ring), 1);
    });
    EXPECT_TRUE(progressed) << procs << " P: the others did not run during the ring's wait";
    EXPECT_EQ(got, 0) << procs << " P: the ring's wait (-100 + its error)";
    EXPECT_EQ(data, 42u);
    io_uring_queue_exit(&ring);
  }
}

// sigsuspend returns once a handler of the program's has run, not for the runtime's SIGURGs
// (sysmon's preemption request may land just as a thread enters it): those make it wait
// again (preload/hook.h, remadeunseen). It returned EINTR to the first one.
TEST(Syscall, SigsuspendWaitsThroughTheRuntimesSigurgs) {
  static std::atomic<int> usr2{0};
  usr2 = 0;
  struct sigaction sa {}, old{};
  sa.sa_handler = [](int) { usr2++; };
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  std::atomic<pid_t> tid{0};
  std::atomic<int> result{-2}, err{0};
  WaitGroup wg(1);
  go([&] {
    sigset_t none;
    sigemptyset(&none);
    tid = pid_t(syscall(SYS_gettid));  // sigsuspend waits on this thread (insyscall)
    int r = sigsuspend(&none);
    err = errno;
    result = r;
    wg.done();
  });
  while (tid.load() == 0) gmp_sleep(1000 * 1000);
  gmp_sleep(20 * 1000 * 1000);
  for (int i = 0; i < 3; i++) {
    syscall(SYS_tgkill, getpid(), tid.load(), SIGURG);
    gmp_sleep(5 * 1000 * 1000);
  }
  EXPECT_EQ(result.load(), -2) << "sigsuspend returned for a SIGURG of the runtime's";
  syscall(SYS_tgkill, getpid(), tid.load(), SIGUSR2);
  wg.wait();
  EXPECT_EQ(result.load(), -1);
  EXPECT_EQ(err.load(), EINTR);
  EXPECT_EQ(usr2.load(), 1);
  sigaction(SIGUSR2, &old, nullptr);
}

extern "C" long gmptest_rawread(int fd, void* buf, uint64_t* out);  // tests/rawread.S

// The call made again keeps every register the program had at its `syscall` instruction
// (the arguments, callee-saved ones, the vector registers), and returns its result in rax.
TEST(Syscall, RestartedCallKeepsTheRegisters) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  char c = 0;
  long ret = 0;
  uint64_t out[10] = {};
  bool progressed = progresswhile(1, 1, [&](int) { ret = gmptest_rawread(p[0], &c, out); },
                                  [&] { ASSERT_EQ(write(p[1], "r", 1), 1); });
  EXPECT_TRUE(progressed);
  EXPECT_EQ(ret, 1);
  EXPECT_EQ(c, 'r');
  std::vector<uint64_t> want = {uint64_t(p[0]), reinterpret_cast<uint64_t>(&c), 1, 0x1010,
                                0x0808, 0x0909, 0x1212, 0xa0a0a0a0, 0xa9a9a9a9, 0xafafafaf};
  EXPECT_EQ(std::vector<uint64_t>(out, out + 10), want);
  close(p[0]);
  close(p[1]);
}

// epoll_pwait2 (a timespec timeout) blocks its thread between entersyscall and
// exitsyscall: main (same single P) goes on and ends the wait by writing. Unhooked, the wait
// held the P: main ran only after the 10 s timeout, and the wait returned 0.
TEST(Syscall, EpollPwait2LeavesThePToOthers) {
  NoLazySyscalls hooksonly;
  ScopedMaxprocs one(1);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = p[0];
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
  std::atomic<bool> calling{false};
  std::atomic<int> result{-2};
  WaitGroup wg(1);
  go([&] {
    calling.store(true);
    epoll_event got{};
    timespec ts{10, 0};
    result.store(epoll_pwait2(ep, &got, 1, &ts, nullptr));
    wg.done();
  });
  while (!calling.load()) gmp_yield();
  gmp_sleep(20 * 1000 * 1000);  // main runs beside the wait
  ASSERT_EQ(write(p[1], "x", 1), 1);
  wg.wait();
  EXPECT_EQ(result.load(), 1);
  close(ep);
  close(p[0]);
  close(p[1]);
}
