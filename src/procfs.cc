// procfs.cc — the runtime's reads of /proc while the program runs, made where they cannot
// take a descriptor number of the program's.
//
// open() takes the lowest free descriptor. A read of /proc by a runtime thread (sysmon's look
// at the system call a blocked thread sleeps in, the deadlock check's count of the process's
// threads) while a program thread redirects — close(1), then open() or dup2() onto 1 — takes
// the number the program is about to use: the program's open lands elsewhere, or its dup2
// races ours and fails with EBUSY. (A preloaded dash ran `seq > file` with no stdout at
// all: "seq: write error: Bad file descriptor".) So these reads run on a helper thread of
// the runtime's with a file table of its own, an empty one: close_range(0, ~0U,
// CLOSE_RANGE_UNSHARE) gives it a table that copies none of the program's descriptors, in
// one step. (It was unshare(CLONE_FILES), a copy of every descriptor, then close_range: in
// between, the copy held the program's files open, and a program that closed a pipe's read
// end at start-up, where sysmon makes the helper, and wrote to it wrote a byte no one would
// read where the kernel says EPIPE; a write end kept would hold off the reader's EOF. Test:
// Preload.WritesToAPipeWithoutReadersFailAndSignalTheWriter's start-ups.) From then on it
// opens and closes only in its own table.
//
// Invariants:
//   PF1: one request at a time, under proclock. The requester writes the request, then
//        state 1 (release) and wakes the helper; the helper answers, then state 2
//        (release) and wakes the requester, which reads the answer (acquire) and sets 0.
//   PF2: helper: 0 none, 1 being made (by the requester whose CAS won: sysmon only, never a
//        caller under sched.lock), 2 made, -1 cannot be made. A forked child has no helper
//        thread: procfsforkchild sets 0 again, while the child has one thread.
// Where the helper cannot be made, or cannot have a table of its own (a seccomp profile
// that refuses it, a kernel before 5.9 without CLOSE_RANGE_UNSHARE), or is not made yet
// when the deadlock check asks, the caller reads itself, as before the helper: the race above stays possible
// there, and sysmon's look at blocked threads and the deadlock report keep working.
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "runtime.h"

namespace gmp {

namespace {
enum : int { opRead = 0, opCount = 1 };
constexpr long notalone = -2;  // the helper shares the program's table: read here

struct procreq {
  std::atomic<uint32_t> state{0};  // PF1
  int op;
  const char* path;
  char* buf;
  size_t n;
  long result;
};
procreq req;
rtmutex proclock;
std::atomic<int> helper{0};  // PF2
std::atomic<uint64_t> asked{0};  // requests served (procfsrequests), relaxed
bool served;                 // the helper's: its table is its own (close_range succeeded)

// serve: op on path, in the calling thread's file table: 1 (a read) or a count, -1 when it
// cannot.
long serve(int op, const char* path, char* buf, size_t n) {
  if (op == opRead) return readsmall(path, buf, n) ? 1 : -1;
  int fd = int(rawsyscall(SYS_openat, AT_FDCWD, long(path), O_RDONLY | O_CLOEXEC | O_DIRECTORY));
  if (fd < 0) return -1;
  long r = 0;
  alignas(8) char ents[4096];
  for (;;) {
    long k = rawsyscall(SYS_getdents64, fd, long(ents), sizeof ents);
    if (k <= 0) {
      if (k < 0) r = -1;
      break;
    }
    for (long at = 0; at < k;) {
      auto* d = reinterpret_cast<dirent64*>(ents + at);
      r += d->d_name[0] != '.';
      at += d->d_reclen;
    }
  }
  rawsyscall(SYS_close, fd);
  return r;
}

void* helpermain(void*) {
  // Every signal stays blocked (newthread): the program's handlers never run here.
  served = rawsyscall(SYS_close_range, 0, long(~0U), CLOSE_RANGE_UNSHARE) == 0;
  for (;;) {
    uint32_t s;
    while ((s = req.state.load(std::memory_order_acquire)) != 1) futexsleep(&req.state, s, -1);
    req.result = served ? serve(req.op, req.path, req.buf, req.n) : notalone;
    req.state.store(2, std::memory_order_release);  // PF1
    futexwakeup(&req.state, INT32_MAX);
  }
}

long ask(int op, const char* path, char* buf, size_t n, bool make) {
  int h = helper.load(std::memory_order_acquire);
  if (h == 0 && !make) return serve(op, path, buf, n);
  if (h == 0 && helper.compare_exchange_strong(h, 1, std::memory_order_acq_rel)) {
    h = newthread(helpermain, nullptr) ? 2 : -1;  // PF2
    helper.store(h, std::memory_order_release);
  }
  while (h == 1) {  // another requester is making it
    osyield();
    h = helper.load(std::memory_order_acquire);
  }
  if (h < 0) return serve(op, path, buf, n);
  proclock.lock();
  req.op = op;
  req.path = path;
  req.buf = buf;
  req.n = n;
  req.state.store(1, std::memory_order_release);  // PF1
  futexwakeup(&req.state, INT32_MAX);
  uint32_t s;
  while ((s = req.state.load(std::memory_order_acquire)) != 2) futexsleep(&req.state, s, -1);
  long r = req.result;
  req.state.store(0, std::memory_order_relaxed);
  asked.fetch_add(1, std::memory_order_relaxed);
  proclock.unlock();
  return r == notalone ? serve(op, path, buf, n) : r;
}
}  // namespace

bool procread(const char* path, char* buf, size_t n) {
  return ask(opRead, path, buf, n, true) > 0;
}

int32_t procentries(const char* path) { return int32_t(ask(opCount, path, nullptr, 0, false)); }

int32_t procfshelpers() { return helper.load(std::memory_order_acquire) == 2 ? 1 : 0; }

uint64_t procfsrequests() { return asked.load(std::memory_order_relaxed); }

void procfsforkchild() {
  helper.store(0, std::memory_order_relaxed);
  req.state.store(0, std::memory_order_relaxed);
  proclock.key.store(0, std::memory_order_relaxed);
}

}  // namespace gmp
