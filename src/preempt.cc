// preempt.cc — asynchronous preemption (Go's preempt.go and asyncPreempt): a goroutine that
// runs for 10 ms without a scheduling point while others wait for its P is made to yield.
//
// Without it, a thread of the program that spins on a flag another thread sets never lets
// that thread run at GMPMAXPROCS=1 (a container's one CPU): the program hangs where plain
// threads would not. Go preempts at the safe points its compiler marks; C code has none, so
// this is what the kernel does to a thread: the goroutine is stopped wherever it is, every
// register kept, and resumed later, perhaps on another M. That is safe only when:
//   PR1: the goroutine's thread state is its own: it has a TCB of its own (g.fsbase: a
//        thread of the program's pthread_create, goroutine 1 of a preloaded program,
//        gmp_go_with(GMP_GO_OWN_TLS)), so its thread_local variables, errno and malloc's
//        tcache go with it. A gmp_go goroutine shares its M's TLS with the others that run
//        there: stopped in the middle of a thread_local update (a library's per-thread
//        cache), the next goroutine on that M would find it half done. Those are never
//        preempted; they yield with gmp_yield, as Go's goroutines did before Go 1.14.
//   PR2: it is stopped outside the runtime and the code the runtime calls (libc, ld.so, the
//        vDSO, liburing, libunwind, libstdc++, libgcc_s, liblzma: nopreempt): runtime code
//        may hold per-M pointers across such a call (LS2 keeps the P from being handed off,
//        not the goroutine on its M), and libc's own code is the runtime's too under a hook.
//        A malloc that replaces libc's is the program's code: runtime code keeps no per-M
//        pointer across an allocation, or holds acquirem for it.
//        A thread caught there is asked again 1 ms later, so a loop that spends some of its
//        time in libc is preempted all the same; pthread_spin_lock and sched_yield are hooks
//        that yield.
//   PR3: it is not in a signal handler of the program's (inhandler), and its thread's
//        signal mask is the one the runtime set (m.cursigmask): a handler runs with its own
//        mask, which the next goroutine on the M must not inherit; a mask the program
//        changed with a raw system call says the same. A handler no trampoline counts
//        (sysv_signal's, sigset's, a fault's) that runs on the goroutine's stack with the
//        same mask (SA_NODEFER, no sa_mask) is found by its kernel signal frame, whose
//        return address is glibc's restorer (sigframeabove): its rt_sigreturn on another M
//        would give that M this M's sigaltstack.
//   PR4: the rest is lazysyscall.cc's: the M holds no runtime section (LS2: m.locks), its
//        goroutine is the running one, on its own stack with room for the trampoline.
//
// The steps:
//   1. sysmon (lazysyscalls): a Prunning P whose schedtick stood still for 10 ms, whose
//      thread is running (/proc: in no system call), and asyncpreemptwanted: its goroutine
//      has a TCB of its own and something waits for the P (its run queue or the global one
//      holds goroutines, one of its timers is due, gmp_maxprocs stops the world, or an
//      asynchronous pthread_cancel waits for it). It stores m.sigreq = sigreqPreempt
//      and sends SIGURG (LS1).
//   2. the thread's SIGURG handler (lazysyscallsig, then asyncpreemptsig): PR1-PR4, then it
//      sends the thread to gmp_asyncpreempt (asm/amd64/preempt.S) instead of back to the
//      interrupted instruction, whose address becomes the trampoline's return address below
//      the red zone (sigredirect).
//   3. gmp_asyncpreempt keeps every register a C call may clobber (the general ones, rflags,
//      the extended state with xsave) and calls gmp_asyncpreempt2, which counts the
//      preemption (gmp_stats) and calls gosched: the goroutine goes behind the others.
//      Resumed, it restores them all and returns to the interrupted instruction.
// What a program may see: the signal can land just as the thread enters a system call that
// a handler ends with EINTR even under SA_RESTART (nanosleep, poll, epoll_wait, a socket with
// a timeout: signal(7)) when the call is made directly rather than through a hook (a hooked
// call parks instead); Go's preemption has the same window. GMPDEBUG=asyncpreemptoff=1 turns
// preemption off, as GODEBUG=asyncpreemptoff=1 does in Go.
#include <link.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <cstring>

#include "hooks.h"
#include "runtime.h"

extern "C" {
void gmp_asyncpreempt();  // asm/amd64/preempt.S
void gmp_asyncpreempt2();
}

