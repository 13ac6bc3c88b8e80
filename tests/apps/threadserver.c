/* threadserver.c — a thread-per-connection echo server and as many client threads, all
 * blocking I/O, in one plain program (it never includes gmp.h): the README's demo of the
 * preload, run natively and under LD_PRELOAD=libgmp.so.
 *
 *   threadserver [connections [rounds]]      default 10000 connections, 10 rounds each
 *
 * Every client thread connects to the server on loopback, sends `rounds` 64-byte messages
 * and reads each echo back, checking every byte; the server runs one thread per accepted
 * connection. stdout gets one line that does not depend on timing (identical native and
 * preloaded); stderr the figures: OS threads at the busiest moment (all connections up),
 * wall time and peak RSS. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { msglen = 64 };

static int rounds = 10;
static int nconn = 10000;
static struct sockaddr_in addr;
static pthread_barrier_t allup;  /* every client connected: count OS threads then */
static long checked;             /* bytes the clients verified (atomic) */

static void die(const char *what) {
  fprintf(stderr, "threadserver: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int readfull(int fd, char *buf, int n) {
  int got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, (size_t)(n - got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return got;
    got += (int)r;
  }
  return got;
}

static int writefull(int fd, const char *buf, int n) {
  int put = 0;
  while (put < n) {
    ssize_t r = write(fd, buf + put, (size_t)(n - put));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return put;
    put += (int)r;
  }
  return put;
}

static void *serve(void *arg) {
  int fd = (int)(long)arg;
  char buf[msglen];
  int n;
  while ((n = readfull(fd, buf, msglen)) > 0) {
    if (writefull(fd, buf, n) != n) break;
  }
  close(fd);
  return NULL;
}

static void *acceptor(void *arg) {
  int ls = (int)(long)arg;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 256 << 10);  /* as thread pools do */
  for (int i = 0; i < nconn; i++) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) die("accept");
    pthread_t t;
    if (pthread_create(&t, &a, serve, (void *)(long)fd) != 0) die("pthread_create (server)");
  }
  pthread_attr_destroy(&a);
  return NULL;
}

static int osthreads(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  int n = -1;
  while (f && fgets(line, sizeof line, f)) {
    if (sscanf(line, "Threads: %d", &n) == 1) break;
  }
  if (f) fclose(f);
  return n;
}

static int peakthreads;

static void *client(void *arg) {
  long id = (long)arg;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  while (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (errno != EINTR && errno != EAGAIN) die("connect");
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (pthread_barrier_wait(&allup) == PTHREAD_BARRIER_SERIAL_THREAD) peakthreads = osthreads();
  char out[msglen], in[msglen];
  for (int r = 0; r < rounds; r++) {
    for (int i = 0; i < msglen; i++) out[i] = (char)(id * 31 + r * 7 + i);
    if (writefull(fd, out, msglen) != msglen) die("client write");
    if (readfull(fd, in, msglen) != msglen) die("client read");
    if (memcmp(in, out, msglen) != 0) {
      fprintf(stderr, "threadserver: client %ld round %d: wrong bytes\n", id, r);
      exit(1);
    }
    __atomic_fetch_add(&checked, msglen, __ATOMIC_RELAXED);
  }
  close(fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc > 1) nconn = atoi(argv[1]);
  if (argc > 2) rounds = atoi(argv[2]);
  if (nconn <= 0 || rounds <= 0) {
    fprintf(stderr, "usage: threadserver [connections [rounds]]\n");
    return 2;
  }
  struct rlimit rl;  /* two fds per connection */
  rlim_t need = (rlim_t)(2 * nconn + 64);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
    struct rlimit want = {need, rl.rlim_max < need ? need : rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) { /* a higher hard limit needs privilege */
      rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  if (ls < 0) die("socket");
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0) die("bind");
  if (listen(ls, 4096) != 0) die("listen");
  if (getsockname(ls, (struct sockaddr *)&addr, &len) != 0) die("getsockname");
  pthread_barrier_init(&allup, NULL, (unsigned)nconn);
  pthread_t acc;
  if (pthread_create(&acc, NULL, acceptor, (void *)(long)ls) != 0) die("pthread_create");
  pthread_t *cl = malloc(sizeof(pthread_t) * (size_t)nconn);
  for (long i = 0; i < nconn; i++) {
    int e = pthread_create(&cl[i], NULL, client, (void *)i);
    if (e != 0) {
      errno = e;
      die("pthread_create (client)");
    }
  }
  for (int i = 0; i < nconn; i++) pthread_join(cl[i], NULL);
  pthread_join(acc, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  long want = (long)nconn * rounds * msglen;
  printf("threadserver: %d connections, %d rounds, %ld bytes checked: %s\n", nconn, rounds,
         checked, checked == want ? "ok" : "WRONG");
  fprintf(stderr, "threadserver: os_threads=%d time_ms=%.0f peak_rss_kb=%ld\n", peakthreads,
          (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
          ru.ru_maxrss);
  free(cl);
  return checked == want ? 0 : 1;
}
