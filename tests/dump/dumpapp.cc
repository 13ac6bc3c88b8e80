// dumpapp — a program whose goroutines sit in known places, for the dump tests
// (dump_test.cc). argv[1] picks what it does once they are in place:
//   dump      gmp_dump(1) (stdout), then exit 0
//   quit      raise SIGQUIT
//   segv      a goroutine writes through a null pointer
//   overflow  a goroutine recurses without end
//   abort     a goroutine calls abort()
//   handler   installs its own SIGSEGV handler, then segv: the handler exits 42
//   badfd     prints gmp_dump(-1) and gmp_dump(12345)
//   minutes   as dump, with the parked goroutine's wait started 3 minutes ago
//   linger    sleeps 300 ms holding its P (a raw nanosleep, which no hook parks), then exit 0
//             (for GMPDEBUG=schedtrace and signals from outside; it first creates the file
//             $DUMPAPP_READY names, if set, once every goroutine is in place)
//   deadlock  main and another goroutine each wait on a channel nobody sends on
//   panic     an exception escapes a goroutine started with gmp::go
//   nodeadlock as deadlock, but a goroutine sends after sleeping 50 ms: a timer is pending
// Goroutines in place: one parked in semacquire (parked_in_semacquire), one spinning on
// another P (spin_forever), a few that never ran (never_ran).
#include <gmp/gmp.h>
#include <gmp/gmp.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime.h"

namespace {
std::atomic<uint32_t> sema{0};
std::atomic<int> spinning{0};
std::atomic<int> parked{0};

extern "C" __attribute__((noinline)) void parked_in_semacquire(void*) {
  parked.store(1);
  gmp::semacquire(&sema);
  parked.store(2);  // not a tail call: this frame stays on the stack
}

extern "C" __attribute__((noinline)) void spin_forever(void*) {
  spinning.store(1);
  for (uint64_t i = 0;; i++) asm volatile("" : : "r"(i));
}

extern "C" __attribute__((noinline)) void never_ran(void*) {}

// (UBSan would report the null store before it faults: it is the fault we want.)
__attribute__((noinline, no_sanitize("undefined"))) void write_null(void*) {
  volatile int* p = nullptr;
  *p = 1;
}

__attribute__((noinline)) int recurse(int n) {
  volatile char pad[512];
  pad[0] = char(n);
  if (n < 0) return 0;  // never: the recursion only ends in the guard page
  return recurse(n + 1) + pad[0];
}
void overflow(void*) { recurse(0); }
void doabort(void*) { abort(); }

void onsegv(int) { _exit(42); }

// runon runs fn on a new goroutine and waits (the failing modes never come back).
void runon(void (*fn)(void*)) {
  gmp_go(fn, nullptr);
  for (;;) gmp_yield();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const char* mode = argv[1];
  if (strcmp(mode, "deadlock") == 0 || strcmp(mode, "nodeadlock") == 0) {
    static gmp_chan_t* a = gmp_chan_make(0, 0);
    static gmp_chan_t* b = gmp_chan_make(0, 0);
    gmp_go([](void*) { gmp_chan_recv(b, nullptr); }, nullptr);
    if (strcmp(mode, "nodeadlock") == 0) {
      gmp_go([](void*) {
        gmp_sleep(50 * 1000 * 1000);
        gmp_chan_send(b, nullptr);
        gmp_chan_send(a, nullptr);
      }, nullptr);
    }
    gmp_chan_recv(a, nullptr);
    return 0;
  }
  if (strcmp(mode, "panic") == 0) {
    gmp::go([] { throw std::runtime_error("boom"); });
    for (;;) gmp_yield();
  }
  if (strcmp(mode, "badfd") == 0) {
    printf("%d %d\n", gmp_dump(-1), gmp_dump(12345));
    return 0;
  }
  gmp_go(parked_in_semacquire, nullptr);
  if (gmp_maxprocs(0) > 1) gmp_go(spin_forever, nullptr);
  while (!parked.load() || (gmp_maxprocs(0) > 1 && !spinning.load())) gmp_yield();
  usleep(20 * 1000);  // let the parked goroutine settle in gopark
  for (int i = 0; i < 3; i++) gmp_go(never_ran, nullptr);  // queued behind main: never run
  if (strcmp(mode, "minutes") == 0) {
    // Backdate the parked goroutine's wait (g.waitsince) by 3 minutes and 5 seconds.
    for (int64_t i = 0; i < gmp::gmp_allglen.load(); i++) {
      gmp::g* gp = &gmp::gmp_allgs[i];
      if (gp->startfn == parked_in_semacquire) gp->waitsince -= int64_t(185) * 1000000000;
    }
    mode = "dump";
  }
  if (strcmp(mode, "linger") == 0) {
    // Every goroutine is in place: say so to a test that signals us from outside (raw
    // system calls: a hooked open would park main and let the queued goroutines run).
    if (const char* ready = getenv("DUMPAPP_READY")) {
      syscall(SYS_close, syscall(SYS_openat, AT_FDCWD, ready, O_CREAT | O_WRONLY, 0600));
    }
    timespec ts{0, 300 * 1000 * 1000};
    syscall(SYS_nanosleep, &ts, nullptr);  // a signal cuts it short
    return 0;
  }
  if (strcmp(mode, "dump") == 0) {
    fflush(stdout);
    int r = gmp_dump(1);
    printf("gmp_dump returned %d\n", r);
    return 0;
  }
  if (strcmp(mode, "quit") == 0) raise(SIGQUIT);
  if (strcmp(mode, "segv") == 0) runon(write_null);
  if (strcmp(mode, "overflow") == 0) runon(overflow);
  if (strcmp(mode, "abort") == 0) runon(doabort);
  if (strcmp(mode, "handler") == 0) {
    signal(SIGSEGV, onsegv);
    runon(write_null);
  }
  return 3;
}
