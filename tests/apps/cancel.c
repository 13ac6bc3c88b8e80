// cancel.c — pthread_cancel, deferred, of threads blocked at the cancellation points a
// server's workers wait in, and of threads that look for it themselves. Each case prints
// what the canceller saw: the joined value (PTHREAD_CANCELED or not), whether the thread's
// cleanup handler ran (C, without -fexceptions: glibc's setjmp-based handlers), and what the
// thread did after the request. Natively and preloaded the output is the same; a cancel
// that is not acted on where the thread waits hangs the join (the test's timeout).
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int fds[2];
static int efd;  // an eventfd nobody writes
static int sem_fd(void) { return efd; }
static sem_t sem;
static atomic_int cleaned;
static atomic_int started;
static atomic_int after;  // set when a thread went on past a point that should have acted

static void cleanup(void* arg) { atomic_fetch_add(&cleaned, *(int*)arg); }
static void onusr1(int sig) { (void)sig; }

// epollcount: the process's open epoll sets (the runtime's rings, which a P makes on first
// use, are io_uring's: not counted).
static int epollcount(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  while (d && (e = readdir(d))) {
    char path[300], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(path, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = 0;
    n += strcmp(target, "anon_inode:[eventpoll]") == 0;
  }
  if (d) closedir(d);
  return n;
}

static void waitstarted(void) {
  while (!atomic_load(&started)) usleep(1000);
  usleep(20 * 1000);  // into its blocking call
}

// blocked: a thread that waits in wait() with a cleanup handler pushed, the request coming
// while it waits.
typedef void (*waitfn)(void);
static void* blocked(void* arg) {
  waitfn wait = (waitfn)arg;
  int one = 1;
  pthread_cleanup_push(cleanup, &one);
  atomic_store(&started, 1);
  wait();
  atomic_store(&after, 1);
  pthread_cleanup_pop(0);
  return NULL;
}

static void readone(void) {
  char c;
  read(fds[0], &c, 1);
}
static void sleeplong(void) { sleep(100); }
static void pollone(void) {
  struct pollfd p = {fds[0], POLLIN, 0};
  poll(&p, 1, -1);
}
static void semwait(void) { sem_wait(&sem); }
static pthread_t other;  // a thread that never ends by itself
static void joinother(void) { pthread_join(other, NULL); }
static pthread_t mainthread;
static void joinmain(void) { pthread_join(mainthread, NULL); }
static void testcancel(void) {
  for (;;) pthread_testcancel();
}

// computing: an asynchronous type, and a loop that calls nothing: cancelled where it
// computes.
static void compute(void) {
  pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
  for (volatile unsigned long x = 0;; x++) {
  }
}

static void* forever(void* arg) {
  (void)arg;
  pause();
  return NULL;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static atomic_int ownedincleanup;

static void unlockmu(void* arg) {
  (void)arg;
  // The mutex is the thread's again when its handler runs: unlock succeeding says it was
  // held (an error-checking mutex would say EPERM otherwise).
  atomic_store(&ownedincleanup, pthread_mutex_unlock(&mu) == 0);
  atomic_fetch_add(&cleaned, 1);
}

// condwaiter: a worker waiting for a queue's condition, cancelled while it waits (with a
// deadline when arg is not null): its handler unlocks the mutex, which it holds again.
static void* condwaiter(void* arg) {
  pthread_mutex_lock(&mu);
  pthread_cleanup_push(unlockmu, NULL);
  atomic_store(&started, 1);
  for (;;) {
    if (arg) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += 100;
      pthread_cond_timedwait(&cv, &mu, &ts);
    } else {
      pthread_cond_wait(&cv, &mu);
    }
    atomic_store(&after, 1);
  }
  pthread_cleanup_pop(0);
  return NULL;
}

// disabled: the request waits while the thread has cancellation off, through a sleep, and
// is acted on at the first cancellation point after it turns it back on.
static void* disabled(void* arg) {
  (void)arg;
  int one = 1, old = -1, oldtype = -1;
  pthread_cleanup_push(cleanup, &one);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  pthread_setcanceltype(PTHREAD_CANCEL_DEFERRED, &oldtype);
  atomic_store(&started, 1);
  usleep(100 * 1000);  // the request comes meanwhile
  printf("  disabled: old state %s, old type %s, slept through\n",
         old == PTHREAD_CANCEL_ENABLE ? "enable" : "disable",
         oldtype == PTHREAD_CANCEL_DEFERRED ? "deferred" : "async");
  fflush(stdout);
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  printf("  enabled again: old state %s\n", old == PTHREAD_CANCEL_DISABLE ? "disable" : "enable");
  fflush(stdout);
  pthread_testcancel();
  atomic_store(&after, 1);
  pthread_cleanup_pop(0);
  return NULL;
}

// ready: a read with data waiting, after the request: acted on at the call all the same.
static void* ready(void* arg) {
  (void)arg;
  int one = 1;
  char c;
  pthread_cleanup_push(cleanup, &one);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  atomic_store(&started, 1);
  while (atomic_load(&started) != 2) usleep(1000);  // cancelled, the byte written
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
  read(fds[0], &c, 1);
  atomic_store(&after, 1);
  pthread_cleanup_pop(0);
  return NULL;
}

// pollpair: a poll of two fds, cancelled while it waits: the preload's scratch epoll set
// must not outlive it (a descriptor leaked per cancel).
static void pollpair(void) {
  struct pollfd p[2] = {{fds[0], POLLIN, 0}, {sem_fd(), POLLIN, 0}};
  poll(p, 2, -1);
}

// rwlocked: pthread_rwlock_wrlock is no cancellation point: the request waits until the
// thread holds the lock and reaches one.
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static atomic_int gotlock;
static void rwlocked(void) {
  pthread_rwlock_wrlock(&rw);
  atomic_store(&gotlock, 1);
  pthread_rwlock_unlock(&rw);
  pthread_testcancel();
}

// exiting: a request pending while the thread ends its own way, by pthread_exit or by
// returning: its cleanup handlers and key destructors call cancellation points (a write),
// which must not act (each runs once; the thread's value is its own).
static atomic_int handlerruns;
static pthread_key_t key;
static void writer(void* arg) {
  (void)arg;
  write(fds[1], "", 0);
  atomic_fetch_add(&handlerruns, 1);
}
static void* exiting(void* arg) {
  pthread_setspecific(key, &handlerruns);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  atomic_store(&started, 1);
  while (atomic_load(&started) != 2) usleep(1000);  // cancelled meanwhile
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);  // no cancellation point
  pthread_cleanup_push(writer, NULL);
  if (arg) pthread_exit((void*)7);
  pthread_cleanup_pop(1);
  return (void*)8;
}
static void endingwithrequest(const char* name, void* arg) {
  pthread_t t;
  void* ret = NULL;
  atomic_store(&started, 0);
  atomic_store(&handlerruns, 0);
  pthread_create(&t, NULL, exiting, arg);
  while (!atomic_load(&started)) usleep(1000);
  pthread_cancel(t);
  atomic_store(&started, 2);
  pthread_join(t, &ret);
  printf("%s with a request pending: value %ld, handler and destructor runs %d\n", name,
         (long)ret, atomic_load(&handlerruns));
}

