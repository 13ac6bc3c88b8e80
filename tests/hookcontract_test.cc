// hookcontract_test.cc — every hooked call, run from a goroutine (the hook acts) and from a
// plain std::thread (libc's own function), with the same inputs, gives the same results:
// return value, errno, the bytes moved, the addresses and events reported.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <spawn.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "export_test.h"

using namespace gmptest;

extern char** environ;

namespace {

// A scenario sets up its fds, makes the call(s) and describes what it saw as a string
// (results, errno, data); the same scenario must describe the same on both sides. (A call
// and the buffer it fills go in separate statements: the operands of + are unsequenced.)
using scenario = std::function<std::string()>;

// ongoroutine runs s on a goroutine with one P, beside a goroutine that counts its turns
// while s is under way. Without preemption it only gets one if s parks (a call that
// blocked the M would keep it out; sysmon's hand-off of such calls is off here), so
// *parked says whether the hooks acted.
std::string ongoroutine(const scenario& s, bool* parked) {
  NoLazySyscalls hooksonly;
  ScopedMaxprocs one(1);
  std::atomic<bool> inside{false}, done{false};
  std::atomic<int64_t> turns{0};
  std::string out;
  WaitGroup wg(2);
  go([&] {
    inside.store(true);
    out = s();
    inside.store(false);
    done.store(true);
    wg.done();
  });
  go([&] {
    while (!done.load()) {
      if (inside.load()) turns.fetch_add(1);
      gmp_yield();
    }
    wg.done();
  });
  wg.wait();
  *parked = turns.load() > 0;
  return out;
}

std::string onthread(const scenario& s) {
  std::string out;
  std::thread t([&] { out = s(); });
  t.join();
  return out;
}

// say formats a call's result and, when it failed, its errno (read through errnonow: the
// goroutine may have moved to another M inside the call).
std::string say(long r) {
  return r < 0 ? "-1/" + std::string(strerrorname_np(errnonow()) ? strerrorname_np(errnonow()) : "?")
               : std::to_string(r);
}

// diskfile: a new file, already unlinked, in the working directory (the build directory: a
// disk file system, whose pages can be dropped and whose buffered writes a worker of the
// ring makes, where /tmp may be tmpfs); -1 on failure.
int diskfile() {
  char path[] = "gmp-test-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0) unlink(path);
  return fd;
}

// bindloopback binds fd to a free port on 127.0.0.1 and returns the address.
sockaddr_in bindloopback(int fd) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return addr;
}

// later: when a helper thread may do what a scenario's call waits for (write to the FIFO,
// send, shut down). Made just before the helper starts: on a goroutine, once the caller's
// call has parked (the parks count passes what it was: ongoroutine's other goroutine only
// yields), so a loaded machine cannot have the event come first and the call not park; on
// a plain thread, after ms.
struct later {
  bool ongo = gmp_goid() > 0;
  uint64_t before = parks();
  void wait(int ms) const {
    if (ongo) {
      waitfor([this] { return parks() > before; });
    } else {
      usleep(ms * 1000);
    }
  }
};

// same: s describes the same on a plain thread (libc's functions) and on a goroutine (the
// hooks); waits: s waits somewhere (a timeout, a connection), so on the goroutine it parks.
void same(const char* what, const scenario& s, bool waits = false) {
  std::string theirs = onthread(s);
  bool parked = false;
  std::string ours = ongoroutine(s, &parked);
  EXPECT_EQ(ours, theirs) << what;
  EXPECT_FALSE(theirs.empty()) << what;
  if (waits) {
    EXPECT_TRUE(parked) << what << ": the goroutine held its thread while it waited";
  }
}

}  // namespace

TEST(HookContract, PipesAndFiles) {
  same("read with data, short read, EOF", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    write(p[1], "hello", 5);
    char buf[16] = {};
    std::string out = say(read(p[0], buf, 3));
    out += ":" + std::string(buf, 3) + " ";
    out += say(read(p[0], buf, sizeof buf)) + " ";
    close(p[1]);
    out += say(read(p[0], buf, sizeof buf));
    close(p[0]);
    return out;
  });
  same("bad fds, reading a write end, EFAULT", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    char c;
    std::string out = say(read(-1, &c, 1)) + " " + say(write(987654, &c, 1)) + " ";
    // A bad address (through a volatile so the compiler cannot see it is null): EFAULT.
    const void* volatile nowhere = nullptr;
    out += say(read(p[1], &c, 1)) + " " + say(write(p[1], nowhere, 1)) + " ";
    close(p[0]);
    close(p[1]);
    return out;
  });
  same("O_NONBLOCK: EAGAIN both ways, partial write", [] {
    int p[2];
    pipe2(p, O_CLOEXEC | O_NONBLOCK);
    char c;
    static char big[1 << 20];
    std::string out = say(read(p[0], &c, 1)) + " ";
    ssize_t w = write(p[1], big, sizeof big);
    out += std::string(w > 0 && size_t(w) < sizeof big ? "partial " : "? ");
    out += say(write(p[1], big, sizeof big));
    close(p[0]);
    close(p[1]);
    return out;
  });
  same("pread/pwrite at offsets, readv/writev, the file position", [] {
    char path[] = "/tmp/gmp-contract-XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    std::string out = say(pwrite(fd, "abcdefgh", 8, 4)) + " ";
    char buf[16] = {};
    out += say(pread(fd, buf, 16, 2));
    out += ":" + std::string(buf, 10) + " ";
    out += say(pread(fd, buf, 4, 100)) + " " + say(pread(fd, buf, 4, -1)) + " ";
    iovec iv[2] = {{const_cast<char*>("xy"), 2}, {const_cast<char*>("z"), 1}};
    out += say(writev(fd, iv, 2)) + " ";  // at the position: 0
    char a[2], b[3];
    iovec rv[2] = {{a, 2}, {b, 3}};
    lseek(fd, 0, SEEK_SET);
    out += say(readv(fd, rv, 2));
    out += ":" + std::string(a, 2) + std::string(b, 3) + " ";
    out += std::to_string(lseek(fd, 0, SEEK_CUR));
    close(fd);
    return out;
  });
}

