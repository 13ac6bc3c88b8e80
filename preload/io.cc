// io.cc — blocking I/O on file descriptors parks the goroutine on io_uring (DESIGN.md,
// "Netpoll on io_uring"): read, write, readv, writev, pread, pwrite and the socket calls.
//
// Each hook keeps libc's contract exactly and acts only for a goroutine (hookable); any
// other caller gets the real function (dlsym RTLD_NEXT). The shape of every hook:
//   1. try the call without blocking (RWF_NOWAIT, MSG_DONTWAIT): data that is ready costs one
//      system call, as in libc;
//   2. it would block: an fd the program set O_NONBLOCK gets EAGAIN (a regular file, for
//      which O_NONBLOCK means nothing, gets the real call and blocks as usual);
//   3. otherwise the operation goes to the P's ring and the goroutine parks until it is done.
// Blocking writes, writev and sends on streams go on until every byte is out, as the
// kernel's do; a failure after some bytes returns the count so far, as libc does. A regular
// file never returns a short read that libc would not: a partial RWF_NOWAIT read is
// completed through the ring. A socket's SO_RCVTIMEO and SO_SNDTIMEO bound a parked call as they bound the
// kernel's wait (a linked timeout): it ends in EAGAIN, or with the bytes moved so far.
#include <fcntl.h>
#include <poll.h>
#include <liburing.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <climits>
#include <cstdio>
#include <cstring>
#include <vector>

#include "hook.h"

namespace {

bool nonblocking(int fd);

// passthrough: from here on the call is libc's: fd is non-blocking, or the goroutine, back
// from a park on another P, cannot park again (hooks.h: that P has no ring and cannot get
// one). Checked before every ring operation of a loop.
bool passthrough(int fd) { return !gmp::hookable(true) || nonblocking(fd); }

bool regular(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// again: a ring operation on a blocking fd ended in EAGAIN: the kernel gave up its wait
// (a close() racing the arming of its poll). The caller looks again: a closed fd then gets
// EBADF from libc's call, an fd made non-blocking meanwhile EAGAIN.
// A signal handler with SA_RESTART interrupted it (restartcall): the same.
bool again(int32_t res) { return res == -EAGAIN || res == gmp::restartcall; }

// wouldblock: step 1 said the call cannot complete now (or cannot be tried that way).
bool wouldblock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EOPNOTSUPP; }

// fdbits: a bit per fd below fdbitsSize, a hint the hooks keep to save a system call; fds
// beyond have no bit, and has() answers `beyond` for them. Any thread sets and clears them.
// Relaxed: a mark set before a call is seen by it, and a stale one costs a system call,
// never a wrong result (see each use) — except `blocking`, whose marks must go before the
// mode they vouch for can change (see there).
constexpr int fdbitsSize = 1 << 20;
struct fdbits {
  std::atomic<uint64_t> w[fdbitsSize / 64];
  bool has(int fd, bool beyond) const {
    if (fd < 0 || fd >= fdbitsSize) return beyond;
    return w[fd / 64].load(std::memory_order_relaxed) & (uint64_t(1) << (fd % 64));
  }
  void clearall() {
    for (auto& word : w) {
      if (word.load(std::memory_order_relaxed)) word.store(0, std::memory_order_relaxed);
    }
  }
  void set(int fd, bool on) {
    if (fd < 0 || fd >= fdbitsSize) return;
    if (on) {
      w[fd / 64].fetch_or(uint64_t(1) << (fd % 64), std::memory_order_relaxed);
    } else if (has(fd, false)) {
      w[fd / 64].fetch_and(~(uint64_t(1) << (fd % 64)), std::memory_order_relaxed);
    }
  }
};

// Socket timeouts. Learning one costs a getsockopt, so only a marked fd asks. Invariant: an
// fd below fdbitsSize whose socket has a timeout is marked, or asks as a copy (copyasks) —
// setsockopt (hooked for every caller) marks it, an accepted socket inherits its listener's
// mark (the kernel gives it the listener's timeouts), a copy (dup, dup2, dup3, F_DUPFD:
// fdcopied) its original's. A missing mark would let a parked call wait past the timeout
// (for good); not seen, so not kept: a socket received by SCM_RIGHTS or inherited across
// exec with a timeout already set, and one a forked child or parent sets on a socket they
// share after the fork. An extra mark only costs the getsockopt: a mark outlives its
// socket, and a later file on the same fd number asks once per wait and finds none. Fds
// beyond the marks always ask.
fdbits hastimeout;

// Sockets given an SO_RCVLOWAT (marked as hastimeout's are, by setsockopt, accept and the
// copies). A receive that finds fewer bytes queued than the mark waits for the rest, which
// a first try without waiting does not (it returns what is there): their receives are the
// kernel's calls, blocking the thread (lowat), when the mark is above 1.
fdbits haslowat;

// Fds that have, or are, a copy in this process (fdcopied marks both; fdfresh clears one).
// An option set through one of them is the others' too, which setsockopt cannot mark: it
// knows no copies (a timeout set through a dup left the original's recv waiting for good).
// So setsockopt of a timeout or SO_RCVLOWAT on a marked fd sets optsoncopies, and from then
// on every marked fd asks (copyasks); until then reads of copies cost nothing more (a
// server that dup2s its socket onto 0 and 1 and reads it there). optsoncopies: any thread
// sets it, relaxed, after the kernel took the option; never cleared. A call racing that
// setsockopt may miss it, as the kernel's own call racing it may.
fdbits copied;
std::atomic<bool> optsoncopies{false};

// copyasks: fd may have a timeout or low-water mark set through a copy.
bool copyasks(int fd) {
  return optsoncopies.load(std::memory_order_relaxed) && copied.has(fd, true);
}

// Sockets. read() on a socket is recv() without flags, and a socket's short read is final;
// another file's needs an fstat to know whether it is a regular file, whose short read
// read() completes. So read() tries recv(MSG_DONTWAIT) first, and a file that answers
// ENOTSOCK is marked here and not asked again; close() and accept() clear the mark of their
// fd. A stale mark (an fd closed by a path we do not see, then reused by a socket) only sends
// that socket's reads the longer way, which is right for sockets too.
fdbits notsocket;

// Sockets whose last read had to wait (its recv(MSG_DONTWAIT) said EAGAIN): the next read
// goes to the ring at once, without that try. A request/response connection's next request
// is seldom there when the reply is out, and the ring's read tries the socket itself at
// submission (and completes there when data waits), so the try was a system call that
// saves nothing (~2 us on these VMs). Cleared with notsocket (close, accept, dup); a stale
// mark only sends a read the ring's way, which is right for any file.
fdbits waitedread;

// Blocking mode, known without asking. A wait on a blocking fd first asks the kernel
// whether the program made it non-blocking (fcntl F_GETFL, ~1 us on these VMs, once per
// park of every read and write). A marked fd is known to be blocking: a socket this
// process accepted in blocking mode (accept, accept4 without SOCK_NONBLOCK), whose open
// file description no other process holds. The mark goes whenever that may stop being so:
// F_SETFL or ioctl(FIONBIO) on the fd; its close; a copy (dup, dup2, dup3, F_DUPFD: both
// fds, as F_SETFL through either changes both); fdopen (a FILE's fclose closes inside libc,
// unseen: the number could come back as a non-blocking file); the fds a sendmsg passes
// (SCM_RIGHTS); every mark at a fork (the child shares every description) and at
// close_range/closefrom. A wrong mark would park a read that should fail with EAGAIN:
// what the hooks cannot see is a raw syscall(SYS_fcntl or SYS_close), sendmmsg passing
// fds, and another process that takes the fd with pidfd_getfd(2) and changes its flags.
// Those are README's. Races: a read on one thread that loads a mark just before another
// thread's F_SETFL clears it parks once, as libc's read racing that F_SETFL may block; an
// accept on one thread that marks its socket after a fork on another cleared every mark
// (the other Ms run on through a fork) leaves a mark on a description the child shares, a
// window of a few instructions, left open. Test:
// HookContract.AcceptedSocketsTurnedNonBlockingFailWithEagain.
fdbits blocking;

// Known SOCK_STREAM sockets (streamsocket: marked at a blocking accept, or the first time a
// write on fd had to wait), whose writes that wait are the ring's send. Cleared with the
// other marks (fdfresh). A stale mark (the socket closed unseen, README) sends a write the
// send's way: another file answers ENOTSOCK and gets its own write (writeat).
fdbits streamsock;

// Files whose I/O at the file position (read, write, readv, writev) is the real call, in
// the kernel, between entersyscall and exitsyscall (atdisk): regular files and block
// devices. io_uring's reads and writes at the position (offset -1) take neither the file's
// position lock nor turns: two threads (or processes) writing one fd wrote at the same
// position and lost records (the shell's `> file` of a threaded program), and when the
// rest of a short transfer failed the position stayed behind (a write that reached
// RLIMIT_FSIZE then wrote over the file's first bytes). Their positioned calls (pread,
// pwrite) still park on the ring. Set with notsocket (learnfile), cleared with it (fdfresh);
// a stale mark only sends a call to the kernel, where it blocks its thread, as libc's.
fdbits diskfile;

// Character devices, terminals among them (set with diskfile by learnfile, cleared with it).
// A read that waits on the ring waits for its file to turn readable (the ring arms a poll,
// then reads), and for a terminal that is the read's own wait in canonical mode (a line) and
// in raw mode with VMIN 1 or more (a byte; the read that follows keeps VMIN and VTIME). With
// VMIN 0 the kernel's read does not wait for data: it returns 0 at once (VTIME 0) or after
// VTIME tenths of a second without any, where the poll would wait for data for good. Those
// reads are the kernel's (nodatawait). Fds beyond the marks always ask.
fdbits chardevice;

// Pipes and FIFOs (set with diskfile by learnfile, cleared with it), whose writes that wait
// are fifowrite's, not the ring's.
fdbits fifo;

// learnfile: fd is no socket (ENOTSOCK, or fstat said so): marked, and whether it is a disk
// file. Returns that.
bool learnfile(int fd) {
  struct stat st;
  bool known = fstat(fd, &st) == 0;
  bool disk = known && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
  notsocket.set(fd, true);
  diskfile.set(fd, disk);
  chardevice.set(fd, known && S_ISCHR(st.st_mode));
  fifo.set(fd, known && S_ISFIFO(st.st_mode));
  return disk;
}

// nodatawait: fd is a terminal in raw mode with VMIN 0, whose reads end without data
// (chardevice). tcgetattr is libc's ioctl(TCGETS), which no hook sees.
bool nodatawait(int fd) {
  if (!chardevice.has(fd, true)) return false;
  termios t;
  return tcgetattr(fd, &t) == 0 && !(t.c_lflag & ICANON) && t.c_cc[VMIN] == 0;
}

// atdisk: fd's position I/O is the kernel's (diskfile), from its marks, else an fstat.
bool atdisk(int fd) {
  if (notsocket.has(fd, false)) return diskfile.has(fd, false);
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISSOCK(st.st_mode)) return false;
  return learnfile(fd);
}

