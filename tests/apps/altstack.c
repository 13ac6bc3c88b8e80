/* altstack.c — threads with an alternate signal stack of their own (as programs with a
 * stack-overflow SIGSEGV handler have: gdb does), which wait in a raw futex wait (as
 * libstdc++'s futures do) or spin on a flag, while the thread that would end the wait runs
 * only if theirs give up their P. Under the preload sigaltstack replaced the OS thread's
 * runtime signal stack, the runtime's SIGURG handler then declined every request, and both
 * hung at any P count. Also what sigaltstack reads back and refuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int word;
static volatile int flag;

static void ownstack(void) {
  stack_t ss = {.ss_sp = malloc(1 << 16), .ss_size = 1 << 16};
  sigaltstack(&ss, NULL);
}

static void* futexwaiter(void* arg) {
  (void)arg;
  ownstack();
  while (!__atomic_load_n(&word, __ATOMIC_SEQ_CST)) {
    syscall(SYS_futex, &word, FUTEX_WAIT, 0, NULL, NULL, 0);
  }
  return NULL;
}

static void* spinner(void* arg) {
  (void)arg;
  ownstack();
  while (!flag) {
  }
  return NULL;
}

static void* waker(void* arg) {
  (void)arg;
  usleep(50 * 1000);
  __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &word, FUTEX_WAKE, 10, NULL, NULL, 0);
  flag = 1;
  return NULL;
}

static void* readback(void* arg) {
  (void)arg;
  stack_t old;
  sigaltstack(NULL, &old);
  printf("a new thread's: %s\n", old.ss_flags & SS_DISABLE ? "disabled" : "set");
  char* mem = malloc(1 << 16);
  stack_t ss = {.ss_sp = mem, .ss_size = 1 << 16};
  int r = sigaltstack(&ss, NULL);
  sigaltstack(NULL, &old);
  printf("set: %d, read back: %s, flags %d\n", r,
         old.ss_sp == mem && old.ss_size == 1 << 16 ? "the same" : "another", old.ss_flags);
  ss.ss_flags = 12345;
  r = sigaltstack(&ss, NULL);
  printf("bad flags: %d %s\n", r, strerror(errno));
  ss.ss_flags = 0;
  ss.ss_size = 100;
  r = sigaltstack(&ss, NULL);
  printf("too small: %d %s\n", r, strerror(errno));
  ss.ss_flags = SS_DISABLE;
  r = sigaltstack(&ss, &old);
  stack_t now;
  sigaltstack(NULL, &now);
  printf("disabled: %d, it was %s, now %s\n", r, old.ss_sp == mem ? "ours" : "another",
         now.ss_flags & SS_DISABLE ? "disabled" : "set");
  free(mem);
  return NULL;
}

int main(void) {
  pthread_t t[5];
  pthread_create(&t[0], NULL, readback, NULL);
  pthread_join(t[0], NULL);
  for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, futexwaiter, NULL);
  for (int i = 2; i < 4; i++) pthread_create(&t[i], NULL, spinner, NULL);
  usleep(20 * 1000);
  pthread_create(&t[4], NULL, waker, NULL);
  for (int i = 0; i < 5; i++) pthread_join(t[i], NULL);
  printf("both waiters woke, both spinners saw the flag\n");
  return 0;
}
