// netpoll_test.cc — blocking libc calls from goroutines park on io_uring (preload/io.cc,
// preload/sleep.cc, src/netpoll_uring.cc): the goroutine waits, its thread does not, and
// libc's contract holds (results, errno, O_NONBLOCK, every byte in order).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <x86intrin.h>
#include <vector>

#include "export_test.h"

using namespace gmptest;

namespace {
struct gmp_stats stats() {
  struct gmp_stats s {};
  EXPECT_EQ(gmp_stats(&s, sizeof s), 0);
  return s;
}

// waitparked: goroutine 1 waits until n parks more than before have happened (each of its
// own 1 ms sleeps is a park too), 10 s at most; whether they did. A test that acts on
// parked goroutines waits with it instead of sleeping a guess.
bool waitparked(uint64_t before, uint64_t n) {
  const int64_t until = gmp_nanotime() + int64_t(10) * 1000 * 1000 * 1000;
  for (uint64_t mine = 0; stats().parks - before - mine < n; mine++) {
    if (gmp_nanotime() > until) return false;
    gmp_sleep(1000 * 1000);
  }
  return true;
}

// listener: a blocking TCP socket listening on a free loopback port, its address in *addr;
// -1 on failure.
int listener(sockaddr_in* addr) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  *addr = sockaddr_in{};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof *addr;
  if (ls < 0 || bind(ls, reinterpret_cast<sockaddr*>(addr), sizeof *addr) != 0 ||
      getsockname(ls, reinterpret_cast<sockaddr*>(addr), &alen) != 0 || listen(ls, 1024) != 0) {
    if (ls >= 0) close(ls);
    return -1;
  }
  return ls;
}
// pipereaders: n goroutines parked in one-byte reads of `pipes` pipes (reader i on pipe
// i % pipes); right counts those that read their pipe's tag (its index * 7), done those that
// returned. fill() writes every pipe's tags, n / pipes bytes each, for its readers.
struct pipereaders {
  const int pipes, n;
  std::vector<int> fds;
  std::atomic<int> right{0}, done{0};
  WaitGroup wg;
  pipereaders(int pipes_, int n_) : pipes(pipes_), n(n_), fds(2 * pipes_), wg(n_) {
    for (int i = 0; i < pipes; i++) EXPECT_EQ(pipe2(&fds[2 * i], O_CLOEXEC), 0) << i;
    for (int i = 0; i < n; i++) {
      go([this, i] {
        const int pi = i % pipes;
        unsigned char c = 0;
        if (read(fds[2 * pi], &c, 1) == 1 && c == (unsigned char)(pi * 7)) right.fetch_add(1);
        done.fetch_add(1);
        wg.done();
      });
    }
  }
  ~pipereaders() {  // readers still parked (a failed test) end in EBADF before wg goes
    for (int fd : fds) close(fd);
    wg.wait();
  }
  void fill() {
    std::vector<unsigned char> tag(size_t(n / pipes));
    for (int i = 0; i < pipes; i++) {
      memset(tag.data(), (unsigned char)(i * 7), tag.size());
      EXPECT_EQ(write(fds[2 * i + 1], tag.data(), tag.size()), ssize_t(tag.size()));
    }
  }
};
}  // namespace

// A blocking write bigger than the pipe goes on until every byte is out, while a reader
// goroutine drains it: the bytes arrive complete and in order.
TEST(Netpoll, BigPipeWriteIsWhole) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  constexpr size_t size = 4 << 20;
  std::vector<unsigned char> out(size), in(size);
  for (size_t i = 0; i < size; i++) out[i] = (unsigned char)(i * 131 + (i >> 12));
  WaitGroup wg(1);
  size_t got = 0;
  go([&] {
    while (got < size) {
      ssize_t r = read(p[0], in.data() + got, size - got);
      if (r <= 0) break;
      got += size_t(r);
    }
    wg.done();
  });
  EXPECT_EQ(write(p[1], out.data(), size), ssize_t(size));
  wg.wait();
  EXPECT_EQ(got, size);
  EXPECT_TRUE(in == out);
  close(p[0]);
  close(p[1]);
}

