/* sigpend.c — signals pending for one thread, as a plain program. A signal sent to a thread
 * that blocks it stays pending for that thread alone: the thread collects it later (sigwait,
 * signalfd, sigpending) or gets it when it unblocks, and no other thread ever sees it, even
 * one that does not block it and whose default action for it ends the process. Preloaded,
 * the threads are goroutines that park on the ring and move between OS threads meanwhile:
 * the output must be the same. Each part waits until its thread is parked in a call before
 * the signal is sent (a pipe read, a signalfd read), or sends it while the thread runs.
 * Then a thread waits in sigsuspend for a signal sent to the process, which every other
 * thread blocks: main must run meanwhile to send it (preloaded at one P, sigsuspend held
 * the only P). Last, a thread sends the main thread a signal main blocks, while main waits
 * on a pipe: main collects it afterwards (preloaded it went to the OS thread main started
 * on, whose goroutine did not block it: the process died of it). */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

static pthread_t target;
static volatile sig_atomic_t handled, ontarget;

static void onsig(int sig) {
  (void)sig;
  handled++;
  ontarget += pthread_equal(pthread_self(), target);
}

static void handle(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onsig;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static void block(int sig, int how) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  pthread_sigmask(how, &s, NULL);
}

/* parked: let the target reach its blocking call (a thread parked in it, preloaded). */
static void parked(void) { usleep(50 * 1000); }

static int wake[2];

/* A signalfd read by a thread that alone blocks the signal: pthread_kill while it waits. */
static void* sigfdreader(void* arg) {
  (void)arg;
  block(SIGUSR2, SIG_BLOCK);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  int fd = signalfd(-1, &s, 0);
  struct signalfd_siginfo si;
  ssize_t r = read(fd, &si, sizeof si);
  printf("signalfd read: %zd, %s\n", r, r == sizeof si ? strsignal((int)si.ssi_signo) : "-");
  close(fd);
  return NULL;
}

/* Sent while the thread waits on a pipe; it collects it with sigwait afterwards. */
static void* sigwaiter(void* arg) {
  (void)arg;
  block(SIGUSR1, SIG_BLOCK);
  char c;
  ssize_t r = read(wake[0], &c, 1);
  sigset_t pend;
  sigpending(&pend);
  int sig = 0;
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  int w = sigwait(&s, &sig);
  printf("after the pipe read (%zd): pending %d, sigwait %d %s\n", r,
         sigismember(&pend, SIGUSR1), w, strsignal(sig));
  return NULL;
}

/* Sent while the thread waits on a pipe; its handler runs on it once it unblocks. */
static void* unblocker(void* arg) {
  (void)arg;
  block(SIGUSR1, SIG_BLOCK);
  char c;
  ssize_t r = read(wake[0], &c, 1);
  int before = handled;
  block(SIGUSR1, SIG_UNBLOCK);
  printf("unblocked after the pipe read (%zd): handler ran then: %d, on this thread: %d\n", r,
         handled - before, ontarget);
  return NULL;
}

/* raise() while the thread blocks the signal, then a park (the other threads run where it
 * ran); its handler runs on it when it unblocks, not on them meanwhile. */
static void* raiser(void* arg) {
  (void)arg;
  block(SIGUSR1, SIG_BLOCK);
  raise(SIGUSR1);
  char c;
  ssize_t r = read(wake[0], &c, 1);
  int before = handled, seen = handled;
  block(SIGUSR1, SIG_UNBLOCK);
  printf("raise, pipe read (%zd), unblock: handler before: %d, at the unblock: %d, on this "
         "thread: %d\n", r, seen, handled - before, ontarget);
  return NULL;
}

/* A write to a pipe without readers while SIGPIPE is blocked: EPIPE, SIGPIPE pending for the
 * writer (and not taken by main, whose default action would end the process). */
static void* pipewriter(void* arg) {
  (void)arg;
  block(SIGPIPE, SIG_BLOCK);
  int p[2];
  if (pipe(p) != 0) return NULL;
  close(p[0]);
  ssize_t w = write(p[1], "x", 1);
  int e = errno;
  char c;
  ssize_t r = read(wake[0], &c, 1);
  sigset_t pend;
  sigpending(&pend);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGPIPE);
  struct timespec zero = {0, 0};
  int got = sigtimedwait(&s, NULL, &zero);
  printf("write without readers: %zd %s; after the pipe read (%zd): pending %d, "
         "sigtimedwait %s\n", w, strerror(e), r, sigismember(&pend, SIGPIPE),
         got > 0 ? strsignal(got) : "none");
  close(p[1]);
  return NULL;
}

/* sigsuspend until SIGUSR1, sent to the process by main, which blocks it as this thread
 * does outside the wait. */
static void* suspender(void* arg) {
  (void)arg;
  block(SIGUSR1, SIG_BLOCK);
  int before = handled, seen = ontarget;
  sigset_t none;
  sigemptyset(&none);
  int r = sigsuspend(&none);
  int e = errno;
  printf("sigsuspend: %d %s, handler ran: %d, on this thread: %d\n", r, strerror(e),
         handled - before, ontarget - seen);
  return NULL;
}

/* Unblocks SIGUSR1 for itself, sends it to main, then wakes main's pipe read. */
static pthread_t mainthread;
static void* mainkiller(void* arg) {
  (void)arg;
  block(SIGUSR1, SIG_UNBLOCK);
  parked();
  pthread_kill(mainthread, SIGUSR1);
  parked();
  if (write(wake[1], "m", 1) != 1) return NULL;
  return NULL;
}

static void run(void* (*fn)(void*), int sig, int sendwhile) {
  if (pipe(wake) != 0) return;
  pthread_create(&target, NULL, fn, NULL);
  parked();
  if (sig) pthread_kill(target, sig);
  if (sendwhile) parked(); /* main runs meanwhile: the signal must not reach it */
  if (write(wake[1], "w", 1) != 1) return;
  pthread_join(target, NULL);
  close(wake[0]);
  close(wake[1]);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  /* main never blocks these, and SIGUSR2 has its default action: were the signal sent to
   * the process instead of the thread, an OS thread that does not block it would end it. */
  run(sigfdreader, SIGUSR2, 0);
  run(sigwaiter, SIGUSR1, 1);
  handle(SIGUSR1);
  handled = ontarget = 0;
  run(unblocker, SIGUSR1, 1);
  handled = ontarget = 0;
  run(raiser, 0, 1);
  run(pipewriter, 0, 1);
  printf("main's handler runs: %d\n", handled);
  block(SIGUSR1, SIG_BLOCK);
  pthread_create(&target, NULL, suspender, NULL);
  parked();
  kill(getpid(), SIGUSR1);
  pthread_join(target, NULL);
  if (pipe(wake) != 0) return 1;
  mainthread = pthread_self();
  handled = 0;
  pthread_create(&target, NULL, mainkiller, NULL);
  char c;
  ssize_t r = read(wake[0], &c, 1);
  sigset_t pend, s;
  sigpending(&pend);
  sigemptyset(&s);
  sigaddset(&s, SIGUSR1);
  struct timespec zero = {0, 0};
  int got = sigtimedwait(&s, NULL, &zero);
  printf("main, sent SIGUSR1 while it waited (%zd): pending %d, sigtimedwait %s, handler %d\n",
         r, sigismember(&pend, SIGUSR1), got > 0 ? strsignal(got) : "none", handled);
  pthread_join(target, NULL);
  return 0;
}
