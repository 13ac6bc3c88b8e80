// tls.cc — thread control blocks for raw-clone Ms, and the C state that follows a goroutine.
//
// A glibc-compatible TCB (DESIGN.md, "Machine threads"). Our Ms run C code (malloc, stdio,
// C++ exceptions), which reads its thread's struct pthread through %fs. We get one from
// ld.so's _dl_allocate_tls(NULL) — it copies every module's TLS image and zeroes the struct —
// and fill in what glibc's pthread_create would have (x86-64 glibc 2.36 offsets):
//   0x00 tcb, 0x10 self          point at the TCB itself
//   0x18 multiple_threads = 1    glibc takes its locks (SINGLE_THREAD_P reads this)
//   0x28 stack_guard             copied from M0: goroutines migrate between Ms and check
//   0x30 pointer_guard           their canaries / mangled pointers on other Ms than M0
//   tid (probed; 0x2d0 here)     set by CLONE_PARENT_SETTID, cleared on exit by the kernel
//   list (tid - 16; 0x2c0 here)  self-linked (fork's reclaim_stacks unlinks the forking
//                                thread's node; a zeroed node would crash there). Not 0xc0:
//                                on x86-64 tcbhead_t outgrows the 192-byte header union
//                                (rtld_savespace_sse), and struct pthread puts list_t just
//                                before tid.
//   robust_prev, robust_head     (tid + 8, tid + 0x10) self-linked, futex_offset copied;
//                                the new thread registers it (set_robust_list), as glibc's
//                                start_thread does, so robust mutexes work on our Ms
//   rseq area (__rseq_offset)    registered by the new thread itself (sched_getcpu reads it)
// and on the new thread, before any C code: __ctype_init() (GLIBC_PRIVATE), which start_thread
// also calls: it points the thread's ctype tables (TLS) at the locale; without it toupper(),
// isalpha() and printf("%f") dereference null.
// check() probes these on M0 (tcbprobe) and again on the first real pthread (tcbconfirm);
// any mismatch sends us to pthread-backed Ms.
//
// C state that follows the goroutine: errno and the C++ exception globals
// (__cxa_get_globals(): the caught-exceptions stack and the uncaught count) are per thread
// in libc/libstdc++, so a goroutine that parks on one M and resumes on another would see the
// other M's values. The switch-out paths save them into the g (savecstate) and execute
// restores them into the new M (restorecstate); each M always holds its current g's state.
// The M caches where the two live (minit_tls) so the switch does no TLS look-ups.
#include <cxxabi.h>
#include <dlfcn.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime.h"

