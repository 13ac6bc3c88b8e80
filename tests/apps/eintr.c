/* eintr.c — a plain program whose main thread's blocking calls are cut short by its own
 * SIGALRM handler (setitimer: a signal to the process, which the kernel gives the main
 * thread): read without SA_RESTART fails with EINTR, read with it goes on until a second
 * thread's data comes, and poll, nanosleep and pause fail with EINTR either way, nanosleep
 * with the time left, read again while other threads that block every signal wait, sem_wait
 * as read and sem_timedwait as poll, and wait under SA_RESTART goes on until the child
 * exits. Under the preload the main thread is goroutine 1 and its calls park:
 * the output must be the same. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t alarms;
static int fds[2];
static sig_atomic_t before; /* alarms before the read under SA_RESTART */

static void onalarm(int sig) {
  (void)sig;
  alarms++;
}

/* arm: SIGALRM every ms until disarm; repeated, so that a call reached late (a loaded
 * machine) is still interrupted rather than left waiting for ever. */
static void arm(int ms) {
  struct itimerval it = {{0, ms * 1000}, {0, ms * 1000}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void) {
  struct itimerval it = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
}

static void handle(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onalarm;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
}

static void* writer(void* arg) {
  (void)arg;
  while (alarms <= before) usleep(1000); /* the read under SA_RESTART was interrupted */
  usleep(50 * 1000); /* the read is waiting again */
  if (write(fds[1], "x", 1) != 1) return "write";
  return NULL;
}

static void* opener(void* arg) {
  (void)arg;
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) close(fd);
  return NULL;
}

/* Threads that block every signal and keep waking each other (their Ms go idle with that
 * mask, under the preload) while main reads: the signal is still main's. After 2 s a byte
 * ends the read (the output then tells). */
static int wfds[2];
static volatile int maskdone;
static void blockall(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
}
static void* blockedwaiter(void* arg) {
  (void)arg;
  blockall();
  char c;
  while (!maskdone && read(wfds[0], &c, 1) == 1) {}
  return NULL;
}
static void* blockedpinger(void* arg) {
  (void)arg;
  blockall();
  for (int i = 0; !maskdone; i++) {
    if (i == 2000 && write(fds[1], "z", 1) != 1) break;
    if (write(wfds[1], "p", 1) != 1) break;
    usleep(1000);
  }
  return NULL;
}

static const char* err(long r) { return r < 0 ? strerror(errno) : "-"; }

static sem_t sem;
static void* semwaiter(void* arg) {
  (void)arg;
  return sem_wait(&sem) == 0 ? "got the post" : strerror(errno);
}

static void* semposter(void* arg) {
  (void)arg;
  while (alarms <= before + 1) usleep(1000); /* the sem_wait under SA_RESTART was interrupted */
  usleep(50 * 1000);                         /* and waits again */
  sem_post(&sem);
  return NULL;
}

int main(void) {
  char c = 0;
  if (pipe(fds) != 0) return 1;
  handle(0);
  arm(30);
  long r = read(fds[0], &c, 1);
  disarm();
  printf("read: %ld %s\n", r, err(r));
  handle(SA_RESTART);
  before = alarms;
  pthread_t t;
  pthread_create(&t, NULL, writer, NULL);
  arm(30);
  r = read(fds[0], &c, 1);
  disarm();
  printf("read under SA_RESTART: %ld %c\n", r, c);
  pthread_join(t, NULL);
  struct pollfd pf = {fds[0], POLLIN, 0};
  arm(30);
  r = poll(&pf, 1, -1);
  disarm();
  printf("poll: %ld %s\n", r, err(r));
  struct timespec req = {10, 0}, rem = {0, 0};
  arm(30);
  r = nanosleep(&req, &rem);
  disarm();
  printf("nanosleep: %ld %s, time left: %s\n", r, err(r),
         rem.tv_sec < 10 && (rem.tv_sec > 0 || rem.tv_nsec > 0) ? "yes" : "no");
  arm(30);
  r = pause();
  disarm();
  printf("pause: %ld %s\n", r, err(r));
  printf("alarms: %s\n", alarms >= 5 ? "5 or more" : "fewer than 5");

  handle(0);
  if (pipe(wfds) != 0) return 1;
  pthread_t bt[4];
  for (int i = 0; i < 3; i++) pthread_create(&bt[i], NULL, blockedwaiter, NULL);
  pthread_create(&bt[3], NULL, blockedpinger, NULL);
  usleep(50 * 1000);
  arm(30);
  r = read(fds[0], &c, 1);
  disarm();
  maskdone = 1;
  if (write(wfds[1], "xxx", 3) != 3) return 1;
  for (int i = 0; i < 4; i++) pthread_join(bt[i], NULL);
  printf("read while threads that block every signal wait: %ld %s\n", r,
         r < 0 ? strerror(errno) : "not interrupted in 2 s");

  /* sem_wait fails with EINTR without SA_RESTART and goes on with it (a futex wait, which
   * Linux restarts); sem_timedwait fails with EINTR either way. None takes a count: a
   * thread that waits on the same semaphore meanwhile waits on and gets the first post, the
   * restarted sem_wait a second one, which a thread posts after the alarms. */
  handle(0);
  sem_init(&sem, 0, 0);
  pthread_create(&t, NULL, semwaiter, NULL);
  usleep(50 * 1000); /* the thread waits */
  arm(30);
  r = sem_wait(&sem);
  disarm();
  printf("sem_wait: %ld %s\n", r, err(r));
  handle(SA_RESTART);
  struct timespec far;
  clock_gettime(CLOCK_REALTIME, &far);
  far.tv_sec += 30;
  arm(30);
  r = sem_timedwait(&sem, &far);
  disarm();
  printf("sem_timedwait under SA_RESTART: %ld %s\n", r, err(r));
  sem_post(&sem);
  void* got = NULL;
  pthread_join(t, &got);
  printf("the other waiter: %s\n", (const char*)got);
  before = alarms;
  pthread_create(&t, NULL, semposter, NULL);
  arm(30);
  r = sem_wait(&sem);
  disarm();
  pthread_join(t, NULL);
  int v = -1;
  sem_getvalue(&sem, &v);
  printf("sem_wait under SA_RESTART: %ld %s, value %d\n", r, err(r), v);

  /* wait under SA_RESTART while alarms come, until a child that sleeps 300 ms exits (three
   * times): the wait goes on after each handler and reaps it. (Under the preload each restart waits on
   * the ring of the P goroutine 1 resumes on, which a thread's file I/O gave it or not.) */
  handle(SA_RESTART);
  int reaped = 0, ran = 0;
  for (int round = 0; round < 3; round++) {
    pid_t child = fork();
    if (child == 0) {
      usleep(300 * 1000);
      _exit(7);
    }
    pthread_create(&t, NULL, opener, NULL);
    pthread_join(t, NULL);
    before = alarms;
    arm(20);
    int status = 0;
    pid_t w = wait(&status);
    disarm();
    reaped += w == child && WIFEXITED(status) && WEXITSTATUS(status) == 7;
    ran += alarms > before;
  }
  printf("wait under SA_RESTART: reaped the child %d of 3 times, handlers ran %d times\n",
         reaped, ran);
  return 0;
}