// A write that parks again and again (a slow reader on a plain thread) may resume after each
// park on another P, one that never did I/O and so has no ring yet: Ps 2-5 are new here
// (no other test uses more than 2), and goroutines spinning on some of them push the writer
// around. Each park must happen on the ring of the P it resumed on.
TEST(Netpoll, WriteThatParksOftenMovesToPsWithoutARing) {
  ScopedMaxprocs six(6);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  constexpr size_t size = 2 << 20;
  std::vector<unsigned char> out(size), in(size);
  for (size_t i = 0; i < size; i++) out[i] = (unsigned char)(i * 151 + (i >> 10));
  std::atomic<bool> done{false};
  WaitGroup spinners(3);
  for (int i = 0; i < 3; i++) {
    go([&] {
      while (!done.load()) {
        for (int64_t until = gmp_nanotime() + 50000; gmp_nanotime() < until;) {
        }
        gmp_yield();
      }
      spinners.done();
    });
  }
  std::thread reader([&] {
    size_t got = 0;
    while (got < size) {
      ssize_t r = ::read(p[0], in.data() + got, std::min<size_t>(size - got, 16384));
      if (r <= 0) break;
      got += size_t(r);
      usleep(200);
    }
  });
  EXPECT_EQ(write(p[1], out.data(), size), ssize_t(size));
  reader.join();
  done.store(true);
  spinners.wait();
  EXPECT_TRUE(in == out);
  close(p[0]);
  close(p[1]);
}

// Regular files: pread at many offsets from many goroutines reads exactly the file's bytes.
TEST(Netpoll, FileReadsAtOffsets) {
  char path[] = "/tmp/gmp-netpoll-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  constexpr size_t size = 1 << 20;
  std::vector<unsigned char> data(size);
  for (size_t i = 0; i < size; i++) data[i] = (unsigned char)(i ^ (i >> 8));
  ASSERT_EQ(pwrite(fd, data.data(), size, 0), ssize_t(size));
  constexpr int n = 200;
  std::atomic<int> right{0};
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&, i] {
      size_t off = size_t(i) * 4999 % (size - 4096);
      unsigned char buf[4096];
      if (pread(fd, buf, sizeof buf, off_t(off)) == ssize_t(sizeof buf) &&
          memcmp(buf, data.data() + off, sizeof buf) == 0) {
        right.fetch_add(1);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(right.load(), n);
  // read() moves the file position as libc's does.
  ASSERT_EQ(lseek(fd, 100, SEEK_SET), 100);
  unsigned char b[10];
  ASSERT_EQ(read(fd, b, 10), 10);
  EXPECT_EQ(memcmp(b, data.data() + 100, 10), 0);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 110);
  close(fd);
}

// A sleeping goroutine parks: with one P another goroutine keeps running meanwhile.
TEST(Netpoll, SleepParksTheGoroutineNotThePThread) {
  ScopedMaxprocs one(1);
  int64_t ticks = yieldsduring([] {
    usleep(30 * 1000);
    timespec ts{0, 10 * 1000 * 1000};
    EXPECT_EQ(nanosleep(&ts, nullptr), 0);
  });
  EXPECT_GT(ticks, 100) << "main ran while the sleeper slept, on the same P";
}

// A TCP echo server made of goroutines with plain blocking accept/read/write, and clients
// that are goroutines too: every byte of every connection comes back intact and in order.
TEST(Netpoll, TcpEchoMovesEveryByte) {
  sockaddr_in addr;
  int ls = listener(&addr);
  ASSERT_GE(ls, 0);
  constexpr int conns = 300;
  constexpr size_t each = 64 * 1024;
  WaitGroup served(conns);
  go([&] {
    for (int i = 0; i < conns; i++) {
      int c = accept(ls, nullptr, nullptr);
      if (c < 0) {
        served.done();
        continue;
      }
      go([&, c] {
        char buf[4096];
        for (;;) {
          ssize_t r = read(c, buf, sizeof buf);
          if (r <= 0) break;
          if (write(c, buf, size_t(r)) != r) break;
        }
        close(c);
        served.done();
      });
    }
  });
  std::atomic<int> right{0};
  WaitGroup clients(conns);
  for (int i = 0; i < conns; i++) {
    go([&, i] {
      int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      bool ok = s >= 0 && connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
      std::string out(each, 0), in(each, 0);
      for (size_t k = 0; k < each; k++) out[k] = char(k * 31 + i);
      size_t sent = 0, got = 0;
      while (ok && got < each) {
        // Requests and responses in 1000-byte steps: send a step, read what comes back.
        size_t step = std::min<size_t>(1000, each - sent);
        if (step > 0 && send(s, out.data() + sent, step, 0) != ssize_t(step)) ok = false;
        sent += step;
        while (ok && got < sent) {
          ssize_t r = recv(s, in.data() + got, sent - got, 0);
          if (r <= 0) ok = false; else got += size_t(r);
        }
      }
      if (ok && in == out) right.fetch_add(1);
      if (s >= 0) close(s);
      clients.done();
    });
  }
  clients.wait();
  served.wait();
  EXPECT_EQ(right.load(), conns);
  close(ls);
}

