// os_linux.cc — the OS layer: CPUs, time, futexes, memory, and starting an M's thread.
//
// Contract: functions here return false/null or a negative errno on failure and never print;
// the caller decides whether a failure is fatal. Futexes, sleeps and yields are raw syscall
// instructions (rawsyscall): libc hooks (preload/) never see the runtime's own sleeps, and
// errno is never touched — runtime locks are taken on user goroutines, between a libc call
// and the caller's look at errno.
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "annotate.h"
#include "runtime.h"

namespace gmp {

int32_t ncpu = 1;
size_t physpagesize = 4096;

namespace {
constexpr size_t g0StackSize = 256 << 10;


using pthread_create_t = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
pthread_create_t real_pthread_create;

}  // namespace

bool readsmall(const char* path, char* buf, size_t n) {
  int fd = int(rawsyscall(SYS_openat, AT_FDCWD, long(path), O_RDONLY | O_CLOEXEC));
  if (fd < 0) return false;
  long r = rawsyscall(SYS_read, fd, long(buf), long(n - 1));  // the runtime's own: no hooks
  rawsyscall(SYS_close, fd);
  if (r <= 0) return false;
  buf[r] = 0;
  return true;
}

namespace {

// cgroupcpus: the CPU limit from cgroup v2 cpu.max quotas on our cgroup and its ancestors
// (ceil(quota/period), the tightest level wins), as Go 1.25 does; 0 when unlimited.
int32_t cgroupcpus() {
  char line[512];
  if (!readsmall("/proc/self/cgroup", line, sizeof line)) return 0;
  if (strncmp(line, "0::", 3) != 0) return 0;  // not a pure cgroup v2 hierarchy
  char* nl = strchr(line, '\n');
  if (nl) *nl = 0;
  char dir[600];
  snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", line + 3);
  int32_t best = 0;
  for (;;) {
    char path[640], buf[64];
    snprintf(path, sizeof path, "%s/cpu.max", dir);
    long long quota, period;
    if (readsmall(path, buf, sizeof buf) && sscanf(buf, "%lld %lld", &quota, &period) == 2 &&
        quota > 0 && period > 0) {
      auto c = int32_t((quota + period - 1) / period);
      if (best == 0 || c < best) best = c;
    }
    char* slash = strrchr(dir, '/');
    if (!slash || slash - dir < int(strlen("/sys/fs/cgroup"))) break;
    *slash = 0;
  }
  return best;
}

void clonestart(void* arg) {
  auto* mp = static_cast<m*>(arg);
  minit_tls(mp);  // first: C code below needs the thread's libc state
  mp->procid.store(gettid_(), std::memory_order_relaxed);
  // Every signal blocked but the runtime's own and glibc's (a blocked SIGSEGV would kill
  // the process without a report, a blocked SIGURG would keep the M out of goroutine
  // dumps). The thread takes the mask of each goroutine it runs (runon), and waiting for
  // work the signals some goroutine takes (sigmaskidle): a new M takes no signal of the
  // program's before, so a signal every goroutine blocks (to sigwait for it) stays pending
  // for them.
  uint64_t set = ~sigmaskkeep;
  rawsyscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&set), 0, sizeof set);
  char name[16];
  snprintf(name, sizeof name, "gmp-m%ld", long(mp->id));
  prctl(PR_SET_NAME, name);
  mstart_on_thread(mp);
}

void* pthreadstart(void* arg) {
  auto* mp = static_cast<m*>(arg);
  if constexpr (stackAnnotations) {
    g0bounds(mp);  // ASan must know g0's exact bounds
  } else {
    // We know the pthread's stack size, not its exact top; close enough for the record.
    uintptr_t sp;
    asm volatile("movq %%rsp, %0" : "=r"(sp));
    mp->g0stack.hi = (sp + physpagesize) & ~(physpagesize - 1);
    mp->g0stack.lo = mp->g0stack.hi - g0StackSize;
  }
  clonestart(mp);
  return nullptr;
}
}  // namespace

uint64_t initsigmaskbits;  // Go's initSigmask

void osinit() {
  rawsyscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, long(&initsigmaskbits), sizeof initsigmaskbits);
  long ps = long(getauxval(AT_PAGESZ));
  if (ps > 0) physpagesize = size_t(ps);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) ncpu = CPU_COUNT(&set);
  if (ncpu < 1) ncpu = 1;
  int32_t q = cgroupcpus();
  if (q > 0 && q < ncpu) ncpu = q;
  // The real pthread_create: preload/ may interpose the name in later versions.
  // Under ASan, the interposed pthread_create (ASan's), which registers the thread with it.
  real_pthread_create =
      asanBuild ? pthread_create
                : reinterpret_cast<pthread_create_t>(dlsym(RTLD_NEXT, "pthread_create"));
  if (!real_pthread_create) real_pthread_create = pthread_create;
}

int64_t nanotime() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void usleep_ns(int64_t ns) {
  timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
  rawsyscall(SYS_nanosleep, long(&ts), 0);
}

int gettid_() { return int(rawsyscall(SYS_gettid)); }