TEST(HookContract, OpenAndSync) {
  same("open, openat, creat: errors, O_EXCL, the mode after umask; fsync, fdatasync", [] {
    char dir[] = "/tmp/gmp-open-XXXXXX";
    mkdtemp(dir);
    std::string f = std::string(dir) + "/f";
    mode_t old = umask(022);
    std::string out = say(open((f + "-missing").c_str(), O_RDONLY | O_CLOEXEC)) + " ";
    int fd = open(f.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0666);
    out += std::string(fd >= 0 ? "created " : "? ");
    out += say(open(f.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0666)) + " ";
    struct stat st{};
    fstat(fd, &st);
    out += std::to_string(st.st_mode & 0777) + " ";
    out += say(write(fd, "data", 4)) + " " + say(fsync(fd)) + " " + say(fdatasync(fd)) + " ";
    close(fd);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fd = openat(dfd, "f", O_RDONLY | O_CLOEXEC);
    char buf[8] = {};
    out += say(read(fd, buf, sizeof buf));
    out += ":" + std::string(buf, 4) + " " + say(fcntl(fd, F_GETFD)) + " ";
    close(fd);
    out += say(openat(dfd, "f", O_WRONLY | O_DIRECTORY)) + " ";
    fd = creat((f + "2").c_str(), 0600);
    fstat(fd, &st);
    out += std::to_string(st.st_mode & 0777) + " " + say(fcntl(fd, F_GETFL) & O_ACCMODE) + " ";
    close(fd);
    int p[2];
    pipe2(p, O_CLOEXEC);
    out += say(fsync(p[0])) + " " + say(fdatasync(-1));
    close(p[0]);
    close(p[1]);
    umask(old);
    unlink((f + "2").c_str());
    unlink(f.c_str());
    close(dfd);
    rmdir(dir);
    return out;
  });
  // io_uring's inline open adds O_NONBLOCK: the reader's open did not wait (the writer
  // found it open) and the writer's failed with ENXIO (preload/file.cc, fifo).
  same("open of a FIFO waits for the other end, for reading and for writing", [] {
    char dir[] = "/tmp/gmp-fifo-XXXXXX";
    mkdtemp(dir);
    std::string f = std::string(dir) + "/fifo";
    mkfifo(f.c_str(), 0600);
    std::string out = say(open(f.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) + " ";  // no reader
    std::atomic<bool> opened{false};
    bool early = false;
    later when;
    std::thread writer([&] {
      when.wait(30);
      early = opened.load();
      int w = open(f.c_str(), O_WRONLY | O_CLOEXEC);
      write(w, "through", 7);
      close(w);
    });
    int r = open(f.c_str(), O_RDONLY | O_CLOEXEC);  // no writer yet: the open waits
    opened.store(true);
    char buf[8] = {};
    out += say(read(r, buf, 7));
    out += ":" + std::string(buf, 7) + " ";
    writer.join();
    close(r);
    out += std::string(early ? "the read end opened alone " : "");
    later when2;
    std::atomic<long> got{0};
    std::thread reader([&] {
      when2.wait(30);
      int fd = open(f.c_str(), O_RDONLY | O_CLOEXEC);
      char b[8];
      got = read(fd, b, sizeof b);
      close(fd);
    });
    int w = open(f.c_str(), O_WRONLY | O_CLOEXEC);  // no reader yet: the open waits
    out += say(w >= 0 ? write(w, "back", 4) : w) + " ";
    // A failed open leaves the reader waiting for a writer: one that also reads (O_RDWR
    // does not wait) lets it through.
    int other = w >= 0 ? w : open(f.c_str(), O_RDWR | O_CLOEXEC);
    if (w < 0) write(other, "x", 1);
    reader.join();
    close(other);
    out += std::to_string(got.load());
    unlink(f.c_str());
    rmdir(dir);
    return out;
  }, true);
}

TEST(HookContract, Sockets) {
  same("socketpair: send/recv flags, MSG_PEEK, EOF, EPIPE without a signal", [] {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    std::string out = say(send(sv[0], "ping", 4, 0)) + " ";
    char buf[8] = {};
    out += say(recv(sv[1], buf, 2, MSG_PEEK));
    out += ":" + std::string(buf, 2) + " ";
    out += say(recv(sv[1], buf, 8, 0));
    out += ":" + std::string(buf, 4) + " ";
    out += say(recv(sv[1], buf, 8, MSG_DONTWAIT)) + " ";
    close(sv[0]);
    out += say(recv(sv[1], buf, 8, 0)) + " ";
    out += say(send(sv[1], "x", 1, MSG_NOSIGNAL));
    close(sv[1]);
    return out;
  });
  same("UDP: sendto/recvfrom with addresses, sendmsg/recvmsg", [] {
    int a = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), b = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = bindloopback(b);
    std::string out = say(sendto(a, "datagram", 8, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) + " ";
    char buf[32] = {};
    sockaddr_in from{};
    socklen_t flen = sizeof from;
    out += say(recvfrom(b, buf, 4, 0, reinterpret_cast<sockaddr*>(&from), &flen));
    out += ":" + std::string(buf, 4) + " len " + std::to_string(flen) + " family " +
           std::to_string(from.sin_family) + " ";  // a datagram cut short: the rest is lost
    iovec iv{const_cast<char*>("msg"), 3};
    msghdr m{};
    m.msg_name = &addr;
    m.msg_namelen = sizeof addr;
    m.msg_iov = &iv;
    m.msg_iovlen = 1;
    out += say(sendmsg(a, &m, 0)) + " ";
    char rb[8] = {};
    iovec riv{rb, sizeof rb};
    msghdr rm{};
    rm.msg_iov = &riv;
    rm.msg_iovlen = 1;
    out += say(recvmsg(b, &rm, 0));
    out += ":" + std::string(rb, 3) + " flags " + std::to_string(rm.msg_flags);
    close(a);
    close(b);
    return out;
  });
  same("TCP: connect refused, accept on a non-blocking listener, connect and accept", [] {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = bindloopback(ls);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::string out = say(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) + " ";  // not listening
    close(c);
    listen(ls, 4);
    fcntl(ls, F_SETFL, O_NONBLOCK);
    out += say(accept(ls, nullptr, nullptr)) + " ";
    fcntl(ls, F_SETFL, 0);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    out += say(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr)) + " ";
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    int s = accept4(ls, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    out += std::string(s >= 0 ? "accepted" : "?") + " len " + std::to_string(plen) + " ";
    out += say(fcntl(s, F_GETFD) & FD_CLOEXEC);
    close(s);
    close(c);
    close(ls);
    return out;
  }, true);
}

// read() on a socket is recv() without flags (the hook asks recv first, io.cc "Sockets"):
// a datagram cut short loses its rest, a zero-byte read consumes nothing, a socket's short
// read is final; a pipe that takes the number of a closed socket, and a socket that takes a
// pipe's, read as their kind does.
// A blocking stream send or writev goes on until every byte is out, however the socket's
// room comes back: the first try (MSG_DONTWAIT) finds it full, and the ring's send may take
// part of the rest at a time.
TEST(HookContract, BlockingSendsAndWritevSendEveryByte) {
  same("1 MiB send to a full TCP socket, then an 8 MiB writev, drained by a thread", [] {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = bindloopback(ls);
    listen(ls, 1);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int a = accept(ls, nullptr, nullptr);
    static char chunk[65536];
    size_t filled = 0;
    for (ssize_t w; (w = send(c, chunk, sizeof chunk, MSG_DONTWAIT)) > 0;) filled += size_t(w);
    constexpr size_t mib = 1 << 20;
    static char big[8 * mib];  // beyond the socket's buffer: a first try takes part of it
    later when;
    std::thread drain([&] {  // libc's reads on a plain thread, to the end of the stream
      static char sink[65536];
      when.wait(10);
      while (read(a, sink, sizeof sink) > 0) {
      }
    });
    std::string out = std::string(filled > 0 ? "full " : "? ") + say(send(c, big, mib, 0)) + " ";
    iovec two[2] = {{big, 4 * mib}, {big + 4 * mib, 4 * mib}};
    out += say(writev(c, two, 2));
    shutdown(c, SHUT_WR);
    drain.join();
    close(a);
    close(c);
    close(ls);
    return out;
  }, true);
  same("reads that wait, then succeed, leave errno alone (data, then EOF)", [] {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    later when;
    std::thread peer([&] {
      when.wait(10);
      write(sv[1], "ab", 2);
      usleep(20 * 1000);
      shutdown(sv[1], SHUT_WR);
    });
    char buf[4];
    errno = ENOENT;
    ssize_t r = read(sv[0], buf, sizeof buf);
    std::string out = say(r) + " errno " + std::to_string(errnonow() == ENOENT);
    errno = ENOENT;
    r = recv(sv[0], buf, sizeof buf, 0);
    out += " " + say(r) + " errno " + std::to_string(errnonow() == ENOENT);
    peer.join();
    close(sv[0]);
    close(sv[1]);
    return out;
  }, true);
  same("a 128 KiB writev to a pipe with room for 4 KiB, drained by a thread", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    static char buf[1 << 16];
    ssize_t first = write(p[1], buf, sizeof buf - 4096);
    later when;
    std::thread drain([&] {  // to the end: the writer closes its end when its call is done
      static char sink[1 << 16];
      when.wait(10);
      while (read(p[0], sink, sizeof sink) > 0) {
      }
    });
    iovec two[2] = {{buf, sizeof buf}, {buf, sizeof buf}};
    std::string out = (first > 0 ? "" : "? ") + say(writev(p[1], two, 2));
    close(p[1]);
    drain.join();
    close(p[0]);
    return out;
  }, true);
}