// close() of an fd goroutines are parked on wakes them with EBADF, as if the call came after
// the close; the process goes on.
TEST(Netpoll, CloseWakesParkedReadersWithEbadf) {
  constexpr int n = 50;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  std::atomic<int> ebadf{0};
  const uint64_t before = stats().parks;
  WaitGroup wg(n);
  for (int i = 0; i < n; i++) {
    go([&] {
      char c;
      errno = 0;
      if (read(p[0], &c, 1) == -1 && errnonow() == EBADF) ebadf.fetch_add(1);
      wg.done();
    });
  }
  EXPECT_TRUE(waitparked(before, n)) << "the readers did not park";
  EXPECT_EQ(close(p[0]), 0);
  wg.wait();
  EXPECT_EQ(ebadf.load(), n);
  close(p[1]);
}

TEST(Netpoll, CloseWakesABlockedAccept) {
  sockaddr_in addr;
  int ls = listener(&addr);
  ASSERT_GE(ls, 0);
  std::atomic<int> result{0}, err{0};
  const uint64_t before = stats().parks;
  WaitGroup wg(1);
  go([&] {
    result.store(accept(ls, nullptr, nullptr));
    err.store(errnonow());
    wg.done();
  });
  EXPECT_TRUE(waitparked(before, 1)) << "the accept did not park";
  EXPECT_EQ(close(ls), 0);
  wg.wait();
  EXPECT_EQ(result.load(), -1);
  EXPECT_EQ(err.load(), EBADF);
}

// poll on mixed fds (a pipe, a socket pair) parks the goroutine: with one P the writer can
// only run if the poller's thread is free. The results are libc's (revents, the count).
TEST(Netpoll, PollOnMixedFdsParks) {
  ScopedMaxprocs one(1);
  int p[2], sv[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  WaitGroup wg(1);
  go([&] {
    gmp_sleep(10 * 1000 * 1000);
    EXPECT_EQ(write(sv[1], "s", 1), 1);
    wg.done();
  });
  pollfd fds[3] = {{p[0], POLLIN, 0}, {sv[0], POLLIN, 0}, {-1, POLLIN, 0}};
  EXPECT_EQ(poll(fds, 3, 5000), 1);
  EXPECT_EQ(fds[0].revents, 0);
  EXPECT_EQ(fds[1].revents, POLLIN);
  EXPECT_EQ(fds[2].revents, 0);
  wg.wait();
  // One fd, and a timeout that expires: 0, nothing reported.
  pollfd one1{p[0], POLLIN, 0};
  EXPECT_EQ(poll(&one1, 1, 20), 0);
  EXPECT_EQ(one1.revents, 0);
  // A closed fd in the set: POLLNVAL, as libc reports it.
  pollfd bad{12345, POLLIN, 0};
  EXPECT_EQ(poll(&bad, 1, 1000), 1);
  EXPECT_EQ(bad.revents, POLLNVAL);
  for (int fd : {p[0], p[1], sv[0], sv[1]}) close(fd);
}

// A poll of several fds whose fd number is closed and reused meanwhile (the old file kept
// open by a dup, and made readable) waits out its timeout as libc's does, parked, not
// spinning: its scratch epoll set still watched the old, ready file, and each wake found
// the new one idle and parked again at once (a helper's audit: 900 ms of CPU in a 1 s
// poll). Counted in parks: a handful, where the spin made thousands. errno stays as it was
// (the set's EEXIST for a listed-twice fd leaked into a successful poll).
TEST(Netpoll, PollOfAReusedFdNumberWaitsWithoutSpinning) {
  ScopedMaxprocs one(1);
  int p[2], q[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(q, O_CLOEXEC), 0);
  const int num = p[0];
  int oldread = -1, n[2] = {-1, -1};
  uint64_t before = parks();
  std::thread t([&] {
    waitfor([&] { return parks() > before; });  // the poll is parked
    oldread = dup(num);
    close(num);
    ASSERT_EQ(pipe2(n, O_CLOEXEC), 0);  // the lowest free number: num again, an idle pipe
    EXPECT_EQ(n[0], num);
    EXPECT_EQ(write(p[1], "x", 1), 1);  // the old file is readable
  });
  pollfd fds[3] = {{num, POLLIN, 0}, {q[0], POLLIN, 0}, {q[0], POLLIN, 0}};
  errno = 0;
  int r = poll(fds, 3, 300);
  int err = errnonow();
  uint64_t during = parks() - before;
  t.join();
  EXPECT_EQ(r, 0);
  EXPECT_EQ(err, 0);
  EXPECT_LT(during, 50u) << "a busy loop of parks";
  for (int fd : {oldread, n[0], n[1], p[1], q[0], q[1]}) close(fd);
}

// select and epoll_wait park the same way and report as libc does.
TEST(Netpoll, SelectAndEpollWaitPark) {
  ScopedMaxprocs one(1);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  WaitGroup wg(1);
  go([&] {
    gmp_sleep(10 * 1000 * 1000);
    EXPECT_EQ(write(p[1], "x", 1), 1);
    wg.done();
  });
  fd_set rd;
  FD_ZERO(&rd);
  FD_SET(p[0], &rd);
  timeval tv{5, 0};
  EXPECT_EQ(select(p[0] + 1, &rd, nullptr, nullptr, &tv), 1);
  EXPECT_TRUE(FD_ISSET(p[0], &rd));
  EXPECT_LT(tv.tv_sec, 5) << "the time left, as Linux's select writes it";
  wg.wait();
  char c;
  ASSERT_EQ(read(p[0], &c, 1), 1);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 77;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), 0);
  epoll_event out[4];
  EXPECT_EQ(epoll_wait(ep, out, 4, 20), 0) << "nothing yet: times out";
  WaitGroup wg2(1);
  go([&] {
    gmp_sleep(10 * 1000 * 1000);
    EXPECT_EQ(write(p[1], "y", 1), 1);
    wg2.done();
  });
  ASSERT_EQ(epoll_wait(ep, out, 4, 5000), 1);
  EXPECT_EQ(out[0].data.u64, 77u);
  EXPECT_EQ(out[0].events, uint32_t(EPOLLIN));
  wg2.wait();
  for (int fd : {ep, p[0], p[1]}) close(fd);
}

