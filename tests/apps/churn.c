/* churn.c — threads created and joined one after another, each using malloc and TLS: the
 * process's RSS must stay flat (a plain program; the preload test runs it under libgmp.so).
 *
 *   churn [threads]     default 1000000
 *
 * Prints the RSS after the first tenth and at the end, the growth between them, the time
 * per thread, and how many OS threads ran them (distinct gettid() values, counted up to
 * 1024): one per thread natively, a few Ms under the preload. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread char scratch[256];
static void *volatile sink;  /* the allocations escape: the compiler must make them */

enum { tidsmax = 1024 };
static long tids[tidsmax];  /* distinct gettid() values seen, in order (main joins each) */
static int ntids;

static void *work(void *arg) {
  long tid = syscall(SYS_gettid);
  int seen = 0;
  for (int i = 0; i < ntids && !seen; i++) seen = tids[i] == tid;
  if (!seen && ntids < tidsmax) tids[ntids++] = tid;
  char *p = malloc(100 + (size_t)arg % 900), *q = malloc(24);
  memset(p, 1, 100);
  sink = p;
  sink = q;
  scratch[(long)arg % 256] = p[0];
  free(p);  /* both go to the thread's malloc cache, which its exit must give back */
  free(q);
  return arg;
}

static long rsskb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
  }
  return rss * 4;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  long early = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (long i = 0; i < n; i++) {
    pthread_t t;
    void *r;
    if (pthread_create(&t, NULL, work, (void *)i) != 0 || pthread_join(t, &r) != 0 ||
        r != (void *)i) {
      printf("churn: thread %ld failed\n", i);
      return 1;
    }
    if (i == n / 10) early = rsskb();
  }
  long late = rsskb();
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
  printf("churn: threads=%ld rss_tenth_kb=%ld rss_end_kb=%ld growth_kb=%ld ns_per_thread=%.0f "
         "os_threads=%d%s\n",
         n, early, late, late - early, ns / (double)n, ntids, ntids == tidsmax ? "+" : "");
  return 0;
}
