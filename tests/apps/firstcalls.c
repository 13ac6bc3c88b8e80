/* firstcalls.c — sixteen threads, let go at once by a barrier, each make the process's
 * first calls of a dozen functions that succeed, with errno set to a value of their own,
 * which such a call leaves alone; as a plain program. Preloaded, a hook's first calls look up libc's
 * function: the lookup must neither make the racing callers wait in a way that writes
 * errno (a function-local static's guard did: errno 11, EAGAIN) nor write it itself. Prints
 * how many threads saw their errno changed. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

enum { nthreads = 16 };
static int devnull;
static pthread_barrier_t start;
static int changed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void* caller(void* arg) {
  int mine = 100 + (int)(long)arg, bad = 0;
  char c = 0;
  struct timespec zero = {0, 0};
  struct timeval tv = {0, 0};
  sigset_t set;
  pthread_barrier_wait(&start);
#define KEPT(call) (errno = mine, (void)(call), bad += errno != mine)
  KEPT(sched_yield());
  KEPT(usleep(1));
  KEPT(nanosleep(&zero, NULL));
  KEPT(clock_nanosleep(CLOCK_MONOTONIC, 0, &zero, NULL));
  KEPT(poll(NULL, 0, 0));
  KEPT(select(0, NULL, NULL, NULL, &tv));
  KEPT(write(devnull, &c, 1));
  KEPT(read(devnull, &c, 1));
  KEPT(pread(devnull, &c, 1, 0));
  KEPT(fcntl(devnull, F_GETFL));
  KEPT(pthread_sigmask(SIG_BLOCK, NULL, &set));
  KEPT(sigpending(&set));
  pthread_mutex_lock(&mu);
  changed += bad;
  pthread_mutex_unlock(&mu);
  return NULL;
}

int main(void) {
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  pthread_barrier_init(&start, NULL, nthreads);
  pthread_t t[nthreads];
  for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, caller, (void*)i);
  for (int i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  printf("errno changed under a call that succeeded: %d\n", changed);
  return 0;
}