// A forked child has the parent's fd table and rings in its memory, and its own copies of
// the fds: its close() of an inherited fd must not cancel a parent goroutine's read on it.
TEST(Netpoll, ForkedChildsCloseLeavesTheParentsReadAlone) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  std::atomic<gmp::g*> reader{nullptr};
  ssize_t got = -2;
  char c = 0;
  WaitGroup wg(1);
  go([&] {
    reader.store(curg());
    got = read(p[0], &c, 1);
    wg.done();
  });
  while (!reader.load() || reader.load()->atomicstatus.load() != gmp::Gwaiting) gmp_yield();
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    _exit(0);
  }
  ASSERT_GT(child, 0);
  int status = -1;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(status, 0);
  ASSERT_EQ(write(p[1], "z", 1), 1);
  wg.wait();
  EXPECT_EQ(got, 1) << "the parent's read was cancelled by the child's close";
  EXPECT_EQ(c, 'z');
  close(p[0]);
  close(p[1]);
}

// The rings run a completion's task work cooperatively (IORING_SETUP_COOP_TASKRUN,
// netpoll_uring.cc): the kernel posts it when the submitting thread next enters the kernel,
// a timer tick included, without an IPI. So a reader whose submitting M then runs a goroutine
// that never makes a system call is still woken: with one P, the spinner holds the M that
// submitted the read, and it spins (rdtsc, no clock_gettime) until sysmon's poll has readied
// the reader. With a ring that waits for its submitter's io_uring_enter (DEFER_TASKRUN) the
// reader would stay parked until the spinner gave up.
TEST(Netpoll, CompletionIsPostedWhileItsSubmitterComputes) {
  ScopedMaxprocs one(1);
  NoLazySyscalls nolazy;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  std::atomic<gmp::g*> reader{nullptr};
  std::atomic<gmp::m*> readerm{nullptr}, spinnerm{nullptr};
  std::atomic<bool> spinning{false}, parkedatstart{false}, readied{false};
  ssize_t got = -1;
  char c = 0;
  WaitGroup wg(2);
  go([&] {
    reader.store(curg());
    readerm.store(curm());
    go([&] {  // runnext: runs on this M once the reader parks
      spinnerm.store(curm());
      parkedatstart.store(reader.load()->atomicstatus.load() == gmp::Gwaiting);
      spinning.store(true);
      const uint64_t cap = __rdtsc() + (uint64_t(1) << 36);  // ~20 s at 3 GHz
      while (__rdtsc() < cap) {
        if (reader.load()->atomicstatus.load() != gmp::Gwaiting) {
          readied.store(true);
          break;
        }
      }
      wg.done();
    });
    got = read(p[0], &c, 1);
    wg.done();
  });
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !spinning.load(); i++) usleep(1000);
    usleep(20000);  // the spinner is well into its loop
    EXPECT_EQ(::write(p[1], "x", 1), 1);
  });
  wg.wait();
  writer.join();
  EXPECT_TRUE(parkedatstart.load()) << "the read parked before the spinner ran";
  EXPECT_EQ(spinnerm.load(), readerm.load()) << "the spinner ran on the submitting M";
  EXPECT_TRUE(readied.load()) << "the completion was posted while its submitter computed";
  EXPECT_EQ(got, 1);
  EXPECT_EQ(c, 'x');
  close(p[0]);
  close(p[1]);
}

