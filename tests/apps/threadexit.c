// threadexit.c — how threads end, as a plain C program (issue 6): pthread_exit runs the
// handlers pthread_cleanup_push registered (plain C: the macros' setjmp and
// __pthread_register_cancel), innermost first, across parks and moves between threads, and
// pthread_cleanup_pop runs one only when asked; pthread_exit in main ends the main thread
// after its handlers and key destructors, the process lives on while other threads do, a
// thread can join the main thread, and the process exits with 0, atexit handlers and stdio
// flushing included, when the last thread ends. With "alone", main's pthread_exit is the
// last thread's. stdout is the same natively and under LD_PRELOAD=libgmp.so.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(c) ((c) ? (void)0 : (printf("WRONG: %s (line %d)\n", #c, __LINE__), exit(1)))

static char order[64];  // the handlers of one thread, in the order they ran
static atomic_int norder;
static void note(void* c) { order[atomic_fetch_add(&norder, 1)] = (char)(intptr_t)c; }

// deep: registers 'c' and leaves by pthread_exit from inside.
static void deep(int park) {
  pthread_cleanup_push(note, (void*)(intptr_t)'c');
  if (park) usleep(1000);
  pthread_exit((void*)42);
  pthread_cleanup_pop(0);
}

static void* nested(void* arg) {
  int park = arg != NULL;
  pthread_cleanup_push(note, (void*)(intptr_t)'a');
  pthread_cleanup_push(note, (void*)(intptr_t)'x');
  pthread_cleanup_pop(0);  // not run
  pthread_cleanup_push(note, (void*)(intptr_t)'p');
  pthread_cleanup_pop(1);  // run now
  pthread_cleanup_push(note, (void*)(intptr_t)'b');
  if (park) usleep(1000);
  deep(park);
  pthread_cleanup_pop(0);
  pthread_cleanup_pop(0);
  return NULL;
}

// Many threads with handlers registered, parked at once: each runs its own handlers.
enum { nmany = 40 };
static atomic_int manyran;
static void countmany(void* arg) {
  if (*(int*)arg == 7) atomic_fetch_add(&manyran, 1);
}
static void* many(void* arg) {
  (void)arg;
  int mine = 7;
  pthread_cleanup_push(countmany, &mine);
  usleep(2000);  // all of them registered at once, on few OS threads when preloaded
  pthread_exit(NULL);
  pthread_cleanup_pop(0);
  return NULL;
}

static pthread_t mainthread;
static pthread_key_t key;
static void keydtor(void* v) { printf("main's key destructor: %s\n", (char*)v); }
static void mainhandler(void* arg) { printf("main's handler: %s\n", (char*)arg); }
static void atexithandler(void) { printf("atexit handler ran"); }  // flushed by exit

// lastone: outlives main, joins it, and ends last: the process exits then.
static void* lastone(void* arg) {
  (void)arg;
  void* r = NULL;
  int e = pthread_join(mainthread, &r);
  if (e) printf("join: %s\n", strerror(e));
  CHECK(e == 0);
  printf("joined main: %ld\n", (long)(intptr_t)r);
  usleep(20000);
  printf("last thread ends\n");
  return NULL;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);  // the tail reaches the file only through exit
  atexit(atexithandler);
  if (argc > 1 && strcmp(argv[1], "alone") == 0) {
    pthread_cleanup_push(mainhandler, "alone");
    pthread_exit(NULL);
    pthread_cleanup_pop(0);
  }
  for (int park = 0; park < 2; park++) {
    norder = 0;
    memset(order, 0, sizeof order);
    pthread_t t;
    void* r = NULL;
    CHECK(pthread_create(&t, NULL, nested, park ? "park" : NULL) == 0);
    CHECK(pthread_join(t, &r) == 0);
    printf("handlers%s: %s, value %ld\n", park ? " across parks" : "", order,
           (long)(intptr_t)r);
  }
  pthread_t ts[nmany];
  for (int i = 0; i < nmany; i++) CHECK(pthread_create(&ts[i], NULL, many, NULL) == 0);
  for (int i = 0; i < nmany; i++) CHECK(pthread_join(ts[i], NULL) == 0);
  printf("%d parked threads ran their own handler: %d\n", nmany, atomic_load(&manyran));

  mainthread = pthread_self();
  CHECK(pthread_key_create(&key, keydtor) == 0);
  CHECK(pthread_setspecific(key, "main's value") == 0);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, lastone, NULL) == 0);
  CHECK(pthread_detach(t) == 0);
  pthread_cleanup_push(mainhandler, "main");
  pthread_exit((void*)7);
  pthread_cleanup_pop(0);
  return 3;  // not reached
}
