/* ucontext.c — coroutines (makecontext/swapcontext) on stacks of the program's, making
 * blocking calls there, as a plain program: in a thread, a coroutine reads a pipe another
 * thread fills only later, polls it until a timeout, and switches back and forth with its
 * thread; main's own coroutine starts the feeder and reads too. Preloaded, a call off the
 * goroutine's stack was passed through as a signal handler's: the read blocked its thread,
 * and at GMPMAXPROCS=1 the feeder never ran (a hang). */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>
#include <unistd.h>

enum { stacksize = 256 * 1024 };
static ucontext_t thrctx, coctx, mainctx, maincoctx;
static int p[2];

static void* feed(void* arg) {
  usleep(100 * 1000);
  if (write(p[1], arg, 2) != 2) perror("write");
  return NULL;
}

static void readone(const char* who) {
  char b[8];
  long r = read(p[0], b, sizeof b);
  printf("%s read: %ld %.*s\n", who, r, (int)(r > 0 ? r : 0), b);
}

static void co(void) {
  readone("thread's coroutine");
  struct pollfd pf = {p[0], POLLIN, 0};
  printf("thread's coroutine poll: %d\n", poll(&pf, 1, 50));
  swapcontext(&coctx, &thrctx);
  printf("thread's coroutine resumed\n");
}

static void* thr(void* arg) {
  (void)arg;
  char* stk = malloc(stacksize);
  getcontext(&coctx);
  coctx.uc_stack.ss_sp = stk;
  coctx.uc_stack.ss_size = stacksize;
  coctx.uc_link = &thrctx;
  makecontext(&coctx, co, 0);
  swapcontext(&thrctx, &coctx);
  printf("thread: back once\n");
  swapcontext(&thrctx, &coctx);
  printf("thread: back after its coroutine ended\n");
  free(stk);
  return NULL;
}

static void maincoroutine(void) {
  pthread_t f;
  pthread_create(&f, NULL, feed, "ho");
  readone("main's coroutine");
  pthread_join(f, NULL);
}

int main(void) {
  if (pipe(p) != 0) return 1;
  pthread_t t, f;
  pthread_create(&f, NULL, feed, "hi");
  pthread_create(&t, NULL, thr, NULL);
  pthread_join(t, NULL);
  pthread_join(f, NULL);
  static char stk[64 * 1024];
  getcontext(&maincoctx);
  maincoctx.uc_stack.ss_sp = stk;
  maincoctx.uc_stack.ss_size = sizeof stk;
  maincoctx.uc_link = &mainctx;
  makecontext(&maincoctx, maincoroutine, 0);
  swapcontext(&mainctx, &maincoctx);
  printf("main: back\n");
  return 0;
}
