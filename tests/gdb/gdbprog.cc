// gdbprog.cc — the program gdb_test.py debugs: a known set of goroutines, each stopped in
// known functions, then a stop where gdb (with gdb/libgmp-gdb.py) looks at them.
//
// Built twice (tests/gdb/meson.build):
//   - gdbprog_static links the runtime's objects (gmp_internal) and defines GDBTEST_INTERNAL:
//     it can park a goroutine on the runtime semaphore (gmp::semacquire), which the C ABI
//     cannot do yet.
//   - gdbprog_shared links libgmp.so through the C ABI only, as an installed program would;
//     gdb then finds the runtime's structures in the shared library.
//
// The goroutines, and where each stands still when gdb looks:
//
//   main (1)   running on M0 (the main thread): in gdbtest_stop, gdbtest_wait (--wait) or
//              raise (--abort)
//   spinner    running on another M (a raw-clone one unless GMPDEBUG=mclone=pthread), spinning
//              in gdbtest_spin; it holds the second P for good
//   parker     waiting (semacquire): gdbtest_park_outer → gdbtest_park_inner →
//              gmp::semacquire → gopark                          (gdbprog_static only)
//   yielder    runnable, has run: gdbtest_yielder → gmp_yield → gmp::gosched
//   fresh ×3   runnable, never run (no stack): gdbtest_never_run
//
// Two Ps, one of them the spinner's forever (nothing preempts it), leave main alone on the
// other: the rest move only when main yields, and main stops yielding before the stop. The
// ids go to stdout on one line ("gdbtest: main=1 spinner=... ready") for the driver.
//
// gdb names them by the globals gdbtest_id_* too (`goroutine gdbtest_id_parker bt`).
//
// Modes (argv[1]): none: call gdbtest_stop, where gdb has a breakpoint; --wait: keep running
// for a minute, for gdb to attach; --abort: die of SIGABRT (a kernel core dump).
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "gmp/gmp.h"
#ifdef GDBTEST_INTERNAL
#include "runtime.h"
#endif

// The asm statements keep each call from being a tail call (the caller's frame must stay on
// the stack for the backtrace to show it) and each function from being folded away.
#define KEEP() asm volatile("" ::: "memory")

namespace {
std::atomic<bool> spinning{false};  // the spinner runs
std::atomic<bool> parked{false};    // the parker is about to park
std::atomic<int> yields{0};         // times the yielder has yielded
std::atomic<uint32_t> nosema{0};    // a semaphore nobody releases

int64_t nowms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}
}  // namespace

// The goroutine ids, for gdb (0: that goroutine does not exist in this build).
extern "C" {
long gdbtest_id_spinner, gdbtest_id_parker, gdbtest_id_yielder, gdbtest_id_fresh;
}

__attribute__((noinline)) void gdbtest_spin(void*) {
  spinning.store(true);
  for (;;) KEEP();
}

#ifdef GDBTEST_INTERNAL
__attribute__((noinline)) void gdbtest_park_inner(std::atomic<uint32_t>* sema) {
  parked.store(true);
  gmp::semacquire(sema);  // never returns: nobody releases nosema
  KEEP();
}

__attribute__((noinline)) void gdbtest_park_outer(void* sema) {
  gdbtest_park_inner(static_cast<std::atomic<uint32_t>*>(sema));
  KEEP();
}
#endif

__attribute__((noinline)) void gdbtest_yielder(void*) {
  for (;;) {
    yields.fetch_add(1);
    gmp_yield();
    KEEP();
  }
}

__attribute__((noinline)) void gdbtest_never_run(void*) { KEEP(); }