// fdfresh: fd names another file from now on (accepted, a copy's target, or closed): what
// the marks knew of the old one goes. Callers then set what they know of the new one.
void fdfresh(int fd) {
  hastimeout.set(fd, false);
  haslowat.set(fd, false);
  notsocket.set(fd, false);
  waitedread.set(fd, false);
  blocking.set(fd, false);
  streamsock.set(fd, false);
  diskfile.set(fd, false);
  chardevice.set(fd, false);
  fifo.set(fd, false);
  copied.set(fd, false);
}

// nonblocking: the program set O_NONBLOCK on fd (or fd is bad: the real call says so).
bool nonblocking(int fd) {
  if (blocking.has(fd, false)) return false;
  long fl = syscall(SYS_fcntl, fd, F_GETFL);
  return fl < 0 || (fl & O_NONBLOCK) != 0;
}

// lowat: fd's receives wait for more than one byte (haslowat).
bool lowat(int fd) {
  if (!haslowat.has(fd, false) && !copyasks(fd)) return false;
  int v = 1;
  socklen_t len = sizeof v;
  return getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len) == 0 && v > 1;
}

// timeoutof: the deadline of a wait on fd starting now under opt (SO_RCVTIMEO or
// SO_SNDTIMEO); -1 for none (no timeout set, or fd is no socket).
int64_t timeoutof(int fd, int opt) {
  if (!hastimeout.has(fd, true) && !copyasks(fd)) return -1;
  timeval tv{};
  socklen_t len = sizeof tv;
  if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0)) {
    return -1;
  }
  return gmp::deadlinein(gmp::nanos(timespec{tv.tv_sec, tv.tv_usec * 1000}));
}

// Ring operations (step 3), given up at deadline (parkuntil). off -1: the file position, as
// read/write use.
// introf: how a signal handler (or a pthread_cancel) affects a wait on fd (hooks.h,
// intrmode): not at all for a disk file (off >= 0: pread and pwrite, which other files
// refuse), as the kernel's wait for a disk is uninterruptible; EINTR or a restart for the
// rest. Only a goroutine something interrupts asks (atdisk: the marks, else an fstat).
// intrnotdisk: the same for a file known to be none (no fstat).
gmp::intrmode intrnotdisk() {
  return gmp::sigintrtarget() || gmp::sigheldtarget() ? gmp::intrRestart : gmp::intrNever;
}
gmp::intrmode introf(int fd, int64_t off) {
  if (off >= 0) return gmp::intrNever;
  gmp::intrmode mode = intrnotdisk();
  return mode == gmp::intrNever || atdisk(fd) ? gmp::intrNever : mode;
}

// inkernel: the result of real(), a call the ring cannot make as the kernel does (a disk
// file's at its position: atdisk; a terminal's read that ends without data: nodatawait),
// made in the kernel between entersyscall and exitsyscall, as a ring operation's result
// (-errno).
template <typename Real>
int32_t inkernel(Real real) {
  long r = gmp::insyscall(real);
  return r < 0 ? -errno : int32_t(r);
}