namespace gmp {

namespace {
// nopreempt: the executable segments of the libraries the runtime calls (PR2; libgmp's own
// code lazysyscallsig declines before it asks here: lazysyscall.cc's textlo). Written by
// sysmon in asyncpreemptinit before its first request; the handler reads them after one
// (LS1's release and acquire). Constant after.
struct coderange {
  uintptr_t lo, hi;
};
constexpr int maxRanges = 32;
coderange nopreempt[maxRanges];
int nnopreempt;

// The libraries, by the start of their file names; the vDSO too (nanotime's clock), and
// what glibc before 2.34 kept apart from libc.
constexpr const char* runtimelibs[] = {
    "libc.so",   "ld-linux",     "linux-vdso",  "liburing.so", "libunwind", "libstdc++.so",
    "libgcc_s.so", "liblzma.so", "libpthread.so", "libdl.so",  "librt.so"};

bool runtimelib(const char* path) {
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  for (const char* lib : runtimelibs) {
    if (strncmp(base, lib, strlen(lib)) == 0) return true;
  }
  return false;
}

int addranges(dl_phdr_info* info, size_t, void*) {
  if (!runtimelib(info->dlpi_name)) return 0;
  for (int i = 0; i < info->dlpi_phnum && nnopreempt < maxRanges; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    nopreempt[nnopreempt++] = {lo, lo + ph.p_memsz};
  }
  return 0;
}

// restorer: glibc's __restore_rt, which every handler glibc installs returns to (the
// kernel's sa_restorer, read back from the runtime's own SIGURG action); 0 if unknown. Set
// with nopreempt.
uintptr_t restorer;
constexpr uintptr_t sigframeScan = 1 << 20;  // bytes of stack above sp searched at most

// sigframeabove: a kernel signal frame (its return address, restorer) lies in [sp, hi), the
// goroutine's stack above the interrupted sp, or in its first sigframeScan bytes.
bool sigframeabove(uintptr_t sp, uintptr_t hi) {
  if (restorer == 0) return false;
  uintptr_t end = hi - sp > sigframeScan ? sp + sigframeScan : hi;
  for (auto* w = reinterpret_cast<const uintptr_t*>(sp); uintptr_t(w) + 8 <= end; w++) {
    if (*w == restorer) return true;
  }
  return false;
}

bool preemptablepc(uintptr_t pc) {
  for (int i = 0; i < nnopreempt; i++) {
    if (pc >= nopreempt[i].lo && pc < nopreempt[i].hi) return false;
  }
  return true;
}
}  // namespace

void asyncpreemptinit() {
  dl_iterate_phdr(addranges, nullptr);
  struct {
    uintptr_t handler;
    unsigned long flags;
    uintptr_t restorer;
    uint64_t mask;
  } k{};
  if (rawsyscall(SYS_rt_sigaction, SIGURG, 0, reinterpret_cast<long>(&k), 8) == 0 &&
      (k.flags & 0x04000000)) {  // the kernel's SA_RESTORER, which glibc's header omits
    restorer = k.restorer;
  }
}

bool asyncpreemptwanted(p* pp, g* gp, int64_t now) {
  // gp->fsbase: constant while gp lives; a g that exited meanwhile is declined by the
  // handler, which looks at its own curg.
  if (__atomic_load_n(&debug.noasyncpreempt, __ATOMIC_RELAXED) || !gp ||
      __atomic_load_n(&gp->fsbase, __ATOMIC_RELAXED) == 0) {
    return false;  // PR1
  }
  if (!runqempty(pp) || sched.runqsize_.load(std::memory_order_relaxed) != 0 ||
      sched.gcwaiting.load(std::memory_order_relaxed) ||
      gp->asynccancel.load(std::memory_order_relaxed)) {
    // goroutines wait, a stop of the world waits for the P (sysmon.cc), or an asynchronous
    // pthread_cancel for the goroutine (gmp_asyncpreempt2)
    return true;
  }
  int64_t when = pp->timer0when.load(std::memory_order_relaxed);
  return when != 0 && when <= now;
}

void asyncpreemptsig(m* mp, g* gp, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  auto pc = uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
  uint64_t mask;
  memcpy(&mask, &uc->uc_sigmask, sizeof mask);
  if (gp->fsbase == 0 || !preemptablepc(pc) || inhandler() || mask != mp->cursigmask ||
      sigframeabove(uintptr_t(uc->uc_mcontext.gregs[REG_RSP]), gp->stk.hi)) {
    return;  // PR1-PR3
  }
  sigredirect(ctx, pc, gmp_asyncpreempt);
}

}  // namespace gmp

extern "C" void gmp_asyncpreempt2() {
  gmp::p* pp = gmp::getg()->m_->p_;
  pp->npreempt.store(pp->npreempt.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // An asynchronous pthread_cancel acts here, where the program's code was stopped: the
  // unwinding goes on through gmp_asyncpreempt's signal frame into that code's frames, as
  // glibc's does from its SIGCANCEL handler. (A type turned deferred since: a preemption.)
  if (gmp::gthreadcancelled(true)) gmp::cancelnow();
  gmp::getg()->asynccancel.store(false, std::memory_order_relaxed);
  gmp::gosched();
}
