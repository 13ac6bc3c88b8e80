// pthread.cc — the pthread shim's threads: pthread_create makes a goroutine with a TCB of its
// own (src/gthread.cc) and the calls that name a thread follow it there. A pthread_t that is
// not a gthread's (a real thread's: made before the runtime ran, with GMPDEBUG=takeover=0,
// or on request) goes to libc as before.
//
// What differs from glibc, by design (README, "Threads under the preload"):
//   - a PTHREAD_SCOPE_SYSTEM request (pthread_attr_setscope), a stack of the caller's own
//     (pthread_attr_setstack) or an explicit real-time policy gets a real thread;
//   - pthread_cancel of a gthread acts where the thread calls a cancellation point the
//     preload hooks, or, with an asynchronous type, where sysmon preempts it (within about
//     10 ms; src/gthread.cc, GT2);
//   - pthread_kill of another gthread runs a handler on the sender and then ends the
//     target's parked call, or, when the target waits in a call that holds its thread,
//     sends it to that thread; one the target blocks is pending for it alone
//     (src/sigpend.cc); of itself, to the M it runs on, before it returns;
//   - gettid() is the M's, and changes as the thread moves between Ms;
//   - a gthread's CPU set and scheduling policy are kept and read back, not applied.
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "hook.h"

using namespace gmp;

namespace {
// Attributes whose owner asked for PTHREAD_SCOPE_SYSTEM (glibc's default scope already, so
// only a call to pthread_attr_setscope tells it): a small set of addresses, under
// systemattrslock, cleared by pthread_attr_init and _destroy. Beyond systemAttrsMax such
// attributes at once, a request makes a goroutine-thread (README).
constexpr int systemAttrsMax = 64;
const pthread_attr_t* systemattrs[systemAttrsMax];
std::atomic<int> nsystemattrs{0};
std::atomic_flag systemattrslock = ATOMIC_FLAG_INIT;

struct attrguard {
  attrguard() {
    while (systemattrslock.test_and_set(std::memory_order_acquire)) sched_yield();
  }
  ~attrguard() { systemattrslock.clear(std::memory_order_release); }
};

}  // namespace

// A thread the forked child does not have may have held the lock (preload/fork.cc).
void gmp::pthreadforkchild() { systemattrslock.clear(std::memory_order_relaxed); }

namespace {
void marksystem(const pthread_attr_t* a, bool on) {
  attrguard g;
  int n = nsystemattrs.load(std::memory_order_relaxed);
  for (int i = 0; i < n; i++) {
    if (systemattrs[i] == a) {
      if (!on) {
        systemattrs[i] = systemattrs[n - 1];
        nsystemattrs.store(n - 1, std::memory_order_relaxed);
      }
      return;
    }
  }
  if (on && n < systemAttrsMax) {
    systemattrs[n] = a;
    nsystemattrs.store(n + 1, std::memory_order_relaxed);
  }
}

bool wantssystem(const pthread_attr_t* a) {
  if (nsystemattrs.load(std::memory_order_relaxed) == 0) return false;
  attrguard g;
  for (int i = 0; i < nsystemattrs.load(std::memory_order_relaxed); i++) {
    if (systemattrs[i] == a) return true;
  }
  return false;
}

// realthread: what in attr asks for a thread of the kernel's own.
bool realthread(const pthread_attr_t* a) {
  if (!a) return false;
  if (wantssystem(a)) return true;
  void* addr = nullptr;
  size_t size = 0;
  // glibc reports the stack's low end, address - size: -size when no address was set.
  if (pthread_attr_getstack(a, &addr, &size) == 0 && reinterpret_cast<uintptr_t>(addr) + size) {
    return true;
  }
  int inherit = PTHREAD_INHERIT_SCHED, policy = SCHED_OTHER;
  pthread_attr_getinheritsched(a, &inherit);
  pthread_attr_getschedpolicy(a, &policy);
  return inherit == PTHREAD_EXPLICIT_SCHED && policy != SCHED_OTHER;
}

size_t stacksizeof(const pthread_attr_t* a) {
  size_t size = 0;
  if (a) {
    pthread_attr_getstacksize(a, &size);
  } else {
    pthread_attr_t def;
    if (pthread_getattr_default_np(&def) == 0) {
      pthread_attr_getstacksize(&def, &size);
      pthread_attr_destroy(&def);
    }
  }
  if (size < size_t(PTHREAD_STACK_MIN)) size = PTHREAD_STACK_MIN;
  return size;
}

uintptr_t id(pthread_t t) { return static_cast<uintptr_t>(t); }

// realthreadstart: a real thread's function, the thread counted among the program's (TC1)
// until it returns or pthread_exit's unwinding passes here, and its destructors ran.
struct realstart {
  void* (*fn)(void*);
  void* arg;
};
void* realthreadstart(void* a) {
  realstart s = *static_cast<realstart*>(a);
  free(a);
  struct ending {
    ~ending() { realthreadend(); }
  } e;
  return s.fn(s.arg);
}
}  // namespace

