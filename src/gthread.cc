// gthread.cc — threads that are goroutines: what the preload's pthread_create makes (issue 6,
// DESIGN.md "Thread-local state and goroutines").
//
// A gthread is a goroutine with a TCB of its own (tls.cc's tcballoc: every module's TLS, a
// struct pthread glibc accepts), which the switch paths load into %fs (g->fsbase; asm/amd64
// gogo, mcall, switchto: wrfsbase, or arch_prctl where the CPU hides FSGSBASE). So
// thread_local, errno, malloc's tcache, stdio's lock owners and pthread_self() are the
// thread's, on whichever M it runs. The pthread_t is the TCB's address, as glibc's is, and
// the TCB finds its gthread through a TLS variable of ours (gmp_tls_thread), which any
// thread reads at the TCB's static offset.
//
// The TCB's tid is a number of our own above any pid (tidbase + n): glibc's recursive locks
// (ld.so's) compare owners by tid, so each thread needs a distinct one; the real tid is the
// M's and changes as the goroutine moves. glibc's raise() on itself asks the kernel (gettid).
// Priority-inheritance mutexes (glibc's) cannot work on a gthread: the kernel looks the
// owner's tid up (README).
//
// Life and death (GT1): joinstate goes joinable -> detached (pthread_detach) or joinable ->
// exited (the thread ended first), each by one CAS; whoever loses the race to the other
// state frees the thread: exit of a detached thread frees it at once (gthreadexited, on g0
// once %fs is the M's), detach or join of an exited one after reading it. A joiner waits on
// done, which the exit releases once.
//
// Cancellation (GT2), deferred: pthread_cancel sets cancelPending in t.cancel (seq_cst) and,
// unless t disabled it, ends t's interruptible park (sigintr.cc, SI7); t acts on it at its
// next cancellation point (testcancel in the hooks, or an armed park that sees it, SI7;
// not inside a handler of the program's): it unwinds as pthread_exit(PTHREAD_CANCELED)
// does. An asynchronous type also marks its goroutine (g.asynccancel): sysmon preempts it
// where it computes in the program's own code, and it acts there, unwinding through the
// preemption's signal frame (preempt.cc). From a thread's end on (a return, pthread_exit,
// a cancellation: gthreadexiting) cancellation is off for good (cancelActing: its
// handlers' and destructors' cancellation points go on). Writers of t.cancel: any thread
// sets cancelPending (seq_cst RMW, gthreadcancel); t alone sets and clears cancelDisabled,
// cancelAsync (seq_cst RMWs: pthread_setcancelstate and _setcanceltype) and cancelActing,
// and reads its own bits relaxed. A goroutine is unwound only where it calls in or where
// sysmon preempts it (README).
//
// Kernel attributes (GT3). A gthread runs on whichever M is free, so the CPU affinity and
// scheduling policy the program gives it (pthread_setaffinity_np, pthread_setschedparam,
// pthread_setschedprio) are checked as the kernel checks them, kept and read back, and not
// applied to any OS thread (README); a real-time policy is refused with EPERM, as for a
// thread without the privilege. Any thread sets or reads them, under t's attrlock.
//
// At the end, on the thread's own TCB, as glibc's start_thread: C++ thread_local destructors
// (__call_tls_dtors), pthread key destructors (up to PTHREAD_DESTRUCTOR_ITERATIONS rounds),
// then malloc's thread cache goes back to the arenas (tcacheshutdown: glibc 2.36 exports no
// __libc_thread_freeres, and a million threads' caches would otherwise leak).
#include <asm/prctl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <unwind.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "annotate.h"
#include "hooks.h"
#include "runtime.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

