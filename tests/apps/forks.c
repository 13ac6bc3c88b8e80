// forks.c — fork and its family from threads of a busy program, as a plain program (issue 6):
// the child has only the thread that forked, with its identity, its thread_local values and
// its locks; the parent's other threads never run there; pthread_atfork handlers run in
// order; a once left running by another thread runs again in the child; the child can make
// threads, lock, wait and do I/O; fork+exec, vfork, system,
// popen and posix_spawn work from threads; a thread that is not main can exec. stdout is
// the same natively and under LD_PRELOAD=libgmp.so; stderr carries the figures
// (os_threads=: the parent's OS threads while 22 of its threads are blocked).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

#define CHECK(c) ((c) ? (void)0 : (printf("WRONG: %s (line %d)\n", #c, __LINE__), exit(1)))

static int ostreads(void) {
  DIR* d = opendir("/proc/self/task");
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

// status: the child's exit status, or 128 + the signal that ended it.
static int status(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) CHECK(errno == EINTR);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void sleepms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) CHECK(errno == EINTR);
}

// ---- pthread_atfork: prepare in reverse order, parent and child in order ---------------------

static char trail[64];
static int recording = 1;  // the first fork only: the handlers stay registered for the rest
static pthread_mutex_t forklock = PTHREAD_MUTEX_INITIALIZER;
static void add(char c) {
  if (recording) trail[strlen(trail)] = c;
}
static void prepA(void) { add('a'); }
static void prepB(void) { add('b'); pthread_mutex_lock(&forklock); }
static void parentA(void) { add('A'); }
static void parentB(void) { add('B'); pthread_mutex_unlock(&forklock); }
static void childA(void) { add('1'); }
static void childB(void) { add('2'); pthread_mutex_unlock(&forklock); }

static void atforks(void) {
  CHECK(pthread_atfork(prepA, parentA, childA) == 0);
  CHECK(pthread_atfork(prepB, parentB, childB) == 0);
  int p[2];
  CHECK(pipe(p) == 0);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    CHECK(pthread_mutex_trylock(&forklock) == 0);  // the child handler unlocked it
    dprintf(p[1], "%s", trail);
    _exit(0);
  }
  close(p[1]);
  char got[64] = {0};
  CHECK(read(p[0], got, sizeof got - 1) > 0);
  close(p[0]);
  CHECK(status(pid) == 0);
  CHECK(pthread_mutex_trylock(&forklock) == 0);
  pthread_mutex_unlock(&forklock);
  printf("atfork: parent ran %s, child ran %s\n", trail, got);
  recording = 0;
}

// ---- a fork from a thread while 22 others wait ----------------------------------------------

// (A condition the parent's threads wait on cannot be tried in the child: glibc's broadcast
// there may wait for its absent waiters.)
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sem_t gosem;
static int woke;                 // mu
static int readerpipes[4][2];
static int readersgot;           // mu
static int sleepersdone;         // mu
static __thread int mine = 0;    // the forking thread's own value