// A socket accepted in blocking mode is known blocking without asking the kernel each time
// it waits (io.cc, "Blocking mode"), and its reads and writes go to the ring at once once a
// read has waited: every way a program can make it non-blocking is seen, and the read then
// fails with EAGAIN at once, as libc's does, instead of parking.
namespace {
struct tcppair {  // a listener, a connected client c and the accepted a
  int ls, c, a;
  tcppair() {
    ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = bindloopback(ls);
    listen(ls, 1);
    c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    a = accept(ls, nullptr, nullptr);
  }
  ~tcppair() {
    close(c);
    close(ls);
  }
  // waitedread: a read of a that has to wait for c's "ab" (on a goroutine it parks, and
  // marks a as a socket whose reads wait).
  std::string waitedread() {
    later when;
    std::thread t([&] {
      when.wait(20);
      send(c, "ab", 2, 0);
    });
    char buf[8] = {};
    std::string out = say(read(a, buf, sizeof buf));
    t.join();
    return out + ":" + std::string(buf, 2) + " ";
  }
  // readnow: a read of a with nothing to read: EAGAIN once a is non-blocking.
  std::string readnow() {
    char buf[8];
    return say(read(a, buf, sizeof buf));
  }
};

// sigcount: while it lives, Sig runs a handler that counts; say() tells how many ran since
// it was made.
template <int Sig>
struct sigcount {
  static inline std::atomic<int> n{0};
  struct sigaction old {};
  int before = n.load();
  sigcount() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { n.fetch_add(1); };
    sigaction(Sig, &sa, &old);
  }
  ~sigcount() { sigaction(Sig, &old, nullptr); }
  std::string say() const { return std::string(sigabbrev_np(Sig)) + " " + std::to_string(n.load() - before); }
};

// unixlistener: an AF_UNIX listener of type with backlog at a fresh abstract address,
// which *addr and *len name.
int unixlistener(int type, int backlog, sockaddr_un* addr, socklen_t* len) {
  static std::atomic<int> seq{0};
  int ls = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  *addr = sockaddr_un{};
  addr->sun_family = AF_UNIX;
  int n = snprintf(addr->sun_path + 1, sizeof addr->sun_path - 1, "gmp-contract-%d-%d",
                   getpid(), seq.fetch_add(1));
  *len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + size_t(n));
  bind(ls, reinterpret_cast<sockaddr*>(addr), *len);
  listen(ls, backlog);
  return ls;
}

// unixaccepted: an AF_UNIX socket of type accepted from a listener at a fresh abstract
// address, its connected peer in *peer.
int unixaccepted(int type, int* peer) {
  sockaddr_un addr;
  socklen_t len;
  int ls = unixlistener(type, 1, &addr, &len);
  *peer = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
  connect(*peer, reinterpret_cast<sockaddr*>(&addr), len);
  int a = accept(ls, nullptr, nullptr);
  close(ls);
  return a;
}

// fdmessage: a message of one byte (iov) with room for one fd in its control data.
msghdr fdmessage(iovec* iov, char* cbuf, size_t clen) {
  msghdr m{};
  m.msg_iov = iov;
  m.msg_iovlen = 1;
  m.msg_control = cbuf;
  m.msg_controllen = clen;
  return m;
}
}  // namespace