// 100,000 goroutines parked reading pipes, 100 on each of 1,000 pipes (10,000 under ASan,
// whose shadow memory would make it slow): they hold no threads and the process uses next
// to no CPU while they wait; then each pipe gets 100 bytes, its tag, and every reader gets
// exactly one. (Results and errors against libc's: hookcontract_test.cc.)
TEST(Netpoll, HundredThousandParkedOnPipesIdleThenWoken) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr int n = 10000;
#else
  constexpr int n = 100000;
#endif
  constexpr int perpipe = 100, pipes = n / perpipe;
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  const rlimit old = rl;
  const rlim_t need = 2 * rlim_t(pipes) + 1000;
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
    GTEST_SKIP() << "needs " << need << " fds; the hard limit is " << rl.rlim_max;
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) rl.rlim_cur = need;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
  const struct gmp_stats before = stats();
  pipereaders readers(pipes, n);
  EXPECT_TRUE(waitparked(before.parks, n)) << "the readers did not park";
  // CPU time the process itself used, with a 10x margin: a poller that spins would use all
  // of it; nothing here depends on how fast the machine is.
  rusage r0, r1;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &r0), 0);
  gmp_sleep(500 * 1000 * 1000);
  ASSERT_EQ(getrusage(RUSAGE_SELF, &r1), 0);
  auto us = [](const rusage& r) {
    return int64_t(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1000000 + r.ru_utime.tv_usec +
           r.ru_stime.tv_usec;
  };
  int64_t cpu = us(r1) - us(r0);
  std::printf("cpu while %d goroutines wait on pipes for 500 ms: %lld us\n", n, (long long)cpu);
  EXPECT_LT(cpu, 50 * 1000) << "an idle process does not poll";
  EXPECT_EQ(readers.done.load(), 0);
  struct gmp_stats st = stats();
  EXPECT_GE(st.goroutines, n) << "the readers are parked, not done";
  EXPECT_LE(st.ms - before.ms, gmp_maxprocs(0) + 4) << "parked readers hold no threads";
  readers.fill();
  readers.wg.wait();
  EXPECT_EQ(readers.right.load(), n);
  setrlimit(RLIMIT_NOFILE, &old);
}

// More completions at once than a ring's completion queue holds (8,192): the kernel keeps
// the rest on its overflow list until a reaper asks for them (netpoll). 20,000 goroutines
// of one P wait in reads of 200 pipes; a plain thread fills every pipe while the P's other
// goroutine computes, so the reads complete together (their task work runs in that busy
// thread at its next tick) with nobody on the P reaping. Every reader gets its byte. (A
// one-off print in netpoll's overflow branch showed it taken in every run.)
TEST(Netpoll, CompletionsBeyondTheQueueAllArrive) {
  ScopedMaxprocs one(1);
  constexpr int pipes = 200, n = 20000;
  const struct gmp_stats before = stats();
  pipereaders readers(pipes, n);
  EXPECT_TRUE(waitparked(before.parks, n)) << "the readers did not park";
  std::atomic<bool> written{false};
  std::thread writer([&] {
    readers.fill();
    written.store(true);
  });
  const int64_t busyuntil = gmp_nanotime() + int64_t(100) * 1000 * 1000;
  while (!written.load() || gmp_nanotime() < busyuntil) {
  }
  EXPECT_EQ(readers.done.load(), 0) << "no reader ran while the only P computed";
  writer.join();
  // Completions left in the overflow list would keep their readers parked for good: a
  // watchdog turns that into a failure.
  std::thread watchdog([&] {
    for (int i = 0; i < 2000 && readers.done.load() < n; i++) usleep(10000);
    if (readers.done.load() == n) return;
    fprintf(stderr, "stuck: %d of %d readers woke in 20 s\n", readers.done.load(), n);
    _exit(1);
  });
  readers.wg.wait();
  watchdog.join();
  EXPECT_EQ(readers.right.load(), n);
}