static void run(const char* name, void* (*fn)(void*), void* arg) {
  pthread_t t;
  void* ret = NULL;
  atomic_store(&started, 0);
  atomic_store(&cleaned, 0);
  atomic_store(&after, 0);
  pthread_create(&t, NULL, fn, arg);
  waitstarted();
  int r = pthread_cancel(t);
  if (fn == ready) {
    write(fds[1], "x", 1);
    atomic_store(&started, 2);
  }
  int j = pthread_join(t, &ret);
  printf("%s: cancel %d, join %d, %s, cleanup %d, went on %d\n", name, r, j,
         ret == PTHREAD_CANCELED ? "canceled" : "returned", atomic_load(&cleaned),
         atomic_load(&after));
  fflush(stdout);
}

// churner: reads what main writes, sleeps a little, waits on the condition a little: the
// request lands anywhere in the loop, parked or running.
static void shortwait(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += 100 * 1000;
  if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
  pthread_mutex_lock(&mu);
  pthread_cleanup_push(unlockmu, NULL);
  pthread_cond_timedwait(&cv, &mu, &ts);
  pthread_cleanup_pop(1);
}

static void* churner(void* arg) {
  (void)arg;
  char buf[64];
  for (;;) {
    read(fds[0], buf, sizeof buf);
    usleep(50);
    shortwait();
  }
  return NULL;
}

