/* quietwaits.c — waits the kernel ends in EINTR for any pending signal, a handler or not
 * (semop, semtimedop, sigwaitinfo, sigtimedwait, in the main thread), while another thread
 * reads a pipe that a third writes in the middle of each wait, then ends the wait. Natively
 * nothing interrupts them. Under the preload the reader parks on the ring of the M the main
 * thread waits on, and the read's completion flagged that thread as having a signal pending
 * (io_uring's task work): each wait ended in EINTR once. Prints what each wait returned and
 * how many EINTRs came before. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sem.h>
#include <time.h>
#include <unistd.h>

static int fds[2], sem;
static pthread_t mainthread;

static void* reader(void* arg) {
  (void)arg;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != 'q') {
  }
  return NULL;
}

/* ender: a byte for the reader in the middle of the wait, then the wait's end. */
static void* ender(void* arg) {
  int how = *(int*)arg;
  usleep(50 * 1000);
  write(fds[1], "x", 1);
  usleep(100 * 1000);
  if (how == 0) {
    struct sembuf up = {0, 1, 0};
    semop(sem, &up, 1);
  } else {
    pthread_kill(mainthread, SIGUSR1);
  }
  return NULL;
}

static pthread_t start(int* how) {
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setscope(&a, PTHREAD_SCOPE_SYSTEM);  /* a real thread under the preload */
  pthread_t t;
  pthread_create(&t, &a, ender, how);
  pthread_attr_destroy(&a);
  return t;
}

int main(void) {
  mainthread = pthread_self();
  if (pipe(fds) != 0) return 1;
  sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, NULL);  /* the threads made from here block it too */
  pthread_t r;
  pthread_create(&r, NULL, reader, NULL);
  usleep(20 * 1000);  /* the reader waits */
  struct sembuf down = {0, -1, 0};
  struct timespec ts = {30, 0};
  for (int i = 0; i < 4; i++) {
    int how = i < 2 ? 0 : 1, eintrs = 0, rc;
    pthread_t t = start(&how);
    const char* name;
    for (;;) {
      errno = 0;
      siginfo_t info;
      switch (i) {
        case 0: name = "semop"; rc = semop(sem, &down, 1); break;
        case 1: name = "semtimedop"; rc = semtimedop(sem, &down, 1, &ts); break;
        case 2: name = "sigwaitinfo"; rc = sigwaitinfo(&usr1, &info); break;
        default: name = "sigtimedwait"; rc = sigtimedwait(&usr1, &info, &ts); break;
      }
      if (rc != -1 || errno != EINTR) break;
      eintrs++;
    }
    printf("%s: %d (%s), EINTRs before: %d\n", name, rc,
           rc == SIGUSR1 ? "SIGUSR1" : rc == 0 ? "ok" : strerror(errno), eintrs);
    pthread_join(t, NULL);
  }
  write(fds[1], "q", 1);
  pthread_join(r, NULL);
  semctl(sem, 0, IPC_RMID);
  return 0;
}