namespace gmp {

namespace {
constexpr unsigned keysmax = PTHREAD_KEYS_MAX;
constexpr unsigned keysinline = 32;  // slots in the gthread itself; the rest on demand
// gthread tids: above pid_max (4194304 at most) and below FUTEX_OWNER_DIED (1 << 30), so a
// glibc robust mutex held by a gthread reads as held by a live owner.
constexpr uint32_t tidbase = 1 << 22, tidspan = (1u << 30) - tidbase;

enum : uint32_t { joinable = 0, detached = 1, exited = 2 };
enum : uint32_t { cancelPending = 1, cancelDisabled = 2, cancelAsync = 4, cancelActing = 8 };

// A key's value in one thread is valid while its seq is the key's current one: a deleted
// and re-created key reads null in every thread, as POSIX asks.
struct keyslot {
  uint64_t seq;
  void* v;
};
struct keyinfo {
  std::atomic<uint64_t> seq{0};  // bumped by create and delete (the key's hooks)
  std::atomic<void (*)(void*)> dtor{nullptr};
};
keyinfo keys[keysmax];
}  // namespace

struct gthread {
  void* (*fn)(void*);
  void (*gofn)(void*);  // instead of fn: a goroutine of gmp_go_with's (gotls); fn, gofn and
                        // arg are constant once newproc publishes the thread
  void* arg;
  void* retval;                      // written by the thread, read after done (join)
  uintptr_t tcb;                     // constant
  int tid;                           // the TCB's tid (constant; gthreadforkchild)
  g* gp;  // the thread sets it first thing (release); others load it with acquire (kill,
          // getattr_np): null until then, and the record may be reused once it ended
  std::atomic<uint32_t> joinstate;   // GT1
  std::atomic<uint32_t> done{0};     // semaphore: released once at exit
  std::atomic<uint32_t> cancel{0};   // GT2
  // GT3: the kernel attributes the program gave the thread, kept and read back.
  rtmutex attrlock;
  bool hasaffinity;
  cpu_set_t affinity;
  int policy;    // SCHED_OTHER (0) until set
  int priority;
  char name[16];                     // pthread_setname_np; the thread's or anyone's
  exitpoint ep;                      // pthread_exit's way out (the thread's own)
  keyslot keys1[keysinline];         // the thread's own
  keyslot* keys2;                    // keysmax - keysinline more, allocated by the thread
};

// The gthread of the TCB we run on (null on Ms and real threads: zero in the TLS image).
extern "C" {
__thread gthread* gmp_tls_thread __attribute__((tls_model("initial-exec"))) = nullptr;
}

namespace {
std::atomic<uint32_t> ntids{0};
ptrdiff_t tcacheoff;  // malloc's tcache slot from the thread pointer (0: unknown)
std::atomic<int> tcachestate{0};  // 0 not probed, 1 probing, 2 done

// tlsoffset: where the initial-exec variable v of the running thread lies in every TCB.
template <typename T> ptrdiff_t tlsoffset(T* v) {
  return reinterpret_cast<intptr_t>(v) - intptr_t(threadpointer());
}
template <typename T> T& tlsat(uintptr_t tcb, ptrdiff_t off) {
  return *reinterpret_cast<T*>(tcb + off);
}

}  // namespace

// gmp_fsgsbase: the CPU lets us write %fs's base (FSGSBASE): the switch paths use wrfsbase,
// else arch_prctl (asm/amd64/setfsbase.inc). Written once on M0 by owntcbs, before any
// goroutine has a TCB of its own; read by every switch of one.
extern "C" {
uint8_t gmp_fsgsbase;
}

namespace {
void setfsbase(uintptr_t v) {
  if (gmp_fsgsbase) {
    asm volatile("wrfsbase %0" ::"r"(v) : "memory");
  } else {
    rawsyscall(SYS_arch_prctl, ARCH_SET_FS, long(v));
  }
}


// glibc 2.36 malloc's per-thread cache: counts[64] then entries[64]; an entry's next
// pointer is mangled with its own address (safe-linking), and key marks it cached.
struct tcacheentry {
  uintptr_t next;
  uintptr_t key;
};
constexpr int tcacheBins = 64;
struct tcachestruct {
  uint16_t counts[tcacheBins];
  tcacheentry* entries[tcacheBins];
};

// tcacheshutdown: glibc's tcache_thread_shutdown for the TCB we run on: give every cached
// chunk back to its arena, then the cache itself. glibc's free makes a new cache for a
// thread that has none (its tcache_shutting_down flag is not ours to set), so while we
// free, the slot holds full: every bin full, so each free goes to the arena. Then the slot
// is left empty: nothing runs on this TCB any more but the switch to g0.
const tcachestruct full = [] {
  tcachestruct t{};
  for (auto& c : t.counts) c = UINT16_MAX;
  return t;
}();

void tcacheshutdown() {
  if (!tcacheoff) return;
  auto& slot = tlsat<tcachestruct*>(threadpointer(), tcacheoff);
  tcachestruct* tc = slot;
  if (!tc) return;
  slot = const_cast<tcachestruct*>(&full);
  for (auto* e : tc->entries) {
    while (e) {
      auto next = reinterpret_cast<tcacheentry*>((reinterpret_cast<uintptr_t>(e) >> 12) ^ e->next);
      e->key = 0;
      free(e);
      if (reinterpret_cast<uintptr_t>(next) & 15) break;  // not a chunk: stop, leak the rest
      e = next;
    }
  }
  free(tc);
  slot = nullptr;
}

// tcacheprobe finds malloc's tcache slot once: on a fresh TCB (borrowed by this thread for
// a malloc and a free, signals blocked), the word that changed to point at a cache whose
// first bin holds the chunk just freed. Not found (another malloc, tcache tuned off):
// tcacheoff stays 0 and threads end without the shutdown.
void tcacheprobe() {
  int st = 0;
  if (!tcachestate.compare_exchange_strong(st, 1)) {
    while (tcachestate.load() != 2) sched_yield();
    return;
  }
  size_t size = 0, align = 0;
  using tlsinfo_t = void (*)(size_t*, size_t*);
  auto info = reinterpret_cast<tlsinfo_t>(dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info",
                                                 "GLIBC_PRIVATE"));
  void* v = info ? tcballoc() : nullptr;
  if (v) {
    info(&size, &align);
    auto tcb = reinterpret_cast<uintptr_t>(v);
    size_t words = size / 8;
    auto* before = static_cast<uintptr_t*>(malloc(size));
    if (before) {
      auto* area = reinterpret_cast<uintptr_t*>(tcb - words * 8);
      memcpy(before, area, words * 8);
      sigset_t all, old;
      sigfillset(&all);
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
      uintptr_t mine = threadpointer();
      setfsbase(tcb);
      void* q = malloc(24);
      auto qa = reinterpret_cast<uintptr_t>(q);
      free(q);
      setfsbase(mine);
      for (size_t i = 0; i < words; i++) {
        uintptr_t w = area[i];
        if (w == before[i] || (w & 15) || w + (1 << 16) < qa || w > qa + (1 << 16)) continue;
        auto* tc = reinterpret_cast<tcachestruct*>(w);
        if (tc->counts[0] == 1 && reinterpret_cast<uintptr_t>(tc->entries[0]) == qa) {
          tcacheoff = ptrdiff_t(i * 8) - ptrdiff_t(words * 8);
          break;
        }
      }
      setfsbase(tcb);
      tcacheshutdown();
      setfsbase(mine);
      syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, nullptr, 8);
      free(before);
    }
    tcbfree(v);
  }
  if (debug.set) {
    printerrf(tcacheoff ? "gmp: threads give malloc's cache back at exit\n"
                        : "gmp: malloc's thread cache not found: exiting threads keep theirs\n");
  }
  tcachestate.store(2);
}

