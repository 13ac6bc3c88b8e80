/* sigwait.c — a plain program that blocks SIGUSR1 in main, sends it to its own process and
 * collects it with sigwait. Every thread of the process must keep it blocked (the runtime's
 * own threads included), or the default action kills the process. Then a thread blocks
 * SIGUSR2 for itself only: main, which runs meanwhile (on the same OS thread, preloaded
 * with one P), neither sees it blocked nor misses its handler; the thread still has it.
 * Last, a signalfd read by main collects SIGUSR1 sent by another thread. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

static volatile sig_atomic_t usr2;
static void onusr2(int sig) { (void)sig; usr2++; }

static void* sender(void* arg) {
  (void)arg;
  for (int i = 0; i < 5; i++) {
    usleep(10 * 1000);
    kill(getpid(), SIGUSR1);
  }
  return NULL;
}

static void* blocker(void* arg) {
  sigset_t s, cur;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  usleep(100 * 1000);  /* main runs meanwhile */
  pthread_sigmask(SIG_SETMASK, NULL, &cur);
  *(int*)arg = sigismember(&cur, SIGUSR2);
  return NULL;
}

int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, NULL);
  for (int i = 0; i < 20; i++) {
    kill(getpid(), SIGUSR1); /* process-directed: any thread that does not block it may take it */
    int sig = 0;
    if (sigwait(&set, &sig) != 0 || sig != SIGUSR1) return 1;
    usleep(1000);
  }
  printf("got SIGUSR1 20 times\n");

  signal(SIGUSR2, onusr2);
  pthread_t t;
  int threadblocks = -1;
  pthread_create(&t, NULL, blocker, &threadblocks);
  usleep(30 * 1000); /* the thread has blocked SIGUSR2 and waits */
  sigset_t cur;
  sigprocmask(SIG_SETMASK, NULL, &cur);
  printf("main blocks SIGUSR2: %d\n", sigismember(&cur, SIGUSR2));
  kill(getpid(), SIGUSR2); /* main, which does not block it, takes it */
  for (int i = 0; i < 200 && !usr2; i++) usleep(1000);
  printf("SIGUSR2 handled: %d\n", (int)usr2);
  pthread_join(t, NULL);
  printf("the thread blocks SIGUSR2: %d\n", threadblocks);

  int fd = signalfd(-1, &set, SFD_CLOEXEC); /* SIGUSR1, still blocked everywhere */
  pthread_create(&t, NULL, sender, NULL);
  int got = 0;
  for (int i = 0; i < 5; i++) {
    struct signalfd_siginfo si;
    got += read(fd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo == SIGUSR1;
  }
  pthread_join(t, NULL);
  printf("signalfd: got SIGUSR1 %d times\n", got);
  return 0;
}
