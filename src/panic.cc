// panic.cc — fatal errors and printing that works anywhere (no malloc, no stdio locks):
// on g0, in a signal handler, with the heap corrupted.
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "runtime.h"

namespace gmp {

void printerr(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= size_t(w);
  }
}

void printerrf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  printerr(buf);
}

// fatal: Go's throw. The goroutine dump proper comes with issue 3 (traceback.cc); until then
// the current goroutine and M are named.
[[noreturn]] void fatal(const char* msg) {
  printerrf("gmp: fatal error: %s\n", msg);
  g* gp = getg();
  if (gp && gp->m_) {
    m* mp = gp->m_;
    if (g* cur = mp->curg) {
      printerrf("\ngoroutine %ld [running]: on m%ld\n", long(cur->goid), long(mp->id));
    } else {
      printerrf("\n[on the scheduler stack of m%ld]\n", long(mp->id));
    }
  }
  _exit(2);
}

}  // namespace gmp
