// syscall.cc — blocking calls that cannot be parked on the ring run as Go runs a system
// call: entersyscall before, exitsyscall after. The M blocks in the kernel; its P is marked
// Psyscall, and sysmon hands it to another M when the call lasts (retake), so the other
// goroutines keep running. Covered: the resolver (getaddrinfo, getnameinfo,
// gethostbyname*, which do their I/O through libc-internal calls no hook sees), waitpid and
// wait (parked on a pidfd when waiting for one child), flock, fcntl's F_SETLKW and
// F_OFD_SETLKW, and system. Non-blocking forms (WNOHANG, LOCK_NB, other fcntl commands) go
// straight to libc, as do callers that are not goroutines.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

GMP_HOOK pid_t waitpid(pid_t pid, int* status, int options) {
  REAL(waitpid);
  if ((options & WNOHANG) || !gmp::hookable(false)) return real_waitpid(pid, status, options);
  // One child, waited for to exit (a pidfd reports nothing else: not WUNTRACED's stops,
  // nor WCONTINUED): park on its pidfd until it is ready, then collect it without waiting.
  if (pid > 0 && !(options & (WUNTRACED | WCONTINUED))) {
    int pfd = int(syscall(SYS_pidfd_open, pid, 0));
    if (pfd >= 0) {
      pid_t r;
      int ready = 1;
      while ((r = real_waitpid(pid, status, options | WNOHANG)) == 0 &&
             (ready = gmp::parkready(pfd, POLLIN, -1, gmp::intrRestart)) > 0) {
      }
      // errno, if r < 0, is libc's on this thread; closing a valid pidfd leaves it alone
      // (and no errno read here: its address may date from before a park, another M).
      syscall(SYS_close, pfd);
      if (r != 0) return r;
      if (ready == -2) {  // a signal handler without SA_RESTART
        gmp::seterrno(EINTR);
        return -1;
      }
      // else the poll failed: wait in the kernel instead
    }
  }
  return insyscall([&] { return real_waitpid(pid, status, options); });
}

GMP_HOOK pid_t wait(int* status) { return waitpid(-1, status, 0); }

GMP_HOOK int flock(int fd, int op) {
  REAL(flock);
  if (op & LOCK_NB) return real_flock(fd, op);
  return insyscall([&] { return real_flock(fd, op); });
}

GMP_HOOK int system(const char* cmd) {
  REAL(system);
  if (!cmd) return real_system(cmd);
  return insyscall([&] { return real_system(cmd); });
}

namespace {
int fcntlg(int (*realfn)(int, int, ...), int fd, int cmd, void* arg) {
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) return gmp::fdcopied(fd, realfn(fd, cmd, arg));
  if (cmd != F_SETLKW && cmd != F_OFD_SETLKW) return realfn(fd, cmd, arg);
  return insyscall([&] { return realfn(fd, cmd, arg); });
}
}  // namespace

// fcntl takes one argument word after cmd (an int or a pointer): passed on as it came. With
// _FILE_OFFSET_BITS=64 the headers call fcntl fcntl64, the same function on x86-64 (glibc's
// __libc_fcntl64 under both names): one hook, defined by asm name and aliased.
GMP_HOOK int fcntl_hook(int fd, int cmd, ...) __asm__("fcntl");
GMP_HOOK int fcntl_hook(int fd, int cmd, ...) {
  static const auto real_fcntl = gmp::libcfn<int (*)(int, int, ...)>("fcntl");
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return fcntlg(real_fcntl, fd, cmd, arg);
}
extern "C" __attribute__((visibility("default"), alias("fcntl"))) int fcntl64_hook(int, int, ...)
    __asm__("fcntl64");