GMP_HOOK int pthread_attr_setscope(pthread_attr_t* a, int scope) {
  REAL(pthread_attr_setscope);
  int r = real_pthread_attr_setscope(a, scope);
  if (r == 0) marksystem(a, scope == PTHREAD_SCOPE_SYSTEM);
  return r;
}

GMP_HOOK int pthread_attr_init(pthread_attr_t* a) {
  REAL(pthread_attr_init);
  if (nsystemattrs.load(std::memory_order_relaxed)) marksystem(a, false);
  return real_pthread_attr_init(a);
}

GMP_HOOK int pthread_attr_destroy(pthread_attr_t* a) {
  REAL(pthread_attr_destroy);
  if (nsystemattrs.load(std::memory_order_relaxed)) marksystem(a, false);
  return real_pthread_attr_destroy(a);
}

GMP_HOOK int pthread_create(pthread_t* th, const pthread_attr_t* a, void* (*fn)(void*),
                            void* arg) {
  REAL(pthread_create);
  if (!realthread(a)) {
    int detach = PTHREAD_CREATE_JOINABLE;
    if (a) pthread_attr_getdetachstate(a, &detach);
    uintptr_t t = 0;
    int r = gthreadcreate(&t, fn, arg, stacksizeof(a), detach == PTHREAD_CREATE_DETACHED,
                          reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
    if (r >= 0) {
      if (r == 0) *th = static_cast<pthread_t>(t);
      return r;
    }
  }
  auto* s = static_cast<realstart*>(malloc(sizeof(realstart)));
  if (!s) return EAGAIN;
  *s = realstart{fn, arg};
  threadadd();  // TC1: before it can end
  int r = real_pthread_create(th, a, realthreadstart, s);
  if (r != 0) {
    threadundo();
    free(s);
  }
  return r;
}

GMP_HOOK int pthread_join(pthread_t th, void** ret) {
  REAL(pthread_join);
  testcancel();
  if (gthread* t = gthreadof(id(th))) return gthreadjoin(t, ret, -1);
  // Goroutine 1 runs on its M's TCB, which may be a detached pthread's (EINVAL from glibc):
  // the main thread joining itself is EDEADLK wherever it runs.
  if (pthread_equal(th, pthread_self())) return EDEADLK;
  // The main thread, which a pthread_exit in main ends while M0 runs on (threadexit.cc).
  if (int r = mainjoin(id(th), ret, -1); r >= 0) return r;
  return real_pthread_join(th, ret);
}

GMP_HOOK int pthread_tryjoin_np(pthread_t th, void** ret) {
  REAL(pthread_tryjoin_np);
  if (gthread* t = gthreadof(id(th))) return gthreadjoin(t, ret, 0);
  if (int r = mainjoin(id(th), ret, 0); r >= 0) return r;
  return real_pthread_tryjoin_np(th, ret);
}

GMP_HOOK int pthread_clockjoin_np(pthread_t th, void** ret, clockid_t clock, const timespec* abs) {
  REAL(pthread_clockjoin_np);
  gthread* t = gthreadof(id(th));
  if (!t && !ismainthread(id(th))) return real_pthread_clockjoin_np(th, ret, clock, abs);
  testcancel();
  if (abs && (!validclock(clock) || !validts(abs))) return EINVAL;
  int64_t deadline = abs ? deadlineat(clock, abs) : -1;
  return t ? gthreadjoin(t, ret, deadline) : mainjoin(id(th), ret, deadline);
}

GMP_HOOK int pthread_timedjoin_np(pthread_t th, void** ret, const timespec* abs) {
  return pthread_clockjoin_np(th, ret, CLOCK_REALTIME, abs);
}

GMP_HOOK int pthread_detach(pthread_t th) {
  REAL(pthread_detach);
  if (gthread* t = gthreadof(id(th))) return gthreaddetach(t);
  return real_pthread_detach(th);
}

GMP_HOOK [[noreturn]] void pthread_exit(void* ret) {
  REAL(pthread_exit);
  threadexit(ret);  // returns on a thread that is not a goroutine
  real_pthread_exit(ret);
  __builtin_unreachable();
}

// pthread_cleanup_push and _pop in C without -fexceptions (glibc's macros; pthread.h declares
// these only for such code). The _defer and _restore forms also switch glibc's cancel type,
// which a gthread's cancellation does not read (it is deferred whatever the type).
extern "C" {
void __pthread_register_cancel(__pthread_unwind_buf_t*);
void __pthread_unregister_cancel(__pthread_unwind_buf_t*);
void __pthread_register_cancel_defer(__pthread_unwind_buf_t*);
void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t*);
[[noreturn]] void __pthread_unwind_next(__pthread_unwind_buf_t*);
}