static void* waiter(void* arg) {
  (void)arg;
  while (sem_wait(&gosem) != 0) CHECK(errno == EINTR);
  pthread_mutex_lock(&mu);
  woke++;
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void* reader(void* arg) {
  int* p = arg;
  char c;
  ssize_t n = read(p[0], &c, 1);
  pthread_mutex_lock(&mu);
  readersgot += n == 1 && c == 'r';
  pthread_mutex_unlock(&mu);
  return NULL;
}

static void* sleeper(void* arg) {
  (void)arg;
  sleepms(300);
  pthread_mutex_lock(&mu);
  sleepersdone++;
  pthread_mutex_unlock(&mu);
  return NULL;
}

// In the child: threads that take turns on a mutex and a condition.
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static long turn, total;
static void* turntaker(void* arg) {
  long me = (long)arg;
  for (int i = 0; i < 20; i++) {
    pthread_mutex_lock(&cmu);
    while (turn % 50 != me) pthread_cond_wait(&ccv, &cmu);
    turn++;
    total += me;
    pthread_cond_broadcast(&ccv);
    pthread_mutex_unlock(&cmu);
  }
  return NULL;
}

static void* pipewriter(void* arg) {
  int fd = *(int*)arg;
  sleepms(20);
  CHECK(write(fd, "hello", 5) == 5);
  return NULL;
}

// child: what the forked child of forker does; its report goes to fd.
static void child(int fd, pthread_t parentself) {
  CHECK(pthread_equal(pthread_self(), parentself));
  CHECK(mine == 77);
  CHECK(pthread_mutex_trylock(&mu) == 0);  // nobody else holds it in the child
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < 16; i++) sem_post(&gosem);  // the parent's waiters are not here to wake
  for (int i = 0; i < 4; i++) close(readerpipes[i][0]);  // nor its readers to cancel
  sleepms(400);                                           // nor its sleepers to finish
  pthread_mutex_lock(&mu);
  int ghosts = woke + readersgot + sleepersdone;
  pthread_mutex_unlock(&mu);
  pthread_t t[50];
  for (long i = 0; i < 50; i++) CHECK(pthread_create(&t[i], NULL, turntaker, (void*)i) == 0);
  for (int i = 0; i < 50; i++) CHECK(pthread_join(t[i], NULL) == 0);
  int p[2];
  CHECK(pipe(p) == 0);
  pthread_t w;
  CHECK(pthread_create(&w, NULL, pipewriter, &p[1]) == 0);
  char buf[8] = {0};
  CHECK(read(p[0], buf, sizeof buf) == 5);
  CHECK(pthread_join(w, NULL) == 0);
  dprintf(fd, "child: same thread, thread_local %d, ghosts that ran %d, turns %ld sum %ld, read %s\n",
          mine, ghosts, turn, total, buf);
  _exit(0);
}

static void* forker(void* arg) {
  int* out = arg;
  mine = 77;
  pthread_t self = pthread_self();
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) child(out[1], self);
  close(out[1]);
  CHECK(status(pid) == 0);
  return NULL;
}

static void busyfork(void) {
  pthread_t ws[16], rs[4], ss[2], f;
  CHECK(sem_init(&gosem, 0, 0) == 0);
  for (int i = 0; i < 16; i++) CHECK(pthread_create(&ws[i], NULL, waiter, NULL) == 0);
  for (int i = 0; i < 4; i++) {
    CHECK(pipe(readerpipes[i]) == 0);
    CHECK(pthread_create(&rs[i], NULL, reader, readerpipes[i]) == 0);
  }
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&ss[i], NULL, sleeper, NULL) == 0);
  sleepms(100);  // all of them waiting
  fprintf(stderr, "os_threads=%d\n", ostreads());
  int out[2];
  CHECK(pipe(out) == 0);
  CHECK(pthread_create(&f, NULL, forker, out) == 0);
  CHECK(pthread_join(f, NULL) == 0);
  char line[256] = {0};
  CHECK(read(out[0], line, sizeof line - 1) > 0);
  close(out[0]);
  printf("%s", line);
  for (int i = 0; i < 16; i++) sem_post(&gosem);
  for (int i = 0; i < 4; i++) CHECK(write(readerpipes[i][1], "r", 1) == 1);
  for (int i = 0; i < 16; i++) CHECK(pthread_join(ws[i], NULL) == 0);
  for (int i = 0; i < 4; i++) CHECK(pthread_join(rs[i], NULL) == 0);
  for (int i = 0; i < 2; i++) CHECK(pthread_join(ss[i], NULL) == 0);
  printf("parent: %d woke, %d readers got theirs, %d sleepers done\n", woke, readersgot,
         sleepersdone);
}

// ---- a once another thread was running: the child runs it again, as glibc's does ----------

static pthread_once_t slowonce = PTHREAD_ONCE_INIT;
static int onceruns;
static void slowinit(void) {
  onceruns++;
  sleepms(300);
}
static void* oncer(void* arg) {
  (void)arg;
  CHECK(pthread_once(&slowonce, slowinit) == 0);
  return NULL;
}

