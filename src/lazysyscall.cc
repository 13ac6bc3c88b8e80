// lazysyscall.cc — a goroutine blocked in a system call nothing hooks gives up its P.
//
// A hooked call parks its goroutine, and the calls hooks cannot park go through
// entersyscall/exitsyscall (Go's way: the P is in Psyscall, sysmon retakes it). A call
// nothing hooks — syscall(2) itself, a pthread_cond_wait on a condition a plain thread
// signals, a library's own read — blocks the M while it holds its P, and with it every
// goroutine queued there (all of them at GMPMAXPROCS=1). sysmon notices it and has the
// call made again between entersyscall and exitsyscall, on the same thread:
//
//   1. sysmon (lazysyscalls): a Prunning P whose schedtick stood still for blockedAfter,
//      whose M's thread is asleep in a system call (/proc/self/task/TID/syscall) that the
//      kernel restarts after a signal handler with SA_RESTART (restartable: read, write,
//      the receiving socket calls, wait4, futex without a timeout: restartnr), or one a
//      handler ends in EINTR but that may be made again as it was (semop, msgrcv, a futex
//      wait with an absolute deadline, a wait on the program's own io_uring: remakenr;
//      sysmon notes which, m.sigcallnr), or a
//      write the signal may cut short after some bytes but that may be gone on with
//      (a pipe's large one, a stream socket's: continuable). It sets m.sigreq and sends
//      the thread SIGURG. (A call that a handler would cut short otherwise — nanosleep,
//      poll, a socket with SO_RCVTIMEO — is left alone: the signal must change nothing
//      the program can see.)
//   2. the thread's SIGURG handler (lazysyscallsig): the kernel has wound the thread back
//      to its `syscall` instruction to restart the call (or, for a remakenr call, ended it
//      in EINTR: the handler puts its number back and takes the thread to the same place,
//      just as if the kernel had wound it back). If that instruction is the
//      program's (not libgmp's: the runtime's own futex waits hold runtime state), the call
//      is a restartnr one (the thread may have moved on since sysmon looked), the thread
//      runs a goroutine on its own stack with room to spare, and the M is not in a runtime
//      section that calls libc (m.locks, acquirem), the handler moves the thread to
//      gmp_lazysyscall (asm/amd64/lazysyscall.S) instead of the instruction.
//   3. gmp_lazysyscall keeps every register, calls gmp_lazyenter (entersyscall: the P goes
//      to Psyscall, sysmon's retake hands it to another M on its next round), makes the
//      call, calls gmp_lazyexit and returns to the instruction after the `syscall` with its
//      result, as if nothing had happened.
//   4. gmp_lazyexit reacquires the P (or an idle one) on this same M: the goroutine is in
//      the middle of a libc function that may hold thread state (a mutex owner's tid, the
//      malloc arena), so it must not move to another thread there as exitsyscall would move
//      it. With no P free it waits on the M, backing off from 20 us to 1 ms.
// A P whose schedtick stood still for blockedAfter while its thread runs (a goroutine that
// computes, or spins on a flag another goroutine would set) is preempted instead: sysmon
// asks with sigreqPreempt and the handler hands over to preempt.cc, through the same
// redirection (sigredirect) into a trampoline of its own.
// Invariants:
//   LS1: m.sigreq: sysmon stores a request (release) before the tgkill and sends no second
//        one while it is not 0; the M's handler exchanges it to 0 (acquire), whatever it
//        then does: one that lands in the middle of a switch finds its M by thread id
//        (signal_unix.cc, threadm), or the request stayed set for good and sysmon never
//        asked that M again (tests/apps/spinbarrier.c hung at 1 P: 3 runs in 48, one-off).
//        A request the handler finds nothing to act on lapses.
//   LS3: m.lazy is the M's thread's alone: the handler sets it up before it sends the
//        thread to gmp_lazysyscall (going: a continuable write, its byte count, the bytes
//        the cut-short call moved, gmp_handlersran), and the trampoline's C calls read
//        and clear it (gmp_lazyargs, gmp_lazydone). A write that a SIGURG of the
//        runtime's cuts short there (a setxid broadcast, a dump request) is gone on with
//        too; one a handler of the program's cut short returns the count so far, as the
//        kernel's does.
//   LS2: runtime code that runs on a goroutine's stack holding P state or a runtime lock
//        and calls into libc (malloc and friends, which may sleep on a futex) holds m.locks
//        (acquirem) for the call. Written by the M only; the handler reads it on the same
//        thread. A goroutine dump (libunwind reads files) is excluded as a whole
//        (dumpactive).
// Without SIGURG (the program installed its own handler, before the runtime started or later:
// lazysyscalloff) or xsave, under Valgrind, or under GMPDEBUG=takeover=0, nothing of this
// runs, and such a call holds its P until it returns (and such a goroutine until it yields).
#include <cpuid.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include <cstdio>
#include <climits>
#include <cstring>
#include <linux/futex.h>
#include <linux/io_uring.h>