GMP_HOOK void __pthread_register_cancel(__pthread_unwind_buf_t* buf) {
  REAL(__pthread_register_cancel);
  if (!cleanuppush(buf)) real___pthread_register_cancel(buf);
}

GMP_HOOK void __pthread_unregister_cancel(__pthread_unwind_buf_t* buf) {
  REAL(__pthread_unregister_cancel);
  if (!cleanuppop(buf)) real___pthread_unregister_cancel(buf);
}

GMP_HOOK void __pthread_register_cancel_defer(__pthread_unwind_buf_t* buf) {
  REAL(__pthread_register_cancel_defer);
  if (!cleanuppush(buf)) real___pthread_register_cancel_defer(buf);
}

GMP_HOOK void __pthread_unregister_cancel_restore(__pthread_unwind_buf_t* buf) {
  REAL(__pthread_unregister_cancel_restore);
  if (!cleanuppop(buf)) real___pthread_unregister_cancel_restore(buf);
}

GMP_HOOK [[noreturn]] void __pthread_unwind_next(__pthread_unwind_buf_t* buf) {
  REAL(__pthread_unwind_next);
  cleanupnext(buf);
  real___pthread_unwind_next(buf);
  __builtin_unreachable();
}

GMP_HOOK int pthread_getattr_np(pthread_t th, pthread_attr_t* a) {
  REAL(pthread_getattr_np);
  gthread* t = gthreadof(id(th));
  uintptr_t lo = 0;
  size_t size = 0;
  if (!t) {
    // The main thread: glibc's attributes, but main runs on goroutine 1's stack, not on the
    // process's first one (a collector that scans main's stack from the bottom glibc gave,
    // Boehm GC's GC_init, scanned unmapped memory between the two and died).
    int r = real_pthread_getattr_np(th, a);
    if (r == 0 && mainthreadstack(id(th), &lo, &size)) {
      pthread_attr_setstack(a, reinterpret_cast<void*>(lo), size);
    }
    return r;
  }
  int r = pthread_attr_init(a);
  if (r != 0) return r;
  if (gthreadstack(t, &lo, &size)) {
    pthread_attr_setstack(a, reinterpret_cast<void*>(lo), size);
  }
  pthread_attr_setguardsize(a, size_t(sysconf(_SC_PAGESIZE)));
  if (gthreaddetached(t)) pthread_attr_setdetachstate(a, PTHREAD_CREATE_DETACHED);
  return 0;
}

