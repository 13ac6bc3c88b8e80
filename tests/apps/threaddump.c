/* threaddump.c — a thread blocked in a read while main raises SIGQUIT, as a plain program:
 * natively it dies of the signal; preloaded, the goroutine dump names, under the thread's
 * frames, the call that created it: "created by main+0x... in goroutine 1", as Go names
 * a go statement's function. (It named the thread's start routine, looked up one byte
 * before it: whatever function the linker put in front.) */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static int p[2];

__attribute__((noinline)) static void* blocked_reader(void* arg) {
  char c;
  (void)arg;
  return (void*)read(p[0], &c, 1);
}

int main(void) {
  if (pipe(p) != 0) return 1;
  pthread_t t;
  pthread_create(&t, NULL, blocked_reader, NULL);
  usleep(50 * 1000);  /* the thread is in its read by then */
  raise(SIGQUIT);
  return 0;
}
