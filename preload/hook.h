// hook.h — what every preload file shares: how a hook is exported and how it reaches the
// function it stands in for. Hooks reach the runtime only through src/hooks.h.
#pragma once

#include <dlfcn.h>
#include <linux/futex.h>
#include <liburing.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <cstdint>

#include "../src/hooks.h"

// GMP_HOOK: a libc name libgmp.so exports in front of libc's.
#define GMP_HOOK extern "C" __attribute__((visibility("default")))

// glibc's "*** buffer overflow detected ***" abort, for the _FORTIFY_SOURCE variants.
extern "C" [[noreturn]] void __chk_fail();

namespace gmp {

// libcfn: the next definition of name after libgmp's (libc's, or a sanitizer's in front of
// it), of type F, kept in at once looked up. No guard, and errno left as it was: the first
// calls of a hook, made at once by many threads, waited on a function-local static's guard
// (__cxa_guard_acquire), whose futex wait sets errno to EAGAIN when it loses a race, and the
// program saw errno change under a call that succeeded (errno 11 after sched_yield: 3 runs
// in 100 of a helper's probe at 2 Ps, one-off). Lookups that race find the same address.
template <typename F>
F libcfn(std::atomic<void*>& at, const char* name) {
  void* f = at.load(std::memory_order_relaxed);
  if (__builtin_expect(f == nullptr, 0)) {
    int e = errno;
    f = dlsym(RTLD_NEXT, name);
    errno = e;
    at.store(f, std::memory_order_relaxed);
  }
  return reinterpret_cast<F>(f);
}

// validts: ts is a valid relative or absolute time (libc's EINVAL otherwise).
inline bool validts(const timespec* ts) {
  return ts && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000;
}

// userts: the caller's time *from, copied to *to, when the kernel would take it (readable,
// and valid as validts says); false otherwise, where the kernel's own call is to answer
// (EFAULT, EINVAL) rather than a load here fault. One system call: a futex wait on a word
// that never matches reads and checks the time first, as the sleeps do, then returns at
// once (EAGAIN). errno is left as it was.
inline bool userts(const timespec* from, timespec* to) {
  if (!from) return false;
  uint32_t word = 0;
  int saved = errno;
  bool ok = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, from, nullptr, 0) == -1 &&
            errno == EAGAIN;
  errno = saved;
  if (ok) *to = *from;
  return ok;
}

// userwritable: the caller's *ts may be written, as the kernel's copy-out would: the kernel's
// own clock_gettime (not the vDSO's, which would fault here) writes the clock there, which
// the caller then overwrites. errno is left as it was.
inline bool userwritable(timespec* ts) {
  int saved = errno;
  bool ok = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, ts) == 0;
  errno = saved;
  return ok;
}