#include "annotate.h"
#include "runtime.h"

extern "C" {
void gmp_lazysyscall();  // asm/amd64/lazysyscall.S
extern const char gmp_lazysyscall_ret[];  // just past its `syscall`
void gmp_lazyenter();
void gmp_lazyexit();
// The extended state gmp_lazysyscall saves: the xsave mask (x87, SSE, AVX, AVX-512 as the
// OS enabled them) and the area's size, a multiple of 64. Set once by sysmon before its
// first request (xsaveinit: CPUID traps to the hypervisor in a VM, some 15 us a leaf, which
// every process would pay at start); the handler reads them after the request (LS1).
__attribute__((visibility("hidden"))) uint64_t gmp_xsavesize;
__attribute__((visibility("hidden"))) uint32_t gmp_xsavemask;
}

namespace gmp {

namespace {
constexpr int64_t blockedAfter = 10 * 1000 * 1000;  // ns of a standing schedtick
constexpr int64_t preemptRetry = 1000 * 1000;      // ns between declined preemption requests
constexpr uintptr_t redzone = 128;
constexpr uintptr_t cframes = 4096;  // what gmp_lazyenter/exit need below the saved state

uintptr_t textlo, texthi;  // libgmp's code: the runtime's own system calls are left alone
int xsavestate = 0;         // sysmon's: 0 not probed, 1 ready, -1 no xsave (nothing runs)

// xsaveinit sets gmp_xsavemask and gmp_xsavesize; false without OS-enabled xsave.
bool xsaveinit() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return false;
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  // x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM, and PKRU: a preempted goroutine may resume
  // on another thread (preempt.cc), and protection keys are per thread.
  uint32_t mask = lo & 0x2e7;
  uint64_t end = 576;         // the legacy area and the header
  for (unsigned i = 2; i < 10; i++) {
    if (!(mask & (1u << i))) continue;
    __cpuid_count(0xd, i, a, b, c, d);  // a: the component's size, b: its offset
    if (uint64_t(a) + b > end) end = uint64_t(a) + b;
  }
  gmp_xsavemask = mask;
  gmp_xsavesize = (end + 63) & ~uint64_t(63);
  return true;
}

int findtext(dl_phdr_info* info, size_t, void*) {
  auto self = reinterpret_cast<uintptr_t>(&gmp_lazysyscall);
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (self >= lo && self < hi) {
      textlo = lo;
      texthi = hi;
      return 1;
    }
  }
  return 0;
}

// timedout: fd is a socket with the timeout opt set (SO_RCVTIMEO, SO_SNDTIMEO): a
// handler ends its wait with EINTR even under SA_RESTART.
bool timedout(long fd, int opt) {
  timeval tv{};
  socklen_t len = sizeof tv;
  return getsockopt(int(fd), SOL_SOCKET, opt, &tv, &len) == 0 && (tv.tv_sec || tv.tv_usec);
}

// fifo: fd is a pipe or FIFO. A raw fstat: sysmon, or the SIGURG handler.
bool fifo(long fd) {
  struct stat st;
  return rawsyscall(SYS_fstat, fd, long(&st)) == 0 && S_ISFIFO(st.st_mode);
}

