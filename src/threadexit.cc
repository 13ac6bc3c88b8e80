// threadexit.cc — how the program's threads end under the runtime (issue 6): pthread_exit on
// any goroutine, the C handlers of pthread_cleanup_push, the main thread's own pthread_exit,
// and the count of the program's threads, whose last end exits the process (POSIX: "as if
// exit() were called with 0"; glibc's __nptl_nthreads).
//
// pthread_exit on a goroutine unwinds its stack by force (_Unwind_ForcedUnwind, as glibc's
// __pthread_unwind): C++ destructors run, catch (...) blocks that rethrow run, and C
// handlers run in turn. The unwinding stops at the goroutine's exit point: for a gthread
// and for goroutine 1, the frame that called the thread's function (callexiting's setjmp),
// where the thread then ends as after a return; for a goroutine of gmp_go's, the end of its
// stack (gostart's CFI ends the unwind information), where it ends as Go's Goexit ends one.
//
// C handlers. In C built without -fexceptions, pthread_cleanup_push setjmps into a buffer in
// its caller's frame and registers it (__pthread_register_cancel); pthread_cleanup_pop
// unregisters it. (C++ and C with -fexceptions use a destructor or a cleanup attribute,
// which the unwinding runs by itself.) glibc keeps the chain in the TCB; a goroutine's is
// its own (g.cleanup), since a goroutine moves between Ms and shares an M's TCB with others.
// The unwinding's stop function jumps into the innermost buffer when the frame that holds it
// is next (its address below that frame's CFA, as glibc's unwind_stop compares the saved
// stack pointer); the macro then runs the handler and calls __pthread_unwind_next, which
// unlinks the buffer and starts the unwinding again from there.
//
// The main thread. pthread_exit in main ends goroutine 1 as glibc ends the main thread: its
// handlers and destructors, then its pthread key destructors.
// The process goes on while other threads live (gthreads and real threads the preload
// made) and exits with 0 when the last of them ends; pthread_join of the main thread
// returns its value.
//
// Invariants:
//   TC1: nthreads counts the program's threads alive: 1 for the main thread from the start
//        (until its pthread_exit), +1 for each gthread (gthreadcreate, before it can run)
//        and each real thread (the preload's pthread_create, before it can run), -1 at each
//        one's end, after its destructors. Whoever takes it to 0 calls exit(0). A forked
//        child starts again at 1: the thread that forked (threadsforkchild).
//   TC2: g.cleanup and g.exiting are written by their goroutine only (push, pop, the
//        unwinding); goexit0 clears them for the record's next goroutine.
//   TC3: mainthread is goroutine 1 while it runs main: written by goroutine 1 (set on
//        entry, cleared when main's thread ends) and by a forked child's one thread; read
//        by goroutine 1's own pthread_exit (a goroutine compares it with itself).
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <unwind.h>

#include <cstdlib>
#include <cstring>

#include "hooks.h"
#include "runtime.h"

