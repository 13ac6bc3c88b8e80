/* churn.c — threads created and joined one after another, each using malloc and TLS: the
 * process's RSS must stay flat (a plain program; the preload test runs it under libgmp.so).
 *
 *   churn [threads]     default 1000000
 *
 * Prints the RSS after the first tenth and at the end, and the growth between them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread char scratch[256];

static void *work(void *arg) {
  char *p = malloc(100 + (size_t)arg % 900);
  memset(p, 1, 100);
  scratch[(long)arg % 256] = p[0];
  free(p);
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
  printf("churn: %ld threads, rss after a tenth %ld KiB, at the end %ld KiB, growth %ld KiB\n", n,
         early, late, late - early);
  return 0;
}
