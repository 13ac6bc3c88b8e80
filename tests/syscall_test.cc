// syscall_test.cc — blocking calls that cannot be parked run between entersyscall and
// exitsyscall (preload/syscall.cc): sysmon hands the P to another M, so with one P the other
// goroutines keep running while one is blocked in the kernel.
#include <fcntl.h>
#include <netdb.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>

#include <cerrno>

#include "export_test.h"

using namespace gmptest;

extern char** environ;

// A goroutine blocks in flock on a file main holds locked: main (same single P) goes on,
// sleeps, and then unlocks, which it could not do if the blocked goroutine held the P.
TEST(Syscall, BlockedFlockLeavesThePToOthers) {
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
  int64_t ran = 0;
  for (int i = 0; i < 20; i++) {
    gmp_sleep(1000 * 1000);
    ran++;
  }
  EXPECT_EQ(ran, 20);
  EXPECT_FALSE(locked.load()) << "still blocked: main ran beside it";
  ASSERT_EQ(flock(fd1, LOCK_UN), 0);
  wg.wait();
  EXPECT_EQ(result.load(), 0);
  close(fd1);
  close(fd2);
}

// waitpid for one child parks on its pidfd; with one P another goroutine runs meanwhile, and
// the status is the child's.
TEST(Syscall, WaitpidParksAndReturnsTheStatus) {
  ScopedMaxprocs one(1);
  pid_t pid;
  char sh[] = "sh", c[] = "-c", script[] = "sleep 0.05; exit 7";
  char* argv[] = {sh, c, script, nullptr};
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, environ), 0);
  int status = 0;
  pid_t got = 0;
  int64_t ticks = yieldsduring([&] { got = waitpid(pid, &status, 0); });
  EXPECT_EQ(got, pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_GT(ticks, 10) << "main ran while the goroutine waited";
  errno = 0;
  EXPECT_EQ(waitpid(pid, &status, WNOHANG), -1);
  EXPECT_EQ(errnonow(), ECHILD);
}

// The resolver blocks its M in libc-internal I/O; between entersyscall and exitsyscall the
// answer is still libc's.
TEST(Syscall, GetaddrinfoFromGoroutines) {
  constexpr int n = 8;
  std::atomic<int> right{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      addrinfo hints{};
      hints.ai_family = AF_INET;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      if (getaddrinfo("127.0.0.1", "80", &hints, &res) == 0 && res &&
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
