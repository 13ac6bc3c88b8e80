/* spinbarrier.c — a plain program whose threads malloc, compute and meet at a barrier they
 * spin on (no call in the spin): four threads, 30 rounds of 20,000 malloc/memset/free with
 * a floating-point sum, errno and a thread_local counter checked on the way, then the
 * barrier. Under the preload at GMPMAXPROCS=1 the barrier is passed only by preempting the
 * spinners (src/preempt.cc), every 10 ms or so for the 1-2 s a run takes, in the middle
 * of their own code between libc calls: each thread's errno, thread_local and registers
 * must stay its own. It hung (3 runs of 48 in a one-off loop) when a preemption request
 * landed in the middle of a switch (signal_unix.cc, threadm). The output must be the same
 * as on threads. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { nthreads = 4, rounds = 30, allocs = 20000 };

static atomic_int arrived, generation;
static _Thread_local unsigned long allocated;
static double sums[nthreads];
static atomic_int broken;  /* errno was not the thread's own */

static void barrier(void) {
  int g = atomic_load(&generation);
  if (atomic_fetch_add(&arrived, 1) == nthreads - 1) {
    atomic_store(&arrived, 0);
    atomic_fetch_add(&generation, 1);
  } else {
    while (atomic_load(&generation) == g) {
    }
  }
}

static void *work(void *arg) {
  int me = (int)(long)arg;
  unsigned seed = (unsigned)me * 7919u + 1u;
  double sum = 0;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < allocs; k++) {
      size_t size = (size_t)(rand_r(&seed) % 2048) + 1;
      char *p = malloc(size);
      if (!p) return NULL;
      memset(p, me + k, size);
      sum += p[size / 2] * 1e-3 + sqrt((double)size);
      allocated++;
      free(p);
      errno = me + 1;
      if (errno != me + 1) broken = 1;
    }
    barrier();
  }
  sums[me] = sum + (double)allocated;
  return NULL;
}

int main(void) {
  pthread_t t[nthreads];
  for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, work, (void *)i);
  for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < nthreads; i++) printf("thread %d: %.6f\n", i, sums[i]);
  printf("errno kept: %s\n", broken ? "no" : "yes");
  return 0;
}