// ringrw: a read or write (op IORING_OP_READ or IORING_OP_WRITE) of n bytes at off.
int32_t ringrw(int op, int fd, const void* buf, size_t n, int64_t off, int64_t deadline,
               gmp::intrmode mode) {
  n = n > INT_MAX ? INT_MAX : n;
  if (off < 0 && (atdisk(fd) || (op == IORING_OP_READ && nodatawait(fd)))) {
    REAL(read);
    REAL(write);
    return inkernel([&] {
      return op == IORING_OP_READ ? real_read(fd, const_cast<void*>(buf), n)
                                  : real_write(fd, buf, n);
    });
  }
  io_uring_sqe* sqe = gmp::sqeuntil(deadline);
  io_uring_prep_rw(op, sqe, fd, buf, unsigned(n), uint64_t(off));
  return gmp::parkuntil(sqe, deadline, mode);
}
int32_t ringread(int fd, void* buf, size_t n, int64_t off, int64_t deadline, gmp::intrmode mode) {
  return ringrw(IORING_OP_READ, fd, buf, n, off, deadline, mode);
}
int32_t ringwrite(int fd, const void* buf, size_t n, int64_t off, int64_t deadline,
                  gmp::intrmode mode) {
  return ringrw(IORING_OP_WRITE, fd, buf, n, off, deadline, mode);
}

// streamsocket: fd is a SOCK_STREAM socket: its mark, else SO_TYPE asked (and the answer
// marked: streamsock, or notsocket for a file that is no socket). A stream socket's write
// or writev that must wait goes to the ring as a send or sendmsg (sigpipeto), not as a
// write: the kernel would raise that write's SIGPIPE on the thread that ran the request,
// which may be sysmon (netpollflushstale submits for a P whose goroutine computes), where
// every signal is blocked and it would stay pending for good. A SOCK_SEQPACKET socket's
// write is a send with MSG_EOR, which the ring's write keeps (and its EPIPE raises nothing).
bool streamsocket(int fd) {
  if (streamsock.has(fd, false)) return true;
  if (notsocket.has(fd, false)) return false;
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
    if (errno == ENOTSOCK) learnfile(fd);
    return false;
  }
  streamsock.set(fd, type == SOCK_STREAM);
  return type == SOCK_STREAM;
}

// raisehere: sig to the calling thread, as the kernel sends the SIGPIPE and SIGXFSZ of a
// call.
void raisehere(int sig) { syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig); }

// signalled: the result of a write hook, r. A write that failed with EPIPE or EFBIG may have
// sent its thread SIGPIPE or SIGXFSZ (the kernel's call, or raisehere): a goroutine that
// blocks it has it pending, and takes it with it when it leaves the thread (sigraised).
ssize_t signalled(ssize_t r) {
  if (r < 0 && errno == EPIPE) gmp::sigraised(SIGPIPE);
  if (r < 0 && errno == EFBIG) gmp::sigraised(SIGXFSZ);
  return r;
}

// sigpipeto: the result res of a ring send on fd that is the whole call's (nothing went
// before it). The ring's sends go with MSG_NOSIGNAL (io_uring adds it anyway on the kernels
// we know; asking makes it so on all), where the kernel's own send on a stream socket that
// can no longer send, having sent nothing, sends SIGPIPE to the calling thread before it
// returns EPIPE: so does this, unless the caller asked for MSG_NOSIGNAL. Not for other
// sockets (datagrams, SOCK_SEQPACKET), whose EPIPE comes without one.
int32_t sigpipeto(int fd, int flags, int32_t res) {
  if (res == -EPIPE && !(flags & MSG_NOSIGNAL) && streamsocket(fd)) raisehere(SIGPIPE);
  return res;
}

// sigxfszto: the result res of a ring write of a file at off (pwrite: writes at the
// position are the kernel's, atdisk) that is the whole call's (nothing went before it). The
// kernel's write that would start at or past RLIMIT_FSIZE sends SIGXFSZ to the calling
// thread before it returns EFBIG, and the ring's worker that wrote got that one and keeps it
// (io workers block every signal): so this sends it, when the write started past the limit
// (off, or the file's end with O_APPEND, where pwrite appends). Not for the EFBIG of a file
// system's own size limit, which comes without one.
int32_t sigxfszto(int fd, int64_t off, int32_t res) {
  if (res != -EFBIG) return res;
  rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return res;
  long fl = syscall(SYS_fcntl, fd, F_GETFL);
  struct stat st;
  int64_t pos = fl >= 0 && (fl & O_APPEND) ? (fstat(fd, &st) == 0 ? st.st_size : -1) : off;
  if (pos >= 0 && uint64_t(pos) >= rl.rlim_cur) raisehere(SIGXFSZ);
  return res;
}

// A socket's read and write as its recv and send without flags (what read and write on a
// socket are): the ring's send and recv skip the file-I/O preparation of its read and
// write (io_rw_init_file, the iov_iter) that a socket does not need. A recv that knows
// the socket empty (its last try said EAGAIN) asks for poll first (IORING_RECVSEND_
// POLL_FIRST; recv is only asked after a try said so): the ring arms its wait at once
// instead of trying the socket a second time.
int32_t ringrecv(int fd, void* buf, size_t n, int64_t deadline) {
  io_uring_sqe* sqe = gmp::sqeuntil(deadline);
  io_uring_prep_recv(sqe, fd, buf, n > INT_MAX ? INT_MAX : n, 0);
  sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  return gmp::parkuntil(sqe, deadline, gmp::intrRestart);
}
int32_t ringsend(int fd, const void* buf, size_t n, int64_t deadline) {
  io_uring_sqe* sqe = gmp::sqeuntil(deadline);
  io_uring_prep_send(sqe, fd, buf, n > INT_MAX ? INT_MAX : n, MSG_NOSIGNAL);
  return gmp::parkuntil(sqe, deadline, gmp::intrRestart);
}
// iovbytes: the bytes cnt vectors hold.
size_t iovbytes(const iovec* iov, size_t cnt) {
  size_t n = 0;
  for (size_t i = 0; i < cnt; i++) n += iov[i].iov_len;
  return n;
}