// gcore_workarounds: what gdb's gcore (generate-core-file) needs to make a usable core of this
// process; the driver asks for it (GDBTEST_GCORE=1) on the runs that make one. See
// gdb/README.md, "Core files":
//   - gcore dumps inaccessible (PROT_NONE) reservations in full, as zeros: the runtime's g
//     arena reserves 16 GiB, which would make a 16 GiB core. They hold no data:
//     MADV_DONTDUMP them (gdb honours VmFlags "dd").
//   - gcore copies a mapping 1 MiB at a time and drops the rest of the mapping at the first
//     chunk it cannot read; a stack guard made with MADV_GUARD_INSTALL (Linux >= 6.13) is
//     such a chunk, so every goroutine stack would be missing. Remove the guards.
// The kernel's own core dumps need neither: they skip untouched and guard pages.
void gcore_workarounds() {
  FILE* f = fopen("/proc/self/maps", "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi, off, inode;
    char perms[8], dev[16];
    if (sscanf(line, "%lx-%lx %7s %lx %15s %lu", &lo, &hi, perms, &off, dev, &inode) != 6 ||
        inode != 0) {
      continue;  // file-backed
    }
    void* v = reinterpret_cast<void*>(lo);
    if (strcmp(perms, "---p") == 0) {
      madvise(v, hi - lo, MADV_DONTDUMP);
    } else if (perms[0] == 'r' && perms[1] == 'w') {
      madvise(v, hi - lo, 103);  // MADV_GUARD_REMOVE; EINVAL before Linux 6.13 (no guards)
    }
  }
  fclose(f);
}

// gdb stops here (break gdbtest_stop).
extern "C" __attribute__((noinline)) void gdbtest_stop() { KEEP(); }

// --wait: keep goroutine 1 running, in the kernel most of the time, until gdb attaches and
// the driver kills the process (a raw system call: no hook of the runtime may park it).
__attribute__((noinline)) void gdbtest_wait() {
  for (int i = 0; i < 60 * 100; i++) {
    timespec ts{0, 10 * 1000 * 1000};
    syscall(SYS_nanosleep, &ts, nullptr);
  }
}

// --abort: die of SIGABRT with the default action, so that the kernel writes a core (the
// runtime may have a handler for it: put the default back first).
__attribute__((noinline)) void gdbtest_abort() {
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
  KEEP();
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (gmp_maxprocs(2) < 0) return 1;
  // The spinner goes to this P's runnext; another M takes it with the other P. Wait without
  // yielding (a yield would run it here and strand main behind it).
  long spinner = gmp_go(gdbtest_spin, nullptr);
  if (spinner <= 0) return 1;
  for (int64_t t0 = nowms(); !spinning.load();) {
    if (nowms() - t0 > 10000) {
      fprintf(stderr, "gdbtest: the spinner did not start on another M\n");
      return 1;
    }
  }
  long parker = 0;
#ifdef GDBTEST_INTERNAL
  parker = gmp_go(gdbtest_park_outer, &nosema);
  if (parker <= 0) return 1;
#else
  parked.store(true);
#endif
  long yielder = gmp_go(gdbtest_yielder, nullptr);
  if (yielder <= 0) return 1;
  // Each yield lets the others run on this P until they park or yield back.
  for (int64_t t0 = nowms(); !parked.load() || yields.load() < 1;) {
    if (nowms() - t0 > 10000) {
      fprintf(stderr, "gdbtest: the parker and the yielder did not run\n");
      return 1;
    }
    gmp_yield();
  }
  long fresh[3];
  for (long& id : fresh) {
    id = gmp_go(gdbtest_never_run, &fresh);
    if (id <= 0) return 1;
  }
  gdbtest_id_spinner = spinner;
  gdbtest_id_parker = parker;
  gdbtest_id_yielder = yielder;
  gdbtest_id_fresh = fresh[0];
  printf("gdbtest: main=%ld spinner=%ld parker=%ld yielder=%ld fresh=%ld,%ld,%ld pid=%d ready\n",
         long(gmp_goid()), spinner, parker, yielder, fresh[0], fresh[1], fresh[2],
         int(getpid()));
  fflush(stdout);
  if (getenv("GDBTEST_GCORE")) gcore_workarounds();
  if (strcmp(mode, "--wait") == 0) {
    gdbtest_wait();
  } else if (strcmp(mode, "--abort") == 0) {
    gdbtest_abort();
  } else {
    gdbtest_stop();
  }
  return 0;
}