// socktype: fd's socket type, or 0 (not a socket). A raw getsockopt: sysmon, or the SIGURG
// handler.
int socktype(long fd) {
  int type = 0;
  socklen_t len = sizeof type;
  return rawsyscall(SYS_getsockopt, fd, SOL_SOCKET, SO_TYPE, long(&type), long(&len)) == 0
             ? type
             : 0;
}
bool streamsock(long fd) { return socktype(fd) == SOCK_STREAM; }

// continuable: a blocking write nr with arguments a that a signal handler cuts short once
// some bytes moved (the kernel returns their count, whatever SA_RESTART says; before any,
// it winds the thread back), and that nothing else ends early: a pipe's write or writev of
// more than PIPE_BUF bytes (a smaller one is all or nothing, and restartnr), a stream
// socket's write, writev or send without SO_SNDTIMEO, and its receive with MSG_WAITALL
// without SO_RCVTIMEO; a sendfile into a stream socket, and a sendmmsg of datagrams,
// counted in messages. Cut short by a SIGURG of the runtime's, gmp_lazysyscall goes on
// with the rest (LS3): the program sees the whole count, as it would have. A writev of
// more than lazyiovMax vectors is left alone (its vector could not be kept).
bool continuable(long nr, const unsigned long* a) {
  auto fd = long(a[0]);
  switch (nr) {
    case SYS_sendfile:
      return streamsock(fd) && !timedout(fd, SO_SNDTIMEO);
    case SYS_sendmmsg: {
      int type = socktype(fd);
      return a[2] != 0 && !(a[3] & MSG_DONTWAIT) && (type == SOCK_DGRAM || type == SOCK_SEQPACKET) &&
             !timedout(fd, SO_SNDTIMEO);
    }
    case SYS_writev:
      if (a[2] == 0 || a[2] > lazyiovMax) return false;
      [[fallthrough]];
    case SYS_write:
      if (fifo(fd)) return nr == SYS_writev || a[2] > PIPE_BUF;
      return streamsock(fd) && !timedout(fd, SO_SNDTIMEO);
    case SYS_sendto:
      return !(a[3] & MSG_DONTWAIT) && streamsock(fd) && !timedout(fd, SO_SNDTIMEO);
    case SYS_recvfrom:
      return (a[3] & MSG_WAITALL) && !(a[3] & MSG_DONTWAIT) && streamsock(fd) &&
             !timedout(fd, SO_RCVTIMEO);
    default:
      return false;
  }
}

// lazygo: mp's thread goes to gmp_lazysyscall for the continuable call nr with arguments
// a, of which moved bytes are out (LS3). The handler, on that thread: a writev's vector
// is the program's, valid while it waits in the call. False when nothing is left.
bool lazygo(m* mp, long nr, const unsigned long* a, long moved) {
  lazycall* lc = &mp->lazy;
  long total = long(nr == SYS_sendfile ? a[3] : a[2]);  // sendmmsg: messages
  if (nr == SYS_writev) {
    const auto* iov = reinterpret_cast<const iovec*>(a[1]);
    total = 0;
    for (unsigned long i = 0; i < a[2]; i++) total += long(iov[i].iov_len);
  }
  if (moved >= total) return false;
  lc->going = true;
  lc->sock = (nr == SYS_write || nr == SYS_writev) && streamsock(long(a[0]));
  lc->handlers = gmp_handlersran;
  lc->total = total;
  lc->carry = moved;
  return true;
}