// ringrwv: a readv or writev (op IORING_OP_READV or IORING_OP_WRITEV) at the file position;
// a disk file's in the kernel (atdisk).
int32_t ringrwv(int op, int fd, const iovec* iov, int cnt, int64_t deadline) {
  REAL(readv);
  REAL(writev);
  if (atdisk(fd) || (op == IORING_OP_READV && nodatawait(fd))) {
    return inkernel([&] {
      return op == IORING_OP_READV ? real_readv(fd, iov, cnt) : real_writev(fd, iov, cnt);
    });
  }
  io_uring_sqe* sqe = gmp::sqeuntil(deadline);
  io_uring_prep_rw(op, sqe, fd, iov, unsigned(cnt), uint64_t(-1));
  return gmp::parkuntil(sqe, deadline, intrnotdisk());  // not atdisk, above
}
int32_t ringreadv(int fd, const iovec* iov, int cnt, int64_t deadline) {
  return ringrwv(IORING_OP_READV, fd, iov, cnt, deadline);
}
int32_t ringwritev(int fd, const iovec* iov, int cnt, int64_t deadline) {
  return ringrwv(IORING_OP_WRITEV, fd, iov, cnt, deadline);
}
// fifowrite: a write of iov to a pipe or FIFO (the fifo mark) that has to wait, as a ring
// operation's result. It parks until the pipe turns writable (a poll on the ring) and then
// writes without waiting itself, on the goroutine's thread: the kernel sends a write to a
// pipe without readers SIGPIPE to the thread that makes it, and the ring's write made it on
// whichever M ran the request, so the signal went to another goroutine's handler or, when the
// writer blocked SIGPIPE to take it with sigtimedwait, killed the process through a thread
// that did not block it. A pipe turns writable with a page free, room for a write of PIPE_BUF
// bytes or less, which stays whole. A signal handler ends the wait as the ring's write's:
// its restartcall goes back to the caller, which returns the bytes already out (parkready
// would wait again).
int32_t fifowrite(int fd, const iovec* iov, int cnt, int64_t deadline, gmp::intrmode mode) {
  for (;;) {
    ssize_t w = pwritev2(fd, iov, cnt, -1, RWF_NOWAIT);
    if (w >= 0) return w > INT_MAX ? INT_MAX : int32_t(w);
    // EOPNOTSUPP: a FIFO opened by name takes no RWF_NOWAIT (the kernel gives only pipe()'s
    // ends FMODE_NOWAIT); its write is the kernel's, in full, on this thread. So is the write
    // of a goroutine back from a park where it cannot park again.
    if ((errno == EAGAIN && !gmp::hookable(true)) || errno == EOPNOTSUPP) {
      REAL(writev);
      return inkernel([&] { return real_writev(fd, iov, cnt); });
    }
    if (errno != EAGAIN) return -errno;
    io_uring_sqe* sqe = gmp::sqeuntil(deadline);
    io_uring_prep_poll_add(sqe, fd, POLLOUT | POLLERR | POLLHUP);
    int32_t res = gmp::parkuntil(sqe, deadline, mode);
    if (res < 0) return res;  // the deadline, a handler, a close: as the ring's write ends
  }
}

// recvmsg polls first (its try said EAGAIN): a try on an empty AF_UNIX stream socket with
// SO_PASSCRED wrote an empty credentials message, and the data's came after it (or was
// cut: MSG_CTRUNC).
int32_t ringrecvmsg(int fd, msghdr* msg, int flags, int64_t deadline) {
  io_uring_sqe* sqe = gmp::sqeuntil(deadline);
  io_uring_prep_recvmsg(sqe, fd, msg, unsigned(flags));
  sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  return gmp::parkuntil(sqe, deadline, gmp::intrRestart);
}
int32_t ringsendmsg(int fd, const msghdr* msg, int flags, int64_t deadline) {
  io_uring_sqe* sqe = gmp::sqeuntil(deadline);
  io_uring_prep_sendmsg(sqe, fd, msg, unsigned(flags | MSG_NOSIGNAL));
  return gmp::parkuntil(sqe, deadline, gmp::intrRestart);
}

// parked: steps 2 and 3 for a call whose first attempt returned tried (-1, errno still
// its) and would block. An fd the program made non-blocking gets that answer, EAGAIN, but
// for a file that refused RWF_NOWAIT (EOPNOTSUPP) and a regular file (whose reads and
// writes the kernel blocks whatever O_NONBLOCK says): those get real(). A blocking fd parks on ring(deadline) until the call is done, the deadline from the
// socket's timeout opt; one that can no longer park where the goroutine resumed
// (passthrough) gets real(). maybefile: fd may be a regular file (not for the socket calls).
// tried notTried: no first attempt was made (waitedread): a non-blocking fd gets real().
constexpr ssize_t notTried = -2;
template <typename Real, typename Ring>
ssize_t parked(int fd, ssize_t tried, int opt, bool maybefile, Real real, Ring ring) {
  if (nonblocking(fd)) {  // regular()'s fstat leaves errno alone when it succeeds
    if (tried == notTried) return real();
    return errno == EOPNOTSUPP || (maybefile && regular(fd)) ? real() : tried;
  }
  int64_t deadline = timeoutof(fd, opt);
  for (;;) {
    int32_t res = ring(deadline);
    if (!again(res)) return gmp::ringresult(res);
    if (passthrough(fd)) return real();
  }
}

// readparked: parked for read (off -1) or pread.
ssize_t readparked(int fd, void* buf, size_t n, int64_t off, ssize_t tried, bool maybefile,
                   gmp::intrmode mode) {
  return parked(
      fd, tried, SO_RCVTIMEO, maybefile,
      [&] {
        REAL(read);
        REAL(pread);
        return off < 0 ? real_read(fd, buf, n) : real_pread(fd, buf, n, off);
      },
      [&](int64_t deadline) {
        if (maybefile) return ringread(fd, buf, n, off, deadline, mode);
        // A socket's read, its last try (or this call's) said EAGAIN. A stale waitedread
        // mark (the socket closed unseen, its number reused by another file) gets ENOTSOCK:
        // that file's read, and the marks learn what it is.
        int32_t res = ringrecv(fd, buf, n, deadline);
        if (res != -ENOTSOCK) return res;
        fdfresh(fd);
        learnfile(fd);
        // Back from a park: one that cannot park again (hooks.h) gets libc's read (parked).
        if (!gmp::hookable(true)) return int32_t(-EAGAIN);
        return ringread(fd, buf, n, off, deadline, introf(fd, off));
      });
}

// oddcount: a count the kernel's call answers without waiting, or better than the ring:
// zero bytes (the file's own answer: EISDIR, an eventfd's EINVAL; a preadv2 of nothing
// asks no file) and counts past INT_MAX (the kernel checks the whole buffer's range first:
// EFAULT where it would pass the end of the address space). Those get the real call.
bool oddcount(size_t n) { return n == 0 || n > INT_MAX; }

