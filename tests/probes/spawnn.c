/* spawnn N — creates N goroutines, each adding 1 to a counter; waits for all; prints it. */
#include <gmp/gmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static atomic_long done;

static void work(void *arg) {
  (void)arg;
  atomic_fetch_add(&done, 1);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000;
  for (long i = 0; i < n; i++) {
    if (gmp_go(work, NULL) <= 0) return 1;
  }
  while (atomic_load(&done) < n) gmp_yield();
  /* A goroutine counts itself done before it exits (goexit0 fires goroutine__exit): wait
     for the exits too, or perf may see one short (the last one still on another P). */
  while (gmp_num_goroutine() > 1) gmp_yield();
  printf("%ld\n", (long)atomic_load(&done));
  return 0;
}
