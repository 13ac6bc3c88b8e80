// panic.cc — fatal errors and printing that works anywhere (no malloc, no stdio locks):
// on g0, in a signal handler, with the heap corrupted.
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "runtime.h"

namespace gmp {

void writeall(int fd, const char* s, size_t n) {
  // rawsyscall: never a hook (this may be a dump), errno untouched (callers include signal
  // handlers and hooked libc calls), and never redirected by lazysyscall.cc.
  while (n > 0) {
    long w = rawsyscall(SYS_write, fd, long(s), long(n));
    if (w == -EINTR) continue;
    if (w <= 0) break;
    s += w;
    n -= size_t(w);
  }
}

void printerr(const char* s) { writeall(2, s, strlen(s)); }

namespace {
void vfdprintf(int fd, const char* fmt, va_list ap) {
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  writeall(fd, buf, size_t(n) < sizeof buf ? size_t(n) : sizeof buf - 1);
}
}  // namespace

void fdprintf(int fd, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfdprintf(fd, fmt, ap);
  va_end(ap);
}

void printerrf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfdprintf(2, fmt, ap);
  va_end(ap);
}

// fatal: Go's throw. Prints the message and the goroutine dump (as GMPTRACEBACK says), then
// ends the process with status 2.
[[noreturn]] void fatal(const char* msg) {
  printerrf("gmp: fatal error: %s\n", msg);
  g* gp = getg();
  g* cur = gp && gp->m_ ? gp->m_->curg : nullptr;
  dumpgoroutines(2, cur, nullptr, true, tracebacklevel(debug.traceback));
  crash(0);
}

}  // namespace gmp
