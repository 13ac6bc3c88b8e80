// setxid.cc — the setuid family. glibc makes the call on every thread it knows; the
// runtime's Ms, which it does not know, get the same call after it (src/setxid.cc), so that
// no goroutine-thread keeps the old credentials on whichever OS thread it runs.
#include <grp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hook.h"

namespace {
// broadcast: r, glibc's result; where it succeeded, nr(a0, a1, a2) on every other OS thread
// of the runtime's, errno as glibc left it.
int broadcast(int r, long nr, long a0, long a1 = 0, long a2 = 0) {
  if (r == 0) {
    int e = errno;
    gmp::setxidall(nr, a0, a1, a2);
    errno = e;
  }
  return r;
}
}  // namespace

GMP_HOOK int setuid(uid_t u) noexcept {
  REAL(setuid);
  return broadcast(real_setuid(u), SYS_setuid, long(u));
}

GMP_HOOK int setgid(gid_t g) noexcept {
  REAL(setgid);
  return broadcast(real_setgid(g), SYS_setgid, long(g));
}

// seteuid and setegid are glibc's setresuid(-1, e, -1) and setresgid(-1, e, -1).
GMP_HOOK int seteuid(uid_t u) noexcept {
  REAL(seteuid);
  return broadcast(real_seteuid(u), SYS_setresuid, -1, long(u), -1);
}

GMP_HOOK int setegid(gid_t g) noexcept {
  REAL(setegid);
  return broadcast(real_setegid(g), SYS_setresgid, -1, long(g), -1);
}

GMP_HOOK int setreuid(uid_t r, uid_t e) noexcept {
  REAL(setreuid);
  return broadcast(real_setreuid(r, e), SYS_setreuid, long(int(r)), long(int(e)));
}

GMP_HOOK int setregid(gid_t r, gid_t e) noexcept {
  REAL(setregid);
  return broadcast(real_setregid(r, e), SYS_setregid, long(int(r)), long(int(e)));
}

GMP_HOOK int setresuid(uid_t r, uid_t e, uid_t s) noexcept {
  REAL(setresuid);
  return broadcast(real_setresuid(r, e, s), SYS_setresuid, long(int(r)), long(int(e)),
                   long(int(s)));
}

GMP_HOOK int setresgid(gid_t r, gid_t e, gid_t s) noexcept {
  REAL(setresgid);
  return broadcast(real_setresgid(r, e, s), SYS_setresgid, long(int(r)), long(int(e)),
                   long(int(s)));
}

GMP_HOOK int setgroups(size_t n, const gid_t* list) noexcept {
  REAL(setgroups);
  return broadcast(real_setgroups(n, list), SYS_setgroups, long(n),
                   long(reinterpret_cast<uintptr_t>(list)));
}