namespace gmp {

bool useRawClone = false;

namespace {
constexpr size_t offTcb = 0x00;
constexpr size_t offSelf = 0x10;
constexpr size_t offMultipleThreads = 0x18;
constexpr size_t offStackGuard = 0x28;
constexpr size_t offPointerGuard = 0x30;
constexpr size_t tidScanLo = 0x100, tidScanHi = 0x1000;  // where struct pthread keeps tid
constexpr uint32_t rseqSig = 0x53053053;                 // RSEQ_SIG on x86
constexpr int32_t rseqCpuIdRegistrationFailed = -1;

using dl_allocate_tls_t = void* (*)(void*);
dl_allocate_tls_t dl_allocate_tls;
void (*dl_deallocate_tls)(void*, bool);
size_t offTid;
size_t offList;    // offTid - sizeof(list_t)
size_t offRobust;  // offTid + 0x10: struct robust_list_head (robust_prev just before it)
constexpr size_t robustHeadSize = 24;  // sizeof(struct robust_list_head)
void (*ctype_init)();
uintptr_t m0tcb;
const ptrdiff_t* rseq_offset;  // glibc 2.35+: __rseq_offset, __rseq_size
const unsigned int* rseq_size;

template <typename T> T& at(uintptr_t tcb, size_t off) {
  return *reinterpret_cast<T*>(tcb + off);
}

// tidat: tid at off in the TCB tp, by its neighbours: before it list, a node of ld.so's
// doubly linked thread list (M0 is on it from the start), so both neighbours point back at
// it; after it robust_head, whose list is empty (points at itself), as does robust_prev.
// Sets offList and offRobust when so.
bool tidat(uintptr_t tp, size_t off) {
  size_t list = off - 2 * sizeof(uintptr_t), robust = off + 0x10;
  uintptr_t node = tp + list;
  uintptr_t next = at<uintptr_t>(tp, list), prev = at<uintptr_t>(tp, list + 8);
  if (!next || !prev || (next & 7) || (prev & 7)) return false;
  if (at<uintptr_t>(next, 8) != node || at<uintptr_t>(prev, 0) != node) return false;
  if (at<uintptr_t>(tp, robust) != tp + robust || at<uintptr_t>(tp, robust - 8) != tp + robust) {
    return false;
  }
  offList = list;
  offRobust = robust;
  return true;
}
}  // namespace

// tcbprobe: M0's TCB has the layout we fill in (m0tcb is set only when it has).
bool tcbprobe() {
  uintptr_t tp = threadpointer();
  if (at<uintptr_t>(tp, offTcb) != tp || at<uintptr_t>(tp, offSelf) != tp) return false;
  int tid = gettid_();
  // tid follows list (two pointers), so it is 8-aligned; another word equal to it (a
  // number that happens to match) fails the checks on its neighbours and the scan goes on.
  for (size_t off = tidScanLo; off < tidScanHi && !offTid; off += 8) {
    if (at<int>(tp, off) == tid && tidat(tp, off)) offTid = off;
  }
  if (!offTid) return false;
  ctype_init = reinterpret_cast<void (*)()>(dlvsym(RTLD_DEFAULT, "__ctype_init", "GLIBC_PRIVATE"));
  if (!ctype_init) return false;
  dl_allocate_tls = reinterpret_cast<dl_allocate_tls_t>(
      dlvsym(RTLD_DEFAULT, "_dl_allocate_tls", "GLIBC_PRIVATE"));
  if (!dl_allocate_tls) return false;
  dl_deallocate_tls = reinterpret_cast<void (*)(void*, bool)>(  // gthreads only (tcbusable)
      dlvsym(RTLD_DEFAULT, "_dl_deallocate_tls", "GLIBC_PRIVATE"));
  rseq_offset = static_cast<const ptrdiff_t*>(dlsym(RTLD_DEFAULT, "__rseq_offset"));
  rseq_size = static_cast<const unsigned int*>(dlsym(RTLD_DEFAULT, "__rseq_size"));
  m0tcb = tp;
  return true;
}

// tcbconfirm runs on the first thread made by the real pthread_create (sysmon's): the probed
// tid offset must hold there too, and glibc must now run in multi-threaded mode.
bool tcbconfirm() {
  if (!m0tcb) return false;  // the probe on M0 failed
  uintptr_t tp = threadpointer();
  uintptr_t node = tp + offList;
  // The node after ours on glibc's list, which a thread made or ending meanwhile may be
  // changing: its prev link must come back to us. Not followed unless it is a node's address.
  uintptr_t next = at<uintptr_t>(tp, offList);
  // Not the creator's multiple_threads: glibc's pthread_create may set it after the clone,
  // so this thread may look before it is written (1 in 3 starts under load lost the raw
  // path so); it is 1 once pthread_create returns, before any raw clone (runmain).
  return at<int>(tp, offTid) == gettid_() && at<int>(tp, offMultipleThreads) == 1 &&
         next != 0 && (next & 7) == 0 && at<uintptr_t>(next, 8) == node &&
         at<uintptr_t>(tp, offStackGuard) == at<uintptr_t>(m0tcb, offStackGuard);
}

void* tcballoc() {
  void* v = dl_allocate_tls(nullptr);
  if (!v) return nullptr;
  auto tcb = reinterpret_cast<uintptr_t>(v);
  at<uintptr_t>(tcb, offTcb) = tcb;
  at<uintptr_t>(tcb, offSelf) = tcb;
  at<int>(tcb, offMultipleThreads) = 1;
  at<uintptr_t>(tcb, offStackGuard) = at<uintptr_t>(m0tcb, offStackGuard);
  at<uintptr_t>(tcb, offPointerGuard) = at<uintptr_t>(m0tcb, offPointerGuard);
  at<uintptr_t>(tcb, offList) = tcb + offList;
  at<uintptr_t>(tcb, offList + 8) = tcb + offList;
  at<uintptr_t>(tcb, offRobust - 8) = tcb + offRobust;  // robust_prev
  at<uintptr_t>(tcb, offRobust) = tcb + offRobust;      // robust_head.list: empty
  at<intptr_t>(tcb, offRobust + 8) = at<intptr_t>(m0tcb, offRobust + 8);  // futex_offset
  if (rseq_offset) {  // until the thread registers: "registration failed", use the syscall
    at<int32_t>(tcb, size_t(*rseq_offset) + 4) = rseqCpuIdRegistrationFailed;
  }
  return v;
}

int* tcbtid(void* tcb) { return &at<int>(reinterpret_cast<uintptr_t>(tcb), offTid); }

bool tcbusable() { return m0tcb != 0 && dl_deallocate_tls; }

namespace {
// ownerdied: the robust mutex whose lock word is at addr, if thread tid holds it, marked as
// the kernel's handle_futex_death marks it (FUTEX_OWNER_DIED, its FUTEX_WAITERS kept), and
// one waiter woken: glibc's robust mutexes wait on shared futexes, and so are woken.
void ownerdied(uintptr_t addr, int tid) {
  auto* w = reinterpret_cast<std::atomic<uint32_t>*>(addr);
  uint32_t v = w->load(std::memory_order_relaxed);
  for (;;) {
    if ((v & FUTEX_TID_MASK) != uint32_t(tid)) return;
    uint32_t dead = (v & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
    if (w->compare_exchange_weak(v, dead, std::memory_order_release)) break;
  }
  if (v & FUTEX_WAITERS) rawsyscall(SYS_futex, long(addr), FUTEX_WAKE, 1);
}
}  // namespace

void tcbrobustdeath(void* tcb) {
  if (!offRobust) return;
  auto tp = reinterpret_cast<uintptr_t>(tcb);
  const uintptr_t head = tp + offRobust;
  const intptr_t futexoff = at<intptr_t>(tp, offRobust + 8);
  // Bit 0 marks a priority-inheritance mutex, whose owner the kernel knows itself: left.
  uintptr_t pending = at<uintptr_t>(tp, offRobust + 16);
  const int tid = at<int>(tp, offTid);
  uintptr_t e = at<uintptr_t>(tp, offRobust);
  for (int n = 0; e != head && n < 2048; n++) {  // the kernel's ROBUST_LIST_LIMIT
    uintptr_t next = at<uintptr_t>(e & ~uintptr_t(1), 0);  // before the wake: the mutex may go
    if (!(e & 1) && e != pending) ownerdied(e + uintptr_t(futexoff), tid);
    e = next;
  }
  if (pending && !(pending & 1)) ownerdied(pending + uintptr_t(futexoff), tid);
  at<uintptr_t>(tp, offRobust) = head;
  at<uintptr_t>(tp, offRobust + 16) = 0;
}

// tcbfree: a TCB of tcballoc's that no thread runs on any more (its dtv, dynamic TLS blocks
// and the block itself).
void tcbfree(void* tcb) { dl_deallocate_tls(tcb, true); }

// tcbstart: on a thread's first run on its TCB, what start_thread does before user code.
void tcbstart() { ctype_init(); }

void tcbunlist(uintptr_t tcb) {
  uintptr_t node = tcb + offList;
  uintptr_t next = at<uintptr_t>(tcb, offList), prev = at<uintptr_t>(tcb, offList + 8);
  if (at<uintptr_t>(next, 8) == node && at<uintptr_t>(prev, 0) == node) {  // linked for real
    at<uintptr_t>(next, 8) = prev;
    at<uintptr_t>(prev, 0) = next;
  }
  at<uintptr_t>(tcb, offList) = at<uintptr_t>(tcb, offList + 8) = node;
}

void tcbforkchild(m* mp, uintptr_t tp, int tid, bool gthreadtcb) {
  uintptr_t own = mp->fsbase;
  if (!offTid || tp == own) return;  // glibc's fork fixed its own TCB up itself
  // own leaves the list it is on: a pthread M's TCB is in glibc's stack cache now
  // (reclaim_stacks moved every other thread there), which would hand the stack we run on
  // to the next pthread_create; a raw M's is self-linked.
  tcbunlist(own);
  uintptr_t mnode = own + offList;
  if (!gthreadtcb) {
    // tp is goroutine 1's, the main thread's: it keeps the thread's tid and leaves glibc's
    // list, as in the parent (maintcbsplit); own takes a tid of ours.
    tcbunlist(tp);
    at<int>(own, offTid) = newtid();
    return;
  }
  // A gthread's TCB goes back to being the gthread's (gthreadforkchild): the thread's tid,
  // its entry in glibc's thread list (reclaim_stacks put tp there alone), its robust list
  // (not the child's, as _Fork clears them) and the kernel's pointers go to own.
  at<int>(own, offTid) = tid;
  uintptr_t gnode = tp + offList;
  uintptr_t next = at<uintptr_t>(tp, offList), prev = at<uintptr_t>(tp, offList + 8);
  at<uintptr_t>(own, offList) = next;
  at<uintptr_t>(own, offList + 8) = prev;
  at<uintptr_t>(next, 8) = mnode;
  at<uintptr_t>(prev, 0) = mnode;
  at<uintptr_t>(tp, offList) = at<uintptr_t>(tp, offList + 8) = gnode;
  at<uintptr_t>(own, offRobust - 8) = at<uintptr_t>(own, offRobust) = own + offRobust;
  syscall(SYS_set_robust_list, own + offRobust, robustHeadSize);
  syscall(SYS_set_tid_address, own + offTid);
}

// minit_tls: per-thread set-up on mp's own thread.
void minit_tls(m* mp) {
  if (mp->tcb) {  // what glibc's start_thread does for its own threads
    ctype_init();
    syscall(SYS_set_robust_list, static_cast<char*>(mp->tcb) + offRobust, robustHeadSize);
    if (rseq_offset && rseq_size && *rseq_size >= 32) {
      // Register rseq, or leave the "registration failed" marker and sched_getcpu falls
      // back to the syscall.
      syscall(SYS_rseq, static_cast<char*>(mp->tcb) + *rseq_offset, *rseq_size, 0, rseqSig);
    }
  }
  mp->fsbase = threadpointer();
  mp->errnop = &errno;
  mp->cxa_globals = reinterpret_cast<void**>(abi::__cxa_get_globals());
}

// Out of line on purpose: the caller's compiler cannot reuse an errno address it computed
// before a park (hooks.h).
void seterrno(int e) { errno = e; }

}  // namespace gmp