TEST(HookContract, AcceptedSocketsTurnedNonBlockingFailWithEagain) {
  same("F_SETFL, ioctl(FIONBIO), F_SETFL through a dup; then writes", [] {
    tcppair t;
    char buf[8];
    std::string out = t.waitedread();
    fcntl(t.a, F_SETFL, O_NONBLOCK);
    out += t.readnow() + " ";
    fcntl(t.a, F_SETFL, 0);
    int on = 1;
    ioctl(t.a, FIONBIO, &on);
    out += t.readnow() + " ";
    on = 0;
    ioctl(t.a, FIONBIO, &on);
    out += t.waitedread();
    int d = dup(t.a);
    fcntl(d, F_SETFL, O_NONBLOCK);
    out += t.readnow() + " ";
    out += say(write(t.a, "xyz", 3)) + " ";
    out += say(recv(t.c, buf, sizeof buf, 0));
    out += ":" + std::string(buf, 3);
    close(d);
    close(t.a);
    return out;
  }, true);
  same("a socket closed by fclose, its number taken by a non-blocking pipe", [] {
    tcppair t;
    std::string out = t.waitedread();
    int a = t.a;
    fclose(fdopen(t.a, "r+"));  // closes a inside libc, unseen by close()
    int p[2];
    pipe2(p, O_CLOEXEC | O_NONBLOCK);
    out += std::string(p[0] == a ? "reused " : "? ");
    char buf[8];
    out += say(read(p[0], buf, sizeof buf));
    close(p[0]);
    close(p[1]);
    return out;
  }, true);
  same("a forked child makes the shared socket non-blocking", [] {
    tcppair t;
    std::string out = t.waitedread();
    pid_t pid = fork();
    if (pid == 0) {
      syscall(SYS_fcntl, t.a, F_SETFL, O_NONBLOCK);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    out += t.readnow();
    close(t.a);
    return out;
  }, true);
  same("a child started by posix_spawnp makes the shared socket non-blocking", [] {
    tcppair t;
    std::string out = t.waitedread();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, t.a, 3);
    const char* argv[] = {"python3", "-c", "import os; os.set_blocking(3, False)", nullptr};
    pid_t pid = -1;
    int spawned = posix_spawnp(&pid, "python3", &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (spawned == 0) waitpid(pid, &status, 0);
    out += std::string(spawned == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : "no child ");
    out += t.readnow();
    close(t.a);
    return out;
  }, true);
  same("a socket passed by SCM_RIGHTS is made non-blocking by the receiver", [] {
    tcppair t;
    std::string out = t.waitedread();
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    char one = 'f', cbuf[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&one, 1};
    msghdr m = fdmessage(&iov, cbuf, sizeof cbuf);
    cmsghdr* cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &t.a, sizeof(int));
    out += say(sendmsg(sv[0], &m, 0)) + " ";
    int got = -1;
    std::thread receiver([&] {  // a plain thread, as another process would be
      char c;
      char rbuf[CMSG_SPACE(sizeof(int))] = {};
      iovec riov{&c, 1};
      msghdr rm = fdmessage(&riov, rbuf, sizeof rbuf);
      if (recvmsg(sv[1], &rm, 0) == 1) memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&rm)), sizeof(int));
      syscall(SYS_fcntl, got, F_SETFL, O_NONBLOCK);
    });
    receiver.join();
    out += std::string(got >= 0 ? "received " : "? ") + t.readnow();
    close(got);
    close(sv[0]);
    close(sv[1]);
    close(t.a);
    return out;
  }, true);
  same("write to an accepted socket whose peer is gone: EPIPE, and a SIGPIPE each time", [] {
    sigcount<SIGPIPE> pipes;
    tcppair t;  // its accepted socket writes through the ring's send at once
    close(t.c);
    std::string out = say(write(t.a, "x", 1)) + " ";  // goes out; the closed peer resets
    // The reset may be handled later than the write returns (softirqs under load): wait
    // for it (POLLERR), so that what follows does not race it.
    pollfd p{t.a, POLLIN, 0};
    for (int i = 0; i < 500 && !(p.revents & POLLERR); i++) poll(&p, 1, 10);
    out += std::string(p.revents & POLLERR ? "reset " : "no reset ");
    for (int i = 0; i < 3; i++) out += say(write(t.a, "x", 1)) + " ";
    out += pipes.say();
    close(t.a);
    return out;
  });
  same("a send waiting for room when its socket is shut down for writing: EPIPE, SIGPIPE", [] {
    sigcount<SIGPIPE> pipes;
    tcppair t;
    static char chunk[65536];
    while (send(t.a, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
    }
    later when;
    std::thread stopper([&] {
      when.wait(20);
      shutdown(t.a, SHUT_WR);
    });
    std::string out = say(send(t.a, chunk, 1000, 0)) + " ";  // waits for room
    stopper.join();
    out += pipes.say();
    close(t.a);
    return out;
  }, true);
  // SIGPIPE only where the kernel's own calls raise it: not for a SOCK_SEQPACKET socket,
  // not once some bytes went.
  same("write to an accepted SOCK_SEQPACKET socket whose peer is gone: EPIPE, no SIGPIPE", [] {
    sigcount<SIGPIPE> pipes;
    int peer;
    int a = unixaccepted(SOCK_SEQPACKET, &peer);
    close(peer);
    // One call a statement: the operands of + are unsequenced, and pipes.say() must come
    // after the writes.
    std::string out = say(write(a, "x", 1)) + " ";
    out += say(write(a, "y", 1)) + " ";
    out += pipes.say();
    close(a);
    return out;
  });
  same("8 MiB write() whose reader takes 4 KiB and leaves: the bytes that went, no SIGPIPE", [] {
    sigcount<SIGPIPE> pipes;
    int peer;
    int a = unixaccepted(SOCK_STREAM, &peer);  // accepted: its writes are the ring's sends
    static char big[8 << 20];
    later when;
    std::thread reader([&] {
      when.wait(20);
      char buf[4096];
      read(peer, buf, sizeof buf);
      close(peer);
    });
    ssize_t r = write(a, big, sizeof big);
    reader.join();
    std::string out = r > 0 && r < ssize_t(sizeof big) ? "short " : say(r) + " ";
    out += pipes.say();
    close(a);
    return out;
  }, true);
  // The hooks read and write a known socket with the ring's recv and send; a socket closed
  // unseen (fclose, a raw close) leaves its marks to the next file with its number, which
  // must get that file's read and write, not ENOTSOCK.
  same("marks of a socket closed unseen, its number reused: a pipe's read, a memfd's write", [] {
    tcppair t;
    std::string out = t.waitedread();
    int a = t.a;
    fclose(fdopen(t.a, "r+"));  // closes a inside libc; its reads waited
    int p[2];
    pipe2(p, O_CLOEXEC);
    out += std::string(p[0] == a ? "reused " : "? ");
    later when;
    std::thread late([&] {
      when.wait(20);
      write(p[1], "pipe", 4);
    });
    char buf[8] = {};
    out += say(read(p[0], buf, sizeof buf));  // waits for the pipe's bytes
    out += ":" + std::string(buf, 4) + " ";
    late.join();
    close(p[0]);
    close(p[1]);
    tcppair u;  // accepted blocking: its writes go to the ring's send at once
    a = u.a;
    syscall(SYS_close, u.a);
    int m = memfd_create("reused", MFD_CLOEXEC);
    out += std::string(m == a ? "reused " : "? ");
    out += say(write(m, "memfd", 5)) + " ";
    out += say(pread(m, buf, sizeof buf, 0));
    out += ":" + std::string(buf, 5);
    close(m);
    return out;
  }, true);
  same("8 MiB write() from an accepted socket whose reads waited, drained by a thread", [] {
    tcppair t;
    std::string out = t.waitedread();
    constexpr size_t size = 8 << 20;
    static unsigned char big[size];
    for (size_t i = 0; i < size; i++) big[i] = static_cast<unsigned char>(i * 7 + (i >> 16));
    size_t got = 0;
    bool intact = true;
    later when;
    std::thread drain([&] {
      static unsigned char sink[65536];
      when.wait(10);
      for (ssize_t r; (r = read(t.c, sink, sizeof sink)) > 0;) {
        for (ssize_t i = 0; i < r; i++) intact = intact && sink[i] == big[got + size_t(i)];
        got += size_t(r);
      }
    });
    out += say(write(t.a, big, size)) + " ";
    shutdown(t.a, SHUT_WR);
    drain.join();
    close(t.a);
    return out + std::to_string(got) + (intact ? " intact" : " corrupted");
  }, true);
}

