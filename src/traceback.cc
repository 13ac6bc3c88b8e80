// traceback.cc — goroutine dumps: Go's traceback.go for C and C++ stacks, with libunwind.
//
// A dump prints, for each goroutine, Go's header (`goroutine 7 [semacquire, 3 minutes]:`),
// then one pair of lines per frame:
//
//   worker(void*)+0x1d                      demangled function + offset
//   	/path/to/module+0x11e2                the file and the pc's address in it, as
//                                            `addr2line -f -e /path/to/module 0x11e2` takes it
//
// and last `created by <function> in goroutine N` with the creator's pc the same way.
// Stacks are unwound with libunwind (DWARF CFI, so frames without frame pointers are fine):
//   - a running goroutine from a ucontext: a signal's (its M prints its own stack in its
//     SIGURG handler, see signal_unix.cc) or getcontext's (the dumping goroutine itself);
//   - a switched-out goroutine from the switchframe on its stack (asm/amd64/switchframe.inc),
//     turned into a ucontext: rsp just above the frame, rip its return address, and the
//     callee-saved registers from it.
// Unwinding ends at gmp_gostart, whose CFI marks rip undefined.
//
// Everything here may run in a signal handler of a crashing process: output goes straight
// to the fd (fdprintf, no stdio). Two things can still take locks: libunwind and dladdr
// take ld.so's (recursive) load lock, and demangling mallocs; a dump that dies or stalls in
// them is caught by the dump's watchdog (signal_unix.cc), so a fatal error never hangs.
#define UNW_LOCAL_ONLY
#include <cxxabi.h>
#include <dlfcn.h>
#include <libunwind.h>
#include <link.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "runtime.h"

