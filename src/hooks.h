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
// in between that could switch goroutines. Returns the completion's result: a count or
// -errno.
io_uring_sqe* netpollsqe();
int32_t netpollwait(io_uring_sqe* sqe);

// netpollclose: before close(fd): goroutines parked on fd wake with EBADF. Any thread.
void netpollclose(int fd);

// timesleep parks the calling goroutine for ns nanoseconds on its P's timers (time.cc).
void timesleep(int64_t ns);

}  // namespace gmp