// lazyrest: lc's call becomes the one that moves what its first moved not (lc->carry
// bytes are out). A socket's rest is sent with MSG_NOSIGNAL: the kernel raises no SIGPIPE
// for a send that fails after some bytes, and returns their count (a pipe's write raises
// it either way).
void lazyrest(lazycall* lc) {
  long* c = lc->call;
  long rest = lc->total - lc->carry;
  if (c[0] == SYS_sendfile) {  // the kernel moved the offset (or the file's position)
    c[4] = rest;
    return;
  }
  if (c[0] == SYS_sendmmsg) {  // the messages sent have their msg_len
    c[2] += lc->carry * long(sizeof(mmsghdr));
    c[3] = rest;
    return;
  }
  if (c[0] == SYS_writev) {
    const auto* iov = reinterpret_cast<const iovec*>(c[2]);
    long skip = lc->carry;
    int n = 0;
    for (long i = 0; i < c[3]; i++) {
      auto len = long(iov[i].iov_len);
      if (skip >= len) {
        skip -= len;
        continue;
      }
      lc->iov[n].iov_base = static_cast<char*>(iov[i].iov_base) + skip;
      lc->iov[n++].iov_len = size_t(len - skip);
      skip = 0;
    }
    if (lc->sock) {
      lc->msg = msghdr{};
      lc->msg.msg_iov = lc->iov;
      lc->msg.msg_iovlen = size_t(n);
      c[0] = SYS_sendmsg;
      c[2] = long(&lc->msg);
      c[3] = MSG_NOSIGNAL;
    } else {
      c[2] = long(lc->iov);
      c[3] = n;
    }
    return;
  }
  c[2] += lc->carry;  // write, sendto, recvfrom: the buffer's rest
  c[3] = rest;
  if (c[0] == SYS_write && lc->sock) {
    c[0] = SYS_sendto;
    c[4] = MSG_NOSIGNAL;
    c[5] = c[6] = 0;
  } else if (c[0] == SYS_sendto) {
    c[4] |= MSG_NOSIGNAL;
  }
}

// restartnr: a system call nr with arguments a (a[0..5]) that a signal handler with
// SA_RESTART neither cuts short nor cuts off after partial progress: the kernel winds the
// thread back to make it again (-ERESTARTSYS, -ERESTARTNOINTR) and the program sees
// nothing. Reads wait for data and return none until then; writes are not here (a pipe or
// socket write interrupted after some bytes returns the count; but a pipe's small one),
// nor MSG_WAITALL receives.
bool restartnr(long nr, const unsigned long* a) {
  switch (nr) {
    case SYS_read: case SYS_readv: case SYS_pread64: case SYS_preadv: case SYS_preadv2:
    case SYS_accept: case SYS_accept4: case SYS_splice: case SYS_tee:
      return !timedout(long(a[0]), SO_RCVTIMEO);
    case SYS_vmsplice: case SYS_sendfile:
      // Into a pipe they wait for room only before the first byte, and return what fitted
      // then: none moved when the signal comes. (sendfile into a socket: continuable.)
      return fifo(long(a[0]));
    case SYS_mq_timedreceive: case SYS_mq_timedsend:  // the deadline is absolute
      return true;
    case SYS_write:
      // A pipe's write of PIPE_BUF bytes or less is all or nothing, so one that waits has
      // written nothing when the signal comes: the kernel makes it again. stdio flushes a
      // pipe's full 4 KiB buffer so, with glibc's own write, which no hook sees: two
      // threads writing through stdio to full pipes held both Ps, and their readers never
      // ran (a helper's probe).
      return a[2] <= PIPE_BUF && fifo(long(a[0]));
    case SYS_recvfrom:
      return !(a[3] & MSG_WAITALL) && !timedout(long(a[0]), SO_RCVTIMEO);
    case SYS_recvmsg:
      return !(a[2] & MSG_WAITALL) && !timedout(long(a[0]), SO_RCVTIMEO);
    case SYS_recvmmsg:
      // One that returns with its first datagram, without a timeout: none is taken until
      // then. (One that waits for more returns what it has, and leaves the signal's error
      // on the socket for the next call.)
      return (a[2] == 1 || (a[3] & MSG_WAITFORONE)) && a[4] == 0 && !(a[3] & MSG_WAITALL) &&
             !timedout(long(a[0]), SO_RCVTIMEO);
    case SYS_wait4: case SYS_waitid: case SYS_flock: case SYS_fcntl: case SYS_open:
    case SYS_openat:
      return true;
    case SYS_futex: {
      // FUTEX_WAIT[_BITSET] without a timeout: -ERESTARTSYS; with one, a handler ends it.
      // FUTEX_LOCK_PI always restarts (-ERESTARTNOINTR).
      unsigned long op = a[1] & FUTEX_CMD_MASK;
      if (op == FUTEX_LOCK_PI || op == FUTEX_LOCK_PI2) return true;
      return (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) && a[3] == 0;
    }
    default:
      return false;
  }
}

