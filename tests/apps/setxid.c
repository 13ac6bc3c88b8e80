/* setxid.c — a program running as root drops to another user and group while four threads
 * run, then every thread checks the ids its own kernel thread has (raw getresuid and
 * getresgid: credentials are per thread in Linux, and glibc's setresuid makes the call on
 * every thread it knows), 400 times each across short sleeps, so that preloaded they are
 * sampled on every OS thread the goroutines run on. Prints the samples that still had
 * root's ids (0), and "not root" when it cannot drop anything. */
#define _GNU_SOURCE
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { nthreads = 4, samples = 400 };
static volatile int dropped;
static long stale[nthreads];

static void* sampler(void* arg) {
  long i = (long)arg;
  while (!dropped) usleep(1000);
  for (int k = 0; k < samples; k++) {
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    syscall(SYS_getresuid, &ru, &eu, &su);
    syscall(SYS_getresgid, &rg, &eg, &sg);
    stale[i] += ru != 4343 || eu != 4343 || su != 4343 || rg != 4242 || eg != 4242 || sg != 4242;
    if (k % 4 == 0) usleep(200);
  }
  return NULL;
}

int main(void) {
  if (geteuid() != 0) {
    printf("not root\n");
    return 0;
  }
  pthread_t t[nthreads];
  for (long i = 0; i < nthreads; i++) pthread_create(&t[i], NULL, sampler, (void*)i);
  usleep(20 * 1000);
  int r = setgroups(0, NULL) | setresgid(4242, 4242, 4242) | setresuid(4343, 4343, 4343);
  dropped = 1;
  long total = 0;
  for (int i = 0; i < nthreads; i++) {
    pthread_join(t[i], NULL);
    total += stale[i];
  }
  uid_t ru, eu, su;
  syscall(SYS_getresuid, &ru, &eu, &su);
  printf("dropped: %d, main's euid %d, samples with the old ids: %ld\n", r, (int)eu, total);
  return 0;
}