// readat: read(fd, buf, n) (off -1) or pread (off >= 0) for a goroutine.
ssize_t readat(int fd, void* buf, size_t n, int64_t off) {
  REAL(read);
  REAL(pread);
  auto real = [&] { return off < 0 ? real_read(fd, buf, n) : real_pread(fd, buf, n, off); };
  if (oddcount(n) || (off < 0 && diskfile.has(fd, false))) {
    return gmp::ringresult(inkernel(real));
  }
  // n 0: a datagram socket's recv would consume a datagram, read() does not.
  if (off < 0 && n > 0 && !notsocket.has(fd, false)) {
    if (lowat(fd)) return gmp::ringresult(inkernel(real));
    if (waitedread.has(fd, false)) {
      return readparked(fd, buf, n, off, notTried, false, gmp::intrRestart);
    }
    ssize_t r = syscall(SYS_recvfrom, fd, buf, n, MSG_DONTWAIT, nullptr, nullptr);
    if (r >= 0) return r;
    if (errno != ENOTSOCK) {
      if (errno != EAGAIN) return r;
      waitedread.set(fd, true);
      return readparked(fd, buf, n, off, r, false, gmp::intrRestart);
    }
    if (learnfile(fd) && off < 0) return gmp::ringresult(inkernel(real));
  }
  iovec iov{buf, n};
  ssize_t r = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
  if (r >= 0) {
    // A disk file partly in the page cache: read the rest as read() would. Known from the
    // marks (atdisk): a pipe's short read, which is final, asks no fstat.
    if (r == 0 || size_t(r) == n || !atdisk(fd)) return r;
    int32_t more = ringread(fd, static_cast<char*>(buf) + r, n - size_t(r),
                            off < 0 ? -1 : off + r, -1, gmp::intrNever);
    return more > 0 ? r + more : r;
  }
  if (!wouldblock(errno)) return r;
  return readparked(fd, buf, n, off, r, true, introf(fd, off));
}

// writeat: write (off -1) or pwrite (off >= 0) for a goroutine, every byte.
ssize_t writeat(int fd, const void* buf, size_t n, int64_t off) {
  // rest: the real call for what is not out yet, or what is out when it fails (total).
  size_t done = 0;
  auto total = [&](ssize_t w) { return w >= 0 ? ssize_t(done) + w : done > 0 ? ssize_t(done) : w; };
  auto rest = [&] {
    REAL(write);
    REAL(pwrite);
    const char* from = static_cast<const char*>(buf) + done;
    return total(off < 0 ? real_write(fd, from, n - done)
                         : real_pwrite(fd, from, n - done, off + int64_t(done)));
  };
  if (oddcount(n) || (off < 0 && diskfile.has(fd, false))) {
    return gmp::ringresult(inkernel(rest));
  }
  // A socket known blocking (accepted here) writes through the ring at once: the write
  // joins its P's batch of submissions (NP6) instead of costing a system call of its own,
  // and the ring's send completes at submission when the socket has room.
  if (off >= 0 || !blocking.has(fd, false)) {
    iovec iov{const_cast<void*>(buf), n};
    ssize_t r = pwritev2(fd, &iov, 1, off, RWF_NOWAIT);
    if (r >= 0) {
      done = size_t(r);
      if (done == n) return r;
    } else if (!wouldblock(errno)) {
      return r;
    }
    if (nonblocking(fd)) return (r < 0 && errno == EOPNOTSUPP) || regular(fd) ? rest() : r;
  }
  int64_t deadline = timeoutof(fd, SO_SNDTIMEO);
  // A stream socket's write is its send (SIGPIPE as the kernel's write gives it: only when
  // nothing went). ENOTSOCK: the socket was closed unseen (a raw close, README) and the
  // number is another file's now: that file's write, the whole way.
  const bool sock = off < 0 && streamsocket(fd);
  const gmp::intrmode mode = sock ? gmp::intrRestart : introf(fd, off);  // ringsend: its own
  for (;;) {
    const char* from = static_cast<const char*>(buf) + done;
    iovec unsent{const_cast<char*>(from), n - done};
    int32_t res = sock ? ringsend(fd, from, n - done, deadline)
                  : off < 0 && fifo.has(fd, false) ? fifowrite(fd, &unsent, 1, deadline, mode)
                  : ringwrite(fd, from, n - done, off < 0 ? -1 : off + int64_t(done), deadline,
                              mode);
    if (sock && res == -ENOTSOCK) {
      fdfresh(fd);
      learnfile(fd);
      if (!gmp::hookable(true)) return rest();  // back from a park that cannot park again
      return total(writeat(fd, from, n - done, off));
    }
    if (done == 0) res = sock ? sigpipeto(fd, 0, res) : off >= 0 ? sigxfszto(fd, off, res) : res;
    // A handler with SA_RESTART after some bytes: the write returns them (signal(7)).
    if (res == gmp::restartcall && done > 0) break;
    if (res > 0) {
      done += size_t(res);
      // A disk file's write comes out short only when the rest failed (the ring tried
      // it): that count is the call's, as the kernel's. Trying again would fail, or raise
      // SIGXFSZ where libc's call does not.
      if (done < n && !sock && atdisk(fd)) break;
    } else if (!again(res)) {
      return done > 0 ? ssize_t(done) : res == 0 ? 0 : gmp::ringresult(res);
    }
    if (done == n) break;
    // The goroutine may resume on a P that cannot park it, the fd made non-blocking.
    bool nb = nonblocking(fd);
    if (nb && done > 0) break;  // what is out
    if (nb || !gmp::hookable(true)) return rest();
  }
  return ssize_t(done);
}

// errnokept: f's result, and where it succeeded errno as the caller left it: the try
// without waiting that said EAGAIN before the call parked must not show, as glibc's
// successful calls leave errno alone (seterrno: after a park the thread may be another).
template <typename F>
auto errnokept(F f) {
  int saved = errno;
  auto r = f();
  if (r >= 0) gmp::seterrno(saved);
  return r;
}

}  // namespace

GMP_HOOK ssize_t read(int fd, void* buf, size_t n) {
  gmp::testcancel();
  REAL(read);
  if (!gmp::hookable(true)) return real_read(fd, buf, n);
  return errnokept([&] { return readat(fd, buf, n, -1); });
}

// With _FILE_OFFSET_BITS=64 the headers name pread pread64; the hook defines both names.
GMP_HOOK ssize_t pread_hook(int fd, void* buf, size_t n, off_t off) __asm__("pread");
GMP_HOOK ssize_t pread_hook(int fd, void* buf, size_t n, off_t off) {
  gmp::testcancel();
  REAL(pread);
  if (!gmp::hookable(true) || off < 0) return real_pread(fd, buf, n, off);
  return errnokept([&] { return readat(fd, buf, n, off); });
}
extern "C" __attribute__((visibility("default"), alias("pread"))) ssize_t pread64_hook(
    int, void*, size_t, off_t) __asm__("pread64");

GMP_HOOK ssize_t write(int fd, const void* buf, size_t n) {
  gmp::testcancel();
  REAL(write);
  if (!gmp::hookable(true)) return signalled(real_write(fd, buf, n));
  return signalled(errnokept([&] { return writeat(fd, buf, n, -1); }));
}

GMP_HOOK ssize_t pwrite_hook(int fd, const void* buf, size_t n, off_t off) __asm__("pwrite");
GMP_HOOK ssize_t pwrite_hook(int fd, const void* buf, size_t n, off_t off) {
  gmp::testcancel();
  REAL(pwrite);
  if (!gmp::hookable(true) || off < 0) return signalled(real_pwrite(fd, buf, n, off));
  return signalled(errnokept([&] { return writeat(fd, buf, n, off); }));
}
extern "C" __attribute__((visibility("default"), alias("pwrite"))) ssize_t pwrite64_hook(
    int, const void*, size_t, off_t) __asm__("pwrite64");

