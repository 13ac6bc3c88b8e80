/* mainstack.c — pthread_getattr_np of the main thread, as a plain program: asked by main
 * itself and by another thread while main waits, the stack it gives holds main's locals.
 * Preloaded, main runs on goroutine 1's stack; glibc described the process's first stack,
 * and a collector that scans main's stack from that bottom (Boehm GC's GC_init) died. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

static pthread_t mainid;
static char* mainlocal;

static int holds(pthread_t t, const char* p) {
  pthread_attr_t a;
  void* lo;
  size_t size;
  if (pthread_getattr_np(t, &a) != 0 || pthread_attr_getstack(&a, &lo, &size) != 0) return -1;
  pthread_attr_destroy(&a);
  return p >= (char*)lo && p < (char*)lo + size;
}

static void* asker(void* arg) {
  (void)arg;
  printf("asked from a thread: %d\n", holds(mainid, mainlocal));
  return NULL;
}

int main(void) {
  char local = 0;
  mainid = pthread_self();
  mainlocal = &local;
  printf("asked by main: %d\n", holds(pthread_self(), &local));
  pthread_t t;
  pthread_create(&t, NULL, asker, NULL);
  pthread_join(t, NULL);
  return 0;
}