keyslot* slotof(gthread* t, unsigned key, bool make) {
  if (key < keysinline) return &t->keys1[key];
  if (!t->keys2) {
    if (!make) return nullptr;
    t->keys2 = static_cast<keyslot*>(calloc(keysmax - keysinline, sizeof(keyslot)));
    if (!t->keys2) return nullptr;
  }
  return &t->keys2[key - keysinline];
}

// keydtors: glibc's __nptl_deallocate_tsd over one thread's values: take(k) returns key k's
// value and clears it (null: none), for k below limit(); each value whose key has a
// destructor goes to it, in rounds while any ran, up to PTHREAD_DESTRUCTOR_ITERATIONS.
template <typename Limit, typename Take> void keydtors(Limit limit, Take take) {
  for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
    bool any = false;
    for (unsigned k = 0, n = limit(); k < n; k++) {
      void* v = take(k);
      if (!v) continue;
      if (auto d = keys[k].dtor.load(std::memory_order_acquire)) {
        d(v);
        any = true;
      }
    }
    if (!any) break;
  }
}

// runkeydtors: a gthread's key destructors (its own).
void runkeydtors(gthread* t) {
  // The second level only once it exists: a destructor may make it (a later key set).
  keydtors([t] { return t->keys2 ? keysmax : keysinline; }, [t](unsigned k) -> void* {
    keyslot* s = slotof(t, k, false);
    if (!s->v || s->seq != keys[k].seq.load(std::memory_order_acquire)) return nullptr;
    void* v = s->v;
    s->v = nullptr;
    return v;
  });
  free(t->keys2);
  t->keys2 = nullptr;
}

