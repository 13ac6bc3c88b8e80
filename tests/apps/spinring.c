/* spinring.c — a plain program whose threads wait for each other by spinning: a token goes
 * round a ring of three threads, each spinning on an atomic until the token is its own,
 * adding to a floating-point sum between turns, and the main thread spins until they are
 * done. Nothing in the spin calls into libc, so under the preload at GMPMAXPROCS=1 only
 * preemption lets the thread that holds the token run (it hung before: src/preempt.cc);
 * the registers the preempted threads had (the sums in SSE registers) must survive. The
 * output must be the same as on threads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

enum { nthreads = 3, rounds = 10 };

static atomic_int token;     /* whose turn: turn number, the thread is turn % nthreads */
static atomic_int finished;  /* threads done */
static double sums[nthreads];

static void *player(void *arg) {
  int me = (int)(long)arg;
  double sum = 0, x = me + 1;
  for (int r = 0; r < rounds; r++) {
    int turn = r * nthreads + me;
    while (atomic_load_explicit(&token, memory_order_acquire) != turn) {
    }
    sum += x * 0.5 + r;
    x *= 1.25;
    atomic_store_explicit(&token, turn + 1, memory_order_release);
  }
  sums[me] = sum;
  atomic_fetch_add(&finished, 1);
  return NULL;
}

int main(void) {
  pthread_t t[nthreads];
  for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, player, (void *)i);
  while (atomic_load(&finished) != nthreads) {
  }
  for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  printf("token went round %d times\n", atomic_load(&token) / nthreads);
  for (int i = 0; i < nthreads; i++) printf("thread %d: %.6f\n", i, sums[i]);
  return 0;
}
