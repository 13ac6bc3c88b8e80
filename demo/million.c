/* million.c — the demo: a C program that runs a million goroutines on libgmp's G/M/P
 * scheduler and reports what it did: goroutines, OS threads used, time, peak RSS.
 *
 *   build/demo/million [N]          (GMPMAXPROCS=n sets the number of Ps)
 */
#include <gmp/gmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_long done, sum;
static atomic_int threadsUsed;
static __thread int countedThisThread; /* goroutines share their M's TLS */

static void work(void *arg) {
  if (!countedThisThread) {
    countedThisThread = 1;
    atomic_fetch_add(&threadsUsed, 1);
  }
  atomic_fetch_add_explicit(&sum, (long)arg, memory_order_relaxed);
  atomic_fetch_add_explicit(&done, 1, memory_order_release);
}

/* statusField reads a "Name:   N kB" line of /proc/self/status. */
static long statusField(const char *name) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(name);
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, name, n) == 0) v = atol(line + n);
  }
  if (f) fclose(f);
  return v;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  if (n <= 0) {
    fprintf(stderr, "usage: %s [goroutines]\n", argv[0]);
    return 2;
  }
  printf("libgmp demo: Go's scheduler in a C program; main() is goroutine %ld\n",
         (long)gmp_goid());
  double t0 = now();
  for (long i = 0; i < n; i++) {
    int64_t id = gmp_go(work, (void *)i);
    if (id < 0) {
      fprintf(stderr, "gmp_go: error %ld\n", (long)id);
      return 1;
    }
  }
  while (atomic_load_explicit(&done, memory_order_acquire) < n) gmp_yield();
  double t1 = now();
  int ok = atomic_load(&sum) == n * (n - 1) / 2;
  printf("  goroutines spawned and finished: %ld (checksum %s)\n", n, ok ? "ok" : "WRONG");
  printf("  Ps (GMPMAXPROCS):                %d\n", gmp_maxprocs(0));
  printf("  OS threads that ran goroutines:  %d (threads in the process: %ld)\n",
         atomic_load(&threadsUsed), statusField("Threads:"));
  printf("  wall time:                       %.1f ms (%.0f ns per goroutine)\n",
         (t1 - t0) * 1e3, (t1 - t0) * 1e9 / n);
  printf("  peak RSS:                        %.1f MiB\n", statusField("VmHWM:") / 1024.0);
  printf("  goroutines live now:             %ld\n", (long)gmp_num_goroutine());
  return ok ? 0 : 1;
}
