// runtime.h — the runtime's structures: g, m, p, sched (Go's runtime2.go) and the internal
// functions, grouped by the file that defines them.
//
// Ownership in one paragraph (details at each field):
//   - A g is owned by whoever holds it: the M running it (_Grunning), the run queue or list it
//     sits on (_Grunnable, _Gdead), or the wait queue that will ready it (_Gwaiting).
//   - An m is owned by its own OS thread; other threads touch only the fields marked so.
//   - A p is owned by the M whose m->p points at it (exclusive); an idle P is owned by
//     sched.pidle (sched.lock). Other Ps may only steal from its run queue (atomics).
//   - sched is guarded by sched.lock except for the fields marked atomic.
#pragma once

#include <setjmp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unwind.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>

#include "hooks.h"  // whenafter
#include "lock.h"

struct gmp_stats;  // include/gmp/gmp.h

namespace gmp {

struct g;
struct m;
struct p;
struct pollring;  // netpoll.h
struct exitpoint;  // threadexit.cc

// ---- g ---------------------------------------------------------------------------------------

// gobuf: where a g that is not running resumes. The callee-saved registers, MXCSR and the x87
// control word are not here: mcall pushes them on the g's own stack (asm/amd64/switchframe.inc),
// so sp alone resumes the g; pc is a copy of the resume address for tracebacks.
struct gobuf {
  uintptr_t sp;  // saved stack pointer; written by mcall (owner) and newproc1/execute (new g)
  uintptr_t pc;  // resume pc, informational
  g* gp;         // the g this gobuf belongs to; constant after malg
};

struct stack {
  uintptr_t lo;  // lowest usable byte (the guard page is just below)
  uintptr_t hi;  // one past the highest byte
#if GMP_STACK_ANNOTATIONS
  unsigned vgid;  // Valgrind's id for it while bound (stackalloc/stackfree)
#endif
};

// g status. A status is an ownership contract:
enum gstatus : uint32_t {
  // _Gidle: just allocated (malg), not yet initialised. Owned by the allocating P.
  Gidle = 0,
  // _Grunnable: on a run queue (a P's runq/runnext or the global queue). Not executing user
  // code; the stack (if any) is not owned by anyone but the g's record.
  Grunnable = 1,
  // _Grunning: executing on an M (m->curg == g) that holds a P. The M owns the g and its stack.
  Grunning = 2,
  // _Gsyscall: in a blocking system call on its M, which may have lost its P (later issues).
  Gsyscall = 3,
  // _Gwaiting: parked by gopark. Whoever will goready it owns it (a wait queue, a timer...).
  // Its context is fully saved before the wait queue's lock is released (see gopark).
  Gwaiting = 4,
  // _Gdead: exited or never used; on a gFree list. No stack is bound.
  Gdead = 6,
};

// Why a g is parked: printed by goroutine dumps as Go prints waitReason; the text of each is
// waitReasonStrings[reason] (traceback.cc), which the gdb script reads too.
enum waitreason : uint8_t {
  waitReasonZero = 0,
  waitReasonSemacquire,
  waitReasonChanReceive,
  waitReasonChanSend,
  waitReasonSelect,
  waitReasonSelectNoCases,
  waitReasonSleep,
  waitReasonSyncMutexLock,
  waitReasonSyncRWMutexRLock,
  waitReasonSyncRWMutexLock,
  waitReasonSyncCondWait,
  waitReasonSyncWaitGroupWait,
  waitReasonIOWait,
  waitReasonThreadJoin,
  waitReasonThreadSync,
  waitReasonCount
};
extern const char* const waitReasonStrings[waitReasonCount];

// Saved per-thread C state that follows a goroutine across Ms (see tls.cc, "C state that
// follows the goroutine"). Saved by the switch-out paths on g0, restored by execute.
struct cstate {
  int err;              // errno
  void* cxa_caught;     // __cxa_eh_globals.caughtExceptions
  uintptr_t cxa_uncaught;  // __cxa_eh_globals.uncaughtExceptions (+ padding)
};

struct g {
  gobuf sched;  // offset 0: asm (gogo/mcall) depends on it
  m* m_;        // offset 24: the M running this g, or null. Written by execute/the switch-out
                // paths on that M; asm (mcall) reads it.
  // offset 32: the g's own thread pointer (%fs base: a TCB of its own, gthread.cc), or 0:
  // the g runs on its M's TLS. Set by newproc before the g is published, constant while it
  // lives; the switch paths (gogo, mcall, switchto) load it with wrfsbase.
  uintptr_t fsbase;
  stack stk;    // bound by execute when the g first runs, unbound by goexit0 (owner only)
  std::atomic<uint32_t> atomicstatus;  // gstatus; changed with casgstatus only
  waitreason waitreason_;              // set by gopark before the status change (owner)
  int64_t waitsince;                   // when parked (sched.coarsenow), for dumps (gopark)
  int64_t goid;                        // set by newproc (owner), constant while alive
  void (*startfn)(void*);              // what gostart calls; set by newproc
  void* startarg;
  uintptr_t gopc;                      // pc of the newproc caller ("created by")
  int64_t parentgoid;                  // goid of the creating goroutine, 0 if none
  cstate cstate_;                      // errno and C++ exception state while switched out
  // The signals the program blocked for this goroutine (pthread_sigmask; bit sig - 1),
  // applied to its M's thread while it runs (runon, sigmaskapply). Written by the g itself
  // (gsigmask, a relaxed atomic store) or by newproc before the g is published: its
  // creator's. Read by the g's M, and by a pthread_kill on any thread (gthreadblocks,
  // relaxed: a mask changed meanwhile is a race the program made, as with threads).
  uint64_t sigmask;
  // Signals aimed at this goroutine-thread while it blocked them (pthread_kill, a call's
  // SIGPIPE), held for it until it takes them (sigpend.cc, SP1-SP4).
  std::atomic<uint64_t> sigpending;
  g* schedlink;                        // run queue / gFree / wait queue link (owner of list)
  size_t stacksize;                    // wanted size; 0 = default (stack.cc)
  uint32_t spawnstreak;                // gmp_go calls since its last spawn yield (abi.cc,
                                       // spawned); the g's own; 0 from newproc
  // A signal handler's interruption of the hooked call the g is parked in (sigintr.cc,
  // SI1-SI4). intr: the owner arms and disarms it, a handler on any thread marks it hit and
  // busy and clears busy, the parking M's commit clears commit. intrkey and intrring name
  // the parked operation (intrring null: the word a sem_wait waits on, sema.cc SEM6):
  // written by the owner before it arms intr, read by the handler and the commit only
  // while intr says armed or hit.
  std::atomic<uint32_t> intr;
  uint64_t intrkey;
  pollring* intrring;
  // pthread_exit on this goroutine (threadexit.cc, TC2): its chain of C cleanup buffers
  // (pthread_cleanup_push) and, while it unwinds, where the unwinding stops. The g's own.
  void* cleanup;
  exitpoint* exiting;
  // An asynchronous pthread_cancel waits for this goroutine-thread (gthread.cc, GT2): set
  // by the canceller (relaxed), read by sysmon, which then preempts it (preempt.cc), and
  // cleared by the goroutine there or by goexit0. A hint: a mark that lands on the record's
  // next goroutine costs it one preemption (gmp_asyncpreempt2 asks its own thread).
  std::atomic<bool> asynccancel;
  // The alternate signal stack the program gave this goroutine (sigaltstack; the M's own is
  // the runtime's): kept and read back by the goroutine alone (gsigaltstack); none (zero)
  // again from goexit0.
  stack_t altstack;
#if GMP_STACK_ANNOTATIONS
  void* fiberfake;  // ASan's fake frames while switched out (annotate.h); owner
#endif
};

// ---- m ---------------------------------------------------------------------------------------

constexpr int maxFrames = 100;  // frames a traceback prints at most (Go's tracebackMaxFrames)

// lazycall: the system call gmp_lazysyscall makes, and for a write a signal cut short
// after some bytes, what it goes on with (lazysyscall.cc, LS3). The M's thread only: its
// SIGURG handler sets it up before the redirection, the trampoline's C calls use it.
constexpr int lazyiovMax = 16;  // a writev of more vectors is left alone
struct lazycall {
  long call[7];       // the call to make now: its number, then its six arguments
  bool going;         // a write gmp_lazysyscall goes on with until every byte moved
  bool sock;          // to a socket
  uint32_t handlers;  // gmp_handlersran when it began: a handler of the program's ends it
  long total;         // the bytes it moves in all
  long carry;         // the bytes moved so far
  iovec iov[lazyiovMax];  // a writev's vectors left
  msghdr msg;             // a socket's rest, sent without SIGPIPE (as the kernel would)
};

struct m {
  g* g0;        // offset 0: asm (mcall) depends on it. Scheduler stack, constant.
  // offset 8: the thread's current MXCSR (low 32 bits) and x87 control word (bits 32-47).
  // Invariant FP1: on g0, fpctl equals the thread's real FP control state. mcall stores it,
  // gogo loads a g's saved words into the FPU only when they differ from it (asm only, this
  // M's thread only; set at mstart).
  uint64_t fpctl;
  // offset 16: this M's own thread pointer (its TCB), which g0 and the goroutines without
  // one of their own run on. Set once on the M's thread (minit_tls); asm reads it.
  uintptr_t fsbase;
  g* curg;      // the user g running, or null on g0. Written by this M only.
  p* p_;        // attached P; non-null implies exclusive ownership. Written by this M only
                // (acquirep/releasep) except for the hand-off in startm before it runs.
  p* nextp;     // P to attach when woken; written by startm under sched.lock while this M is
                // idle (on sched.midle), read by this M after its park note is woken.
  bool spinning;  // looking for work while holding a P; counted in sched.nmspinning. This M.
  int64_t id;     // constant
  std::atomic<int32_t> procid;  // OS thread id; written once by the new thread (or by clone's
                                // CLONE_PARENT_SETTID for raw Ms)
  note park;      // stopm sleeps here; startm wakes it
  m* schedlink;   // sched.midle link (sched.lock)
  m* alllink;     // allm list link; constant once published
  void* tcb;      // raw-clone Ms: the TCB from _dl_allocate_tls; null for pthread Ms
  stack g0stack;  // g0's stack (raw clone: ours; pthread Ms: the pthread's, approximate)
  void (*mstartfn)();  // run once on this M before schedule (sysmon); set by newm
  p* oldp;             // the P this M held when it entered a syscall (this M only)
  // locks: > 0 while runtime code on a goroutine's stack holds P state or a runtime lock
  // across a call into libc (acquirem; lazysyscall.cc LS2). This M only.
  uint32_t locks;
  // sysmon's request to this M's SIGURG handler (lazysyscall.cc LS1): sigreqSyscall, make
  // the blocked call again without the P; sigreqPreempt, yield (preempt.cc). 0: none.
  std::atomic<uint32_t> sigreq;
  // The call sysmon found this M asleep in, for a sigreqSyscall of a call that a handler ends
  // in EINTR (lazysyscall.cc, remakenr): its number and arguments. Written by sysmon before
  // its request (LS1's release), read by the handler after it took the request.
  long sigcallnr;
  unsigned long sigcallargs[6];
  lazycall lazy;  // gmp_lazysyscall's call (LS3); this M's thread only
  // A broadcast of new credentials asks this M's thread to make the call (setxid.cc, SX1):
  // set by the caller, exchanged by this M's SIGURG handler.
  std::atomic<bool> setxid;
  uint64_t fastrand;   // per-M random state for steal order (this M only)
  uint64_t cursigmask;   // the thread's mask now (sigmaskapply; mstart_on_thread). This M only
  // Signals that may be pending on this M's thread for the goroutine it runs, which blocks
  // them (sigpend.cc, SP2): set by that goroutine and by a pthread_kill of it while it waits
  // in a call that holds the thread; taken back when the goroutine leaves the M (sigleave).
  std::atomic<uint64_t> sigonthread;