static void onceinchild(void) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, oncer, NULL) == 0);
  sleepms(100);  // t is inside slowinit
  pid_t pid = fork();
  if (pid == 0) {
    CHECK(pthread_once(&slowonce, slowinit) == 0);
    _exit(10 + onceruns);
  }
  int st = status(pid);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(pthread_once(&slowonce, slowinit) == 0);
  printf("once: the child ran it again (status %d), the parent once (%d)\n", st, onceruns);
}

// ---- exec, vfork, system, popen, posix_spawn, from a thread -------------------------------

static void* spawner(void* arg) {
  (void)arg;
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", "echo fork+exec ok; exit 4", (char*)NULL);
    _exit(127);
  }
  printf("fork+exec: status %d\n", status(pid));
  pid = vfork();
  if (pid == 0) _exit(7);
  printf("vfork: status %d\n", status(pid));
  pid = vfork();
  if (pid == 0) {
    execl("/bin/echo", "echo", "vfork+exec ok", (char*)NULL);
    _exit(127);
  }
  printf("vfork+exec: status %d\n", status(pid));
  int r = system("echo system ok; exit 3");
  printf("system: status %d\n", WEXITSTATUS(r));
  FILE* f = popen("echo popen ok", "r");
  char line[64] = {0};
  CHECK(f && fgets(line, sizeof line, f));
  printf("popen read: %s", line);
  printf("pclose: status %d\n", WEXITSTATUS(pclose(f)));
  char* argv[] = {"sh", "-c", "exit 5", NULL};
  CHECK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0);
  printf("posix_spawn: status %d\n", status(pid));
  return NULL;
}

// ---- a child forks a grandchild; many threads fork many children -----------------------------

static void* nothing(void* arg) { return arg; }

static int threadandexit(int code) {
  pthread_t t;
  void* r = NULL;
  CHECK(pthread_create(&t, NULL, nothing, (void*)(long)code) == 0);
  CHECK(pthread_join(t, &r) == 0);
  return (int)(long)r;
}

static void nested(void) {
  pid_t pid = fork();
  if (pid == 0) {
    pid_t g = fork();
    if (g == 0) _exit(threadandexit(9));
    _exit(status(g) + 1);
  }
  printf("nested: status %d\n", status(pid));
}

static void* manyforks(void* arg) {
  long base = (long)arg;
  long bad = 0;
  for (long j = 0; j < 25; j++) {
    int code = (int)((base * 25 + j) % 200);
    pid_t pid = fork();
    if (pid == 0) _exit(threadandexit(code));
    bad += status(pid) != code;
  }
  return (void*)bad;
}

static void many(void) {
  pthread_t t[8];
  long bad = 0;
  for (long i = 0; i < 8; i++) CHECK(pthread_create(&t[i], NULL, manyforks, (void*)i) == 0);
  for (int i = 0; i < 8; i++) {
    void* r;
    CHECK(pthread_join(t[i], &r) == 0);
    bad += (long)r;
  }
  printf("many: 200 children from 8 threads, %ld wrong statuses\n", bad);
}

// ---- exec from a thread that is not main --------------------------------------------------------

static void* execer(void* arg) {
  char* self = arg;
  execl(self, self, "execd", (char*)NULL);
  printf("WRONG: exec failed: %s\n", strerror(errno));
  exit(1);
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);  // nothing buffered for a child to print again
  if (argc > 1 && strcmp(argv[1], "execd") == 0) {
    printf("exec from a thread: the new image runs\n");
    return 0;
  }
  atforks();
  busyfork();
  onceinchild();
  pthread_t t;
  CHECK(pthread_create(&t, NULL, spawner, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  nested();
  many();
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  CHECK(n > 0);
  self[n] = 0;
  CHECK(pthread_create(&t, NULL, execer, self) == 0);
  pthread_join(t, NULL);
  printf("WRONG: the exec did not end main\n");
  return 1;
}