// A regular file ignores O_NONBLOCK: a read of pages that are not cached waits for the disk
// and returns the data, on a goroutine as in libc (RWF_NOWAIT's EAGAIN is not the program's).
TEST(HookContract, NonBlockingRegularFileReadsWaitForTheDisk) {
  int fd = diskfile();  // tmpfs would keep every page
  ASSERT_GE(fd, 0);
  static char data[1 << 20];
  memset(data, 'x', sizeof data);
  ASSERT_EQ(write(fd, data, sizeof data), ssize_t(sizeof data));
  fsync(fd);
  auto evict = [&] { posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); };
  evict();
  char c;
  iovec iov{&c, 1};
  if (preadv2(fd, &iov, 1, 0, RWF_NOWAIT) != -1 || errno != EAGAIN) {
    close(fd);
    GTEST_SKIP() << "this file system keeps the pages cached: nothing to wait for";
  }
  std::string name = "/proc/self/fd/" + std::to_string(fd);
  same("O_NONBLOCK read of uncached pages", [&] {
    evict();
    int nb = open(name.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    static char buf[1 << 16];
    std::string out = say(read(nb, buf, sizeof buf)) + " " + say(pread(nb, buf, 100, 4096));
    close(nb);
    return out;
  });
  close(fd);
}

// The file size limit (RLIMIT_FSIZE): a write that crosses it comes out short and one that
// starts at it fails with EFBIG and raises SIGXFSZ on the writer, write, pwrite, writev and
// O_APPEND alike; the file position ends past the bytes that went, and each byte is where
// it was written. Where buffered writes refuse RWF_NOWAIT (ext4), pwrite's goes to a worker
// of the ring, which kept the SIGXFSZ; write and writev at the position went there too,
// and io_uring left the position behind after the short write (the hook's next try
// overwrote the first bytes and returned 6000): those are the kernel's calls now.
TEST(HookContract, FileSizeLimit) {
  rlimit was{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &was), 0);
  rlimit lim{4096, was.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  // A disk file system (tmpfs takes RWF_NOWAIT writes, and the ring is not asked).
  int pf = diskfile();
  ASSERT_GE(pf, 0);
  iovec one{const_cast<char*>("x"), 1};
  const bool ring = pwritev2(pf, &one, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
  close(pf);
  if (!ring) printf("this file system takes RWF_NOWAIT writes: the ring's worker is not tested\n");
  same("writes across RLIMIT_FSIZE: short, EFBIG and SIGXFSZ, the position, the bytes", [] {
    sigcount<SIGXFSZ> xfsz;
    int fd = diskfile();
    static char data[6000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = char('a' + i % 26);
    std::string out = say(write(fd, data, 6000)) + " ";  // 4096 of them
    out += std::to_string(lseek(fd, 0, SEEK_CUR)) + " ";
    out += say(write(fd, "B", 1)) + " ";  // at the limit
    out += say(pwrite(fd, "CC", 2, 4095)) + " ";
    out += say(pwrite(fd, "D", 1, 5000)) + " ";
    iovec iv[2] = {{data, 3000}, {data + 7, 3000}};
    lseek(fd, 1000, SEEK_SET);
    out += say(writev(fd, iv, 2)) + " ";  // 3096 of them
    out += std::to_string(lseek(fd, 0, SEEK_CUR)) + " ";
    out += say(writev(fd, iv, 2)) + " ";
    int app = open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    out += say(write(app, "E", 1)) + " ";
    close(app);
    std::string file(8192, '\0');
    ssize_t got = pread(fd, file.data(), file.size(), 0);
    file.resize(got > 0 ? size_t(got) : 0);
    out += "size " + std::to_string(file.size()) + " hash " + std::to_string(std::hash<std::string>{}(file)) + " ";
    close(fd);
    return out + xfsz.say();
  }, ring);
  setrlimit(RLIMIT_FSIZE, &was);
}

// Goroutines writing records to one fd at its position (the shell's `> file` of a threaded
// program) lose none and overlap none, as threads: writes at the position are the
// kernel's, whose position lock orders them (preload/io.cc, diskfile). io_uring's took no
// lock, and a helper's audit saw 3-16% of the records written over.
TEST(HookContract, WritersSharingAFilePositionLoseNothing) {
  int fd = diskfile();
  ASSERT_GE(fd, 0);
  constexpr int writers = 4, records = 500;
  WaitGroup wg(writers);
  for (int w = 0; w < writers; w++) {
    go([&, w] {
      char rec[64];
      memset(rec, 'a' + w, sizeof rec);
      rec[63] = '\n';
      for (int i = 0; i < records; i++) {
        iovec halves[2] = {{rec, 20}, {rec + 20, 44}};
        EXPECT_EQ(w % 2 ? writev(fd, halves, 2) : write(fd, rec, sizeof rec), 64);
      }
      wg.done();
    });
  }
  wg.wait();
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), writers * records * 64);
  std::string file(writers * records * 64 + 64, '\0');
  ASSERT_EQ(pread(fd, file.data(), file.size(), 0), writers * records * 64);
  int count[writers] = {};
  int torn = 0;
  for (int at = 0; at < writers * records * 64; at += 64) {
    int w = file[at] - 'a';
    bool whole = w >= 0 && w < writers && file[at + 63] == '\n' &&
                 file.find_first_not_of(file[at], at) == size_t(at + 63);
    if (whole) {
      count[w]++;
    } else {
      torn++;
    }
  }
  for (int w = 0; w < writers; w++) EXPECT_EQ(count[w], records) << "writer " << w;
  EXPECT_EQ(torn, 0);
  close(fd);
}