namespace {
// iovleft: what of an iovec array is not out yet (a copy, advanced as bytes go out).
struct iovleft {
  std::vector<iovec> v;
  size_t at = 0;  // the first vector with bytes left
  size_t total = 0;
  iovleft(const iovec* iov, size_t cnt) : v(iov, iov + cnt), total(iovbytes(iov, cnt)) {}
  void advance(size_t n) {
    while (n > 0 && at < v.size()) {
      size_t k = n < v[at].iov_len ? n : v[at].iov_len;
      v[at].iov_base = static_cast<char*>(v[at].iov_base) + k;
      v[at].iov_len -= k;
      n -= k;
      if (v[at].iov_len == 0) at++;
    }
    while (at < v.size() && v[at].iov_len == 0) at++;
  }
  iovec* data() { return v.data() + at; }
  int count() const { return int(v.size() - at); }
};
}  // namespace

GMP_HOOK ssize_t readv(int fd, const iovec* iov, int cnt) {
  gmp::testcancel();
  REAL(readv);
  if (!gmp::hookable(true)) return real_readv(fd, iov, cnt);
  if (diskfile.has(fd, false)) return gmp::ringresult(ringreadv(fd, iov, cnt, -1));
  return errnokept([&]() -> ssize_t {
    ssize_t r = preadv2(fd, iov, cnt, -1, RWF_NOWAIT);
    if (r > 0 && cnt > 0 && size_t(r) < iovbytes(iov, size_t(cnt)) && atdisk(fd)) {
      // A disk file partly in the page cache: the rest as readv would read it (the kernel's).
      iovleft left(iov, size_t(cnt));
      left.advance(size_t(r));
      int32_t more = ringreadv(fd, left.data(), left.count(), -1);
      return more > 0 ? r + more : r;
    }
    if (r >= 0 || !wouldblock(errno)) return r;
    return parked(
        fd, r, SO_RCVTIMEO, true, [&] { return real_readv(fd, iov, cnt); },
        [&](int64_t deadline) { return ringreadv(fd, iov, cnt, deadline); });
  });
}


namespace {
// writevg: writev for a goroutine, cnt > 0: every byte on a blocking fd, as write
// (writeat) does.
ssize_t writevg(int fd, const iovec* iov, int cnt) {
  REAL(writev);
  if (diskfile.has(fd, false)) return gmp::ringresult(ringwritev(fd, iov, cnt, -1));
  if (cnt == 1) return writeat(fd, iov[0].iov_base, iov[0].iov_len, -1);
  ssize_t r = pwritev2(fd, iov, cnt, -1, RWF_NOWAIT);
  if (r < 0 && !wouldblock(errno)) return r;
  iovleft left(iov, size_t(cnt));
  size_t done = r > 0 ? size_t(r) : 0;
  if (done == left.total) return r;
  left.advance(done);
  // rest: the real call for what is not out yet, or what is out when it fails.
  auto rest = [&] {
    ssize_t w = real_writev(fd, left.data(), left.count());
    return w >= 0 ? ssize_t(done) + w : done > 0 ? ssize_t(done) : w;
  };
  if (nonblocking(fd)) return (r < 0 && errno == EOPNOTSUPP) || regular(fd) ? rest() : r;
  int64_t deadline = timeoutof(fd, SO_SNDTIMEO);
  const bool sock = streamsocket(fd);  // its send (see streamsocket), SIGPIPE as writev's
  for (;;) {
    msghdr m{};
    m.msg_iov = left.data();
    m.msg_iovlen = size_t(left.count());
    int32_t res = sock ? ringsendmsg(fd, &m, 0, deadline)
                  : fifo.has(fd, false) ? fifowrite(fd, left.data(), left.count(), deadline,
                                                    introf(fd, -1))
                  : ringwritev(fd, left.data(), left.count(), deadline);
    if (sock && done == 0) res = sigpipeto(fd, 0, res);
    if (res == gmp::restartcall && done > 0) break;  // a handler after some bytes (signal(7))
    if (res > 0) {
      done += size_t(res);
      left.advance(size_t(res));
      if (done < left.total && !sock && atdisk(fd)) break;  // as writeat's
    } else if (!again(res)) {
      return done > 0 ? ssize_t(done) : res == 0 ? 0 : gmp::ringresult(res);
    }
    if (done == left.total) break;
    bool nb = nonblocking(fd);
    if (nb && done > 0) break;  // made non-blocking meanwhile: what is out
    if (nb || !gmp::hookable(true)) return rest();
  }
  return ssize_t(done);
}
}  // namespace

GMP_HOOK ssize_t writev(int fd, const iovec* iov, int cnt) {
  gmp::testcancel();
  REAL(writev);
  if (!gmp::hookable(true) || cnt <= 0) return signalled(real_writev(fd, iov, cnt));
  return signalled(errnokept([&] { return writevg(fd, iov, cnt); }));
}

// ---- sockets ------------------------------------------------------------------------------------

namespace {
// recvmsgg / sendmsgg: the recv and send family for a goroutine. Only EAGAIN (EWOULDBLOCK,
// the same number) means "would block" here: a socket's EOPNOTSUPP is about the flags.
ssize_t recvmsgg(int fd, msghdr* msg, int flags) {
  // MSG_ERRQUEUE never waits. MSG_WAITALL (or a socket's SO_RCVLOWAT, which only a
  // getsockopt would tell) waits for more than a first try without waiting returns, which
  // returned what was queued: the kernel's call, blocking its thread.
  if (flags & MSG_ERRQUEUE) return syscall(SYS_recvmsg, fd, msg, flags);
  if ((flags & MSG_WAITALL) || lowat(fd)) {
    return gmp::insyscall([&] { return syscall(SYS_recvmsg, fd, msg, flags); });
  }
  ssize_t r = syscall(SYS_recvmsg, fd, msg, flags | MSG_DONTWAIT);
  if (r >= 0 || errno != EAGAIN) return r;
  return parked(
      fd, r, SO_RCVTIMEO, false, [&] { return syscall(SYS_recvmsg, fd, msg, flags); },
      [&](int64_t deadline) { return ringrecvmsg(fd, msg, flags, deadline); });
}

// fdspassed: the fds an SCM_RIGHTS message of msg hands to another process lose their
// blocking marks (their descriptions become shared).
void fdspassed(const msghdr* msg) {
  if (!msg || msg->msg_controllen == 0) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(const_cast<msghdr*>(msg), c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const unsigned char* data = CMSG_DATA(c);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, data + i * sizeof(int), sizeof fd);
      blocking.set(fd, false);
    }
  }
}