namespace {
// sigpipeofparked: a blocking write (writev: a writev of two vectors) parked on the ring whose
// socket then fails gives SIGPIPE to the writer, as the kernel's call does, even when sysmon
// was the thread that submitted it (sysmon blocks every signal: one the kernel raised there
// would stay pending for good). At one P, the writer parks on a client socket whose send
// buffer is full; goroutine 1 then computes without a scheduling point, so the write waits
// in the P's published queue until sysmon submits it (netpollflushstale); a thread shuts the
// socket down for writing meanwhile.
void sigpipeofparked(bool vectored) {
  ScopedMaxprocs one(1);
  static std::atomic<int> sigpipes{0};
  const int before = sigpipes.load();
  struct sigaction sa {}, old {};
  sa.sa_handler = [](int) { sigpipes.fetch_add(1); };
  ASSERT_EQ(sigaction(SIGPIPE, &sa, &old), 0);
  sockaddr_in addr;
  int ls = listener(&addr);
  ASSERT_GE(ls, 0);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  int a = accept(ls, nullptr, nullptr);
  ASSERT_GE(a, 0);
  static char chunk[65536];
  while (send(c, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
  }
  std::atomic<ssize_t> got{0};
  std::atomic<int> err{0};
  WaitGroup wg(1);
  const uint64_t parked = parks();
  go([&] {
    iovec iov[2] = {{chunk, 500}, {chunk + 500, 500}};
    // c was connect()ed here: not an accepted socket
    ssize_t r = vectored ? writev(c, iov, 2) : write(c, chunk, 1000);
    err.store(r < 0 ? errnonow() : 0);
    got.store(r);
    wg.done();
  });
  const int64_t until = gmp_nanotime() + int64_t(10) * 1000 * 1000 * 1000;
  while (parks() <= parked && gmp_nanotime() < until) gmp_yield();
  ASSERT_GT(parks(), parked) << "the write never parked";
  std::thread stopper([&] {
    usleep(100 * 1000);
    shutdown(c, SHUT_WR);
  });
  const int64_t busyuntil = gmp_nanotime() + int64_t(300) * 1000 * 1000;
  while (gmp_nanotime() < busyuntil) {
  }
  stopper.join();
  wg.wait();
  EXPECT_EQ(got.load(), -1);
  EXPECT_EQ(err.load(), EPIPE) << strerror(err.load());
  EXPECT_EQ(sigpipes.load() - before, 1) << "the kernel's call would have raised SIGPIPE once";
  sigaction(SIGPIPE, &old, nullptr);
  close(a);
  close(c);
  close(ls);
}
}  // namespace

// (Two tests, not SCOPED_TRACE: gtest keeps its trace stack per thread, and in an ASan
// build goroutine 1 shares its M's TLS, so a park between push and pop popped another
// thread's empty stack.)
TEST(Netpoll, SigpipeOfAParkedWriteReachesTheWriter) { sigpipeofparked(false); }
TEST(Netpoll, SigpipeOfAParkedWritevReachesTheWriter) { sigpipeofparked(true); }

// A sleep longer than the clock can count (nanosleep's largest tv_sec) parks for good; its
// deadline does not wrap round into the past.
TEST(Netpoll, SleepBeyondTheClockDoesNotWrap) {
  static std::atomic<bool> returned{false};  // static: the goroutine outlives the test
  go([] {
    timespec forever{std::numeric_limits<time_t>::max(), 999999999};
    nanosleep(&forever, nullptr);
    returned.store(true);  // never: the goroutine stays parked until the process ends
  });
  gmp_sleep(30 * 1000 * 1000);
  EXPECT_FALSE(returned.load());
}