// Calls the kernel answers without waiting: zero bytes (the file's own answer, where a
// preadv2 of nothing asked no file and returned 0), a count past the address space (EFAULT
// for the whole range, where the ring's clamped count moved bytes), and readv of a file
// partly in the page cache (the whole count, as read; it returned the cached part).
TEST(HookContract, FileCallsTheKernelAnswersAtOnce) {
  int fd = diskfile();
  ASSERT_GE(fd, 0);
  static char data[1 << 20];
  for (size_t i = 0; i < sizeof data; i++) data[i] = char('a' + i % 26);
  ASSERT_EQ(write(fd, data, sizeof data), ssize_t(sizeof data));
  fsync(fd);
  same("zero bytes, huge counts, readv of a partly cached file", [fd] {
    char buf[64] = {};
    int dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ev = eventfd(0, EFD_CLOEXEC);
    std::string out = say(read(dir, buf, 0)) + " " + say(pread(dir, buf, 0, 0)) + " ";
    out += say(read(ev, buf, 0)) + " " + say(write(ev, buf, 0)) + " ";
    close(dir);
    close(ev);
    volatile size_t huge = SSIZE_MAX, all = size_t(-1);  // unknown to the compiler's checks
    out += say(pread(fd, buf, huge, 0)) + " " + say(pwrite(fd, buf, huge, 0)) + " ";
    lseek(fd, 0, SEEK_SET);
    out += say(read(fd, buf, huge)) + " " + say(write(fd, buf, all)) + " ";
    out += std::to_string(lseek(fd, 0, SEEK_CUR)) + " ";
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    static char first[8192], got[256 << 10];
    pread(fd, first, sizeof first, 0);  // the first pages cached, the rest not
    lseek(fd, 4096, SEEK_SET);
    memset(got, 0, sizeof got);
    iovec halves[2] = {{got, sizeof got / 2}, {got + sizeof got / 2, sizeof got / 2}};
    out += say(readv(fd, halves, 2)) + " ";
    out += std::to_string(lseek(fd, 0, SEEK_CUR));
    out += memcmp(got, data + 4096, sizeof got) == 0 ? " intact" : " wrong bytes";
    return out;
  });
  close(fd);
}

// Socket calls a first try without waiting, or the ring, answered otherwise than the kernel
// (a helper's audit): a datagram sent to a full AF_UNIX receiver (the ring's retry sent it
// empty, and returned 0), MSG_WAITALL with part of the data queued (it returned the part),
// MSG_ERRQUEUE with nothing queued (it waited for an error), SO_RCVLOWAT with part of the
// data queued (it returned the part), sendto with an address length
// of 0 (it sent to the connected peer) and recvfrom with an address but no length.
TEST(HookContract, SocketCallsAnsweredAsTheKernelDoes) {
  same("full datagram receiver, MSG_WAITALL, SO_RCVLOWAT, MSG_ERRQUEUE, odd address lengths", [] {
    static std::atomic<int> seq{0};
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string name = "gmp-full-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
    memcpy(addr.sun_path + 1, name.data(), name.size());
    socklen_t alen = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    int r = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int w = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    bind(r, reinterpret_cast<sockaddr*>(&addr), alen);
    int queued = 0;
    while (sendto(w, "f", 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr), alen) == 1) {
      queued++;
    }
    std::thread room([&] {  // room for one, once the send waits
      usleep(50 * 1000);
      char one[8];
      recv(r, one, sizeof one, 0);
    });
    std::string out = say(sendto(w, "y", 1, 0, reinterpret_cast<sockaddr*>(&addr), alen)) + " ";
    room.join();
    char b[16] = {};
    std::string last;
    int got = 0;
    for (ssize_t k; (k = recv(r, b, sizeof b, MSG_DONTWAIT)) >= 0; got++) last.assign(b, size_t(k));
    out += "[" + last + "] " + std::string(got == queued ? "all there " : "some lost ");
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    write(sv[0], "HELLO", 5);
    std::thread more([&] {
      usleep(50 * 1000);
      write(sv[0], "WORLD", 5);
    });
    out += say(recv(sv[1], b, 10, MSG_WAITALL));
    out += ":" + std::string(b, 10) + " ";
    more.join();
    int low = 8;  // SO_RCVLOWAT: a read and a recv wait for 8 bytes where 4 are queued
    setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &low, sizeof low);
    for (int round = 0; round < 2; round++) {
      write(sv[0], "LOW-", 4);
      std::thread mark([&] {
        usleep(50 * 1000);
        write(sv[0], "MARK", 4);
      });
      out += say(round == 0 ? read(sv[1], b, sizeof b) : recv(sv[1], b, sizeof b, 0)) + " ";
      mark.join();
    }
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int v = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in va = bindloopback(v);
    connect(u, reinterpret_cast<sockaddr*>(&va), sizeof va);
    timeval tv{1, 0};
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int64_t t0 = gmp_nanotime();
    out += say(recv(u, b, sizeof b, MSG_ERRQUEUE)) + " ";
    out += gmp_nanotime() - t0 < 500 * 1000 * 1000 ? "at once " : "after a wait ";
    out += say(sendto(u, "z", 1, 0, reinterpret_cast<sockaddr*>(&va), 0)) + " ";
    out += say(send(u, "z", 1, 0)) + " ";
    sockaddr_in from{};
    out += say(recvfrom(v, b, sizeof b, 0, reinterpret_cast<sockaddr*>(&from), nullptr));
    for (int fd : {r, w, sv[0], sv[1], u, v}) close(fd);
    return out;
  });
}

TEST(HookContract, ReadOnSockets) {
  same("read(): datagrams, zero bytes, short stream reads, fds that change kind", [] {
    int dg[2];
    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, dg);
    send(dg[0], "first", 5, 0);
    send(dg[0], "second", 6, 0);
    send(dg[0], "third", 5, 0);  // a read that took the wrong datagram does not wait
    char buf[16] = {};
    std::string out = say(read(dg[1], buf, 0)) + " ";
    out += say(read(dg[1], buf, 3));
    out += ":" + std::string(buf, 3) + " ";
    out += say(read(dg[1], buf, sizeof buf));
    out += ":" + std::string(buf, 6) + " ";
    const int reused = dg[1];
    close(dg[0]);
    close(dg[1]);
    int p[2];
    pipe2(p, O_CLOEXEC);  // the lowest free numbers: the datagram pair's
    out += std::string(p[0] == reused || p[1] == reused ? "reused " : "? ");
    write(p[1], "pipe", 4);
    out += say(read(p[0], buf, sizeof buf));
    out += ":" + std::string(buf, 4) + " ";
    const int pipefd = p[0];
    close(p[0]);
    close(p[1]);
    int st[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st);
    out += std::string(st[0] == pipefd || st[1] == pipefd ? "reused " : "? ");
    send(st[0], "abc", 3, 0);
    out += say(read(st[1], buf, sizeof buf));
    out += ":" + std::string(buf, 3) + " ";
    later when;
    std::thread late([&] {
      when.wait(20);
      send(st[0], "later", 5, 0);
    });
    out += say(read(st[1], buf, sizeof buf));  // waits for the next send
    out += ":" + std::string(buf, 5) + " ";
    late.join();
    close(st[0]);
    out += say(read(st[1], buf, sizeof buf));
    close(st[1]);
    return out;
  }, true);
}

