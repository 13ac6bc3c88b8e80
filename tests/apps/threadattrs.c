// threadattrs.c — a thread's kernel attributes as the program sets and reads them back: its
// CPU set, its scheduling policy and priority, its name through prctl. Under the preload a
// thread is a goroutine whose TCB's tid no OS thread has, and glibc's calls failed with
// ESRCH (or EPERM and policy -1 for pthread_getschedparam). Prints what the calls return;
// natively and preloaded the output is the same. (A real-time policy is left out: as root
// natively it succeeds, under the preload a goroutine-thread is refused with EPERM.)
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

static pthread_barrier_t set, checked;

static void* worker(void* arg) {
  (void)arg;
  cpu_set_t s;
  CPU_ZERO(&s);
  CPU_SET(0, &s);
  int r = pthread_setaffinity_np(pthread_self(), sizeof s, &s);
  cpu_set_t got;
  CPU_ZERO(&got);
  int r2 = pthread_getaffinity_np(pthread_self(), sizeof got, &got);
  printf("own set: %d, read back: %d, %d CPU, CPU 0 in it: %d\n", r, r2, CPU_COUNT(&got),
         CPU_ISSET(0, &got));
  CPU_ZERO(&s);
  printf("an empty set: %s\n", strerror(pthread_setaffinity_np(pthread_self(), sizeof s, &s)));
  struct sched_param sp = {0};
  int policy = -1;
  r = pthread_getschedparam(pthread_self(), &policy, &sp);
  printf("policy: %d, %s, priority %d\n", r, policy == SCHED_OTHER ? "SCHED_OTHER" : "other",
         sp.sched_priority);
  r = pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
  pthread_getschedparam(pthread_self(), &policy, &sp);
  printf("SCHED_BATCH: %d, read back %s\n", r, policy == SCHED_BATCH ? "SCHED_BATCH" : "other");
  sp.sched_priority = 5;
  printf("SCHED_OTHER at priority 5: %s\n",
         strerror(pthread_setschedparam(pthread_self(), SCHED_OTHER, &sp)));
  printf("setschedprio 1: %s, 0: %d\n", strerror(pthread_setschedprio(pthread_self(), 1)),
         pthread_setschedprio(pthread_self(), 0));
  char name[16] = "";
  r = prctl(PR_SET_NAME, "worker-with-a-long-name");
  prctl(PR_GET_NAME, name);
  char name2[16] = "";
  pthread_getname_np(pthread_self(), name2, sizeof name2);
  printf("prctl name: %d, %s, pthread_getname_np: %s\n", r, name, name2);
  pthread_barrier_wait(&set);
  pthread_barrier_wait(&checked);
  return NULL;
}

int main(void) {
  pthread_barrier_init(&set, NULL, 2);
  pthread_barrier_init(&checked, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_barrier_wait(&set);
  cpu_set_t got;
  CPU_ZERO(&got);
  int r = pthread_getaffinity_np(t, sizeof got, &got);
  struct sched_param sp = {0};
  int policy = -1;
  int r2 = pthread_getschedparam(t, &policy, &sp);
  char name[16] = "";
  pthread_getname_np(t, name, sizeof name);
  printf("seen from main: set %d, %d CPU; policy %d, %s; name %s\n", r, CPU_COUNT(&got), r2,
         policy == SCHED_BATCH ? "SCHED_BATCH" : "other", name);
  pthread_barrier_wait(&checked);
  pthread_join(t, NULL);
  return 0;
}