  // Cached per-thread C state locations (tls.cc); computed on this M's own thread.
  int* errnop;
  void** cxa_globals;

  // gopark's arguments, stashed for park_m on g0 (this M only).
  bool (*waitunlockf)(g*, void*);
  void* waitlock;
#if GMP_STACK_ANNOTATIONS
  void (*mcallfn)(g*);  // what mcall runs on g0 (proc.cc, mcall); this M only
#endif

  // Signals (signal_unix.cc). sigstk: this M's sigaltstack, set by minitsig on its thread.
  // dumpreq: the goroutine-dump hand-shake with a dumping thread ("Dumping running
  // goroutines" in signal_unix.cc): the dumper CASes it idle->asked, this M's SIGURG
  // handler asked->printing->done, the dumper done/asked->idle. dumpg: the g the dumper
  // saw on this M (written by the dumper before it asks).
  stack sigstk;
  std::atomic<uint32_t> dumpreq;
  g* dumpg;
  int32_t ndumppcs;             // this M's answer: pcs of dumpg's stack, -1 if dumpg had
  uintptr_t dumppcs[maxFrames]; // left the M (written by this M, read after done)
};

// ---- p ---------------------------------------------------------------------------------------

enum pstatus : uint32_t {
  // _Pidle: not running user code; on sched.pidle (sched.lock) or being handed over.
  Pidle = 0,
  // _Prunning: owned by an M (m->p == p) that is running user code or the scheduler.
  Prunning = 1,
  // _Psyscall: its M is in a system call; sysmon may retake it (later issues).
  Psyscall = 2,
  // _Pgcstop: halted for stop-the-world; owned by the M that stopped the world.
  Pgcstop = 3,
  // _Pdead: no longer used (gomaxprocs shrank); keeps its record for reuse.
  Pdead = 4,
};

constexpr uint32_t runqsize = 256;
constexpr int gfreemax = 64;        // local gFree above this moves half to the global list
constexpr int stackcachemax = 32;   // local stack cache above this moves half to the pool
constexpr uint32_t runnextStreakMax = 64;  // runnext hand-offs before the P looks elsewhere

struct gqueue {  // a singly linked list of gs through schedlink, with a count
  g* head = nullptr;
  g* tail = nullptr;
  int64_t n = 0;
  void push_back(g* gp) {
    gp->schedlink = nullptr;
    if (tail) tail->schedlink = gp; else head = gp;
    tail = gp;
    n++;
  }
  g* pop() {
    g* gp = head;
    if (gp) {
      head = gp->schedlink;
      if (!head) tail = nullptr;
      n--;
    }
    return gp;
  }
};

struct sysmontick {  // sysmon's last observation of a P (sysmon only)
  uint32_t syscalltick;
  int64_t syscallwhen;
  uint32_t schedtick;  // lazysyscalls: the schedtick seen at schedwhen
  int64_t schedwhen;
};

// A runtime timer (time.cc; Go's runtime timer, named rttimer as rtmutex is: gmp::timer is
// the C++ layer's time.Timer): t.f(t.arg, now) runs on some M holding a P once nanotime()
// >= when, under the timersrun lock of the P whose heap held it (not its timerslock);
// period > 0 repeats it.
struct rttimer {
  int64_t when;      // nanotime deadline (the heap's key; the owner sets it before addtimer)
  int64_t period;    // > 0: re-armed every period ns
  void (*f)(void* arg, int64_t now);
  void* arg;
  std::atomic<p*> pp;         // the P whose heap holds it, or null (that P's timerslock)
  std::atomic<p*> runningon;  // the P that last ran its f (deltimer waits on its timersrun)
  int32_t idx;                // position in pp's heap (pp's timerslock)
};

// Cache-line aligned (and so padded): every P is written on each switch by its own M
// (schedtick, nswitch, runq), and adjacent Ps in memory would make those writes contend.
struct alignas(64) p {
  int32_t id;
  std::atomic<uint32_t> status;  // pstatus; changed by the owner or under sched.lock (idle)
  p* link;                       // sched.pidle link (sched.lock)
  std::atomic<uint32_t> schedtick;    // bumped by the owner per new time slice; sysmon reads
  std::atomic<uint32_t> syscalltick;  // bumped when a P leaves Psyscall; sysmon reads
  uint32_t runnextstreak;             // gs run in a row from runnext (owner; findRunnable)
  m* m_;                         // back-link to the owning M, null when idle (owner)
  // Its io_uring (netpoll.h): made by the owner on first use (netpollring), then constant;
  // others load it with acquire. ringfailed: io_uring refused (owner).
  std::atomic<pollring*> ring;
  bool ringfailed;