namespace gmp {

// The text of each wait reason, as a dump prints it (Go's waitReasonStrings). The gdb
// script (gdb/libgmp-gdb.py) reads this array from the process.
const char* const waitReasonStrings[waitReasonCount] = {
    "",                       // waitReasonZero
    "semacquire",             // waitReasonSemacquire
    "chan receive",           // waitReasonChanReceive
    "chan send",              // waitReasonChanSend
    "select",                 // waitReasonSelect
    "select (no cases)",      // waitReasonSelectNoCases
    "sleep",                  // waitReasonSleep
    "sync.Mutex.Lock",        // waitReasonSyncMutexLock
    "sync.RWMutex.RLock",     // waitReasonSyncRWMutexRLock
    "sync.RWMutex.Lock",      // waitReasonSyncRWMutexLock
    "sync.Cond.Wait",         // waitReasonSyncCondWait
    "sync.WaitGroup.Wait",    // waitReasonSyncWaitGroupWait
    "IO wait",                // waitReasonIOWait
    "pthread join",           // waitReasonThreadJoin
    "pthread sync",           // waitReasonThreadSync
};

namespace {
constexpr int64_t minuteNs = int64_t(60) * 1000 * 1000 * 1000;

const char* statusstring(g* gp, uint32_t st) {
  switch (st) {
    case Gidle: return "idle";
    case Grunnable: return "runnable";
    case Grunning: return "running";
    case Gsyscall: return "syscall";
    case Gwaiting: {
      uint8_t r = gp->waitreason_;
      return r != waitReasonZero && r < waitReasonCount ? waitReasonStrings[r] : "waiting";
    }
    case Gdead: return "dead";
    default: return "???";
  }
}

// printpc prints pc's two lines. name: the function's (mangled) name and off the offset into
// it, or null when unknown.
void printpc(int fd, const char* prefix, uintptr_t pc, const char* name, uintptr_t off,
             const char* suffix) {
  if (name) {
    int status = -1;
    char* dem = name[0] == '_' && name[1] == 'Z'
                    ? abi::__cxa_demangle(name, nullptr, nullptr, &status)
                    : nullptr;
    fdprintf(fd, "%s%s+0x%lx%s\n", prefix, status == 0 ? dem : name, off, suffix);
    free(dem);
  } else {
    fdprintf(fd, "%s?%s\n", prefix, suffix);
  }
  // The module and pc's address in it: pc minus the module's load bias (l_addr), which is
  // what addr2line takes for a shared object, a PIE and (bias 0) a fixed-address program.
  Dl_info info;
  link_map* lm = nullptr;
  if (dladdr1(reinterpret_cast<void*>(pc), &info, reinterpret_cast<void**>(&lm),
              RTLD_DL_LINKMAP) == 0 || !lm) {
    fdprintf(fd, "\t?+0x%lx\n", pc);
    return;
  }
  char exe[512];
  const char* path = lm->l_name;
  if (!path || !*path) {  // the main program has no name in the link map
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    path = exe;
  }
  fdprintf(fd, "\t%s+0x%lx\n", path, pc - lm->l_addr);
}

// printcursor prints the frame the cursor is at.
void printcursor(int fd, unw_cursor_t* c) {
  unw_word_t ip = 0, off = 0;
  unw_get_reg(c, UNW_REG_IP, &ip);
  char name[512];
  bool named = unw_get_proc_name(c, name, sizeof name, &off) == 0;
  printpc(fd, "", uintptr_t(ip), named ? name : nullptr, uintptr_t(off), "");
}

// printpcname looks pc's function up by itself (no stack to unwind) and prints it. entry:
// pc is a function's first instruction (else a return address, looked up at pc - 1).
void printpcname(int fd, const char* prefix, uintptr_t pc, bool entry, const char* suffix) {
  ucontext_t uc;
  memset(&uc, 0, sizeof uc);
  uc.uc_mcontext.gregs[REG_RIP] = greg_t(pc);
  uc.uc_mcontext.gregs[REG_RSP] = greg_t(reinterpret_cast<uintptr_t>(&uc));  // any readable sp
  unw_cursor_t c;
  char name[512];
  unw_word_t off = 0;
  auto* ctx = reinterpret_cast<unw_context_t*>(&uc);
  // A "signal frame" is one libunwind does not look up at pc - 1.
  bool named = unw_init_local2(&c, ctx, entry ? UNW_INIT_SIGNAL_FRAME : 0) == 0 &&
               unw_get_proc_name(&c, name, sizeof name, &off) == 0;
  printpc(fd, prefix, pc, named ? name : nullptr, uintptr_t(off), suffix);
}

void createdby(int fd, g* gp) {
  if (!gp || gp->goid == 1 || gp->gopc == 0) return;  // goroutine 1 is the program's main
  char suffix[48];
  suffix[0] = 0;
  if (gp->parentgoid > 0) snprintf(suffix, sizeof suffix, " in goroutine %ld", long(gp->parentgoid));
  printpcname(fd, "created by ", gp->gopc, false, suffix);
}

void walk(int fd, unw_cursor_t* c, int skip) {
  for (int n = 0;; n++) {
    if (n >= maxFrames + skip) {
      fdprintf(fd, "...additional frames elided...\n");
      break;
    }
    if (n >= skip) printcursor(fd, c);
    if (unw_step(c) <= 0) break;
  }
}
}  // namespace

void goroutineheader(int fd, g* gp) {
  uint32_t st = gp->atomicstatus.load(std::memory_order_acquire);
  char extra[48];
  extra[0] = 0;
  if (st == Gwaiting && gp->waitsince > 0) {
    int64_t mins = (nanotime() - gp->waitsince) / minuteNs;
    if (mins >= 1) snprintf(extra, sizeof extra, ", %ld minute%s", long(mins), mins == 1 ? "" : "s");
  }
  fdprintf(fd, "goroutine %ld [%s%s]:\n", long(gp->goid), statusstring(gp, st), extra);
}

void tracebackcontext(int fd, void* ctx, bool signalframe, g* gp, int skip) {
  unw_cursor_t c;
  auto* uc = static_cast<unw_context_t*>(ctx);
  int r = signalframe ? unw_init_local2(&c, uc, UNW_INIT_SIGNAL_FRAME) : unw_init_local(&c, uc);
  if (r != 0) {
    fdprintf(fd, "\t(stack unavailable: libunwind error %d)\n", r);
  } else {
    walk(fd, &c, skip);
  }
  createdby(fd, gp);
}

int collectpcs(void* ctx, uintptr_t* pcs, int max) {
  unw_cursor_t c;
  if (unw_init_local2(&c, static_cast<unw_context_t*>(ctx), UNW_INIT_SIGNAL_FRAME) != 0) return 0;
  int n = 0;
  while (n < max) {
    unw_word_t ip = 0;
    unw_get_reg(&c, UNW_REG_IP, &ip);
    if (ip == 0) break;
    pcs[n++] = uintptr_t(ip);
    if (unw_step(&c) <= 0) break;
  }
  return n;
}

void printpcs(int fd, const uintptr_t* pcs, int n, g* gp) {
  for (int i = 0; i < n; i++) {
    // The first is where the signal interrupted the thread (an exact pc); the others are
    // return addresses, looked up at pc - 1.
    printpcname(fd, "", pcs[i], i == 0, "");
  }
  if (n == maxFrames) fdprintf(fd, "...additional frames elided...\n");
  createdby(fd, gp);
}

__attribute__((noinline)) void tracebackhere(int fd, g* gp) {
  ucontext_t uc;
  getcontext(&uc);
  tracebackcontext(fd, &uc, false, gp, 2);  // leave out tracebackhere and its caller
}

void tracebacksaved(int fd, g* gp) {
  // Never ran: no stack yet, or only the frame gostackinit made at its top (a stack of its
  // own size is bound when the g is made); only its function.
  if (gp->stk.lo == 0 || gp->sched.sp + sizeof(switchframe) == gp->stk.hi) {
    printpcname(fd, "", reinterpret_cast<uintptr_t>(gp->startfn), true, "");
    createdby(fd, gp);
    return;
  }
  uintptr_t sp = gp->sched.sp;
  if (sp < gp->stk.lo || sp + sizeof(switchframe) > gp->stk.hi) {
    fdprintf(fd, "\t(stack unavailable: saved sp %#lx outside [%#lx, %#lx))\n", sp, gp->stk.lo,
             gp->stk.hi);
    createdby(fd, gp);
    return;
  }
  const auto* f = reinterpret_cast<const switchframe*>(sp);
  ucontext_t uc;
  memset(&uc, 0, sizeof uc);
  greg_t* r = uc.uc_mcontext.gregs;
  r[REG_RSP] = greg_t(sp + sizeof(switchframe));
  r[REG_RIP] = greg_t(f->ret);
  r[REG_RBP] = greg_t(f->rbp);
  r[REG_RBX] = greg_t(f->rbx);
  r[REG_R12] = greg_t(f->r12);
  r[REG_R13] = greg_t(f->r13);
  r[REG_R14] = greg_t(f->r14);
  r[REG_R15] = greg_t(f->r15);
  tracebackcontext(fd, &uc, false, gp, 0);
}

}  // namespace gmp
