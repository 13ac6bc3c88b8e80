// syscall.cc — blocking calls that cannot be parked on the ring run as Go runs a system
// call: entersyscall before, exitsyscall after. The M blocks in the kernel; its P is marked
// Psyscall, and sysmon hands it to another M when the call lasts (retake), so the other
// goroutines keep running. Covered: the resolver (getaddrinfo, getnameinfo,
// gethostbyname*, which do their I/O through libc-internal calls no hook sees), waitpid and
// wait (parked on a pidfd when waiting for one child), flock, fcntl's F_SETLKW and
// F_OFD_SETLKW, and system. Non-blocking forms (WNOHANG, LOCK_NB, other fcntl commands) go
// straight to libc, as do callers that are not goroutines.
#include <dlfcn.h>
#include <fcntl.h>
#include <liburing.h>
#include <netdb.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>

#include "../src/hooks.h"

#define GMP_HOOK extern "C" __attribute__((visibility("default")))

namespace {

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

// insyscall runs f() between entersyscall and exitsyscall when the caller is a goroutine.
template <typename F>
auto insyscall(F f) {
  if (!gmp::hookable(false)) return f();
  gmp::entersyscall();
  auto r = f();
  int e = errno;  // same thread: the M does not change inside the call
  gmp::exitsyscall();
  gmp::seterrno(e);  // exitsyscall may have queued us and resumed us on another M
  return r;
}

}  // namespace

GMP_HOOK int getaddrinfo(const char* node, const char* service, const addrinfo* hints,
                         addrinfo** res) {
  static auto realfn = real<decltype(&::getaddrinfo)>("getaddrinfo");
  return insyscall([&] { return realfn(node, service, hints, res); });
}

GMP_HOOK int getnameinfo(const sockaddr* sa, socklen_t salen, char* host, socklen_t hostlen,
                         char* serv, socklen_t servlen, int flags) {
  static auto realfn = real<decltype(&::getnameinfo)>("getnameinfo");
  return insyscall([&] { return realfn(sa, salen, host, hostlen, serv, servlen, flags); });
}

GMP_HOOK hostent* gethostbyname(const char* name) {
  static auto realfn = real<decltype(&::gethostbyname)>("gethostbyname");
  return insyscall([&] { return realfn(name); });
}

GMP_HOOK hostent* gethostbyname2(const char* name, int af) {
  static auto realfn = real<decltype(&::gethostbyname2)>("gethostbyname2");
  return insyscall([&] { return realfn(name, af); });
}

GMP_HOOK int gethostbyname_r(const char* name, hostent* ret, char* buf, size_t buflen,
                             hostent** result, int* h_errnop) {
  static auto realfn = real<decltype(&::gethostbyname_r)>("gethostbyname_r");
  return insyscall([&] { return realfn(name, ret, buf, buflen, result, h_errnop); });
}

GMP_HOOK pid_t waitpid(pid_t pid, int* status, int options) {
  static auto realfn = real<decltype(&::waitpid)>("waitpid");
  if ((options & WNOHANG) || !gmp::hookable(false)) return realfn(pid, status, options);
  if (pid > 0 && gmp::hookable(true)) {
    // One child: park on its pidfd until it is ready, then collect it without waiting.
    int pfd = int(syscall(SYS_pidfd_open, pid, 0));
    if (pfd >= 0) {
      for (;;) {
        pid_t r = realfn(pid, status, options | WNOHANG);
        if (r != 0) {
          int e = errno;
          syscall(SYS_close, pfd);
          gmp::seterrno(e);
          return r;
        }
        io_uring_sqe* sqe = gmp::netpollsqe();
        io_uring_prep_poll_add(sqe, pfd, POLLIN);
        gmp::netpollwait(sqe);
      }
    }
  }
  return insyscall([&] { return realfn(pid, status, options); });
}

GMP_HOOK pid_t wait(int* status) { return waitpid(-1, status, 0); }

GMP_HOOK int flock(int fd, int op) {
  static auto realfn = real<decltype(&::flock)>("flock");
  if (op & LOCK_NB) return realfn(fd, op);
  return insyscall([&] { return realfn(fd, op); });
}

GMP_HOOK int system(const char* cmd) {
  static auto realfn = real<decltype(&::system)>("system");
  if (!cmd) return realfn(cmd);
  return insyscall([&] { return realfn(cmd); });
}

namespace {
int fcntlg(int (*realfn)(int, int, ...), int fd, int cmd, void* arg) {
  if (cmd != F_SETLKW && cmd != F_OFD_SETLKW) return realfn(fd, cmd, arg);
  return insyscall([&] { return realfn(fd, cmd, arg); });
}
}  // namespace

// fcntl takes one argument word after cmd (an int or a pointer): passed on as it came. With
// _FILE_OFFSET_BITS=64 the headers call fcntl fcntl64, so both are defined by asm name.
GMP_HOOK int fcntl_hook(int fd, int cmd, ...) __asm__("fcntl");
GMP_HOOK int fcntl64_hook(int fd, int cmd, ...) __asm__("fcntl64");

GMP_HOOK int fcntl_hook(int fd, int cmd, ...) {
  static auto realfn = real<int (*)(int, int, ...)>("fcntl");
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlg(realfn, fd, cmd, arg);
}

GMP_HOOK int fcntl64_hook(int fd, int cmd, ...) {
  static auto realfn = real<int (*)(int, int, ...)>("fcntl64");
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlg(realfn, fd, cmd, arg);
}