// nanos: a valid ts in nanoseconds, INT64_MAX when it does not fit.
inline int64_t nanos(const timespec& ts) {
  constexpr int64_t maxsec = INT64_MAX / 1000000000 - 1;
  if (ts.tv_sec > maxsec) return INT64_MAX;
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// deadlinein: the nanotime ns from now; -1 (none) for ns < 0 or beyond the clock's range.
inline int64_t deadlinein(int64_t ns) {
  if (ns < 0) return -1;
  int64_t now = nanotime();
  return ns > INT64_MAX - now ? -1 : now + ns;
}

// validclock: a clock the pthread timed waits take (glibc's EINVAL otherwise).
inline bool validclock(clockid_t c) { return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC; }

// deadlineat: the nanotime at which the valid absolute time abs on clock comes (now if it
// has passed; -1 beyond the clock's range). A clock set later does not move it.
inline int64_t deadlineat(clockid_t clock, const timespec* abs) {
  timespec now;
  clock_gettime(clock, &now);
  int64_t left = nanos(*abs) - nanos(now);
  return deadlinein(left < 0 ? 0 : left);
}

// insyscall runs f() between entersyscall and exitsyscall when the caller is a goroutine:
// a call that blocks the M without holding up the P's other goroutines.
template <typename F>
auto insyscall(F f) {
  if (!hookable(false)) return f();
  entersyscall();
  auto r = f();
  int e = errno;  // same thread: the M does not change inside the call
  exitsyscall();
  seterrno(e);  // exitsyscall may have queued us and resumed us on another M
  return r;
}

// remadeunseen: call(), a wait in the kernel that ends in EINTR when its thread has a
// signal pending (sigsuspend, a ppoll or pselect with a mask, semop, sigtimedwait,
// epoll_wait), made again when it ended so with no handler of the program's having run on
// the thread. The runtime's causes, which the program must not see: its SIGURGs (sysmon's
// preemption request may land just as the thread enters the call, preempt.cc), and the task
// work of its rings, which io_uring flags to the thread that submitted an operation as a
// pending signal (TIF_NOTIFY_SIGNAL) when the operation completes: a semop on the M whose
// P's goroutine read a pipe ended in EINTR when the pipe was written (tests/apps/quietwaits.c).
// errno as it was before each try. On one thread: inside insyscall's call.
template <typename F>
auto remadeunseen(F call) {
  int saved = errno;
  for (;;) {
    uint32_t ran = gmp_handlersran;
    auto r = call();
    if (r != -1 || errno != EINTR || gmp_handlersran != ran) return r;
    errno = saved;
  }
}

// remadeuntil: remadeunseen for a wait with a relative timeout ts (null: none), call(left)
// made again with what is left of it; none left: a last call with a zero timeout, which
// says the time is up as the kernel's does.
template <typename F>
auto remadeuntil(const timespec* ts, F call) {
  // A bad one gets the kernel's own answer; one of 30 years or more, made again whole.
  if (!ts || ts->tv_sec < 0 || ts->tv_sec >= (int64_t(1) << 30) || ts->tv_nsec < 0 ||
      ts->tv_nsec >= 1000000000) {
    return remadeunseen([&] { return call(ts); });
  }
  const int64_t deadline = whenafter(nanotime(), ts->tv_sec * 1000000000 + ts->tv_nsec);
  timespec left = *ts;
  return remadeunseen([&] {
    auto r = call(&left);
    int64_t ns = deadline - nanotime();
    if (ns < 0) ns = 0;
    left = timespec{time_t(ns / 1000000000), long(ns % 1000000000)};
    return r;
  });
}

// parkready (poll.cc) parks until fd reports one of events (poll's bits), or until
// deadline (< 0: none). Returns 1 when fd may be ready (the caller looks again; also when a
// signal handler interrupted an intrRestart wait under SA_RESTART), 0 when the deadline
// passed first, -1 when the ring cannot wait for fd (the caller waits in the kernel
// instead), -2 when a signal handler interrupted the wait (the caller fails with EINTR). A
// goroutine that cannot park where it runs (hooks.h) waits in the kernel (insyscall) and
// gets 1.
int parkready(int fd, unsigned events, int64_t deadline, intrmode mode);

// fdcopied (io.cc): to, a new fd for the file fd names (dup, dup2, dup3, F_DUPFD; or -1),
// takes over what the hooks know of fd; returns to. Every caller.
int fdcopied(int fd, int to);
// fdmodechanges (io.cc): fd's blocking mode may change from now on (F_SETFL, FIONBIO,
// fdopen): the hooks ask the kernel about it again. fdmodesunknown: every fd's (a fork).
// Every caller.
void fdmodechanges(int fd);
void fdmodesunknown();

// threadmask: rt_sigprocmask on the calling OS thread itself, past the pthread_sigmask hook
// (which would set the goroutine's mask) and keeping errno.
inline void threadmask(int how, const sigset_t* set, sigset_t* old) {
  syscall(SYS_rt_sigprocmask, how, set, old, _NSIG / 8);
}

// forkregister (fork.cc): the runtime's fork handler is the first registered. Any thread.
void forkregister();
// The preload's own state in a forked child (fork.cc, after afterforkchild): locks a thread
// the child does not have may have held. The pthread takeover's files are not in every build
// (meson.build): weak.
void signalforkchild();
int signalrun(int sig);  // signal.cc: run the program's handler for sig here; its flags or -1
bool signalmain(int sig);  // signal.cc: goroutine 1 gets sig (pthread_kill of the main thread)
void pthreadforkchild() __attribute__((weak));
void pthreadsyncforkchild() __attribute__((weak));

// ringresult: a ring operation's result as libc returns it. Cancelled: close() took the fd
// away (the only other canceller of these operations), which a call made after the close
// would find as EBADF. A socket timeout (-ETIME, parkuntil) is the kernel's EAGAIN.
inline long ringresult(int32_t res) {
  if (res == -ECANCELED) res = -EBADF;
  if (res == -ETIME) res = -EAGAIN;
  if (res < 0) {
    seterrno(-res);
    return -1;
  }
  return res;
}

// Waits with a deadline (a nanotime; < 0: none). sqeuntil takes the SQE for an operation
// that gives up at deadline, with room for its linked timeout; parkuntil parks on it and
// returns the completion's result, or -ETIME when the deadline cancelled the operation (a
// cancel by close() before the deadline stays -ECANCELED; an operation in an io-wq worker,
// a blocking AF_UNIX connect, ends in -EINTR when cancelled). A signal handler ends a wait with
// a deadline in EINTR, SA_RESTART or not: the kernel does not restart a socket's timed wait
// (signal(7)). Nothing that could switch goroutines goes in between, as for netpollsqe and
// netpollwait.
inline io_uring_sqe* sqeuntil(int64_t deadline) { return netpollsqe(deadline >= 0 ? 2 : 1); }

inline int32_t parkuntil(io_uring_sqe* sqe, int64_t deadline, intrmode mode) {
  if (deadline < 0) return netpollwait(sqe, mode);
  int64_t left = deadline - nanotime();
  if (left < 0) left = 0;
  __kernel_timespec ts{left / 1000000000, left % 1000000000};
  sqe->flags |= IOSQE_IO_LINK;
  io_uring_prep_link_timeout(netpollsqe(), &ts, 0);  // ts is read at the submission
  int32_t res = netpollwait(sqe, mode == intrNever ? intrNever : intrAlways);
  return (res == -ECANCELED || res == -EINTR) && nanotime() >= deadline ? -ETIME : res;
}

}  // namespace gmp

// REAL(read) declares real_read, libc's read, looked up the first time this line runs (one
// relaxed load afterwards: libcfn); REALAS(var, type, name) the same for another name or type.
#define REALAS(var, type, name)                \
  static std::atomic<void*> var##_at{nullptr}; \
  const auto var = gmp::libcfn<type>(var##_at, name)
#define REAL(name) REALAS(real_##name, decltype(&::name), #name)