void gthreadfree(gthread* t) {
  tcbfree(reinterpret_cast<void*>(t->tcb));
  free(t);
}

// gthreadexiting: t, the caller, is ending (a return, pthread_exit or a cancellation): a
// request acts no more (GT2), as glibc's EXITING_BIT.
void gthreadexiting(gthread* t) {
  t->cancel.fetch_or(cancelDisabled | cancelActing, std::memory_order_relaxed);  // its own
}

// gthreadstart: the thread's goroutine, on its own TCB: the thread's function, left by a
// return or by pthread_exit (threadexit.cc), then its end as glibc's start_thread's.
void gthreadstart(void* arg) {
  auto* t = static_cast<gthread*>(arg);
  __atomic_store_n(&t->gp, getg(), __ATOMIC_RELEASE);
  tcbstart();
  callexiting(&t->ep, [](void* a) {
    auto* t = static_cast<gthread*>(a);
    if (t->gofn) {
      t->gofn(t->arg);
    } else {
      t->retval = t->fn(t->arg);
    }
  }, t);
  gthreadexiting(t);  // GT2: its destructors' cancellation points do not act
  calltlsdtors();
  runkeydtors(t);
  if (!t->gofn) threaddone();  // a goroutine is not one of the program's threads (TC1)
  tcacheshutdown();
}
}  // namespace

void tcbsetg(uintptr_t tcb, g* gp) { tlsat<g*>(tcb, tlsoffset(&gmp_tls_g)) = gp; }

// gthreadforkchild: glibc's fork wrote the child's tid into the TCB it ran on; the thread's
// own goes back (the M's TCB has the real one, tcbforkchild). A tcache probe a ghost was
// making starts again.
void gthreadforkchild() {
  if (gthread* t = gmp_tls_thread) *tcbtid(reinterpret_cast<void*>(t->tcb)) = t->tid;
  int probing = 1;
  tcachestate.compare_exchange_strong(probing, 0);
}

void gthreadexited(uintptr_t tcb) {
  gthread* t = tlsat<gthread*>(tcb, tlsoffset(&gmp_tls_thread));
  if (!t) return;  // goroutine 1 on the main thread's TCB (maintcbsplit): not ours to free
  tcbrobustdeath(reinterpret_cast<void*>(tcb));  // before a joiner can see it ended
  uint32_t st = joinable;
  if (t->joinstate.compare_exchange_strong(st, exited, std::memory_order_acq_rel)) {
    semrelease(&t->done);  // the joiner frees it (GT1)
  } else {
    gthreadfree(t);  // detached
  }
}

int newtid() { return int(tidbase + ntids.fetch_add(1, std::memory_order_relaxed) % tidspan); }

namespace {
// owntcbs: goroutines may have TCBs of their own here (the probed TCB layout, no ASan: its
// interceptors keep per-thread state in TLS). Without FSGSBASE (AT_HWCAP2; Firecracker VMs
// hide it) every switch to or from such a goroutine costs an arch_prctl system call instead
// of a wrfsbase: still far cheaper than a thread of the kernel's for each, which is what
// DESIGN.md's "locked to one M" would amount to. Set once, on M0.
bool owntcbs() {
  static const bool ok = [] {
    gmp_fsgsbase = (getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE) && !debug.nofsgsbase;
    return tcbusable() && !asanBuild;
  }();
  return ok;
}
}  // namespace

namespace {
// preloaded: LD_PRELOAD names this library (libgmp.so took over a program that was not
// linked with it). On M0 at start-up.
bool preloaded() {
  Dl_info info{};
  const char* list = getenv("LD_PRELOAD");
  if (!list || !dladdr(reinterpret_cast<void*>(&maintcbsplit), &info) || !info.dli_fname) {
    return false;
  }
  const char* base = strrchr(info.dli_fname, '/');
  base = base ? base + 1 : info.dli_fname;
  // Entries are separated by spaces or colons; each names the library by path or by name.
  size_t n = strlen(base);
  for (const char* at = strstr(list, base); at; at = strstr(at + 1, base)) {
    bool starts = at == list || at[-1] == '/' || at[-1] == ' ' || at[-1] == ':';
    bool ends = at[n] == 0 || at[n] == ' ' || at[n] == ':';
    if (starts && ends) return true;
  }
  return false;
}
}  // namespace