// stress: n threads cancelled at a random point of churner's loop, each joined; every join
// must say PTHREAD_CANCELED, and the mutex must be free at the end.
static int stress(int n) {
  int canceled = 0;
  unsigned seed = 1;
  for (int i = 0; i < n; i++) {
    pthread_t t;
    pthread_create(&t, NULL, churner, NULL);
    for (int k = rand_r(&seed) % 4; k > 0; k--) write(fds[1], "x", 1);
    usleep((useconds_t)(rand_r(&seed) % 300));
    pthread_cancel(t);
    void* ret = NULL;
    pthread_join(t, &ret);
    canceled += ret == PTHREAD_CANCELED;
  }
  int freed = pthread_mutex_trylock(&mu) == 0;
  printf("stress: %d of %d cancelled, mutex free: %d\n", canceled, n, freed);
  return 0;
}

int main(int argc, char** argv) {
  if (pipe(fds) != 0 || sem_init(&sem, 0, 0) != 0) return 1;
  efd = eventfd(0, EFD_CLOEXEC);
  if (pthread_key_create(&key, writer) != 0) return 1;
  if (argc > 1 && strcmp(argv[1], "handlers") == 0) {
    // Parks armed for handlers as well as for the request (another commit, sigintr.cc).
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onusr1;
    sigaction(SIGUSR1, &sa, NULL);
  }
  if (argc > 2 && strcmp(argv[1], "stress") == 0) return stress(atoi(argv[2]));
  run("read", blocked, (void*)readone);
  run("sleep", blocked, (void*)sleeplong);
  run("poll", blocked, (void*)pollone);
  run("sem_wait", blocked, (void*)semwait);
  pthread_create(&other, NULL, forever, NULL);
  run("join", blocked, (void*)joinother);
  mainthread = pthread_self();
  run("join of main", blocked, (void*)joinmain);
  run("testcancel", blocked, (void*)testcancel);
  run("asynchronous", blocked, (void*)compute);
  int before = epollcount();
  run("poll of two", blocked, (void*)pollpair);
  printf("  epoll sets left behind: %d\n", epollcount() - before);
  pthread_rwlock_wrlock(&rw);
  atomic_store(&started, 0);
  pthread_t locker;
  void* lockret = NULL;
  pthread_create(&locker, NULL, blocked, (void*)rwlocked);
  waitstarted();
  pthread_cancel(locker);
  usleep(20 * 1000);
  pthread_rwlock_unlock(&rw);
  pthread_join(locker, &lockret);
  printf("rwlock: got the lock %d, then %s\n", atomic_load(&gotlock),
         lockret == PTHREAD_CANCELED ? "canceled" : "returned");
  endingwithrequest("pthread_exit", &key);
  endingwithrequest("return", NULL);
  run("cond_wait", condwaiter, NULL);
  printf("  held in its handler: %d, free after: %d\n", atomic_load(&ownedincleanup),
         pthread_mutex_trylock(&mu) == 0 && pthread_mutex_unlock(&mu) == 0);
  run("cond_timedwait", condwaiter, &mu);
  printf("  held in its handler: %d\n", atomic_load(&ownedincleanup));
  // A signal after a cancel: the cancelled waiter consumed none of it (POSIX), the other
  // waiter gets it.
  pthread_t a, b;
  atomic_store(&started, 0);
  pthread_create(&a, NULL, condwaiter, NULL);
  waitstarted();
  atomic_store(&started, 0);
  pthread_create(&b, NULL, condwaiter, NULL);
  waitstarted();
  atomic_store(&after, 0);
  pthread_cancel(a);
  pthread_join(a, NULL);
  pthread_mutex_lock(&mu);
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  while (!atomic_load(&after)) usleep(1000);
  printf("a signal after a cancel woke the other waiter: %d\n", atomic_load(&after));
  pthread_cancel(b);
  pthread_join(b, NULL);
  run("disabled", disabled, NULL);
  run("ready read", ready, NULL);
  char c;
  printf("the byte is still there: %zd\n", read(fds[0], &c, 1));
  // A cancelled joiner leaves its target joinable: cancel and join it too.
  int r = pthread_cancel(other);
  printf("other: cancel %d, join %d\n", r, pthread_join(other, NULL));
  int old = -1;
  r = pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
  printf("main's setcancelstate: %d %d\n", r, old);
  printf("bad state: %d, bad type: %d\n", pthread_setcancelstate(7, NULL) == EINVAL,
         pthread_setcanceltype(7, NULL) == EINVAL);
  return 0;
}