// ptypair: a pseudo-terminal's master and slave (echo off), the slave in canonical mode or
// in raw mode with vmin and vtime; false, a test failure, if they cannot be made.
bool ptypair(int* master, int* slave, bool raw, int vmin = 1, int vtime = 0) {
  *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[64];
  termios t;
  bool ok = *master >= 0 && grantpt(*master) == 0 && unlockpt(*master) == 0 &&
            ptsname_r(*master, name, sizeof name) == 0 &&
            (*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0 && tcgetattr(*slave, &t) == 0;
  if (ok) {
    t.c_lflag &= ~tcflag_t(ECHO);
    if (raw) {
      t.c_lflag &= ~tcflag_t(ICANON);
      t.c_cc[VMIN] = cc_t(vmin);
      t.c_cc[VTIME] = cc_t(vtime);
    }
    ok = tcsetattr(*slave, TCSANOW, &t) == 0;
  }
  // The test was not skipped: the machine has ptys, and both sides would say "no pty".
  if (!ok) ADD_FAILURE() << "pty pair: " << strerror(errno);
  return ok;
}

// typelater: a thread that writes parts to fd, 20 ms apart, once the caller's call waits
// (later: made here, on the caller).
std::thread typelater(int fd, std::vector<std::string> parts) {
  later when;
  return std::thread([when, fd, parts] {
    when.wait(20);
    for (size_t i = 0; i < parts.size(); i++) {
      if (i > 0) usleep(20 * 1000);
      write(fd, parts[i].data(), parts[i].size());
    }
  });
}

// Terminals: the read keeps the line discipline's rules. A read that waits parks until the
// terminal turns readable, which in canonical mode is a whole line and in raw mode a byte
// (the read then keeps VMIN); in raw mode with VMIN 0 the read returns without data, which
// no wait for readability gives (preload/io.cc, nodatawait: it hung for good).
TEST(HookContract, Terminals) {
  int probe = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (probe < 0) {
    GTEST_SKIP() << "no pseudo-terminals here (posix_openpt: " << strerror(errno) << ")";
  }
  close(probe);
  same("canonical mode: a line written in parts, then one line a read", [] {
    int m, sl;
    if (!ptypair(&m, &sl, false)) return std::string("no pty");
    std::thread late = typelater(m, {"ab", "cd\nnext\n"});
    char buf[64] = {};
    std::string out = say(read(sl, buf, sizeof buf));  // waits for the newline
    out += ":" + std::string(buf, 5) + " ";
    late.join();
    out += say(read(sl, buf, 2)) + " ";  // part of a line, then the rest
    out += say(read(sl, buf + 2, sizeof buf - 2));
    out += ":" + std::string(buf, 5);
    close(sl);
    close(m);
    return out;
  }, true);
  same("raw mode, VMIN 2: the read waits for both bytes", [] {
    int m, sl;
    if (!ptypair(&m, &sl, true, 2, 0)) return std::string("no pty");
    std::thread late = typelater(m, {"x", "y"});
    char buf[8] = {};
    std::string out = say(read(sl, buf, sizeof buf));
    out += ":" + std::string(buf, 2);
    late.join();
    close(sl);
    close(m);
    return out;
  }, true);
  same("raw mode, VMIN 0: read and readv end without data, at once or after VTIME", [] {
    int m, sl, m2, sl2;
    if (!ptypair(&m, &sl, true, 0, 0) || !ptypair(&m2, &sl2, true, 0, 1)) {
      return std::string("no pty");
    }
    char buf[8];
    iovec iov{buf, sizeof buf};
    std::string out = say(read(sl, buf, sizeof buf)) + " " + say(readv(sl, &iov, 1)) + " ";
    out += say(read(sl2, buf, sizeof buf)) + " " + say(readv(sl2, &iov, 1)) + " ";
    write(m, "q", 1);
    out += say(read(sl, buf, sizeof buf));
    out += ":" + std::string(buf, 1);
    close(sl);
    close(m);
    close(sl2);
    close(m2);
    return out;
  });
  same("the master reads what the slave writes, when it comes", [] {
    int m, sl;
    if (!ptypair(&m, &sl, true)) return std::string("no pty");
    std::thread late = typelater(sl, {"from slave"});
    char buf[16] = {};
    std::string out = say(read(m, buf, sizeof buf));
    out += ":" + std::string(buf, 10);
    late.join();
    close(sl);
    close(m);
    return out;
  }, true);
}

TEST(HookContract, SocketTimeouts) {
  same("SO_RCVTIMEO: recv, read and accept give up with EAGAIN", [] {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    timeval tv{0, 20000};
    std::string out = say(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv)) + " ";
    char buf[8];
    out += say(recv(sv[1], buf, sizeof buf, 0)) + " " + say(read(sv[1], buf, sizeof buf)) + " ";
    int copy = dup(sv[1]);  // a copy has the same socket, and so its timeout
    out += say(read(copy, buf, sizeof buf)) + " ";
    close(copy);
    copy = fcntl(sv[1], F_DUPFD_CLOEXEC, 100);
    out += say(recv(copy, buf, sizeof buf, 0)) + " ";
    close(copy);
    send(sv[0], "late", 4, 0);
    out += say(recv(sv[1], buf, sizeof buf, 0)) + " ";
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bindloopback(ls);
    listen(ls, 4);
    setsockopt(ls, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    out += say(accept(ls, nullptr, nullptr)) + " ";
    // An accepted socket inherits its listener's SO_RCVTIMEO.
    sockaddr_in addr{};
    socklen_t alen = sizeof addr;
    getsockname(ls, reinterpret_cast<sockaddr*>(&addr), &alen);
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int s = accept(ls, nullptr, nullptr);
    out += say(read(s, buf, sizeof buf));
    close(s);
    close(c);
    close(ls);
    close(sv[0]);
    close(sv[1]);
    return out;
  }, true);
  // A timeout or a low-water mark set through one fd of a socket holds for its other fds
  // too, set before or after the copy was made: a read through the other waited for good
  // (the marks went only from the original to the copy, at the copy).
  same("SO_RCVTIMEO and SO_RCVLOWAT set through a copy hold for the original", [] {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    int copy = dup(sv[1]);
    timeval tv{0, 20000};
    setsockopt(copy, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[8] = {};
    std::string out = say(recv(sv[1], buf, sizeof buf, 0)) + " ";
    tv = timeval{0, 0};
    setsockopt(copy, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int low = 4;
    setsockopt(sv[1], SOL_SOCKET, SO_RCVLOWAT, &low, sizeof low);  // and the other way
    std::thread late([&] {  // (a low-water mark's receive is the kernel's: no park to wait for)
      usleep(20 * 1000);
      send(sv[0], "ab", 2, 0);
      usleep(20 * 1000);
      send(sv[0], "cd", 2, 0);
    });
    out += say(recv(copy, buf, sizeof buf, 0));  // waits for all four
    out += ":" + std::string(buf, 4);
    late.join();
    close(copy);
    close(sv[0]);
    close(sv[1]);
    return out;
  });
  same("SO_SNDTIMEO: a connect that waits for room in an AF_UNIX backlog ends in EAGAIN", [] {
    sockaddr_un addr;
    socklen_t len;
    int ls = unixlistener(SOCK_STREAM, 0, &addr, &len);
    std::vector<int> fill;  // non-blocking connects until the backlog is full
    for (int k = 0; k < 16; k++) {
      fill.push_back(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (connect(fill.back(), reinterpret_cast<sockaddr*>(&addr), len) < 0) break;
    }
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{0, 50000};
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::string out = say(connect(c, reinterpret_cast<sockaddr*>(&addr), len));
    close(c);
    for (int f : fill) close(f);
    close(ls);
    return out;
  }, true);
  same("SO_SNDTIMEO: a send that fills the socket returns its count, the next EAGAIN", [] {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    timeval tv{0, 20000};
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char big[1 << 22];
    ssize_t w = send(sv[0], big, sizeof big, 0);
    std::string out = w > 0 && size_t(w) < sizeof big ? "partial " : "? ";
    out += say(send(sv[0], big, sizeof big, 0)) + " " + say(write(sv[0], big, 1 << 16)) + " ";
    tv = timeval{0, 0};  // no timeout again: a reader makes room, the send completes
    setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::thread reader([&] {
      static char sink[1 << 16];
      for (ssize_t got = 0; got < w + 100;) {
        ssize_t r = read(sv[1], sink, sizeof sink);
        if (r <= 0) break;
        got += r;
      }
    });
    out += say(send(sv[0], big, 100, 0));
    reader.join();
    close(sv[0]);
    close(sv[1]);
    return out;
  }, true);
  same("shutdown wakes a reader waiting on the socket", [] {
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    later when;
    std::thread closer([&] {
      when.wait(20);
      shutdown(sv[1], SHUT_RDWR);
    });
    char buf[8];
    std::string out = say(recv(sv[1], buf, sizeof buf, 0)) + " " + say(send(sv[1], "x", 1, MSG_NOSIGNAL));
    closer.join();
    close(sv[0]);
    close(sv[1]);
    return out;
  }, true);
  same("shutdown of a listening socket ends the accept waiting on it", [] {
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bindloopback(ls);
    listen(ls, 1);
    later when;
    std::thread stopper([&] {
      when.wait(20);
      shutdown(ls, SHUT_RDWR);
    });
    std::string out = say(accept(ls, nullptr, nullptr));
    stopper.join();
    close(ls);
    return out;
  }, true);
}

TEST(HookContract, PollSelectEpollSleep) {
  same("poll: revents, POLLNVAL, POLLHUP, timeouts", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    write(p[1], "x", 1);
    pollfd fds[4] = {{p[0], POLLIN, 0}, {p[1], POLLOUT | POLLIN, 0}, {-1, POLLIN, 0}, {99999, POLLIN, 0}};
    std::string out = say(poll(fds, 4, 100));
    out += ":";
    for (auto& f : fds) out += std::to_string(f.revents) + ",";
    char c;
    read(p[0], &c, 1);
    pollfd one{p[0], POLLIN, 0};
    out += " " + say(poll(&one, 1, 10));
    out += ":" + std::to_string(one.revents);
    close(p[1]);
    out += " " + say(poll(&one, 1, 1000));
    out += ":" + std::to_string(one.revents);
    timespec ts{0, 5 * 1000 * 1000};
    out += " " + say(ppoll(&one, 1, &ts, nullptr));
    close(p[0]);
    return out;
  }, true);
  same("select: ready sets, a timeout, EBADF", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &wr);
    timeval tv{1, 0};
    std::string out = say(select(p[1] + 1, &rd, &wr, nullptr, &tv));
    out += ":" + std::to_string(FD_ISSET(p[0], &rd)) + std::to_string(FD_ISSET(p[1], &wr));
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    timeval shortt{0, 10000};
    out += " " + say(select(p[0] + 1, &rd, nullptr, nullptr, &shortt));
    out += ":" + std::to_string(FD_ISSET(p[0], &rd)) + " left " + std::to_string(shortt.tv_sec) +
           "." + std::to_string(shortt.tv_usec);
    close(p[0]);
    close(p[1]);
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    timeval t2{1, 0};
    out += " " + say(select(p[0] + 1, &rd, nullptr, nullptr, &t2));
    return out;
  }, true);
  same("select: one set passed as both the read and the write set", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    auto both = [&] {
      fd_set s;
      FD_ZERO(&s);
      FD_SET(p[0], &s);
      FD_SET(p[1], &s);
      timeval tv{1, 0};
      fd_set* w = &s;
      __asm__("" : "+r"(w));  // one set twice, which select's restrict declaration forbids
      std::string r = say(select(p[1] + 1, &s, w, nullptr, &tv));
      return r + ":" + std::to_string(FD_ISSET(p[0], &s)) + std::to_string(FD_ISSET(p[1], &s));
    };
    std::string out = both();  // only the write end is ready
    write(p[1], "x", 1);
    out += " " + both();  // both ends: the set is the write set's result
    close(p[0]);
    close(p[1]);
    return out;
  });
  same("epoll_wait: events, a timeout, a bad epoll fd", [] {
    int p[2];
    pipe2(p, O_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 5;
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    epoll_event out4[4];
    std::string out = say(epoll_wait(ep, out4, 4, 10)) + " ";
    write(p[1], "x", 1);
    out += say(epoll_wait(ep, out4, 4, 1000));
    out += ":" + std::to_string(out4[0].data.u64) + " ";
    out += say(epoll_wait(p[0], out4, 4, 10)) + " " + say(epoll_wait(ep, out4, 0, 10));
    close(ep);
    close(p[0]);
    close(p[1]);
    return out;
  }, true);
  same("sleeps: bad arguments, zero", [] {
    timespec bad{0, 1000000000}, neg{-1, 0}, zero{0, 0};
    std::string out = say(nanosleep(&bad, nullptr)) + " " + say(nanosleep(&neg, nullptr)) + " ";
    out += say(nanosleep(&zero, nullptr)) + " " + say(usleep(0)) + " " + std::to_string(sleep(0)) + " ";
    out += std::to_string(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr)) + " ";
    out += std::to_string(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &zero, nullptr));
    return out;
  });
  same("sleeps: a time the kernel cannot read is EFAULT, not a fault here", [] {
    auto* unmapped = reinterpret_cast<const timespec*>(16);
    std::string out = say(nanosleep(unmapped, nullptr)) + " ";
    out += std::to_string(clock_nanosleep(CLOCK_MONOTONIC, 0, unmapped, nullptr)) + " ";
    out += std::to_string(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, unmapped, nullptr));
    // rem is only written when the sleep is cut short: an unwritable one is fine here.
    timespec shortreq{0, 1000};
    out += " " + say(nanosleep(&shortreq, reinterpret_cast<timespec*>(16)));
    return out;
  });
}