GMP_HOOK int pthread_setname_np(pthread_t th, const char* name) {
  REAL(pthread_setname_np);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_setname_np(th, name);
  size_t n = strlen(name);
  if (n > 15) return ERANGE;
  memcpy(gthreadname(t), name, n + 1);
  return 0;
}

GMP_HOOK int pthread_getname_np(pthread_t th, char* buf, size_t len) {
  REAL(pthread_getname_np);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_getname_np(th, buf, len);
  const char* name = gthreadname(t);
  if (!*name) name = program_invocation_short_name;  // what a new thread inherits
  size_t n = strnlen(name, 15);
  if (len < n + 1) return ERANGE;
  memcpy(buf, name, n);
  buf[n] = 0;
  return 0;
}

// A gthread's CPU set and scheduling policy are its own, kept and not applied (src/gthread.cc,
// GT3): glibc's calls would ask the kernel about its TCB's tid, which no OS thread has
// (ESRCH).
GMP_HOOK int pthread_setaffinity_np(pthread_t th, size_t size, const cpu_set_t* set) {
  REAL(pthread_setaffinity_np);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_setaffinity_np(th, size, set);
  return gthreadaffinity(t, size, const_cast<cpu_set_t*>(set), false);
}

GMP_HOOK int pthread_getaffinity_np(pthread_t th, size_t size, cpu_set_t* set) {
  REAL(pthread_getaffinity_np);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_getaffinity_np(th, size, set);
  return gthreadaffinity(t, size, set, true);
}

GMP_HOOK int pthread_getschedparam(pthread_t th, int* policy, sched_param* param) {
  REAL(pthread_getschedparam);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_getschedparam(th, policy, param);
  return gthreadsched(t, policy, &param->sched_priority, schedRead);
}

GMP_HOOK int pthread_setschedparam(pthread_t th, int policy, const sched_param* param) {
  REAL(pthread_setschedparam);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_setschedparam(th, policy, param);
  int priority = param->sched_priority;
  return gthreadsched(t, &policy, &priority, schedPolicy);
}

GMP_HOOK int pthread_setschedprio(pthread_t th, int priority) {
  REAL(pthread_setschedprio);
  gthread* t = gthreadof(id(th));
  if (!t) return real_pthread_setschedprio(th, priority);
  int policy = 0;
  return gthreadsched(t, &policy, &priority, schedPriority);
}

// prctl's PR_SET_NAME and PR_GET_NAME name the calling thread: a gthread's name is its own
// (pthread_setname_np's), not that of the M it runs on.
GMP_HOOK int prctl(int option, ...) {
  REAL(prctl);
  va_list ap;
  va_start(ap, option);
  unsigned long a[4];
  for (auto& x : a) x = va_arg(ap, unsigned long);
  va_end(ap);
  gthread* t = gthreadself();
  if (t && (option == PR_SET_NAME || option == PR_GET_NAME)) {
    char* name = gthreadname(t);
    auto* user = reinterpret_cast<char*>(a[0]);
    if (option == PR_SET_NAME) {
      strncpy(name, user, 15);  // the kernel's comm: 15 bytes and a zero
      name[15] = 0;
    } else {
      const char* shown = *name ? name : program_invocation_short_name;
      strncpy(user, shown, 15);
      user[15] = 0;
    }
    return 0;
  }
  return real_prctl(option, a[0], a[1], a[2], a[3]);
}

GMP_HOOK int sched_yield() {
  REAL(sched_yield);
  if (gyield()) return 0;
  return real_sched_yield();
}