// maintcbsplit: goroutine 1 keeps the main thread's TCB — main's pthread_self(), its
// thread_local values, keys and errno, the same on whichever M it runs (CPython keys its
// threads by pthread_self()) — and M0 moves to a TCB of tcballoc's with a tid of ours (a
// recursive lock of glibc's compares owners by tid: two TCBs must not share one). Returns
// the main thread's TCB (goroutine 1's fsbase), or 0 where goroutines cannot have TCBs.
// The main TCB leaves glibc's thread list (tcbunlist): setuid() then changes the
// credentials of the calling thread and glibc's own threads (sysmon's), not M0's, as for
// the other raw-clone Ms (README).
// On M0 in schedinit, before any of the runtime's TLS is used there.
uintptr_t maintcbsplit() {
  // Not with stack annotations: g0bounds asks glibc for M0's stack through its TCB. Not
  // without FSGSBASE unless preloaded: every switch to or from goroutine 1 would be an
  // arch_prctl (1.1 us on a Firecracker VM: a 25 ns yield took 2.3 us), which a program
  // written for libgmp should not pay; an unmodified one may key its threads by
  // pthread_self() (CPython does) and must.
  if (!owntcbs() || stackAnnotations || (!gmp_fsgsbase && !preloaded())) return 0;
  void* v = tcballoc();
  if (!v) return 0;
  *tcbtid(v) = newtid();
  uintptr_t main = threadpointer();
  tcbunlist(main);  // as the raw Ms' TCBs and M0's new one: setuid() reaches none of them
  setfsbase(reinterpret_cast<uintptr_t>(v));
  tcbstart();
  return main;
}

// gthreadpossible: pthread_create may make a gthread now.
bool gthreadpossible() {
  return owntcbs() && runtimeStarted.load(std::memory_order_acquire) && !debug.notakeover;
}

namespace {
// gthreadmake: a gthread record with a TCB of its own, in joinstate st; null: no memory.
gthread* gthreadmake(uint32_t st) {
  if (tcachestate.load(std::memory_order_acquire) != 2) tcacheprobe();
  auto* t = static_cast<gthread*>(calloc(1, sizeof(gthread)));
  if (!t) return nullptr;
  void* v = tcballoc();
  if (!v) {
    free(t);
    return nullptr;
  }
  t->tcb = reinterpret_cast<uintptr_t>(v);
  t->tid = newtid();
  *tcbtid(v) = t->tid;
  t->joinstate.store(st, std::memory_order_relaxed);
  tlsat<gthread*>(t->tcb, tlsoffset(&gmp_tls_thread)) = t;
  return t;
}
}  // namespace

int gthreadcreate(uintptr_t* id, void* (*fn)(void*), void* arg, size_t stacksize,
                  bool detach, uintptr_t callerpc) {
  if (!gthreadpossible()) return -1;
  gthread* t = gthreadmake(detach ? detached : joinable);
  if (!t) return EAGAIN;
  t->fn = fn;
  t->arg = arg;
  *id = t->tcb;  // before newproc: the thread may run and read it at once
  threadadd();  // TC1: before it can end
  if (newproc(gthreadstart, t, callerpc, stacksize, t->tcb) < 0) {
    threadundo();
    *id = 0;
    gthreadfree(t);
    return EAGAIN;
  }
  return 0;
}

int64_t gotls(void (*fn)(void*), void* arg, uintptr_t callerpc, size_t stacksize) {
  if (!owntcbs()) return -ENOTSUP;
  gthread* t = gthreadmake(detached);  // nobody joins it: its end frees it (GT1)
  if (!t) return -ENOMEM;
  t->gofn = fn;
  t->arg = arg;
  int64_t goid = newproc(gthreadstart, t, callerpc, stacksize, t->tcb, true);
  if (goid < 0) gthreadfree(t);
  return goid;
}