  // The local run queue: Go's lock-free ring. Only the owner writes runqtail and the slots
  // it publishes; the owner and thieves advance runqhead with CAS. Slots are atomics so a
  // thief may read one that the owner is about to reuse (its CAS then fails).
  std::atomic<uint32_t> runqhead;
  std::atomic<uint32_t> runqtail;
  std::atomic<g*> runq[runqsize];
  // runnext: a g readied by the running g, run next inheriting the time slice. Other Ps may
  // CAS it to null (steal); only the owner CASes it to a valid g.
  std::atomic<g*> runnext;

  // Dead gs with no stack, owner only; overflow goes to sched.gfree.
  gqueue gfree;
  // goids handed out locally: [goidcache, goidcacheend), refilled from sched.goidgen.
  int64_t goidcache;
  int64_t goidcacheend;
  // g records allocated in a batch, owner only (allg.cc).
  g* gbatch;
  int32_t gbatchn;
  // Stack cache of default-size stacks (stack.cc), owner only.
  int32_t nstack;
  uintptr_t stackcache[stackcachemax];

  // Timers (time.cc): a 4-ary heap on when, under timerslock; timer0when is the earliest
  // when (0: none), readable without the lock. timersrun: held by the M that runs the
  // expired timers' fs (checktimers), taken before timerslock and never under it.
  rtmutex timersrun;
  rtmutex timerslock;
  rttimer** timers;
  int32_t ntimers;
  int32_t timerscap;
  std::atomic<int64_t> timer0when;

  sysmontick sysmontick_;
  // Counters, written by the owner only (relaxed load + store), read by anyone (gcount,
  // gmp_stats): goroutines created on and exited from this P, goroutines started running
  // (context switches), steals that took work, parks.
  std::atomic<uint64_t> gcreated;
  std::atomic<uint64_t> gexited;
  std::atomic<uint64_t> nswitch;
  std::atomic<uint64_t> nsteal;
  std::atomic<uint64_t> npreempt;  // async preemptions of its goroutines (preempt.cc; owner)
  std::atomic<uint64_t> npark;
};

// ---- sched ----------------------------------------------------------------------------------

constexpr int maxgomaxprocs = 1024;

struct schedt {
  std::atomic<int64_t> goidgen;  // atomic; goids are handed out in batches of 16

  rtmutex lock;

  // Idle Ms waiting for work (sched.lock).
  m* midle;
  int32_t nmidle;
  int64_t mnext;     // id of the next M (sched.lock)
  std::atomic<int32_t> mcount;  // Ms created (sched.lock to write)

  // Idle Ps (sched.lock to modify; npidle read atomically by wakep).
  p* pidle;
  std::atomic<int32_t> npidle;
  // Ms spinning (holding a P, looking for work). See "Worker thread parking/unparking".
  std::atomic<int32_t> nmspinning;

  // The global run queue (sched.lock); runqsize_ is also read racily as a hint.
  gqueue runq;
  std::atomic<int64_t> runqsize_;

  // Global list of dead gs (sched.lock).
  gqueue gfree;

  // Stop the world (sched.lock): see proc.cc, "Stopping the world".
  std::atomic<bool> gcwaiting;
  int32_t stopwait;
  note stopnote;