// remakenr: a system call nr with arguments a that a signal handler ends in EINTR whatever
// SA_RESTART says (the kernel's -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK or -EINTR), and that,
// made again with the same arguments, waits as the first one would have gone on: it has no
// timeout, or an absolute one. The SIGURG handler finds it ended (rax -EINTR, just past its
// `syscall`) with the arguments sysmon saw, and makes it again: the program sees nothing.
// (Others with a relative timeout would wait longer than they may, and keep their P.)
bool remakenr(long nr, const unsigned long* a) {
  switch (nr) {
    case SYS_semop: case SYS_msgrcv: case SYS_msgsnd:
      return true;
    case SYS_semtimedop:
      return a[3] == 0;
    case SYS_io_uring_enter:
      // The program's own ring: a wait for completions (liburing's io_uring_wait_cqe) with
      // no signal mask and no timeout (no EXT_ARG, argp null). One that submitted returns
      // its count, not EINTR, so the one made again submits nothing the first did; it waits
      // for the same CQ tail, which only the program moves.
      return (a[3] & IORING_ENTER_GETEVENTS) && a[2] > 0 && !(a[3] & IORING_ENTER_EXT_ARG) &&
             a[4] == 0;
    case SYS_futex: {
      // FUTEX_WAIT_BITSET's deadline is absolute (libstdc++'s wait_until). FUTEX_WAIT's is
      // relative: made again, it ends later than asked, by the time sysmon took to look
      // (10 ms), which its contract allows ("guaranteed not to expire early"); held, its P
      // stayed held, and a loop of such waits for a goroutine queued behind it never ended.
      unsigned long op = a[1] & FUTEX_CMD_MASK;
      return (op == FUTEX_WAIT_BITSET || op == FUTEX_WAIT) && a[3] != 0;
    }
    default:
      return false;
  }
}

// threadstate: what thread tid does, from /proc: running (on a CPU, or runnable: no system
// call), asleep in a restartnr system call, asleep in a remakenr one (its number and
// arguments in *nr and a), or something else.
enum threadstate { threadRunning, threadRestartable, threadRemakeable, threadOther };
threadstate threadstateof(int tid, long* nr, unsigned long* a) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  if (!procread(path, buf, sizeof buf)) return threadOther;
  if (strncmp(buf, "running", 7) == 0) return threadRunning;
  if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", nr, &a[0], &a[1], &a[2], &a[3], &a[4],
             &a[5]) != 7) {
    return threadOther;  // not in a system call ("-1 ...")
  }
  if (restartnr(*nr, a) || continuable(*nr, a)) return threadRestartable;
  return remakenr(*nr, a) ? threadRemakeable : threadOther;
}
}  // namespace

std::atomic<bool> lazysyscallson{false};

void lazysyscallinit(bool sigurgours) {
  // Under Valgrind every thread but one always waits in the kernel: none would look running.
  if (!sigurgours || debug.notakeover || undervalgrind() ||
      dl_iterate_phdr(findtext, nullptr) == 0) {
    if (debug.set) printerr("gmp: blocked calls nothing hooks keep their P\n");
    return;
  }
  lazysyscallson.store(true, std::memory_order_relaxed);
}

