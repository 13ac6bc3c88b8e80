/* closeall.c — a daemon's ways of closing every fd it may have inherited, and dup2 onto
 * high numbers, as a plain program: a loop of close() from 3 to the fd limit, close_range,
 * closefrom, then dup2 of a pipe onto the numbers half the limit and above; after each, a
 * thread blocked in a read that main ends with a write. Preloaded, the runtime keeps its
 * eventfd and rings at such numbers: the close loop closed them (a fatal io_uring_enter
 * error), and a dup2 onto them replaced the eventfd (the readers never woke). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

static int p[2];

static void* reader(void* arg) {
  char c;
  (void)arg;
  return (void*)(long)read(p[0], &c, 1);
}

/* blockedread: a thread reads p while main sleeps, then main writes; the read's result. */
static long blockedread(void) {
  if (pipe(p) != 0) return -2;
  pthread_t t;
  void* r;
  pthread_create(&t, NULL, reader, NULL);
  usleep(20 * 1000);
  if (write(p[1], "x", 1) != 1) return -3;
  pthread_join(t, &r);
  close(p[0]);
  close(p[1]);
  return (long)r;
}

int main(void) {
  printf("before: %ld\n", blockedread());
  long max = sysconf(_SC_OPEN_MAX);
  for (long fd = 3; fd < max; fd++) close((int)fd);
  printf("after a close loop: %ld\n", blockedread());
  close_range(3, ~0u, 0);
  printf("after close_range: %ld\n", blockedread());
  closefrom(3);
  printf("after closefrom: %ld\n", blockedread());
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  int base = (int)(rl.rlim_cur / 2), ok = 0;
  if (pipe(p) != 0) return 1;
  for (int i = 0; i < 4; i++) ok += dup2(p[0], base + i) == base + i;
  close(p[0]);
  close(p[1]);
  printf("dup2 onto 4 numbers from half the limit: %d\n", ok);
  printf("after them: %ld\n", blockedread());
  for (int i = 0; i < 4; i++) close(base + i);
  printf("after closing them: %ld\n", blockedread());
  return 0;
}
