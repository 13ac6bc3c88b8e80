/* sigpost.c — a plain program that wakes its threads from a signal handler with the calls
 * POSIX lists as async-signal-safe: sem_post, and write on a blocking pipe (the self-pipe
 * trick). SIGALRM comes every 100 us (setitimer) while the main thread and a second thread
 * wait in sem_wait, and then while the main thread reads the pipe. Under the preload the
 * handler runs on whichever M the kernel picks, perhaps one inside the scheduler with its
 * locks held: sem_post there once deadlocked that M or readied a goroutine in the middle
 * of its P's run queue ("all goroutines are asleep"), and write parked inside the handler.
 * Then single alarms, each the only thing that can wake the idle process. The output must
 * be the same as on threads. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

enum { waits = 8000, bytes = 1000 };

static sem_t sem;
static int pipefd[2];
static volatile sig_atomic_t writing; /* the handler writes to the pipe instead */

static void onalarm(int sig) {
  (void)sig;
  int saved = errno;
  if (writing) {
    char c = 'x';
    if (write(pipefd[1], &c, 1) != 1) _exit(3);
  } else {
    sem_post(&sem);
  }
  errno = saved;
}

/* semwaits: n sem_waits, each retried when a handler interrupted it (EINTR). */
static void semwaits(int n) {
  for (int i = 0; i < n; i++) {
    while (sem_wait(&sem) != 0) {
      if (errno != EINTR) _exit(4);
    }
  }
}

/* alarmin: one SIGALRM after us microseconds. */
static void alarmin(long us) {
  struct itimerval it = {{0, 0}, {0, us}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void* waiter(void* arg) {
  semwaits(*(int*)arg);
  return NULL;
}

int main(void) {
  sem_init(&sem, 0, 0);
  if (pipe(pipefd) != 0) return 1;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onalarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);

  int half = waits / 2;
  pthread_t t;
  pthread_create(&t, NULL, waiter, &half);
  semwaits(waits - half);
  pthread_join(t, NULL);
  printf("sem_post from a handler woke two threads: %d waits\n", waits);

  writing = 1;
  int got = 0;
  char buf[64];
  while (got < bytes) {
    ssize_t n = read(pipefd[0], buf, sizeof buf < (size_t)(bytes - got) ? sizeof buf : (size_t)(bytes - got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 5;
    for (ssize_t i = 0; i < n; i++) {
      if (buf[i] != 'x') return 6;
    }
    got += (int)n;
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("write from a handler: %d bytes read\n", got);

  writing = 0;
  for (int i = 0; i < 20; i++) {
    alarmin(2000);
    semwaits(1);
  }
  printf("single alarms woke the idle process: 20 times\n");
  return 0;
}
