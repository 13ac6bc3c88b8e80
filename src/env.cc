// env.cc — the runtime's environment: GMPDEBUG, GMPMAXPROCS, GMPSTACK (Go's GODEBUG and
// GOMAXPROCS). Read once in schedinit. Malformed values are reported and ignored.
//
//   GMPDEBUG=schedtrace=N      print the SCHED line every N ms (sysmon)
//   GMPDEBUG=scheddetail=1     with schedtrace: a line per P, M and G too
//   GMPDEBUG=mclone=pthread    make Ms with pthread_create instead of raw clone
//   GMPDEBUG=takeover=0        the libc hooks pass every call straight through
//   GMPDEBUG=fsgsbase=0        switch TCBs with arch_prctl even where wrfsbase works
//   GMPDEBUG=membarrier=0      locks release with an exchange, not a plain store (membarrier.cc)
//   GMPTRACEBACK=none|single|all|crash   what a fatal error prints (GOTRACEBACK): no
//                              goroutines, the failing one, all (default), all and then die
//                              of the signal (SIGABRT otherwise) so that a core is written
//   GMPMAXPROCS=N              number of Ps (default: usable CPUs)
//   GMPSTACK=N[k|m]            default goroutine stack size in bytes (min 16k, max 1024m,
//                              gmp.h's GMP_GO_STACK_MAX; default 64k)
#include <cstdlib>
#include <cstring>

#include "gmp/gmp.h"
#include "runtime.h"

namespace gmp {

debugvars debug;

namespace {
// parsesize parses N, Nk or Nm up to max; false if malformed or past max.
bool parsesize(const char* s, size_t max, size_t* out) {
  char* end;
  if (*s < '0' || *s > '9') return false;  // strtoull would take "-1" for ULLONG_MAX
  unsigned long long v = strtoull(s, &end, 10);
  if (v > max) return false;  // before the shift below, which could wrap it
  if (*end == 'k' || *end == 'K') {
    v <<= 10;
    end++;
  } else if (*end == 'm' || *end == 'M') {
    v <<= 20;
    end++;
  }
  if (*end || v > max) return false;
  *out = size_t(v);
  return true;
}

void badvalue(const char* var, const char* val) {
  printerrf("gmp: ignoring malformed %s=%s\n", var, val);
}
}  // namespace

void parsedebugvars() {
  if (const char* s = getenv("GMPDEBUG")) {
    debug.set = true;
    char buf[256];
    strncpy(buf, s, sizeof buf - 1);
    buf[sizeof buf - 1] = 0;
    char* save = nullptr;
    for (char* kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(nullptr, ",", &save)) {
      char* eq = strchr(kv, '=');
      if (!eq) {
        badvalue("GMPDEBUG", kv);
        continue;
      }
      *eq = 0;
      const char* val = eq + 1;
      if (strcmp(kv, "schedtrace") == 0) {
        debug.schedtrace = atoi(val);
      } else if (strcmp(kv, "scheddetail") == 0) {
        debug.scheddetail = atoi(val) != 0;
      } else if (strcmp(kv, "takeover") == 0) {
        debug.notakeover = atoi(val) == 0;
      } else if (strcmp(kv, "fsgsbase") == 0) {
        debug.nofsgsbase = atoi(val) == 0;
      } else if (strcmp(kv, "asyncpreemptoff") == 0) {
        debug.noasyncpreempt = atoi(val) != 0;
      } else if (strcmp(kv, "membarrier") == 0) {
        debug.nomembarrier = atoi(val) == 0;
      } else if (strcmp(kv, "mclone") == 0) {
        if (strcmp(val, "pthread") == 0) {
          debug.mclonePthread = true;
        } else if (strcmp(val, "raw") != 0) {
          badvalue("GMPDEBUG mclone", val);
        }
      }  // unknown keys are for other versions: ignored, as GODEBUG does
    }
  }
  if (const char* s = getenv("GMPMAXPROCS")) {
    char* end;
    long n = strtol(s, &end, 10);
    if (end != s && !*end && n > 0) {
      debug.maxprocs = int32_t(n > maxgomaxprocs ? maxgomaxprocs : n);
    } else {
      badvalue("GMPMAXPROCS", s);
    }
  }
  if (const char* s = getenv("GMPTRACEBACK")) {
    static const char* const names[] = {"none", "single", "all", "crash"};
    int32_t level = -1;
    for (int32_t i = 0; i < 4; i++) {
      if (strcmp(s, names[i]) == 0) level = i;
    }
    if (level >= 0) {
      debug.traceback = level;
    } else {
      badvalue("GMPTRACEBACK", s);
    }
  }
  if (const char* s = getenv("GMPSTACK")) {
    if (!parsesize(s, GMP_GO_STACK_MAX, &debug.stacksize)) badvalue("GMPSTACK", s);
  }
}

}  // namespace gmp