void futexsleep(std::atomic<uint32_t>* addr, uint32_t val, int64_t ns) {
  timespec ts{}, *tsp = nullptr;
  if (ns >= 0) {
    ts.tv_sec = time_t(ns / 1000000000);
    ts.tv_nsec = long(ns % 1000000000);
    tsp = &ts;
  }
  // Returns on wake-up, timeout, EINTR or EAGAIN (*addr != val): callers re-check.
  rawsyscall(SYS_futex, long(addr), FUTEX_WAIT_PRIVATE, long(val), long(tsp));
}

void futexwakeup(std::atomic<uint32_t>* addr, int32_t cnt) {
  rawsyscall(SYS_futex, long(addr), FUTEX_WAKE_PRIVATE, long(cnt));
}

void osyield() { rawsyscall(SYS_sched_yield); }

void g0bounds(m* mp) {
  pthread_attr_t attr;
  void* addr;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) fatal("g0bounds: pthread_getattr_np");
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  mp->g0stack.lo = reinterpret_cast<uintptr_t>(addr);
  mp->g0stack.hi = mp->g0stack.lo + size;
}

int tgkill_(int tid, int sig) { return int(rawsyscall(SYS_tgkill, getpid(), tid, sig)); }

namespace {
// The watchdog thread: a raw clone sharing everything but a TLS of its own; it runs only
// raw system calls (it has no TCB, %fs is its creator's), so it works whatever state libc
// and the runtime are in.
struct watchdogargs {
  int64_t ns;
  const char* msg;
};
watchdogargs wdargs;
alignas(16) char wdstack[16 << 10];
std::atomic<bool> wdstarted{false};

// Instrumentation would touch the creator's sanitizer state (this thread has its TLS).
__attribute__((no_sanitize("address", "undefined"))) void watchdogmain(void* arg) {
  auto* a = static_cast<watchdogargs*>(arg);
  timespec ts{time_t(a->ns / 1000000000), long(a->ns % 1000000000)};
  while (rawsyscall(SYS_nanosleep, long(&ts), long(&ts)) == -EINTR) {
  }
  rawsyscall(SYS_write, 2, long(a->msg), long(strlen(a->msg)));
  rawsyscall(SYS_exit_group, 2);
}
}  // namespace

void startwatchdog(int64_t ns, const char* msg) {
  if (wdstarted.exchange(true)) return;
  wdargs = watchdogargs{ns, msg};
  // The child starts with every signal blocked, glibc's internal ones too (pthread_sigmask
  // would leave those open, and their handlers need a TCB of its own): the raw call.
  uint64_t all = ~uint64_t(0), old = 0;
  rawsyscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&all), long(&old), sizeof all);
  constexpr unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                  CLONE_THREAD | CLONE_SYSVSEM;
  long r = gmp_clone(flags, wdstack + sizeof wdstack, nullptr, nullptr, nullptr, watchdogmain,
                     &wdargs);
  rawsyscall(SYS_rt_sigprocmask, SIG_SETMASK, long(&old), 0, sizeof old);
  if (r < 0) alarm(unsigned((ns + 999999999) / 1000000000));  // no thread: SIGALRM ends it
}

void procyield(int n) {
  for (int i = 0; i < n; i++) __builtin_ia32_pause();
}

void* sysAlloc(size_t n) {
  void* v = mmap(nullptr, n, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  return v == MAP_FAILED ? nullptr : v;
}

void sysFree(void* v, size_t n) { munmap(v, n); }

namespace {
// threadsigmask: the calling thread's own mask, not its goroutine's (gsigmask, which the
// hooked pthread_sigmask applies on a goroutine).
void threadsigmask(const sigset_t* set, sigset_t* old) {
  if (old) sigemptyset(old);
  rawsyscall(SYS_rt_sigprocmask, SIG_SETMASK, long(set), long(old), sizeof(uint64_t));
}
}  // namespace

// newosproc starts mp's thread: raw clone on a TCB of ours (useRawClone) or a pthread. All
// signals are blocked across the creation so the thread takes none until clonestart sets
// an M's mask.
bool newosproc(m* mp) {
  sigset_t all, old;
  sigfillset(&all);
  if (useRawClone) {
    if (!stackalloc(nullptr, g0StackSize, &mp->g0stack)) return false;
    void* tcb = tcballoc();
    if (!tcb) return false;
    mp->tcb = tcb;
    constexpr unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
                                    CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                                    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
    threadsigmask(&all, &old);
    long r = gmp_clone(flags, reinterpret_cast<void*>(mp->g0stack.hi), tcbtid(tcb), tcbtid(tcb),
                       tcb, clonestart, mp);
    threadsigmask(&old, nullptr);
    return r > 0;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, g0StackSize);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  threadsigmask(&all, &old);
  pthread_t t;
  int r = real_pthread_create(&t, &attr, pthreadstart, mp);
  threadsigmask(&old, nullptr);
  pthread_attr_destroy(&attr);
  return r == 0;
}

bool newthread(void* (*fn)(void*), void* arg) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  sigset_t all, old;
  sigfillset(&all);
  threadsigmask(&all, &old);  // it starts with every signal blocked, and keeps them so
  pthread_t t;
  int r = real_pthread_create(&t, &attr, fn, arg);
  threadsigmask(&old, nullptr);
  pthread_attr_destroy(&attr);
  return r == 0;
}

}  // namespace gmp