  // sysmon (sysmon.cc): sysmon sleeps on sysmonnote while the process is idle; whoever
  // takes the first P out of idle (sched.lock held) wakes it.
  bool sysmonwait;
  // sysmonquick: the waker wants sysmon's rounds short again (a P entered a system call, the
  // world restarted); a P that merely turned busy does not. Written by the waker, read and
  // cleared by sysmon, both under sched.lock.
  bool sysmonquick;
  // sysmonslow: sysmon runs long rounds after a non-quick wake-up and sleeps them on
  // sysmonnote, where entersyscall may wake it. Set by sysmonwake(false), cleared by
  // sysmonwake(true) and by sysmon; under sched.lock.
  bool sysmonslow;
  // sysmonwoken: sysmonnote was woken and sysmon has not cleared it yet, so another
  // sysmonwake only leaves its request (a note takes one wake-up per clear). Under sched.lock.
  bool sysmonwoken;
  note sysmonnote;
  // nanotime as of sysmon's last round (at most 10 ms old while any P runs; refreshed by
  // sysmonwake when the process stops being idle). gopark stamps g.waitsince with it: a
  // dump needs minutes, and a load is cheaper than a clock read on every park. Relaxed.
  std::atomic<int64_t> coarsenow;
  // sched.coarsenow when some M last reaped the rings (netpollall, any M); sysmon reaps them
  // itself when that is over 10 ms ago and work is in flight (a P kept busy never gets
  // there). Relaxed: a hint, at worst one poll early or late.
  std::atomic<int64_t> lastpoll;
  // sysmon holds goroutines it reaped and has not queued yet: it counts as a running M for
  // checkdead, as Go's sysmon does with incidlelocked(-1). Written by sysmon (seq_cst: set
  // before the reap lowers a ring's inflight, cleared after the queueing under sched.lock);
  // read by checkdead, under sched.lock, after it saw nothing in flight.
  std::atomic<bool> sysmonpolling;

  // The timer sleeper (time.cc, "Sleeping until a timer"), which is also the M blocked in
  // netpoll: its deadline (INT64_MAX: I/O only, no timer), 0 when none sleeps or a waker
  // has claimed it (TW1, TW2).
  std::atomic<int64_t> timerwhen;
  std::atomic<bool> timersleeper;  // an M is (about to be) the timer sleeper
  std::atomic<uint64_t> npollwait;  // blocking netpoll waits (timersleep); gmp_stats
  std::atomic<uint64_t> sysmonrounds;  // sysmon's rounds (sysmon writes, relaxed); gmp_stats