namespace gmp {

namespace {
std::atomic<int64_t> nthreads{1};  // TC1

std::atomic<g*> mainthread{nullptr};     // TC3 (relaxed: a goroutine compares it with itself)
exitpoint mainexit;                      // goroutine 1's own
void* mainretval;                        // written by goroutine 1 before maindone's release
std::atomic<uint32_t> maindone{0};       // semaphore: released once main's thread has ended
std::atomic<pthread_t> mainid{0};        // main's pthread_self(), set when main starts

// The prefix of glibc's struct pthread_unwind_buf that we use: the jump buffer the macro
// setjmps into, then the link to the next outer buffer (priv.data.prev, in __pad[0]).
__pthread_unwind_buf_t*& prevof(__pthread_unwind_buf_t* b) {
  return *reinterpret_cast<__pthread_unwind_buf_t**>(&b->__pad[0]);
}

[[noreturn]] void exitend(exitpoint* ep) {
  if (ep->rootframe) longjmp(ep->buf, 1);
  getg()->exiting = nullptr;
  free(ep);  // a gmp_go goroutine's (exitpointof): nothing reads it any more
  gmp_goexit1();
}

// exitnext: the unwinding reached the frame whose CFA is cfa (UINTPTR_MAX: the end of the
// unwind information): jump into the innermost C handler's buffer if that frame holds it,
// or leave at the exit point if the frame is the thread's root or beyond.
void exitnext(exitpoint* ep, uintptr_t cfa) {
  if (auto* b = static_cast<__pthread_unwind_buf_t*>(getg()->cleanup)) {
    if (reinterpret_cast<uintptr_t>(b) < cfa) {
      longjmp(reinterpret_cast<__jmp_buf_tag*>(b->__cancel_jmp_buf), 1);  // TC2
    }
  }
  if (cfa == UINTPTR_MAX || (ep->rootframe && cfa > ep->rootframe)) exitend(ep);
}

// exitstop: the forced unwinding's stop function, called for each frame before its
// cleanups run (and once more at the end of the unwind information).
_Unwind_Reason_Code exitstop(int, _Unwind_Action actions, _Unwind_Exception_Class,
                             _Unwind_Exception*, _Unwind_Context* ctx, void* arg) {
  exitnext(static_cast<exitpoint*>(arg),
           (actions & _UA_END_OF_STACK) ? UINTPTR_MAX : _Unwind_GetCFA(ctx));
  return _URC_NO_REASON;
}

// exitcleanup: a catch (...) ended the unwinding without rethrowing it (glibc aborts with
// "FATAL: exception not rethrown").
void exitcleanup(_Unwind_Reason_Code, _Unwind_Exception*) {
  fatal("pthread_exit: the thread's unwinding was caught and not rethrown");
}

// unwind: force the unwinding of the calling goroutine's stack down to ep.
[[noreturn]] void unwind(exitpoint* ep) {
  memset(&ep->unwind, 0, sizeof ep->unwind);
  memcpy(&ep->unwind.exception_class, "GMP\0EXIT", 8);
  ep->unwind.exception_cleanup = exitcleanup;
  _Unwind_ForcedUnwind(&ep->unwind, exitstop, ep);
  // No unwind information on the way: the C handlers left, then the exit point.
  exitnext(ep, UINTPTR_MAX);
  __builtin_unreachable();
}

// exitpointof: where the calling goroutine's unwinding stops, its value kept for its joiner.
exitpoint* exitpointof(void* ret) {
  if (exitpoint* ep = gthreadexitpoint(ret)) return ep;
  if (exitpoint* ep = getg()->exiting) return ep;  // a handler's own pthread_exit
  if (getg() == mainthread.load(std::memory_order_relaxed)) {
    mainretval = ret;
    return &mainexit;
  }
  // A goroutine of gmp_go's: its exit point lives until it ends (exitend frees it).
  auto* ep = static_cast<exitpoint*>(calloc(1, sizeof(exitpoint)));
  if (!ep) fatal("pthread_exit: out of memory");
  return ep;
}

}  // namespace

void calltlsdtors() {
  using tlsdtors_t = void (*)();
  static const auto call_tls_dtors =
      reinterpret_cast<tlsdtors_t>(dlvsym(RTLD_DEFAULT, "__call_tls_dtors", "GLIBC_PRIVATE"));
  if (call_tls_dtors) call_tls_dtors();
}

bool callexiting(exitpoint* ep, void (*fn)(void*), void* arg) {
  ep->rootframe = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (setjmp(ep->buf) != 0) return false;
  fn(arg);
  return true;
}

void threadadd() { nthreads.fetch_add(1, std::memory_order_relaxed); }
void threadundo() { nthreads.fetch_sub(1, std::memory_order_relaxed); }

void threaddone() {
  if (nthreads.fetch_sub(1, std::memory_order_acq_rel) == 1) exit(0);  // TC1
}

void realthreadend() {
  calltlsdtors();
  glibckeydtors();
  threaddone();
}

void threadsforkchild() {
  nthreads.store(1, std::memory_order_relaxed);
  if (mainthread.load(std::memory_order_relaxed) != getg()) {
    mainthread.store(nullptr, std::memory_order_relaxed);  // a ghost: no main thread here
  }
}

void mainthreadrun(int (*fn)(int, char**, char**), int argc, char** argv, char** envp) {
  mainthread.store(getg(), std::memory_order_relaxed);
  mainid.store(pthread_self(), std::memory_order_relaxed);
  struct call {
    int (*fn)(int, char**, char**);
    int argc;
    char** argv;
    char** envp;
  } c{fn, argc, argv, envp};
  callexiting(&mainexit, [](void* a) {
    auto* c = static_cast<call*>(a);
    exit(c->fn(c->argc, c->argv, c->envp));  // in the frame mainexit.buf names
  }, &c);
  // pthread_exit in main: the main thread ends, the process may not. As glibc's
  // __libc_start_call_main: its key destructors, not its thread_local ones (exit runs
  // those of the thread that calls it). Not where goroutine 1 shares its M's TLS (no
  // FSGSBASE: gthread.cc), whose values are the M's other goroutines' too.
  sigintrmain(nullptr);
  if (getg()->fsbase) glibckeydtors();
  mainthread.store(nullptr, std::memory_order_relaxed);
  semrelease(&maindone);
  threaddone();
  gmp_goexit1();
}

bool ismainthread(uintptr_t id) {
  pthread_t main = mainid.load(std::memory_order_relaxed);
  return main && pthread_equal(pthread_t(id), main);
}

bool mainthreadstack(uintptr_t id, uintptr_t* lo, size_t* size) {
  g* gp = ismainthread(id) ? mainthread.load(std::memory_order_relaxed) : nullptr;
  if (!gp || !gp->stk.lo) return false;  // goroutine 1's stack is constant while it runs
  *lo = gp->stk.lo;
  *size = gp->stk.hi - gp->stk.lo;
  return true;
}

int mainjoin(uintptr_t id, void** ret, int64_t deadline) {
  if (!ismainthread(id)) return -1;
  if (g* gp = getg(); gp && gp == mainthread.load(std::memory_order_relaxed)) return EDEADLK;
  int r = semacquirejoin(&maindone, deadline);
  if (r == EINTR) cancelnow();  // its joiner cancelled (SI7)
  if (r != 0) return deadline == 0 ? EBUSY : ETIMEDOUT;
  if (ret) *ret = mainretval;
  return 0;
}

void threadexit(void* ret) {
  g* gp = getg();
  if (!gp || gp == gp->m_->g0) return;  // not a goroutine: glibc's pthread_exit
  gp->exiting = exitpointof(ret);  // for __pthread_unwind_next (cleanupnext)
  unwind(gp->exiting);
}

bool cleanuppush(void* buf) {
  g* gp = getg();
  if (!gp || gp == gp->m_->g0) return false;  // not a goroutine: glibc's chain
  auto* b = static_cast<__pthread_unwind_buf_t*>(buf);
  prevof(b) = static_cast<__pthread_unwind_buf_t*>(gp->cleanup);
  gp->cleanup = b;  // TC2
  return true;
}

bool cleanuppop(void* buf) {
  g* gp = getg();
  if (!gp || gp == gp->m_->g0) return false;
  gp->cleanup = prevof(static_cast<__pthread_unwind_buf_t*>(buf));  // TC2
  return true;
}

bool cleanupnext(void* buf) {
  g* gp = getg();
  if (!gp || gp == gp->m_->g0) return false;
  if (!gp->exiting) fatal("__pthread_unwind_next: no pthread_exit under way");
  gp->cleanup = prevof(static_cast<__pthread_unwind_buf_t*>(buf));  // TC2: its handler ran
  unwind(gp->exiting);
}

}  // namespace gmp
