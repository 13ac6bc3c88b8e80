// hooks.h — the one interface between preload/ (libc's face) and the runtime (src/).
// The preload files call only what is declared here, never scheduler internals.
#pragma once

#include <sched.h>
#include <signal.h>

#include <cstddef>
#include <cstdint>

struct io_uring_sqe;

namespace gmp {

// rt0_go: Go's start-up sequence — check, args, osinit, schedinit, newproc(main), mstart.
// Runs mainfn(argc, argv, envp) as goroutine 1 and exit()s with its result. Never returns.
[[noreturn]] void rt0_go(int (*mainfn)(int, char**, char**), int argc, char** argv, char** envp);

// hookable: a hook may park the caller: the runtime runs, hooks are on (not
// GMPDEBUG=takeover=0), the caller is a goroutine on its own stack (not g0, not a thread
// the runtime does not know, not a handler: on the signal stack, or any of the program's,
// inhandler) and holds a P — with an io_uring (needring) for I/O, and, for I/O, has no
// signal pending (src/sigpend.cc: its call waits on its thread, which has them). Otherwise
// the hook passes the call through.
bool hookable(bool needring);

// The I/O path (netpoll_uring.cc), for a hookable(true) caller: take an SQE of the current
// P's ring, fill it in with io_uring_prep_*, and park on it with netpollwait, with nothing
// in between that could switch goroutines. hookable(true) holds for the P the caller ran on
// when it asked: after a park the goroutine may resume on another P, one without a ring
// (none made yet, or none possible), so a hook asks again before each further operation.
// Returns the completion's result: a count or -errno (-ECANCELED: close() cancelled it, or
// its linked timeout expired; -EINTR or restartcall: a signal handler, see intrmode below).
// netpollsqe(n)
// makes sure n SQEs can be taken in a row (a linked chain: the next n - 1 calls of
// netpollsqe(1) do not submit); user_data is null, which the poller ignores (a linked
// timeout's completion).
io_uring_sqe* netpollsqe(unsigned n = 1);

// What a handler of the program's that runs for a signal sent to the process does to a
// call parked in netpollwait (sigintr.cc). Only the goroutine that stands for the thread
// the kernel would have picked, goroutine 1 (the main thread), is interrupted.
enum intrmode : uint8_t {
  intrNever,    // nothing: regular-file I/O, which a thread waits for uninterruptibly
  intrAlways,   // the call ends in EINTR: poll, select, epoll_wait, sleeps, timed socket waits
  intrRestart,  // EINTR, or under SA_RESTART the call goes on: reads, writes, accept, open
  intrCancel,   // only a pthread_cancel of the thread ends it (in EINTR): pthread_join
};
// netpollwait's result for an intrRestart call whose handler had SA_RESTART: make the call
// again (the kernel's -ERESTARTSYS; it never reaches the program).
constexpr int32_t restartcall = -512;
int32_t netpollwait(io_uring_sqe* sqe, intrmode mode);

// sigintrtarget: the caller is the goroutine a signal interrupts and the program handles
// signals, or a thread a pthread_cancel may end (SI7): a sleep must park where a handler or
// the request can cut it short (the ring, not the timers).
bool sigintrtarget();
// sigheldtarget: the caller is a goroutine-thread that blocks some signal: a signal held for
// it (src/sigpend.cc) ends its parked reads (sigintr.cc, SI6).
bool sigheldtarget();
// sigpendmain: pthread_kill of the main thread with sig, which goroutine 1 blocks: pending for
// goroutine 1 alone (src/sigpend.cc), sent to the thread of a call it waits in that holds
// one; false when goroutine 1 does not block sig (or unblocked it meanwhile).
bool sigpendmain(int sig);
// setxidall: after a setuid-family call nr(a0, a1, a2) succeeded on the calling thread, the
// same call on every other OS thread of the runtime's (src/setxid.cc); fatal when one fails.
void setxidall(long nr, long a0, long a1, long a2);

// sigdefer: a handler of the program's, fn with flags (SA_RESTART), for signal info, is to
// run with mask blocked (preload/signal.cc's trampoline, on any thread). When info was sent
// to the process (or, aimed, to the main thread by pthread_kill) and goroutine 1 is parked
// in a call it interrupts and does not block it, the call ends (EINTR) or is made again
// (SA_RESTART) and goroutine 1 runs the handler before (sigintr.cc, SI5); when goroutine 1
// runs on another thread, the signal is sent on there. Either way sigdefer returns true;
// otherwise false, and the caller runs the handler. Async-signal-safe.
using sigfn = void (*)(int, siginfo_t*, void*);
bool sigdefer(const siginfo_t* info, sigfn fn, int flags, const sigset_t* mask, bool aimed);
// sigforwarding: the program installed a handler (preload/signal.cc): from now on goroutine
// 1's parked calls can be interrupted.
void sigforwarding();

// gmp_handlerdepth: how many handlers of the program's the calling thread is running
// (preload/signal.cc's trampoline counts them, on whatever TCB the thread is on). Written
// only by that thread: the trampoline raises it and restores it (a nested handler restores
// what it found), and the longjmp hooks reset it to 0 when a handler jumps out. Such a
// caller may have interrupted the runtime anywhere, locks held: it must not park, nor take
// a runtime lock. hookable() is false for it, and sem_post leaves its wake-up to the
// scheduler (sempostsig).
extern "C" __thread int32_t gmp_handlerdepth __attribute__((tls_model("initial-exec")));
inline bool inhandler() { return gmp_handlerdepth != 0; }
// gmp_handlersran: how many handlers of the program's the trampoline has run on the calling
// thread (its TCB). Written only by that thread's handlers; read by a hook around a wait in
// the kernel that a handler ends in EINTR (preload/hook.h, remadeunseen).
extern "C" __thread uint32_t gmp_handlersran __attribute__((tls_model("initial-exec")));

// gsigmask: pthread_sigmask for a goroutine: its own mask, the thread's while it runs
// (signal_unix.cc). 0 or EINVAL; -1: the caller is not a goroutine (pass the call through).
int gsigmask(int how, const sigset_t* set, sigset_t* old);
// gsigaltstack: sigaltstack for a goroutine: its own, kept and read back, never the OS
// thread's (where the runtime's SIGURG handler must run: preemption, the hand-off of a
// blocked call). 0 or an errno value; -1: the caller is not a goroutine (pass it through).
int gsigaltstack(const stack_t* ss, stack_t* old);

// lazysyscalloff: the program installs a SIGURG handler of its own: sysmon stops asking
// threads blocked in calls nothing hooks for their P (lazysyscall.cc). Any thread.
void lazysyscalloff();

// netpollclose: before close(fd): goroutines parked on fd wake with EBADF. Any thread.
void netpollclose(int fd);
// netpollownfd: fd is one of the runtime's own (the eventfd, a ring's), which the program
// never opened: to its close() and close_range() it is not open. netpollfreefd: before a
// dup2 or dup3 of the program's onto fd, the runtime's file there moves to another number.
// Any thread.
bool netpollownfd(int fd);
void netpollfreefd(int fd);
// netpollownfds: the runtime's own fds, ascending, at most max of them (enough: one per P
// and the eventfd); their count.
constexpr int netpollownfdsMax = 1025;  // maxgomaxprocs rings (runtime.h) and the eventfd
int netpollownfds(int* out, int max);

// seterrno sets errno on the thread the caller runs on now. A hook must use it, not errno,
// after it parked: errno's address is per thread, and the compiler may have computed it
// before the park, on another M (__errno_location is a const function).
void seterrno(int e);

// entersyscall / exitsyscall: around a blocking call that cannot be parked (proc.cc).
void entersyscall();
void exitsyscall();

// nanotime: CLOCK_MONOTONIC in nanoseconds (os_linux.cc), the clock of every deadline.
int64_t nanotime();
// whenafter: the nanotime ns after now (now for ns <= 0), INT64_MAX where that would wrap: a
// timer set "for ever" never fires, a sleep past it ends there (as the kernel's at KTIME_MAX).
inline int64_t whenafter(int64_t now, int64_t ns) {
  return ns <= 0 ? now : ns > INT64_MAX - now ? INT64_MAX : now + ns;
}

// timesleep parks the calling goroutine for ns nanoseconds on its P's timers (time.cc).
void timesleep(int64_t ns);

// ---- fork (fork.cc; preload/fork.cc) --------------------------------------------------------

// afterforkchild: glibc's first child handler: rebuild the runtime around the goroutine that
// forked, the child's one thread (fork.cc, FK1-FK3), or, when it cannot, forkoff.
void afterforkchild();
// forkdone: fork returned 0, after every child handler: what the rebuilt runtime still
// needs that allocates (sysmon). Nothing in a child without a scheduler.
void forkdone();
// forkoff: a child the runtime does not rebuild (_Fork, which runs no handlers): no
// scheduler; the hooks pass through and pthread_create makes real threads.
void forkoff();
// forkgeneration: how many forks back the process is (forkgen): a once or a lock taken in
// an older generation was taken by a thread the child does not have.
uint32_t forkgeneration();

// ---- how threads end (threadexit.cc; preload/pthread.cc) -----------------------------------

// threadexit: pthread_exit on a goroutine: unwind its stack (C++ destructors, C cleanup
// handlers), then end it: a gthread or the main thread as a thread ends, a goroutine of
// gmp_go's as Go's Goexit. Returns only on a thread that is not a goroutine.
void threadexit(void* ret);
// glibc's pthread_cleanup_push and _pop, and the way on after a handler ran: on a goroutine
// the chain of buffers is the goroutine's; false on a thread that is not one (glibc's).
bool cleanuppush(void* buf);
bool cleanuppop(void* buf);
bool cleanupnext(void* buf);  // does not return on a goroutine
// mainjoin: a join of the main thread (id: a pthread_t): 0, EDEADLK, EBUSY, ETIMEDOUT as
// gthreadjoin, or -1 when id is not the main thread's.
int mainjoin(uintptr_t id, void** ret, int64_t deadline);
bool ismainthread(uintptr_t id);  // id is the main thread's pthread_t
// mainthreadstack: id is the main thread's pthread_t and goroutine 1 runs main: the stack
// main runs on, goroutine 1's (not the process's initial one, which glibc describes).
bool mainthreadstack(uintptr_t id, uintptr_t* lo, size_t* size);
// threadadd, threadundo: one more thread (a gthread, a real thread the preload made), one
// that failed to start. threaddone: one ended, after its destructors: exit(0) if the last
// (TC1).
void threadadd();
void threadundo();
void threaddone();
// realthreadend: a real thread the preload made ends: its thread_local and key destructors
// (glibc's later pass finds none left), then threaddone.
void realthreadend();
void threadsforkchild();  // a forked child: one thread, the caller (TC1, TC3)

// ---- threads that are goroutines (gthread.cc; preload/pthread.cc) ----------------------------

// A gthread is a thread pthread_create made as a goroutine with a TCB of its own; its
// pthread_t is that TCB's address.
struct gthread;
// gthreadcreate: start fn(arg) as a gthread (stacksize bytes; detached or joinable; callerpc:
// the return address of the program's pthread_create, its "created by"); 0 and *id set,
// EAGAIN, or -1: it must be a real thread (runtime not running, GMPDEBUG=takeover=0, an
// ASan build, TCB layout unknown). Any thread.
int gthreadcreate(uintptr_t* id, void* (*fn)(void*), void* arg, size_t stacksize, bool detached,
                  uintptr_t callerpc);
gthread* gthreadof(uintptr_t id);  // the gthread of a pthread_t; null: a real thread
gthread* gthreadself();            // the caller's gthread, or null
// gthreadjoin: wait for t's end (deadline: a nanotime, < 0 never, 0 do not wait) and free it;
// 0, EDEADLK (itself), EINVAL (detached), EBUSY (deadline 0, still running), ETIMEDOUT.
int gthreadjoin(gthread* t, void** ret, int64_t deadline);
int gthreaddetach(gthread* t);  // 0 or EINVAL (detached already)
bool gthreaddetached(gthread* t);
// gthreadblocks: t blocks sig (its pthread_sigmask).
// gthreadsyscalltid: the OS thread t waits on in a system call nothing parks (Gsyscall: a
// MSG_WAITALL recv, flock, a ppoll with a mask, sigwait), 0 otherwise; sig, about to be sent
// there, is noted as pending for t when t blocks it (src/sigpend.cc, SP2).
// gthreadpend: sig, which t blocks, is held for t (sigpendg): false when t unblocked it
// meanwhile and the caller delivers it as to a thread that does not block it.
bool gthreadblocks(gthread* t, int sig);
int gthreadsyscalltid(gthread* t, int sig);
bool gthreadpend(gthread* t, int sig);
// gthreadinterrupt: a handler ran for a signal sent to t (pthread_kill): t's parked call
// ends in EINTR or, with restart (SA_RESTART), is made again (sigintr.cc).
void gthreadinterrupt(gthread* t, bool restart);
// Cancellation (gthread.cc, GT2). gthreadcancel: pthread_cancel of t (0).
// gthreadcancelled: the caller is a gthread with a request pending and enabled (async:
// and an asynchronous type, which acts where sysmon preempted it); gthreadcancelwatch: a
// gthread whose cancellation is enabled (its parks are armed for it, SI7). cancelnow: act on
// the request (the caller is a gthread): unwind as pthread_exit(PTHREAD_CANCELED).
// testcancel: a cancellation point's check, any caller. The inline part is the hooks' fast
// path: a goroutine that is no thread (gmp_go's, the echo server's) reads one TLS word.
// gthreadcancelmode: pthread_setcancelstate (state) or _setcanceltype of the calling gthread,
// value 0 (ENABLE, DEFERRED) or 1 (DISABLE, ASYNCHRONOUS); the old value in *old; 0.
int gthreadcancel(gthread* t);
bool gthreadcancelwaits(bool async);  // the caller is a gthread
bool gthreadcancelon();               // the caller is a gthread
extern "C" __thread gthread* gmp_tls_thread __attribute__((tls_model("initial-exec")));
inline bool gthreadcancelled(bool async = false) {
  return gmp_tls_thread && gthreadcancelwaits(async);
}
inline bool gthreadcancelwatch() { return gmp_tls_thread && gthreadcancelon(); }
[[noreturn]] void cancelnow();
inline void testcancel() {
  if (gthreadcancelled()) cancelnow();
}
int gthreadcancelmode(bool state, int value, int* old);
char* gthreadname(gthread* t);  // 16 bytes
// Kernel attributes of t, kept and not applied (gthread.cc, GT3): gthreadaffinity gets or
// sets t's CPU set (size bytes at set), gthreadsched reads (schedRead), sets (schedPolicy)
// or changes the priority of (schedPriority) t's policy and priority. 0 or an errno value.
int gthreadaffinity(gthread* t, size_t size, cpu_set_t* set, bool get);
enum { schedRead, schedPolicy, schedPriority };
int gthreadsched(gthread* t, int* policy, int* priority, int set);
bool gthreadstack(gthread* t, uintptr_t* lo, size_t* size);  // false before it first ran
void* gthreadgetspecific(gthread* t, unsigned key);
int gthreadsetspecific(gthread* t, unsigned key, const void* v);  // 0 or ENOMEM
// gthreadkey: the program made (created) or deleted key (its destructor for gthreads).
void gthreadkey(unsigned key, bool created, void (*dtor)(void*));

// Waits for the pthread objects (preload/pthread_sync.cc). sema: a count, as sema.cc's.
// semwait: take one; false when deadline (a nanotime; < 0: never) passed first.
bool semwait(uint32_t* sema, int64_t deadline);
// semwaitintr: semwait for sem_wait and sem_timedwait, which a signal handler cuts short:
// 0, ETIMEDOUT, or EINTR (the handler ran: always for a deadline, else without SA_RESTART).
int semwaitintr(uint32_t* sema, int64_t deadline);
void sempost(uint32_t* sema);  // add one, wake a waiter
void sempostsig(uint32_t* sema);  // sempost for a caller in a handler: async-signal-safe
bool semtry(uint32_t* sema);   // take one if there is one
// syncspin: a lock's waiter may spin once more (iter: spins so far; Go's canSpin: a few, on
// a goroutine, while another P runs the holder); it spun when true.
bool syncspin(int iter);
// gyield: sched_yield on a goroutine; false when the caller is not one.
bool gyield();
// A condition's waiters, in three words of the condition object (lock, head, tail):
// condsleep queues the caller, runs unlock(arg) and waits for condwake or the deadline:
// 0, ETIMEDOUT, ECANCELED (cancels, pthread_cond_wait's: a pthread_cancel of the caller
// ended the wait, sync.cc CW4; it relocks and acts on it), or unlock's error (not zero: the caller did not wait). condwake
// wakes one waiter, or all.
struct waitlist {
  uint32_t lock;
  void* head;
  void* tail;
};
int condsleep(waitlist* l, int (*unlock)(void*), void* arg, int64_t deadline, bool cancels);
void condwake(waitlist* l, bool all);
// goid of the caller when a goroutine, else 0 (pthread objects' owners).
int64_t curgoid();
// Signals pending for a goroutine-thread (src/sigpend.cc). sigraised: the caller's thread
// was sent sig (raise, a call's SIGPIPE or SIGXFSZ): when the caller is a goroutine that
// blocks it, it is noted, to follow the goroutine when it leaves the thread. sigpendcall:
// before a call that takes or shows pending signals (sigwait, sigpending, sigsuspend), the
// caller's held ones are moved onto its thread, where the call sees them.
void sigraised(int sig);
void sigpendcall();

}  // namespace gmp
