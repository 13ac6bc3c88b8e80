// syscall.cc — blocking calls that cannot be parked on the ring run as Go runs a system
// call: entersyscall before, exitsyscall after. The M blocks in the kernel; its P is marked
// Psyscall, and sysmon hands it to another M when the call lasts (retake), so the other
// goroutines keep running. Covered: the resolver (getaddrinfo, getnameinfo,
// gethostbyname*, which do their I/O through libc-internal calls no hook sees), waitpid and
// wait (parked on the ring's waitid where the kernel has it), flock, fcntl's F_SETLKW and
// F_OFD_SETLKW, and system. Non-blocking forms (WNOHANG, LOCK_NB, other fcntl commands) go
// straight to libc, as do callers that are not goroutines.
#include <fcntl.h>
#include <liburing.h>
#include <netdb.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/sem.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>

#include "hook.h"

using gmp::insyscall;

GMP_HOOK int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                         addrinfo** res) {
  REAL(getaddrinfo);
  return insyscall([&] { return real_getaddrinfo(node, service, hints, res); });
}

GMP_HOOK int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                         char* serv, socklen_t servlen, int flags) {
  REAL(getnameinfo);
  return insyscall([&] { return real_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags); });
}

GMP_HOOK hostent* gethostbyname(const char* name) {
  REAL(gethostbyname);
  return insyscall([&] { return real_gethostbyname(name); });
}

GMP_HOOK hostent* gethostbyname2(const char* name, int af) {
  REAL(gethostbyname2);
  return insyscall([&] { return real_gethostbyname2(name, af); });
}

GMP_HOOK int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                             hostent** result, int* h_errnop) {
  REAL(gethostbyname_r);
  return insyscall([&] { return real_gethostbyname_r(name, ret, buf, buflen, result, h_errnop); });
}

namespace {
// IORING_OP_WAITID (Linux 6.7), which liburing 2.3 does not know yet; false once the kernel
// refused it (an older kernel: the opcode is EINVAL), then waits block in the kernel.
constexpr uint8_t opWaitid = 50;
std::atomic<bool> waitidmissing{false};
constexpr int waitpidOptions = WNOHANG | WUNTRACED | WCONTINUED | __WALL | __WCLONE | __WNOTHREAD;

// waitready: park until waitpid(pid, options) has a child to report: a waitid on the ring
// with WNOWAIT, which leaves the child to be collected, for the same children and changes
// (a traced child's stops included, which a pidfd would never report). 1 ready (or no
// child: the caller's own look reports ECHILD), 0 wait in the kernel instead (no waitid
// here, or the ring failed), -2 a handler without SA_RESTART ran.
int waitready(pid_t pid, int options) {
  // __WNOTHREAD: children of the calling OS thread, which the collect on another M would
  // not be: the kernel's wait.
  if (waitidmissing.load(std::memory_order_relaxed) || (options & ~waitpidOptions) ||
      (options & __WNOTHREAD) || !gmp::hookable(true)) {
    return 0;
  }
  idtype_t type = pid > 0 ? P_PID : pid == -1 ? P_ALL : P_PGID;
  id_t id = pid > 0 ? id_t(pid) : pid < -1 ? id_t(-pid) : 0;  // P_PGID 0: the caller's group
  siginfo_t info;  // the kernel writes it; the goroutine's stack lives while it is parked
  for (;;) {
    io_uring_sqe* sqe = gmp::netpollsqe();
    io_uring_prep_rw(opWaitid, sqe, int(id), nullptr, unsigned(type), 0);
    sqe->file_index = unsigned((options & ~WNOHANG) | WEXITED | WNOWAIT);
    sqe->addr2 = reinterpret_cast<uintptr_t>(&info);
    int32_t r = gmp::netpollwait(sqe, gmp::intrRestart);
    // SA_RESTART: wait again, if it can still park where it resumed (hooks.h: that P may
    // have no ring and be unable to get one).
    if (r == gmp::restartcall) {
      if (!gmp::hookable(true)) return 0;
      continue;
    }
    if (r == -EINTR) return -2;
    if (r == -EINVAL) {  // valid options: the kernel does not know the operation
      waitidmissing.store(true, std::memory_order_relaxed);
      return 0;
    }
    // A child to collect, or none at all (the caller's look reports ECHILD); any other
    // error: wait in the kernel instead.
    return r >= 0 || r == -ECHILD || r == -ECANCELED ? 1 : 0;
  }
}
}  // namespace

