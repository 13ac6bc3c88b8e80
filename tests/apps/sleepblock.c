/* sleepblock.c — a thread that blocks in a system call nothing hooks (a raw read) while main
 * sleeps, ten times over, as a plain program: main wakes the thread with a byte on one
 * pipe, sleeps, then releases its raw read of another with a byte there. main has a signal
 * handler, so that, preloaded, its sleeps wait on the ring. The thread's first read parks
 * it on the ring; main's write completes it, and main's sleep lets the OS thread that
 * submitted the sleep run the thread there and block in the raw read, the other Ps idle.
 * The sleep must end all the same: it did not when the blocked thread's P was handed off
 * with no OS thread left waiting for the ring (the Ms asleep, sysmon too). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { rounds = 10 };
static int wake[2], release[2];

static void onusr1(int sig) { (void)sig; }

static void* reader(void* arg) {
  long* got = arg;
  for (int i = 0; i < rounds; i++) {
    char c;
    if (read(wake[0], &c, 1) != 1) break;
    *got += syscall(SYS_read, release[0], &c, 1);
  }
  return NULL;
}

int main(void) {
  signal(SIGUSR1, onusr1);
  if (pipe(wake) != 0 || pipe(release) != 0) return 1;
  long got = 0;
  pthread_t t;
  pthread_create(&t, NULL, reader, &got);
  for (int i = 0; i < rounds; i++) {
    usleep(5 * 1000); /* the thread parks in its read; an M waits for this sleep */
    if (write(wake[1], "w", 1) != 1) return 1;
    usleep(30 * 1000);
    if (write(release[1], "r", 1) != 1) return 1;
  }
  pthread_join(t, NULL);
  printf("raw reads done after main's sleeps: %ld\n", got);
  return 0;
}
