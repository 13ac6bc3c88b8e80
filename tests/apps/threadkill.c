/* threadkill.c — pthread_kill of a thread blocked in a call, as a plain program: the
 * handler runs, then the thread's read fails with EINTR (no SA_RESTART) or goes on until
 * data comes (SA_RESTART); its poll fails with EINTR either way, and its sem_wait without
 * SA_RESTART. Its calls that hold their thread (a recv with MSG_WAITALL, a ppoll with a
 * signal mask) fail with EINTR too, the handler run on that thread. A thread that blocks the
 * signal and waits for it in sigwait gets it. setuid from a thread, which glibc carries out
 * by signalling every thread it knows, returns. Under the preload the threads are goroutines
 * parked on the ring: the output must be the same. With the argument "main": pthread_kill
 * of the main thread interrupts main's own read the same way. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t handled, ontarget;
static volatile int done, ready;
static int fds[2];
static pthread_t target; /* the thread a held call's handler should run on */

static void onusr1(int sig) {
  (void)sig;
  handled++;
  ontarget += pthread_equal(pthread_self(), target);
}

static void handle(int flags) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = onusr1;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
}

struct result {
  long r;
  int err;
  int handledfirst; /* the handler had run when the call returned */
  char c;
};

static void* reader(void* arg) {
  struct result* x = arg;
  x->r = read(fds[0], &x->c, 1);
  x->err = errno;
  x->handledfirst = handled > 0;
  done = 1;
  return NULL;
}

static void* poller(void* arg) {
  struct result* x = arg;
  struct pollfd pf = {fds[0], POLLIN, 0};
  x->r = poll(&pf, 1, -1);
  x->err = errno;
  x->handledfirst = handled > 0;
  done = 1;
  return NULL;
}

/* held: a call that holds its thread under the preload (nothing parks it): a recv that
 * waits for all 8 bytes (arg 0) or a ppoll with a signal mask (1). */
static int held[2];
static void* holder(void* arg) {
  struct result* x = arg;
  char b[8];
  sigset_t none;
  sigemptyset(&none);
  struct pollfd pf = {held[0], POLLIN, 0};
  target = pthread_self();
  x->r = x->c ? ppoll(&pf, 1, NULL, &none) : recv(held[0], b, sizeof b, MSG_WAITALL);
  x->err = errno;
  x->handledfirst = handled > 0;
  done = 1;
  return NULL;
}

static sem_t sem;
static void* semwaiter(void* arg) {
  struct result* x = arg;
  x->r = sem_wait(&sem);
  x->err = errno;
  x->handledfirst = handled > 0;
  done = 1;
  return NULL;
}

static void* waiter(void* arg) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &s, NULL);
  ready = 1;
  if (sigwait(&s, (int*)arg) != 0) *(int*)arg = -1;
  return NULL;
}

static void* setuider(void* arg) {
  *(int*)arg = setuid(getuid());
  return NULL;
}

/* kickuntil: pthread_kill t every 20 ms until it is done (a call reached late, on a loaded
 * machine, is still interrupted rather than left waiting for ever). */
static void kickuntil(pthread_t t) {
  usleep(50 * 1000);
  while (!done) {
    pthread_kill(t, SIGUSR1);
    usleep(20 * 1000);
  }
}

/* mainkicker: pthread_kill of the main thread every 20 ms until its read is done; after
 * 2 s of that, a byte ends the read (the output then tells). */
static pthread_t mainthread;
static void* mainkicker(void* arg) {
  (void)arg;
  usleep(50 * 1000);
  for (int i = 0; !done; i++) {
    if (i == 100 && write(fds[1], "z", 1) != 1) return NULL;
    pthread_kill(mainthread, SIGUSR1);
    usleep(20 * 1000);
  }
  return NULL;
}

static const char* err(const struct result* x) { return x->r < 0 ? strerror(x->err) : "-"; }

int main(int argc, char** argv) {
  if (pipe(fds) != 0) return 1;
  pthread_t t;
  struct result x = {0};
  if (argc > 1 && strcmp(argv[1], "main") == 0) {
    handle(0);
    mainthread = pthread_self();
    pthread_create(&t, NULL, mainkicker, NULL);
    reader(&x);
    pthread_join(t, NULL);
    printf("main's read, pthread_kill of the main thread: %ld %s, handler first: %d\n", x.r,
           err(&x), x.handledfirst);
    return 0;
  }

  handle(0);
  handled = done = 0;
  pthread_create(&t, NULL, reader, &x);
  kickuntil(t);
  pthread_join(t, NULL);
  printf("read: %ld %s, handler first: %d\n", x.r, err(&x), x.handledfirst);

  handle(SA_RESTART);
  handled = done = 0;
  memset(&x, 0, sizeof x);
  pthread_create(&t, NULL, reader, &x);
  usleep(50 * 1000);
  pthread_kill(t, SIGUSR1);
  usleep(50 * 1000);
  printf("read under SA_RESTART: still waiting: %d, handler ran: %d\n", !done, handled > 0);
  if (write(fds[1], "y", 1) != 1) return 1;
  pthread_join(t, NULL);
  printf("read under SA_RESTART: %ld %c\n", x.r, x.c);

  handled = done = 0;
  memset(&x, 0, sizeof x);
  pthread_create(&t, NULL, poller, &x);
  kickuntil(t);
  pthread_join(t, NULL);
  printf("poll under SA_RESTART: %ld %s, handler first: %d\n", x.r, err(&x), x.handledfirst);

  handle(0);
  sem_init(&sem, 0, 0);
  handled = done = 0;
  memset(&x, 0, sizeof x);
  pthread_create(&t, NULL, semwaiter, &x);
  kickuntil(t);
  pthread_join(t, NULL);
  int v = -1;
  sem_getvalue(&sem, &v);
  printf("sem_wait: %ld %s, handler first: %d, value %d\n", x.r, err(&x), x.handledfirst, v);

  if (socketpair(AF_UNIX, SOCK_STREAM, 0, held) != 0) return 1;
  for (int k = 0; k < 2; k++) {
    handled = ontarget = done = 0;
    memset(&x, 0, sizeof x);
    x.c = (char)k;
    pthread_create(&t, NULL, holder, &x);
    kickuntil(t);
    pthread_join(t, NULL);
    printf("%s: %ld %s, handler first: %d, on the thread: %d\n",
           k ? "ppoll with a mask" : "recv MSG_WAITALL", x.r, err(&x), x.handledfirst,
           ontarget > 0);
  }

  int got = 0;
  pthread_create(&t, NULL, waiter, &got);
  while (!ready) usleep(1000);
  usleep(50 * 1000);
  pthread_kill(t, SIGUSR2);
  pthread_join(t, NULL);
  printf("sigwait: %s\n", got == SIGUSR2 ? "SIGUSR2" : "wrong");

  int r = -1;
  pthread_create(&t, NULL, setuider, &r);
  pthread_join(t, NULL);
  printf("setuid from a thread: %d\n", r);
  return 0;
}