gthread* gthreadof(uintptr_t id) {
  if (!id || !owntcbs()) return nullptr;
  return tlsat<gthread*>(id, tlsoffset(&gmp_tls_thread));
}

gthread* gthreadself() { return gmp_tls_thread; }

int gthreadjoin(gthread* t, void** ret, int64_t deadline) {
  if (t == gmp_tls_thread) return EDEADLK;
  if (t->joinstate.load(std::memory_order_acquire) == detached) return EINVAL;
  int r = semacquirejoin(&t->done, deadline);
  if (r == EINTR) cancelnow();  // its joiner cancelled: t stays joinable (SI7)
  if (r != 0) return deadline == 0 ? EBUSY : ETIMEDOUT;
  if (ret) *ret = t->retval;
  gthreadfree(t);
  return 0;
}

int gthreadcancel(gthread* t) {
  uint32_t old = t->cancel.fetch_or(cancelPending, std::memory_order_seq_cst);  // GT2
  if (old & (cancelPending | cancelDisabled)) return 0;
  // As gthreadinterrupt: a record a later gthread reuses is not t's.
  g* gp = __atomic_load_n(&t->gp, __ATOMIC_ACQUIRE);
  if (!gp || gp->fsbase != t->tcb) return 0;
  // Asynchronous: sysmon preempts it where it computes, and it acts there (preempt.cc).
  if (old & cancelAsync) gp->asynccancel.store(true, std::memory_order_relaxed);
  sigintrcancel(gp);
  return 0;
}

bool gthreadcancelwaits(bool async) {
  gthread* t = gmp_tls_thread;
  uint32_t on = cancelPending | (async ? uint32_t(cancelAsync) : 0u);
  // Not in a handler of the program's: the unwinding would leave the signal's frame.
  return t && gmp_handlerdepth == 0 &&
         (t->cancel.load(std::memory_order_seq_cst) & (on | cancelDisabled)) == on;
}

bool gthreadcancelon() {
  return !(gmp_tls_thread->cancel.load(std::memory_order_relaxed) & cancelDisabled);  // its own bit
}

void cancelnow() {
  threadexit(PTHREAD_CANCELED);  // gthreadexitpoint turns further requests off
  __builtin_unreachable();  // a gthread is a goroutine: threadexit does not return
}

int gthreadcancelmode(bool state, int value, int* old) {
  gthread* t = gmp_tls_thread;
  uint32_t b = state ? cancelDisabled : cancelAsync;  // value 1: DISABLE or ASYNCHRONOUS
  uint32_t was = t->cancel.load(std::memory_order_relaxed);
  if (old) *old = (was & b) ? 1 : 0;
  if (was & cancelActing) return 0;  // unwinding: it stays off (glibc's EXITING)
  uint32_t now = value ? t->cancel.fetch_or(b, std::memory_order_seq_cst) | b
                       : t->cancel.fetch_and(~b, std::memory_order_seq_cst) & ~b;
  // As glibc: an asynchronous type acts on a pending request as soon as it is enabled.
  if ((now & (cancelPending | cancelDisabled | cancelAsync)) == (cancelPending | cancelAsync)) {
    cancelnow();
  }
  return 0;
}

int gthreaddetach(gthread* t) {
  uint32_t st = joinable;
  if (t->joinstate.compare_exchange_strong(st, detached, std::memory_order_acq_rel)) return 0;
  if (st == detached) return EINVAL;
  gthreadfree(t);  // it ended already: nobody else will (GT1)
  return 0;
}

exitpoint* gthreadexitpoint(void* ret) {
  gthread* t = gmp_tls_thread;
  if (!t) return nullptr;
  gthreadexiting(t);  // GT2: its handlers' cancellation points do not act
  t->retval = ret;
  return &t->ep;
}

void glibckeydtors() {
  keydtors([] { return keysmax; }, [](unsigned k) -> void* {
    if (!keys[k].dtor.load(std::memory_order_relaxed)) return nullptr;  // no call to make
    void* v = pthread_getspecific(k);  // glibc's, through the hook: not a gthread
    if (v) pthread_setspecific(k, nullptr);
    return v;
  });
}

bool gthreadblocks(gthread* t, int sig) {
  g* gp = __atomic_load_n(&t->gp, __ATOMIC_ACQUIRE);
  return gp && sig > 0 && sig <= 64 && (__atomic_load_n(&gp->sigmask, __ATOMIC_RELAXED) & sigbit(sig)) != 0;
}