GMP_HOOK pid_t waitpid(pid_t pid, int* status, int options) {
  gmp::testcancel();
  REAL(waitpid);
  if ((options & WNOHANG) || !gmp::hookable(false)) return real_waitpid(pid, status, options);
  for (;;) {
    pid_t r = real_waitpid(pid, status, options | WNOHANG);
    if (r != 0) return r;  // errno, if r < 0, is libc's on this thread
    int ready = waitready(pid, options);
    if (ready == 0) break;
    if (ready == -2) {
      gmp::seterrno(EINTR);
      return -1;
    }
    // A child to collect, or an error the next look reports; or another thread collected
    // it first: wait again.
  }
  return insyscall([&] { return real_waitpid(pid, status, options); });
}

GMP_HOOK pid_t wait(int* status) { return waitpid(-1, status, 0); }

// System V semaphore waits block the thread, the P handed on, and a semop that the
// runtime's io_uring task work or SIGURG ended in EINTR is made again (remadeunseen): the
// kernel ends it so for any pending signal, a handler or not.
GMP_HOOK int semop(int id, sembuf* ops, size_t n) {
  REAL(semop);
  return gmp::insyscall([&] { return gmp::remadeunseen([&] { return real_semop(id, ops, n); }); });
}

GMP_HOOK int semtimedop(int id, sembuf* ops, size_t n, const timespec* ts) {
  REAL(semtimedop);
  return gmp::insyscall([&] {
    return gmp::remadeuntil(ts, [&](const timespec* left) {
      return real_semtimedop(id, ops, n, left);
    });
  });
}

GMP_HOOK int flock(int fd, int op) {
  REAL(flock);
  if (op & LOCK_NB) return real_flock(fd, op);
  return insyscall([&] { return real_flock(fd, op); });
}

GMP_HOOK int system(const char* cmd) {
  gmp::testcancel();
  REAL(system);
  if (!cmd) return real_system(cmd);
  gmp::fdmodesunknown();  // its child shares every description (fork.cc)
  return insyscall([&] { return real_system(cmd); });
}

namespace {
int fcntlg(int (*realfn)(int, int, ...), int fd, int cmd, void* arg) {
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return gmp::fdcopied(fd, realfn(fd, cmd, arg));
  if (cmd == F_SETFL) gmp::fdmodechanges(fd);
  if (cmd != F_SETLKW && cmd != F_OFD_SETLKW) return realfn(fd, cmd, arg);
  return insyscall([&] { return realfn(fd, cmd, arg); });
}
}  // namespace

// fcntl takes one argument word after cmd (an int or a pointer): passed on as it came. With
// _FILE_OFFSET_BITS=64 the headers call fcntl fcntl64, the same function on x86-64 (glibc's
// __libc_fcntl64 under both names): one hook, defined by asm name and aliased.
GMP_HOOK int fcntl_hook(int fd, int cmd, ...) __asm__("fcntl");
GMP_HOOK int fcntl_hook(int fd, int cmd, ...) {
  REALAS(real_fcntl, int (*)(int, int, ...), "fcntl");
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlg(real_fcntl, fd, cmd, arg);
}
extern "C" __attribute__((visibility("default"), alias("fcntl"))) int fcntl64_hook(int, int, ...)
    __asm__("fcntl64");

// ioctl: FIONBIO sets or clears O_NONBLOCK as F_SETFL does. One argument word after req,
// passed on as it came.
GMP_HOOK int ioctl(int fd, unsigned long req, ...) {
  REALAS(real_ioctl, int (*)(int, unsigned long, ...), "ioctl");
  va_list ap;
  va_start(ap, req);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (req == FIONBIO) gmp::fdmodechanges(fd);
  return real_ioctl(fd, req, arg);
}