ssize_t sendmsgg(int fd, const msghdr* msg, int flags) {
  auto real = [&](const msghdr* m) { return syscall(SYS_sendmsg, fd, m, flags); };
  ssize_t r = syscall(SYS_sendmsg, fd, msg, flags | MSG_DONTWAIT);
  if (r < 0) {
    if (errno != EAGAIN) return r;
    // A datagram or seqpacket socket's send that must wait is the kernel's, blocking its
    // thread: the ring's send of an AF_UNIX datagram to a full receiver was made again with
    // its data already taken, and an empty datagram went out (and returned 0).
    if (!streamsocket(fd)) {
      if (nonblocking(fd)) {
        gmp::seterrno(EAGAIN);
        return -1;
      }
      return gmp::insyscall([&] { return real(msg); });
    }
    r = parked(  // the ring's send may take part of it, as the first try may
        fd, r, SO_SNDTIMEO, false, [&] { return real(msg); },
        [&](int64_t deadline) { return sigpipeto(fd, flags, ringsendmsg(fd, msg, flags, deadline)); });
    if (r <= 0) return r;
  }
  iovleft left(msg->msg_iov, msg->msg_iovlen);
  if (size_t(r) == left.total || nonblocking(fd)) return r;
  // A stream socket took part of it: a blocking send goes on with the rest (a datagram
  // socket sends all or nothing, so only streams come here).
  size_t done = size_t(r);
  left.advance(done);
  int64_t deadline = timeoutof(fd, SO_SNDTIMEO);
  while (done < left.total) {
    msghdr rest{};
    rest.msg_iov = left.data();
    rest.msg_iovlen = size_t(left.count());
    if (!gmp::hookable(true)) {
      ssize_t w = real(&rest);
      return w > 0 ? ssize_t(done) + w : ssize_t(done);
    }
    int32_t res = ringsendmsg(fd, &rest, flags, deadline);
    if (res == gmp::restartcall) break;  // interrupted after some bytes: those (signal(7))
    if (again(res)) continue;
    if (res <= 0) break;
    done += size_t(res);
    left.advance(size_t(res));
    if (done < left.total && nonblocking(fd)) break;  // made non-blocking meanwhile: what is out
  }
  return ssize_t(done);
}
}  // namespace

GMP_HOOK ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  gmp::testcancel();
  REAL(recvmsg);
  if (!gmp::hookable(true) || (flags & MSG_DONTWAIT)) return real_recvmsg(fd, msg, flags);
  return errnokept([&] { return recvmsgg(fd, msg, flags); });
}

GMP_HOOK ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  gmp::testcancel();
  REAL(sendmsg);
  fdspassed(msg);  // every caller
  if (!gmp::hookable(true) || (flags & MSG_DONTWAIT)) {
    return signalled(real_sendmsg(fd, msg, flags));
  }
  return signalled(errnokept([&] { return sendmsgg(fd, msg, flags); }));
}

GMP_HOOK ssize_t recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* from,
                          socklen_t* fromlen) {
  gmp::testcancel();
  REAL(recvfrom);
  if (!gmp::hookable(true) || (flags & MSG_DONTWAIT)) {
    return real_recvfrom(fd, buf, n, flags, from, fromlen);
  }
  // An address without a length (EFAULT), or a negative one (EINVAL), as the kernel's
  // recvfrom answers them: after it took the datagram.
  if (from && (!fromlen || int(*fromlen) < 0)) {
    return gmp::insyscall([&] { return real_recvfrom(fd, buf, n, flags, from, fromlen); });
  }
  iovec iov{buf, n};
  msghdr msg{};
  msg.msg_name = from;
  msg.msg_namelen = from && fromlen ? *fromlen : 0;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t r = errnokept([&] { return recvmsgg(fd, &msg, flags); });
  if (r >= 0 && from && fromlen) *fromlen = msg.msg_namelen;
  return r;
}

GMP_HOOK ssize_t recv(int fd, void* buf, size_t n, int flags) {
  gmp::testcancel();
  return recvfrom(fd, buf, n, flags, nullptr, nullptr);
}

GMP_HOOK ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* to,
                        socklen_t tolen) {
  gmp::testcancel();
  REAL(sendto);
  if (!gmp::hookable(true) || (flags & MSG_DONTWAIT)) {
    return signalled(real_sendto(fd, buf, n, flags, to, tolen));
  }
  // An address length sendmsg reads otherwise (0: none; past sockaddr_storage: clamped),
  // which sendto refuses (EINVAL).
  if (to && (tolen == 0 || tolen > sizeof(sockaddr_storage))) {
    return signalled(gmp::insyscall([&] { return real_sendto(fd, buf, n, flags, to, tolen); }));
  }
  iovec iov{const_cast<void*>(buf), n};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(to);
  msg.msg_namelen = to ? tolen : 0;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  return signalled(errnokept([&] { return sendmsgg(fd, &msg, flags); }));
}

GMP_HOOK ssize_t send(int fd, const void* buf, size_t n, int flags) {
  gmp::testcancel();
  return sendto(fd, buf, n, flags, nullptr, 0);
}

namespace {
// accepted: c, a socket just accepted from listener ls (or -1), gets ls's timeout mark and
// loses a stale notsocket mark.
int accepted(int ls, int c, int flags) {
  if (c >= 0) {
    bool timeout = hastimeout.has(ls, true), low = haslowat.has(ls, false);
    fdfresh(c);
    hastimeout.set(c, timeout);
    haslowat.set(c, low);
    blocking.set(c, !(flags & SOCK_NONBLOCK));
    if (!(flags & SOCK_NONBLOCK)) streamsocket(c);  // its writes go to the ring at once
  }
  return c;
}
}  // namespace

GMP_HOOK int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  gmp::testcancel();
  REAL(accept4);
  if (!gmp::hookable(true)) return accepted(fd, real_accept4(fd, addr, len, flags), flags);
  int64_t deadline = timeoutof(fd, SO_RCVTIMEO);
  for (;;) {
    if (passthrough(fd)) return accepted(fd, real_accept4(fd, addr, len, flags), flags);
    io_uring_sqe* sqe = gmp::sqeuntil(deadline);
    io_uring_prep_accept(sqe, fd, addr, len, flags);
    int32_t res = gmp::parkuntil(sqe, deadline, gmp::intrRestart);
    if (!again(res)) return accepted(fd, int(gmp::ringresult(res)), flags);
  }
}

GMP_HOOK int accept(int fd, sockaddr* addr, socklen_t* len) { return accept4(fd, addr, len, 0); }

// _FORTIFY_SOURCE builds call the checking variants: the same calls once the buffer is
// known to be big enough (glibc's __chk_fail otherwise: a buffer overflow, abort).
GMP_HOOK ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen) {
  if (n > buflen) __chk_fail();
  return read(fd, buf, n);
}
GMP_HOOK ssize_t __pread_chk(int fd, void* buf, size_t n, off_t off, size_t buflen) {
  if (n > buflen) __chk_fail();
  return pread_hook(fd, buf, n, off);
}
extern "C" __attribute__((visibility("default"), alias("__pread_chk"))) ssize_t
__pread64_chk_hook(int, void*, size_t, off_t, size_t) __asm__("__pread64_chk");
GMP_HOOK ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags) {
  if (n > buflen) __chk_fail();
  return recv(fd, buf, n, flags);
}
GMP_HOOK ssize_t __recvfrom_chk(int fd, void* buf, size_t n, size_t buflen, int flags,
                                sockaddr* from, socklen_t* fromlen) {
  if (n > buflen) __chk_fail();
  return recvfrom(fd, buf, n, flags, from, fromlen);
}