int gthreadsyscalltid(gthread* t, int sig) {
  // A record a later gthread reuses is in that one's calls (another TCB): not t's.
  g* gp = __atomic_load_n(&t->gp, __ATOMIC_ACQUIRE);
  return gp && gp->fsbase == t->tcb ? sigpendsyscall(gp, sig) : 0;
}

bool gthreadpend(gthread* t, int sig) {
  g* gp = __atomic_load_n(&t->gp, __ATOMIC_ACQUIRE);
  if (!gp || gp->fsbase != t->tcb) return true;  // ended: a thread's pending signals end too
  return sigpendg(gp, sig);
}

void gthreadinterrupt(gthread* t, bool restart) {
  // t's goroutine, if it runs yet; a record a later gthread reuses is armed only by that
  // one's calls (its fsbase is another TCB): then nothing is interrupted.
  g* gp = __atomic_load_n(&t->gp, __ATOMIC_ACQUIRE);
  if (gp && gp->fsbase == t->tcb) sigintrg(gp, restart);
}

int gthreadaffinity(gthread* t, size_t size, cpu_set_t* set, bool get) {
  if (get) {
    // The kernel's answer: EINVAL for a set smaller than its own; glibc's clears the rest.
    cpu_set_t mine;
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) return errno;
    std::lock_guard<rtmutex> g(t->attrlock);
    const cpu_set_t& from = t->hasaffinity ? t->affinity : mine;
    memset(set, 0, size);
    memcpy(set, &from, size < sizeof from ? size : sizeof from);
    return 0;
  }
  // The kernel's check: some CPU of the set is one the process may run on.
  cpu_set_t want, allowed, both;
  CPU_ZERO(&want);
  memcpy(&want, set, size < sizeof want ? size : sizeof want);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return errno;
  CPU_AND(&both, &want, &allowed);
  if (CPU_COUNT(&both) == 0) return EINVAL;
  std::lock_guard<rtmutex> g(t->attrlock);
  t->affinity = want;
  t->hasaffinity = true;
  return 0;
}

int gthreadsched(gthread* t, int* policy, int* priority, int set) {
  if (set == schedRead) {
    std::lock_guard<rtmutex> g(t->attrlock);
    *policy = t->policy;
    *priority = t->priority;
    return 0;
  }
  int pol = *policy;
  if (set == schedPriority) {
    std::lock_guard<rtmutex> g(t->attrlock);
    pol = t->policy;
  }
  int lo = sched_get_priority_min(pol), hi = sched_get_priority_max(pol);
  if (lo < 0 || *priority < lo || *priority > hi) return EINVAL;
  if (pol == SCHED_FIFO || pol == SCHED_RR) return EPERM;
  std::lock_guard<rtmutex> g(t->attrlock);
  t->policy = pol;
  t->priority = *priority;
  return 0;
}

bool gthreaddetached(gthread* t) {
  return t->joinstate.load(std::memory_order_relaxed) == detached;
}

char* gthreadname(gthread* t) { return t->name; }

bool gthreadstack(gthread* t, uintptr_t* lo, size_t* size) {
  g* gp = t == gmp_tls_thread ? getg() : __atomic_load_n(&t->gp, __ATOMIC_ACQUIRE);
  if (!gp || !gp->stk.lo) return false;
  *lo = gp->stk.lo;
  *size = gp->stk.hi - gp->stk.lo;
  return true;
}

void* gthreadgetspecific(gthread* t, unsigned key) {
  keyslot* s = slotof(t, key, false);
  return s && s->seq == keys[key].seq.load(std::memory_order_acquire) ? s->v : nullptr;
}

int gthreadsetspecific(gthread* t, unsigned key, const void* v) {
  keyslot* s = slotof(t, key, true);
  if (!s) return ENOMEM;
  s->seq = keys[key].seq.load(std::memory_order_acquire);
  s->v = const_cast<void*>(v);
  return 0;
}

void gthreadkey(unsigned key, bool created, void (*dtor)(void*)) {
  if (key >= keysmax) return;
  keys[key].dtor.store(created ? dtor : nullptr, std::memory_order_release);
  keys[key].seq.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace gmp