void lazysyscalls(int64_t now) {
  if (!lazysyscallson.load(std::memory_order_relaxed)) return;
  int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
  for (int32_t i = 0; i < procs; i++) {
    p* pp = allp[i];
    sysmontick* pd = &pp->sysmontick_;
    uint32_t t = pp->schedtick.load(std::memory_order_relaxed);
    if (pp->status.load(std::memory_order_relaxed) != Prunning || pd->schedtick != t) {
      pd->schedtick = t;
      pd->schedwhen = now;
      continue;
    }
    if (now - pd->schedwhen < blockedAfter) continue;
    // pp->m_ and its curg are the owner's, read here without synchronisation: a stale M
    // (Ms are never freed) or g is asked for nothing, as the handler checks its own.
    m* mp = pp->m_;
    int tid = mp ? mp->procid.load(std::memory_order_relaxed) : 0;
    if (tid <= 0 || mp->sigreq.load(std::memory_order_relaxed) != 0) continue;
    uint32_t req;
    long nr;
    unsigned long a[6];
    threadstate st = threadstateof(tid, &nr, a);
    if (st == threadRestartable || st == threadRemakeable) {
      req = sigreqSyscall;
      mp->sigcallnr = nr;  // LS1: before the request
      memcpy(mp->sigcallargs, a, sizeof a);
      pd->schedwhen = now;  // look again no sooner than blockedAfter from now
    } else if (st == threadRunning && asyncpreemptwanted(pp, mp->curg, now)) {
      // The handler declines a thread it catches in code that must not be interrupted
      // (the runtime, libc: preempt.cc PR2): ask again in preemptRetry, not blockedAfter.
      req = sigreqPreempt;
      pd->schedwhen = now - blockedAfter + preemptRetry;
    } else {
      pd->schedwhen = now;
      continue;
    }
    if (xsavestate == 0) {
      xsavestate = xsaveinit() ? 1 : -1;
      if (xsavestate > 0) asyncpreemptinit();
    }
    if (xsavestate < 0) {
      if (debug.set) printerr("gmp: no xsave: blocked calls nothing hooks keep their P\n");
      lazysyscallson.store(false, std::memory_order_relaxed);
      return;
    }
    mp->sigreq.store(req, std::memory_order_release);  // LS1
    tgkill_(tid, SIGURG);
  }
}

void lazysyscalloff() { lazysyscallson.store(false, std::memory_order_relaxed); }

uintptr_t sigredirectroom() {
  // The return address, rbp, ten registers, the xsave area and its alignment, the C calls.
  return redzone + 8 + 8 + 80 + gmp_xsavesize + 63 + cframes;
}

void sigredirect(void* ctx, uintptr_t ret, void (*fn)()) {
  greg_t* r = static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs;
  auto sp = uintptr_t(r[REG_RSP]) - (redzone + 8);
  *reinterpret_cast<uintptr_t*>(sp) = ret;
  r[REG_RSP] = greg_t(sp);
  r[REG_RIP] = greg_t(reinterpret_cast<uintptr_t>(fn));
}