void gmp::fdmodechanges(int fd) { blocking.set(fd, false); }

void gmp::fdmodesunknown() { blocking.clearall(); }

int gmp::fdcopied(int fd, int to) {
  if (to >= 0 && to != fd) {
    fdfresh(to);
    hastimeout.set(to, hastimeout.has(fd, true));
    haslowat.set(to, haslowat.has(fd, false));
    copied.set(fd, true);  // an option set through either from now on is both's
    copied.set(to, true);
    blocking.set(fd, false);  // F_SETFL through either changes both
  }
  return to;
}

GMP_HOOK int dup(int fd) {
  REAL(dup);
  return gmp::fdcopied(fd, real_dup(fd));
}

// dup2 and dup3 replace the file at to; a goroutine parked on the old one goes on with it,
// as a thread blocked in the kernel does (its operation holds the file).
// Onto a number the runtime's own fd holds (free for the program, which never opened it),
// that fd moves first.
GMP_HOOK int dup2(int fd, int to) {
  REAL(dup2);
  gmp::netpollfreefd(to);
  return gmp::fdcopied(fd, real_dup2(fd, to));
}

GMP_HOOK int dup3(int fd, int to, int flags) {
  REAL(dup3);
  gmp::netpollfreefd(to);
  return gmp::fdcopied(fd, real_dup3(fd, to, flags));
}

// close: goroutines parked on fd get EBADF (their operations are cancelled), then libc's.
// The runtime's own fds are not the program's to close: EBADF, as for any fd it never
// opened (a daemon's loop closing every fd from 3 up killed the runtime's rings).
GMP_HOOK int close(int fd) {
  gmp::testcancel();
  REAL(close);
  if (gmp::netpollownfd(fd)) {
    errno = EBADF;
    return -1;
  }
  gmp::netpollclose(fd);
  fdfresh(fd);  // the number's next file starts unmarked (none can take it before real_close)
  return real_close(fd);
}

// close_range and closefrom close fds the hooks do not see one by one: no blocking mark
// survives them (the other marks only cost a system call when stale). They close the
// program's fds around the runtime's own (close above): the range in pieces.
namespace {
int closearound(unsigned first, unsigned last, int flags) {
  REAL(close_range);
  blocking.clearall();
  if (flags & CLOSE_RANGE_CLOEXEC) return real_close_range(first, last, flags);  // ours have it
  int own[gmp::netpollownfdsMax];
  int n = gmp::netpollownfds(own, gmp::netpollownfdsMax);  // ascending
  unsigned from = first;
  for (int i = 0; i < n; i++) {
    auto fd = unsigned(own[i]);
    if (fd < from || fd > last) continue;
    if (fd > from && real_close_range(from, fd - 1, flags) != 0) return -1;
    flags &= ~CLOSE_RANGE_UNSHARE;  // the table is this process's own from the first piece
    from = fd + 1;
    if (fd == last) return 0;
  }
  return real_close_range(from, last, flags);
}
}  // namespace

GMP_HOOK int close_range(unsigned first, unsigned last, int flags) {
  return closearound(first, last, flags);
}

GMP_HOOK void closefrom(int lowfd) {
  REAL(closefrom);
  if (closearound(unsigned(lowfd), ~0u, 0) != 0) real_closefrom(lowfd);  // ENOSYS: glibc's way
}

// fdopen: the FILE's fclose will close fd inside libc, unseen by close().
GMP_HOOK FILE* fdopen(int fd, const char* mode) {
  REAL(fdopen);
  blocking.set(fd, false);
  return real_fdopen(fd, mode);
}

// connect: the ring's connect, which the kernel makes non-blocking. A connection already
// under way (a connect a signal interrupted: it goes on, as the kernel's does) answers
// EALREADY there, where the kernel's blocking connect waits for it to finish and returns its
// outcome: so does this, waiting until the socket is writable and asking again. A handler
// ends either wait in EINTR, or under SA_RESTART makes the call again, which then waits for
// the connection under way (signal(7)); with SO_SNDTIMEO, EINTR either way (parkuntil), and
// the timeout's end is EINPROGRESS for a connection this call began (EAGAIN for AF_UNIX),
// EALREADY for one it found under way, as the kernel's.
GMP_HOOK int connect(int fd, const sockaddr* addr, socklen_t len) {
  gmp::testcancel();
  REAL(connect);
  if (!gmp::hookable(true) || nonblocking(fd)) return real_connect(fd, addr, len);
  int64_t deadline = timeoutof(fd, SO_SNDTIMEO);
  for (;;) {
    // Again after a park: the goroutine may resume where it cannot park (hooks.h).
    if (!gmp::hookable(true)) return real_connect(fd, addr, len);
    io_uring_sqe* sqe = gmp::sqeuntil(deadline);
    io_uring_prep_connect(sqe, fd, addr, len);
    int32_t res = gmp::parkuntil(sqe, deadline, gmp::intrRestart);
    if (res == -EALREADY) {
      int ready = gmp::parkready(fd, POLLOUT, deadline, gmp::intrRestart);
      if (ready == 1) continue;  // writable (or SA_RESTART): its outcome, from a connect
      if (ready == -1) return real_connect(fd, addr, len);  // the ring cannot wait for it
      res = ready == 0 ? -EALREADY : -EINTR;
    }
    if (res == gmp::restartcall) continue;
    // The timeout's end: a TCP connection goes on (EINPROGRESS); an AF_UNIX connect that
    // waited for room in the listener's backlog gives up (EAGAIN, unix_stream_connect).
    if (res == -ETIME && addr->sa_family != AF_UNIX) res = -EINPROGRESS;
    return int(gmp::ringresult(res));
  }
}

// setsockopt marks the sockets given a timeout (timeoutof) or a receive low-water mark
// (lowat), and notes one given through a copy (optsoncopies). Every caller.
GMP_HOOK int setsockopt(int fd, int level, int opt, const void* val, socklen_t len) {
  REAL(setsockopt);
  int r = real_setsockopt(fd, level, opt, val, len);
  if (r != 0 || level != SOL_SOCKET) return r;
  if (opt == SO_RCVTIMEO_OLD || opt == SO_SNDTIMEO_OLD || opt == SO_RCVTIMEO_NEW ||
      opt == SO_SNDTIMEO_NEW) {
    hastimeout.set(fd, true);
  } else if (opt == SO_RCVLOWAT) {
    haslowat.set(fd, true);
  } else {
    return r;
  }
  if (copied.has(fd, true)) optsoncopies.store(true, std::memory_order_relaxed);
  return r;
}
