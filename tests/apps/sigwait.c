/* sigwait.c — a plain program that blocks SIGUSR1 in main, sends it to its own process and
 * collects it with sigwait. Every thread of the process must keep it blocked (the runtime's
 * own threads included), or the default action kills the process. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

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
  return 0;
}