GMP_HOOK int pthread_cancel(pthread_t th) {
  REAL(pthread_cancel);
  // glibc would signal the OS thread main started on, and unwind whatever goroutine runs
  // there.
  if (ismainthread(id(th))) return ENOTSUP;
  if (gthread* t = gthreadof(id(th))) return gthreadcancel(t);
  return real_pthread_cancel(th);
}

// A gthread's cancellation state and type are its own (src/gthread.cc, GT2); another
// caller's are glibc's, on its TCB.
GMP_HOOK int pthread_setcancelstate(int state, int* old) {
  REAL(pthread_setcancelstate);
  if (!gthreadself()) return real_pthread_setcancelstate(state, old);
  if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
  return gthreadcancelmode(true, state == PTHREAD_CANCEL_DISABLE, old);
}

GMP_HOOK int pthread_setcanceltype(int type, int* old) {
  REAL(pthread_setcanceltype);
  if (!gthreadself()) return real_pthread_setcanceltype(type, old);
  if (type != PTHREAD_CANCEL_DEFERRED && type != PTHREAD_CANCEL_ASYNCHRONOUS) return EINVAL;
  return gthreadcancelmode(false, type == PTHREAD_CANCEL_ASYNCHRONOUS, old);
}

GMP_HOOK void pthread_testcancel() {
  REAL(pthread_testcancel);
  if (!gthreadself()) return real_pthread_testcancel();
  testcancel();
}

GMP_HOOK int pthread_kill(pthread_t th, int sig) {
  REAL(pthread_kill);
  gthread* t = gthreadof(id(th));
  if (!t && ismainthread(id(th)) && (sigpendmain(sig) || signalmain(sig))) return 0;
  if (!t) return real_pthread_kill(th, sig);
  if (sig < 0 || sig >= NSIG) return EINVAL;
  if (sig == 0) return 0;
  long r;
  if (t == gthreadself()) {
    r = syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
    if (r == 0) sigraised(sig);  // blocked: pending on this thread until it leaves it
  } else if (int held = gthreadsyscalltid(t, sig)) {
    // In a call that holds its thread: the kernel there ends it (EINTR, or a restart under
    // SA_RESTART) and runs the handler on t, as on t's own thread, or its sigwait takes
    // it. Racy: t may have left the call by the time it lands, and the handler then runs
    // on whatever that thread runs, as goroutine 1's (sigintr.cc, sigdefer).
    r = syscall(SYS_tgkill, getpid(), held, sig);
  } else if (gthreadblocks(t, sig) && gthreadpend(t, sig)) {
    return 0;  // pending for t alone, as for a thread (src/sigpend.cc)
  } else if (int flags = signalrun(sig); flags >= 0) {
    gthreadinterrupt(t, (flags & SA_RESTART) != 0);  // after the handler ran, as a thread's
    return 0;
  } else {
    r = kill(getpid(), sig);  // no handler: the default action
  }
  return r == 0 ? 0 : errno;
}

GMP_HOOK int pthread_key_create(pthread_key_t* key, void (*dtor)(void*)) {
  REAL(pthread_key_create);
  int r = real_pthread_key_create(key, dtor);
  if (r == 0) gthreadkey(*key, true, dtor);
  return r;
}

GMP_HOOK int pthread_key_delete(pthread_key_t key) {
  REAL(pthread_key_delete);
  int r = real_pthread_key_delete(key);
  if (r == 0) gthreadkey(key, false, nullptr);
  return r;
}

GMP_HOOK void* pthread_getspecific(pthread_key_t key) {
  REAL(pthread_getspecific);
  if (gthread* t = gthreadself()) return key < PTHREAD_KEYS_MAX ? gthreadgetspecific(t, key) : nullptr;
  return real_pthread_getspecific(key);
}

GMP_HOOK int pthread_setspecific(pthread_key_t key, const void* v) {
  REAL(pthread_setspecific);
  if (gthread* t = gthreadself()) return key < PTHREAD_KEYS_MAX ? gthreadsetspecific(t, key, v) : EINVAL;
  return real_pthread_setspecific(key, v);
}
