// hooks.h — the one interface between preload/ (libc's face) and the runtime (src/).
// The preload files call only what is declared here, never scheduler internals.
#pragma once

#include <cstdint>

struct io_uring_sqe;

namespace gmp {

// rt0_go: Go's start-up sequence — check, args, osinit, schedinit, newproc(main), mstart.
// Runs mainfn(argc, argv, envp) as goroutine 1 and exit()s with its result. Never returns.
[[noreturn]] void rt0_go(int (*mainfn)(int, char**, char**), int argc, char** argv, char** envp);

// hookable: a hook may park the caller: the runtime runs, hooks are on (not
// GMPDEBUG=takeover=0), the caller is a goroutine on its own stack (not g0, not a thread
// the runtime does not know, not a handler on the signal stack) and holds a P — with an
// io_uring (needring) for I/O. Otherwise the hook passes the call through.
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
};
// netpollwait's result for an intrRestart call whose handler had SA_RESTART: make the call
// again (the kernel's -ERESTARTSYS; it never reaches the program).
constexpr int32_t restartcall = -512;
int32_t netpollwait(io_uring_sqe* sqe, intrmode mode);

// sigintrtarget: the caller is the goroutine a signal interrupts and the program handles
// signals: a sleep must park where a handler can cut it short (the ring, not the timers).
bool sigintrtarget();

// sigintr: the program's handler for signal info just ran (preload/signal.cc's trampoline,
// on any thread): a call goroutine 1 is parked in ends (EINTR) or is made again (restart:
// the handler had SA_RESTART). Async-signal-safe.
void sigintr(int code, bool restart);
// sigforwarding: the program installed a handler (preload/signal.cc): from now on goroutine
// 1's parked calls can be interrupted.
void sigforwarding();

// netpollclose: before close(fd): goroutines parked on fd wake with EBADF. Any thread.
void netpollclose(int fd);

// seterrno sets errno on the thread the caller runs on now. A hook must use it, not errno,
// after it parked: errno's address is per thread, and the compiler may have computed it
// before the park, on another M (__errno_location is a const function).
void seterrno(int e);

// entersyscall / exitsyscall: around a blocking call that cannot be parked (proc.cc).
void entersyscall();
void exitsyscall();

// nanotime: CLOCK_MONOTONIC in nanoseconds (os_linux.cc), the clock of every deadline.
int64_t nanotime();

// timesleep parks the calling goroutine for ns nanoseconds on its P's timers (time.cc).
void timesleep(int64_t ns);

}  // namespace gmp