void lazysyscallsig(m* mp, g* gp, void* ctx) {
  uint32_t req = mp->sigreq.exchange(0, std::memory_order_acquire);  // LS1
  greg_t* r = static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs;
  auto pc = uintptr_t(r[REG_RIP]), sp = uintptr_t(r[REG_RSP]);
  const unsigned long a[6] = {(unsigned long)r[REG_RDI], (unsigned long)r[REG_RSI],
                              (unsigned long)r[REG_RDX], (unsigned long)r[REG_R10],
                              (unsigned long)r[REG_R8],  (unsigned long)r[REG_R9]};
  // endedcall: this signal ended the remakenr call sysmon noted last (its number, the same
  // arguments) in EINTR, just past a `syscall`. (sysmon wrote them before a request this
  // handler took; it writes them again only for a running P's M, not one in this call.)
  auto endedcall = [&] {
    return r[REG_RAX] == -EINTR && remakenr(mp->sigcallnr, a) &&
           memcmp(a, mp->sigcallargs, sizeof a) == 0;
  };
  // Such a call that gmp_lazysyscall makes again, whatever this request was (or none):
  // made once more from its own `syscall`, the number back in rax.
  if (pc == reinterpret_cast<uintptr_t>(gmp_lazysyscall_ret) && endedcall()) {
    r[REG_RAX] = greg_t(mp->sigcallnr);
    r[REG_RIP] = greg_t(pc - 2);
    return;
  }
  if (req == 0) return;
  if (!lazysyscallson.load(std::memory_order_relaxed)) return;  // turned off after the ask
  if (mp->locks != 0 || dumpactive() || !gp || gp != mp->curg || !mp->p_ ||
      mp->p_->status.load(std::memory_order_relaxed) != Prunning) {
    return;  // LS2, or not a goroutine's code
  }
  // The handler runs on the M's signal stack: the trampoline's frame goes below the
  // interrupted code's red zone, where the kernel would otherwise have put this frame.
  auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (here < mp->sigstk.lo || here >= mp->sigstk.hi) return;
  if ((pc >= textlo && pc < texthi) || sp > gp->stk.hi || sp < gp->stk.lo + sigredirectroom()) {
    return;
  }
  if (req == sigreqPreempt) {
    asyncpreemptsig(mp, gp, ctx);
    return;
  }
  auto* insn = reinterpret_cast<const uint8_t*>(pc);
  if (insn[0] == 0x0f && insn[1] == 0x05) {  // about to restart a `syscall`
    // The call it restarts, which need not be the one sysmon saw asleep: the thread may
    // have moved on (to a fork, whose -ERESTARTNOINTR would send the child here too).
    long nr = long(r[REG_RAX]);
    mp->lazy.going = false;
    if (restartnr(nr, a) || (continuable(nr, a) && lazygo(mp, nr, a, 0))) {
      sigredirect(ctx, pc + 2, gmp_lazysyscall);
    }
    return;
  }
  // Ended in EINTR by this signal, just past its `syscall`: made again, the number back in
  // rax. (endedcall's -EINTR test first: pc - 2 is then inside the code that made the call.)
  if (endedcall() && insn[-2] == 0x0f && insn[-1] == 0x05) {
    r[REG_RAX] = greg_t(mp->sigcallnr);
    mp->lazy.going = false;
    sigredirect(ctx, pc, gmp_lazysyscall);
    return;
  }
  // A continuable write this signal cut short, just past its `syscall` with the count so
  // far (the call sysmon saw, the same arguments, checked first as above): the rest is
  // made there (LS3), and the program gets the whole count.
  long moved = long(r[REG_RAX]);
  if (moved > 0 && memcmp(a, mp->sigcallargs, sizeof a) == 0 &&
      continuable(mp->sigcallnr, a) && insn[-2] == 0x0f && insn[-1] == 0x05 &&
      lazygo(mp, mp->sigcallnr, a, moved)) {
    r[REG_RAX] = greg_t(mp->sigcallnr);
    sigredirect(ctx, pc, gmp_lazysyscall);
  }
}

}  // namespace gmp

extern "C" void gmp_lazyenter() { gmp::entersyscall(); }

// gmp_lazyargs: the call gmp_lazysyscall makes now, from the registers it saved (r9, r8,
// r10, rdx, rsi, rdi, rax, upwards) and, for a write it goes on with, the bytes out (LS3).
extern "C" const long* gmp_lazyargs(const long* saved) {
  gmp::lazycall* lc = &gmp::getg()->m_->lazy;
  for (int i = 0; i < 7; i++) lc->call[i] = saved[6 - i];
  if (lc->going && lc->carry > 0) gmp::lazyrest(lc);
  return lc->call;
}

// gmp_lazydone: the result of gmp_lazysyscall's call, and whether it makes the rest of a
// write a signal of the runtime's cut short (LS3). One of the program's handlers ran: the
// count so far, as the kernel's call returns it.
struct lazydone {
  long res;
  long again;
};
extern "C" lazydone gmp_lazydone(long res) {
  gmp::lazycall* lc = &gmp::getg()->m_->lazy;
  if (!lc->going) return {res, 0};
  long moved = lc->carry + (res > 0 ? res : 0);
  if (res > 0 && moved < lc->total && gmp::gmp_handlersran == lc->handlers) {
    lc->carry = moved;
    return {0, 1};
  }
  lc->going = false;
  return {res < 0 && moved == 0 ? res : moved, 0};
}

extern "C" void gmp_lazyexit() {
  gmp::m* mp = gmp::getg()->m_;
  int64_t backoff = 20 * 1000;
  while (!gmp::exitsyscallfast(mp)) {
    // The old P was retaken: whoever has it now may be in a system call of its own, whose
    // Psyscall is not ours to take. Any idle P from here on.
    mp->oldp = nullptr;
    gmp::usleep_ns(backoff);
    if (backoff < 1000 * 1000) backoff *= 2;
  }
}
