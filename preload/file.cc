// file.cc — opening and syncing files parks the goroutine on io_uring: open, openat, creat
// (and their 64-bit and _FORTIFY_SOURCE names), fsync, fdatasync.
//
// These have no non-blocking form to try first: a goroutine's call goes to its P's ring
// (IORING_OP_OPENAT, IORING_OP_FSYNC) and it parks until the kernel is done — at once for a
// path in the dentry cache (io_uring tries that inline), after a worker thread's wait for a
// disk or for the other end of a FIFO (fifo) otherwise. The kernel does the same work as for the
// system call, with the process's credentials, umask and working directory, so results and
// errno are libc's. Any other caller gets the real function.
#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstring>

#include "hook.h"

namespace {

// needsmode: open's third argument is read (O_CREAT, O_TMPFILE), as glibc reads it.
bool needsmode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

// fifo: path names a FIFO that flags open without O_NONBLOCK, which waits for the other
// end. io_uring's first, inline try of an open adds O_NONBLOCK (and takes it off the file
// after), which for a FIFO means a reader that does not wait for a writer (its reads then
// see end of file) and a writer that fails with ENXIO: such an open goes to a worker at once
// (IOSQE_ASYNC), which waits as the system call does. Costs an fstatat per open.
bool fifo(int dirfd, const char* path, int flags) {
  if (flags & (O_NONBLOCK | O_PATH)) return false;
  struct stat st;
  int at = flags & O_NOFOLLOW ? AT_SYMLINK_NOFOLLOW : 0;
  return fstatat(dirfd, path, &st, at) == 0 && S_ISFIFO(st.st_mode);
}

// threadself: path names the calling thread's own /proc directory, which a worker of the
// ring would resolve to its own (iou-wrk-N): such an open is the kernel's, on this thread.
bool threadself(const char* path) {
  return path && strncmp(path, "/proc/thread-self", 17) == 0 && (path[17] == '/' || path[17] == 0);
}

// openatg: the open hooks' one body.
int openatg(int dirfd, const char* path, int flags, mode_t mode) {
  REALAS(real_openat, int (*)(int, const char*, int, ...), "openat");
  if (!gmp::hookable(true)) return real_openat(dirfd, path, flags, mode);
  if (threadself(path)) return gmp::insyscall([&] { return real_openat(dirfd, path, flags, mode); });
  for (;;) {
    io_uring_sqe* sqe = gmp::netpollsqe();
    io_uring_prep_openat(sqe, dirfd, path, flags, mode);
    if (fifo(dirfd, path, flags)) sqe->flags |= IOSQE_ASYNC;
    // A FIFO's open waits for the other end, interruptibly (a restart under SA_RESTART).
    int32_t res = gmp::netpollwait(sqe, gmp::intrRestart);
    if (res != gmp::restartcall) return int(gmp::ringresult(res));
    if (!gmp::hookable(true)) return real_openat(dirfd, path, flags, mode);
  }
}

// modearg: the mode argument after flags, when flags say there is one.
mode_t modearg(int flags, va_list ap) { return needsmode(flags) ? va_arg(ap, mode_t) : 0; }

int fsyncg(int fd, unsigned how) {
  io_uring_sqe* sqe = gmp::netpollsqe();
  io_uring_prep_fsync(sqe, fd, how);
  return int(gmp::ringresult(gmp::netpollwait(sqe, gmp::intrNever)));
}

}  // namespace

// With _FILE_OFFSET_BITS=64 the headers name these open64 and so on; each hook is defined
// under an assembler name and aliased to the other.
GMP_HOOK int openat_hook(int dirfd, const char* path, int flags, ...) __asm__("openat");
GMP_HOOK int openat_hook(int dirfd, const char* path, int flags, ...) {
  gmp::testcancel();
  va_list ap;
  va_start(ap, flags);
  mode_t mode = modearg(flags, ap);
  va_end(ap);
  return openatg(dirfd, path, flags, mode);
}
extern "C" __attribute__((visibility("default"), alias("openat"))) int openat64_hook(
    int, const char*, int, ...) __asm__("openat64");

GMP_HOOK int open_hook(const char* path, int flags, ...) __asm__("open");
GMP_HOOK int open_hook(const char* path, int flags, ...) {
  gmp::testcancel();
  va_list ap;
  va_start(ap, flags);
  mode_t mode = modearg(flags, ap);
  va_end(ap);
  return openatg(AT_FDCWD, path, flags, mode);
}
extern "C" __attribute__((visibility("default"), alias("open"))) int open64_hook(
    const char*, int, ...) __asm__("open64");

GMP_HOOK int creat_hook(const char* path, mode_t mode) __asm__("creat");
GMP_HOOK int creat_hook(const char* path, mode_t mode) {
  gmp::testcancel();
  return openatg(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}
extern "C" __attribute__((visibility("default"), alias("creat"))) int creat64_hook(
    const char*, mode_t) __asm__("creat64");

// _FORTIFY_SOURCE builds call these for an open without a mode. Flags that need one (the
// mode would be garbage) go to glibc's, which stops the program with its own message.
GMP_HOOK int openat_2_hook(int dirfd, const char* path, int flags) __asm__("__openat_2");
GMP_HOOK int openat_2_hook(int dirfd, const char* path, int flags) {
  gmp::testcancel();
  REALAS(real_openat_2, int (*)(int, const char*, int), "__openat_2");
  if (needsmode(flags)) return real_openat_2(dirfd, path, flags);
  return openatg(dirfd, path, flags, 0);
}
extern "C" __attribute__((visibility("default"), alias("__openat_2"))) int openat64_2_hook(
    int, const char*, int) __asm__("__openat64_2");

GMP_HOOK int open_2_hook(const char* path, int flags) __asm__("__open_2");
GMP_HOOK int open_2_hook(const char* path, int flags) {
  gmp::testcancel();
  REALAS(real_open_2, int (*)(const char*, int), "__open_2");
  if (needsmode(flags)) return real_open_2(path, flags);
  return openatg(AT_FDCWD, path, flags, 0);
}
extern "C" __attribute__((visibility("default"), alias("__open_2"))) int open64_2_hook(
    const char*, int) __asm__("__open64_2");

GMP_HOOK int fsync(int fd) {
  gmp::testcancel();
  REAL(fsync);
  if (!gmp::hookable(true)) return real_fsync(fd);
  return fsyncg(fd, 0);
}

GMP_HOOK int fdatasync(int fd) {
  gmp::testcancel();
  REAL(fdatasync);
  if (!gmp::hookable(true)) return real_fdatasync(fd);
  return fsyncg(fd, IORING_FSYNC_DATASYNC);
}