  // Goroutines created by threads without a P (atomic); see gcount.
  std::atomic<uint64_t> gcreatedNoP;
};

extern schedt sched;
extern std::atomic<int32_t> gomaxprocs;  // written under stop-the-world only
extern p* allp[maxgomaxprocs];           // allp[0..gomaxprocs) live; written under STW
extern std::atomic<int32_t> nallp;       // Ps ever made (dead ones keep their counters)
extern std::atomic<m*> allm;             // list through alllink; prepended under sched.lock
extern m m0;
extern g g0_m0;
extern std::atomic<bool> mainStarted;    // goroutine 1 started: wakep may start Ms
extern std::atomic<bool> runtimeStarted; // schedinit finished: the C ABI may be used

// ---- getg -----------------------------------------------------------------------------------

// The current g of this thread (g0 on the scheduler stack, null on a thread that is not an M).
// The initial-exec TLS slot is read through asm so that no TLS address is cached across a park
// point: see DESIGN.md, "no pointer into thread-local state survives a park point".
extern "C" __thread g* gmp_tls_g __attribute__((tls_model("initial-exec")));

inline g* getg() {
  g* gp;
  asm volatile("movq gmp_tls_g@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(gp));
  return gp;
}
// curgoroutine: the caller's goroutine, or null on g0, before the runtime starts and on a
// thread the runtime does not know (which waits on a note instead of parking).
inline g* curgoroutine() {
  g* gp = getg();
  return gp && gp->m_ && gp->m_->curg == gp ? gp : nullptr;
}
inline void setg(g* gp) {
  asm volatile("movq gmp_tls_g@gottpoff(%%rip), %%rax\n\tmovq %0, %%fs:(%%rax)"
               :
               : "r"(gp)
               : "rax", "memory");
}

// ---- asm/amd64 -------------------------------------------------------------------------------

extern "C" {
// Save the current g's context on its stack, switch to g0's stack and call fn(g). fn never
// returns (it ends in schedule() or gogo).
void gmp_mcall(void (*fn)(g*));
// Resume the g whose gobuf this is (sets the TLS g). Never returns.
[[noreturn]] void gmp_gogo(gobuf* buf);
// Save the running g `old` as mcall does, switch to `to` without g0, call after(old) on
// to's stack, then resume to as gogo does. Returns when old is resumed (proc.cc, "Yielding
// without g0").
void gmp_switchto(g* old, gobuf* to, void (*after)(g*));
// The first pc of every goroutine: calls startfn(startarg), then goexit. Never returns.
void gmp_gostart();
// Raw clone(2) with the child running fn(arg) on stack; returns the child's tid or -errno.
long gmp_clone(unsigned long flags, void* stack, int* ptid, int* ctid, void* tls,
               void (*fn)(void*), void* arg);
}
// Offsets the assembly hard-codes.
static_assert(offsetof(g, sched) == 0);
static_assert(offsetof(gobuf, sp) == 0);
static_assert(offsetof(gobuf, pc) == 8);
static_assert(offsetof(gobuf, gp) == 16);
static_assert(offsetof(g, m_) == 24);
static_assert(offsetof(g, fsbase) == 32);
static_assert(offsetof(m, fsbase) == 16);
static_assert(offsetof(m, g0) == 0);
static_assert(offsetof(m, fpctl) == 8);

// The frame mcall and switchto push and gogo and switchto pop (asm/amd64/switchframe.inc),
// lowest address first.
struct switchframe {
  uint32_t mxcsr;
  uint16_t fpucw;
  uint16_t pad;
  uintptr_t r15, r14, r13, r12, rbx, rbp;
  uintptr_t ret;
};
static_assert(sizeof(switchframe) == 64);

// ---- proc.cc ---------------------------------------------------------------------------------

void schedinit();
// newproc: see proc.cc. bindstack: map a stack of stacksize (not 0) now, so that one that
// cannot be mapped is -ENOMEM (gmp_go_with's promise) instead of a fatal error at the first
// run. The caller pays for the mapping, which the first run pays otherwise on whichever M
// runs the goroutine: threads are not bound so (tests/apps/threadserver, 9,872 threads at
// 2 Ps, took 5.2-7.1 s instead of 3.3-4.5 s with them bound in its accept loop; one-off).
int64_t newproc(void (*fn)(void*), void* arg, uintptr_t callerpc, size_t stacksize,
                uintptr_t fsbase = 0, bool bindstack = false);
[[noreturn]] void mstart();
[[noreturn]] void schedule();
void gopark(bool (*unlockf)(g*, void*), void* lock, waitreason reason);
void goready(g* gp);
void gosched();
extern "C" [[noreturn]] void gmp_goexit1();
// casgstatus moves gp from oldval to newval; any other current status is a runtime bug.
// Every transition is made by the g's current owner (see gstatus): the status is handed
// over with the g itself, through a run queue, a wait queue or sched.lock, whose own
// release/acquire orders it. So a checked store suffices where Go, whose GC changes
// statuses concurrently, needs a CAS; the store is a release for readers such as dumps.
[[noreturn]] void badgstatus(g* gp, uint32_t oldval, uint32_t newval, uint32_t cur);
inline void casgstatus(g* gp, uint32_t oldval, uint32_t newval) {
  uint32_t cur = gp->atomicstatus.load(std::memory_order_relaxed);
  if (__builtin_expect(cur != oldval, 0)) badgstatus(gp, oldval, newval, cur);
  gp->atomicstatus.store(newval, std::memory_order_release);
}
uint32_t readgstatus(g* gp);
void wakep();
void injectglist(gqueue* q);  // run q's runnable gs (netpoll); any M
void handoffp(p* pp);
p* pidleget();                    // sched.lock held
void entersyscall();              // the g's M may block in the kernel; its P may be retaken
bool exitsyscallfast(m* mp);  // back on this M: the old P or an idle one; false if none
void exitsyscall();
int64_t gcount();
void schedstats(struct ::gmp_stats* st);  // the counters behind the C ABI's gmp_stats
int procresize_world(int32_t n);  // stop the world, procresize(n), start it; returns old n
[[noreturn]] void mstart_on_thread(m* mp);  // every M's thread starts here (os_linux.cc)
[[noreturn]] void mstart();       // M0 enters the scheduler
// rt0_newmain: create goroutine 1, which starts sysmon and then runs fn(argc, argv, envp).
void rt0_newmain(int (*fn)(int, char**, char**), int argc, char** argv, char** envp);
void startsysmon();             // a new M for sysmon (goroutine 1)
void procforkchild(g* gp);      // a forked child's scheduler around gp (fork.cc, FK1-FK3)

// ---- runq.cc ---------------------------------------------------------------------------------

void runqput(p* pp, g* gp, bool next);
g* runqget(p* pp, bool* inheritTime);
g* runqsteal(p* pp, p* p2, bool stealRunNextG);
bool runqempty(p* pp);
void runqdrain(p* pp, gqueue* out);  // owner, world stopped: take everything
void globrunqput(g* gp);           // sched.lock held
void globrunqputbatch(gqueue* q);  // sched.lock held
g* globrunqget(p* pp, int32_t max);  // sched.lock held

// ---- allg.cc ---------------------------------------------------------------------------------

// The g arena: gmp_allgs[0, gmp_allglen) is every g ever made (dumps and the gdb script walk
// it; records past a P's batch position are zeroed Gidle ones).
extern "C" g* gmp_allgs;
extern "C" std::atomic<int64_t> gmp_allglen;
void allginit();     // reserve the g arena (schedinit)
void allgforkchild(g* keep);  // a forked child: the arena's lock, the ghosts dead (FK1, FK2)
g* malg(p* pp);      // a fresh zeroed g record (Gidle), or null when out of memory

// ---- stack.cc --------------------------------------------------------------------------------

extern size_t stackdefault;  // GMPSTACK or 64 KiB, page-rounded; set in schedinit
void stackinit();
bool stackalloc(p* pp, size_t size, stack* out);  // false: out of memory
void stackfree(p* pp, stack s);
void stackcache_drain(p* pp);  // P being destroyed: give its cache to the pool
size_t stackpool_bound();      // stacks the global pool keeps committed (tests)
// stackscavenge: decommit up to max of the pool's stacks beyond stackpool_bound (sysmon);
// whether more remain.
bool stackscavenge(int max);
size_t stackbigcached();       // bytes of other-size stacks cached for reuse (tests)
size_t mainstacksize();        // goroutine 1's stack: RLIMIT_STACK
void stackforkchild();         // a forked child: an empty pool (FK1)

// ---- os_linux.cc -----------------------------------------------------------------------------

extern int32_t ncpu;
extern size_t physpagesize;
void osinit();
// sigintrmain: gp is goroutine 1, which a signal's handler interrupts (sigintr.cc).
void sigintrmain(g* gp);
// sighandlers: the program installed a handler of its own, which may post a semaphore
// (SEM5) whenever a signal comes: an idle process keeps an M in netpoll for it.
bool sighandlers();
void sigintrg(g* gp, bool restart);  // a handler ran for gp: end its parked call (SI2)
void sigintrheld(g* gp);  // a signal was held for gp: its parked read waits again (SI6)
void sigintrcancel(g* gp);  // pthread_cancel of gp's thread: end its parked call (SI7)
// condintr: the cancel of a condition's waiter armed by intrarmcond (sync.cc, CW4).
void condintr(void* waiter);
int64_t nanotime();
void usleep_ns(int64_t ns);

// rawsyscall: the syscall instruction, in libgmp's own code (a hook never sees it, and
// lazysyscall.cc knows it for the runtime's); returns the result or -errno, leaves errno.
inline long rawsyscall(long n, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0, long a5 = 0,
                       long a6 = 0) {
  long ret;
  register long r10 asm("r10") = a4;
  register long r8 asm("r8") = a5;
  register long r9 asm("r9") = a6;
  asm volatile("syscall"
               : "=a"(ret)
               : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
               : "rcx", "r11", "memory");
  return ret;
}
bool readsmall(const char* path, char* buf, size_t n);  // a small file, NUL-terminated
// newthread: a detached glibc thread for the runtime's own use (not an M), every signal
// blocked. False when it cannot be made.
bool newthread(void* (*fn)(void*), void* arg);

// ---- procfs.cc -------------------------------------------------------------------------------

// /proc while the program runs, read on a thread with a file table of its own (no
// descriptor number of the program's is taken, PF1-PF2). procread: readsmall's contract;
// sysmon's (it makes the helper). procentries: the entries of a directory but . and .., or
// -1; any thread, under sched.lock too (it never makes the helper).
bool procread(const char* path, char* buf, size_t n);
int32_t procentries(const char* path);
void procfsforkchild();  // a forked child, while it has one thread: no helper yet
uint64_t procfsrequests();  // how many reads it served (tests)
int32_t procfshelpers();    // threads of its own alive: 0 or 1
int tgkill_(int tid, int sig);  // signal one of our threads; 0 or -errno
// startwatchdog: from now on, the process ends (msg, exit 2) in ns, whatever else happens;
// a raw thread that needs nothing from libc or the runtime. Once per process.
void startwatchdog(int64_t ns, const char* msg);
int gettid_();
bool newosproc(m* mp);  // start the OS thread for mp; false on failure
void g0bounds(m* mp);   // on mp's (pthread) thread: g0's stack is exactly the thread's
void futexsleep(std::atomic<uint32_t>* addr, uint32_t val, int64_t ns);  // ns < 0: forever
void futexwakeup(std::atomic<uint32_t>* addr, int32_t cnt);
void osyield();
void procyield(int n);

void* sysAlloc(size_t n);  // mmap NORESERVE rw; null on failure
void sysFree(void* v, size_t n);

// ---- membarrier.cc ---------------------------------------------------------------------------

// lightrelease: rtmutex and gmp_mutex_t release with a plain store, and a waiter that marked
// itself calls heavyfence before it sleeps (see membarrier.cc). Set once in schedinit.
extern bool lightrelease;
void membarrierinit();  // schedinit, before any other thread of ours
void heavyfence();      // a full barrier on every CPU running one of our threads
// awaitrelease: spins a little (where another CPU can release meanwhile) for the locked byte
// at lockbyte to read 0; whether it did. A waiter that marked itself and then sees a release
// needs no fence: the release that may have missed its mark is visible to it. The release
// comes within a few hundred ns from another CPU; the fence costs ~20 us there.
bool awaitrelease(const void* lockbyte);

// ---- tls.cc ----------------------------------------------------------------------------------

bool tcbprobe();          // check(): can raw-clone Ms have a glibc-compatible TCB here?
bool tcbconfirm();        // on the first pthread (sysmon): the probed layout holds there too
extern bool useRawClone;  // decided in schedinit: probe passed and not GMPDEBUG=mclone=pthread
void* tcballoc();         // a TCB for a new raw M (null on failure); see tls.cc
int* tcbtid(void* tcb);   // where clone stores the tid in that TCB
void minit_tls(m* mp);    // on the new M's thread: rseq, cached errno/cxa locations
bool tcbusable();         // TCBs for gthreads: the probe on M0 passed, tcbfree works
void tcbfree(void* tcb);  // give back a TCB of tcballoc's nobody runs on
// tcbrobustdeath: the thread of tcb (a gthread's, which never ends in the kernel) ended:
// the robust mutexes it holds (its robust list) become owner-dead, as the kernel makes those
// of a thread that exits, and a waiter of each is woken (EOWNERDEAD to the next locker).
void tcbrobustdeath(void* tcb);
void tcbstart();          // on a thread's first run on a new TCB (ctype tables)
// tcbforkchild: in a forked child whose fork ran on tp, a TCB of a goroutine's own (a
// gthread's, or goroutine 1's: the main thread's), glibc took tp for the thread's: mp's own
// TCB leaves glibc's stack cache; for a gthread it takes the thread's tid, robust list and
// glibc's thread-list entry, and goroutine 1 keeps them.
void tcbforkchild(m* mp, uintptr_t tp, int tid, bool gthreadtcb);
// tcbunlist: tcb leaves glibc's thread lists (self-linked). A TCB that no OS thread owns for
// good must not be there: glibc's setuid() signals each listed thread's tid and waits for
// its handler to clear the flag in the TCB loaded there, which may be another one.
void tcbunlist(uintptr_t tcb);
// threadpointer: the %fs base of the running thread (or goroutine with a TCB of its own).
inline uintptr_t threadpointer() {
  uintptr_t tp;
  asm volatile("movq %%fs:0, %0" : "=r"(tp));
  return tp;
}
// savecstate / restorecstate: the switch-out paths save the C state that follows a
// goroutine (errno, C++ exception globals) into it; execute restores it on the new M.
inline void savecstate(m* mp, g* gp) {
  gp->cstate_.err = *mp->errnop;
  gp->cstate_.cxa_caught = mp->cxa_globals[0];
  gp->cstate_.cxa_uncaught = reinterpret_cast<uintptr_t>(mp->cxa_globals[1]);
}
inline void restorecstate(m* mp, g* gp) {
  *mp->errnop = gp->cstate_.err;
  mp->cxa_globals[0] = gp->cstate_.cxa_caught;
  mp->cxa_globals[1] = reinterpret_cast<void*>(gp->cstate_.cxa_uncaught);
}

// ---- sysmon.cc -------------------------------------------------------------------------------

void sysmon();               // sysmon's M runs this; never returns

// ---- lazysyscall.cc --------------------------------------------------------------------------

void lazysyscallinit(bool sigurgours);  // initsig: SIGURG is the runtime's
// lazysyscallson: sysmon makes requests. Set by lazysyscallinit; the tests of the hooks
// turn it off to see what the hooks do alone (export_test.h, NoLazySyscalls).
extern std::atomic<bool> lazysyscallson;
void lazysyscallsig(m* mp, g* gp, void* ctx);  // mp's SIGURG handler: answer a request
// lazysyscalls: sysmon asks an M that kept its P for 10 ms either to give it up (blocked in
// a call nothing hooks) or to yield it (running: preempt.cc).
void lazysyscalls(int64_t now);
enum : uint32_t { sigreqSyscall = 1, sigreqPreempt = 2 };  // m.sigreq
// sigredirect: the handler's context ctx resumes at fn instead, with the interrupted pc
// (ret) as fn's return address below the interrupted code's red zone (fn returns with
// `ret $128`). sigredirectroom: the stack fn needs below the interrupted sp, its C calls
// included.
void sigredirect(void* ctx, uintptr_t ret, void (*fn)());
uintptr_t sigredirectroom();

// ---- preempt.cc ------------------------------------------------------------------------------

// asyncpreemptinit: once, before the first request (sysmon): the code that must not be
// interrupted (the runtime and the libraries it calls).
void asyncpreemptinit();
// asyncpreemptwanted: sysmon would preempt pp's running goroutine gp (racy reads): gp has
// a TCB of its own and something waits for the P (goroutines, a due timer, a stop of the
// world). now: sysmon's clock.
bool asyncpreemptwanted(p* pp, g* gp, int64_t now);
// asyncpreemptsig: mp's SIGURG handler, asked to preempt gp (which lazysyscallsig checked
// is mp's running goroutine, outside a runtime section, on its own stack).
void asyncpreemptsig(m* mp, g* gp, void* ctx);

// acquirem / releasem (Go's): around a call into libc from runtime code on a goroutine's
// stack that holds P state or a runtime lock (LS2). Null off an M.
// The signal fences keep the compiler from moving the count across the libc call (it may
// treat malloc as touching no memory of ours); only this thread's handler reads it.
inline m* acquirem() {
  g* gp = getg();
  m* mp = gp ? gp->m_ : nullptr;
  if (mp) mp->locks++;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  return mp;
}
inline void releasem(m* mp) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (mp) mp->locks--;
}
void sysmonstarted_wait();   // goroutine 1: wait until sysmon settled useRawClone
// sysmonwake: wake sysmon from its park (sched.sysmonwait) or, quick, from a long round
// (sched.sysmonslow). quick: a P entered a system call or the world restarted, so sysmon goes
// back to 20 us rounds; not quick: a P turned busy, and its rounds stay as long as they were.
// sched.lock held.
void sysmonwake(bool quick);

// ---- env.cc ----------------------------------------------------------------------------------

struct debugvars {
  bool set;            // GMPDEBUG is set at all: say once what the runtime decided
  int32_t schedtrace;  // ms between SCHED lines; 0: off
  bool mclonePthread;  // GMPDEBUG=mclone=pthread
  bool scheddetail;    // GMPDEBUG=scheddetail=1: the SCHED line lists every P, M and G
  bool notakeover;     // GMPDEBUG=takeover=0: hooks pass through
  bool nofsgsbase;     // GMPDEBUG=fsgsbase=0: switch TCBs with arch_prctl as without FSGSBASE
  bool nomembarrier;   // GMPDEBUG=membarrier=0: locks release with an exchange (no lightrelease)
  bool noasyncpreempt; // GMPDEBUG=asyncpreemptoff=1: sysmon preempts no goroutine (preempt.cc;
                       // sysmon reads it with __atomic_load_n: the tests flip it)
  int32_t traceback = 2;  // GMPTRACEBACK (a tracebacklevel); default tracebackAll
  int32_t maxprocs;    // GMPMAXPROCS; 0: unset
  size_t stacksize;    // GMPSTACK; 0: unset
};
extern debugvars debug;
void parsedebugvars();

// ---- panic.cc --------------------------------------------------------------------------------

[[noreturn]] void fatal(const char* msg);  // "gmp: fatal error: msg", dump, exit 2
void printerr(const char* s);              // write(2) without malloc
void printerrf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void fdprintf(int fd, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void writeall(int fd, const char* s, size_t n);  // retries partial writes and EINTR

// dumpactive: a goroutine dump is being printed, or the process is dying after one: the
// libc hooks pass calls through (the dumper's own reads and writes must not park).
bool dumpactive();

// ---- traceback.cc ----------------------------------------------------------------------------

// goroutineheader prints "goroutine N [status, M minutes]:".
void goroutineheader(int fd, g* gp);
// tracebackcontext prints the frames of the stack that ctx (a ucontext_t* from a signal, or
// from getcontext) describes, down to the goroutine root, leaving out the first skip; then
// "created by" if gp is known.
void tracebackcontext(int fd, void* ctx, bool signalframe, g* gp, int skip);
// collectpcs walks the stack a signal context describes and stores up to max pcs, without
// looking anything up (no malloc: it runs in a signal handler); returns how many.
int collectpcs(void* ctx, uintptr_t* pcs, int max);
// printpcs prints pcs (from collectpcs) as frames, then "created by" for gp.
void printpcs(int fd, const uintptr_t* pcs, int n, g* gp);
// tracebackhere prints the calling thread's stack from its caller's caller on (the dump
// function's caller), then "created by" for gp.
void tracebackhere(int fd, g* gp);
// tracebacksaved prints the frames of a g that is switched out (its switchframe), or its
// start function if it never ran; then "created by".
void tracebacksaved(int fd, g* gp);

// ---- signal_unix.cc --------------------------------------------------------------------------

void initsig();          // schedinit: install the runtime's handlers where the program has none
// Signal masks follow goroutines: a g's mask (g.sigmask) is the thread's while it runs,
// less the signals the runtime and glibc must always get (sigmaskkeep). sigmaskapply sets
// mp's thread to want when it differs (mp's own thread).
constexpr uint64_t sigbit(int sig) { return uint64_t(1) << (sig - 1); }
constexpr uint64_t sigmaskkeep = sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGFPE) |
                                 sigbit(SIGILL) | sigbit(SIGURG) | sigbit(SIGKILL) |
                                 sigbit(SIGSTOP) | sigbit(32) | sigbit(33);  // glibc's own
void sigmaskset(m* mp, uint64_t want);
inline void sigmaskapply(m* mp, uint64_t want) {
  want &= ~sigmaskkeep;
  if (__builtin_expect(want != mp->cursigmask, 0)) sigmaskset(mp, want);
}
extern uint64_t initsigmaskbits;  // the main thread's mask at start-up (osinit)
// The goroutines that block each signal, counted so that an M without a goroutine blocks
// a signal only when every goroutine does (SM1-SM2 in signal_unix.cc): sigmaskcount adds
// delta for each signal in mask (newproc, goexit0, gsigmask); sigmaskidle gives mp's thread
// that mask before it waits for work (stopm, timersleep); sigmaskforkchild: gp is the only
// goroutine left.
void sigmaskcount(uint64_t mask, int delta);
void sigmaskidle(m* mp);
void sigmaskforkchild(g* gp);
int32_t sigmaskblockers(int sig);  // the count for sig (tests)
// ---- sigpend.cc: signals pending for one goroutine-thread (SP1-SP4) ----
// sigpendg: sig aimed at gp, which blocks it (pthread_kill): held for gp, and gp's parked
// call restarted so that it waits again where it can see it. False when gp unblocked sig
// meanwhile and the caller is to deliver it as to a thread that does not block it.
bool sigpendg(g* gp, int sig);
// sigpendsyscall: the OS thread gp waits on in a call that holds it (Gsyscall), 0 if none;
// sig, about to be sent there, is noted as pending for gp when gp blocks it (SP2).
int sigpendsyscall(g* gp, int sig);
// sigpendhere: the current goroutine's held signals onto its thread (tgkill), where its
// next call sees them; true when some wait on its thread (its calls then hold the M).
bool sigpendhere(m* mp, g* gp);
void sigtakeback(m* mp, g* gp);  // gp leaves mp: its signals off the thread, into gp's (SP3)
// sigleave: gp leaves mp (the switch-out paths, on mp, before gp can run elsewhere).
inline void sigleave(m* mp, g* gp) {
  if (__builtin_expect(mp->sigonthread.load(std::memory_order_relaxed) != 0, 0)) {
    sigtakeback(mp, gp);
  }
}
void sigpendforkchild(m* mp, g* gp);  // a child's goroutine and thread have none pending
void setxidsig(m* mp);  // SIGURG handler, on mp's thread: its part of a setxidall (SX1)
void minitsig(m* mp);    // on mp's thread: its sigaltstack
// threadm: the calling thread's M, from getg() (gp) or, when gp names none (the middle of
// a switch), from the thread id; null off an M. Async-signal-safe.
m* threadm(g* gp);
enum tracebacklevel : int32_t { tracebackNone, tracebackSingle, tracebackAll, tracebackCrash };
// dumpgoroutines prints every goroutine to fd as a goroutine dump does: cur (the caller's,
// from ctx when it is a signal context) first, then the others; running ones on other Ms
// are asked for their own stack. exiting: the process is about to die (freeze the
// scheduler). self false: leave out the calling thread when it runs no goroutine (a
// deadlock is found on g0, whose stack says nothing about it). Any thread.
void dumpgoroutines(int fd, g* cur, void* ctx, bool exiting, tracebacklevel level,
                    bool self = true);
// crash: the end of a fatal error: die of the program's signal sig, as without the runtime;
// for the runtime's own (sig 0) exit 2, or under GMPTRACEBACK=crash die of SIGABRT.
[[noreturn]] void crash(int sig);

// ---- time.cc ---------------------------------------------------------------------------------

// whenafter (hooks.h): the nanotime ns after now, saturated.
void addtimer(rttimer* t);             // on the caller's P (it must hold one)
void addtimerany(rttimer* t);          // any thread: the caller's P, or P 0's heap + an M woken
bool deltimer(rttimer* t);             // false if it was not in a heap; t.f is not running after
int64_t checktimers(p* pp, int64_t now);  // run pp's expired timers (now 0: read the clock
                                          // if needed); returns its next when (0: none)
int64_t nexttimer();                   // the earliest when over all Ps (0: none)
void timersleep(int64_t until);        // the idle M waits for a timer (see time.cc)
void movetimers(p* from, p* to);       // procresize, world stopped
void timersforkchild(p* pp);           // a forked child: an empty heap, not read (FK1)
void timesleep(int64_t ns);            // gmp_sleep: park the goroutine (or sleep the thread)

// ---- gthread.cc ------------------------------------------------------------------------------

void tcbsetg(uintptr_t tcb, g* gp);  // newproc: the TLS g slot of a g's own TCB
void gthreadexited(uintptr_t tcb);   // goexit0, on g0: the thread that ran on tcb ended
void gthreadforkchild();             // a forked child: the caller's gthread tid back (FK3)
uintptr_t maintcbsplit();            // schedinit: goroutine 1's TCB (main's), M0 on a new one
extern "C" uint8_t gmp_fsgsbase;     // wrfsbase switches TCBs (else arch_prctl); set on M0
int newtid();                        // a tid of ours for a TCB no OS thread owns
// gotls: gmp_go_with's GMP_GO_OWN_TLS: newproc of fn(arg) on a TCB of its own, freed when
// it ends (a detached gthread that is not one of the program's threads). Its goid, -ENOTSUP
// (goroutines cannot have TCBs here) or -ENOMEM. Any thread.
int64_t gotls(void (*fn)(void*), void* arg, uintptr_t callerpc, size_t stacksize);

// gthreadexitpoint: the calling gthread's exit point, its value ret kept for its joiner;
// null when the caller is not a gthread. glibckeydtors: the calling thread's pthread key
// destructors, for a thread whose values glibc holds (pthread_getspecific passes them
// through): the main thread, a real thread.
exitpoint* gthreadexitpoint(void* ret);
void glibckeydtors();

// ---- threadexit.cc ---------------------------------------------------------------------------

// exitpoint: where pthread_exit's unwinding of a goroutine stops (TC2). A gthread's and
// goroutine 1's: the frame that called the thread's function (rootframe, buf); a gmp_go
// goroutine's: the end of its stack (rootframe 0). unwind: the unwinding's exception
// object, which must outlive every frame it passes. The goroutine's own.
struct exitpoint {
  jmp_buf buf;
  uintptr_t rootframe;
  _Unwind_Exception unwind;
};
// callexiting: fn(arg) with ep as the exit point; false when pthread_exit left it.
bool callexiting(exitpoint* ep, void (*fn)(void*), void* arg);
void calltlsdtors();  // the calling thread's C++ thread_local destructors (glibc's)
// mainthreadrun: goroutine 1 runs fn and exits with its result, from the frame pthread_exit
// returns to (an atexit handler may call it); pthread_exit in fn ends the main thread, not
// the process.
[[noreturn]] void mainthreadrun(int (*fn)(int, char**, char**), int argc, char** argv,
                                char** envp);

// ---- sema.cc ---------------------------------------------------------------------------------

// Go's runtime semaphore: semacquire blocks until *addr > 0, then decrements it (a
// goroutine parks, another thread sleeps); semrelease increments it and wakes one waiter.
// lifo: queue at the front; handoff: give the count to the first waiter and yield to it.
// deadline: give up then (a nanotime; < 0: never); true when it acquired.
bool semacquire(std::atomic<uint32_t>* addr, bool lifo, waitreason reason, int64_t deadline = -1);
void semacquire(std::atomic<uint32_t>* addr);
// semacquireintr: semacquire for sem_wait (deadline < 0) and sem_timedwait, whose wait a
// signal handler cuts short as the kernel's futex wait (sigintr.cc, SEM6): 0, ETIMEDOUT, or
// EINTR.
int semacquireintr(std::atomic<uint32_t>* addr, int64_t deadline);
// semacquirejoin: semacquire for pthread_join, which only a pthread_cancel of the joiner
// cuts short (SI7): 0, ETIMEDOUT or EINTR.
int semacquirejoin(std::atomic<uint32_t>* addr, int64_t deadline);
bool cansemacquire(std::atomic<uint32_t>* addr);  // take a count without waiting
void semrelease(std::atomic<uint32_t>* addr, bool handoff);
void semrelease(std::atomic<uint32_t>* addr);
// semreleasesig: semrelease for a caller in a handler of the program's (inhandler): it adds
// the count at once and leaves the wake-up to semsigflush (SEM5). Async-signal-safe.
void semreleasesig(std::atomic<uint32_t>* addr);
// semintr: a handler's cancel of a goroutine's semacquireintr on addr: wakes addr's waiters
// without a count (SEM6), by semsigflush. Async-signal-safe.
void semintr(std::atomic<uint32_t>* addr);
// semsigflush: make the wake-ups handlers left (SEM5); one load when there are none. Any
// thread that may take locks: findRunnable, sysmon.
void semsigflush();
bool semsigpending();  // a handler's post waits for semsigflush
void semforkchild();  // a forked child: an empty table, every waiter was a ghost (FK1)

// ---- fork.cc ---------------------------------------------------------------------------------

// forkgen: bumped in each forked child while it has one thread; a waiter records it when
// it queues, and queues in the program's memory skip waiters of an older one (FK2).
alignas(64) extern std::atomic<uint32_t> forkgen;

}  // namespace gmp
