// poll.cc — waiting for readiness parks the goroutine: poll, ppoll, select, pselect,
// epoll_wait, epoll_pwait (epoll_pwait2 blocks its thread, its P handed on).
//
// Each hook first asks the real call without waiting (timeout 0); when nothing is ready and
// the caller would wait, the goroutine parks on one IORING_OP_POLL_ADD — on the fd itself
// when there is one, on the epoll fd for epoll_wait, and on a scratch epoll set of the fds
// otherwise — with a linked timeout for a finite wait. Once woken it asks the real call
// without waiting again, so the results (revents, fd sets, events, the count) are exactly
// libc's; woken with nothing ready (another goroutine took it), it waits again for the time
// left. A signal mask argument (ppoll, pselect, epoll_pwait) cannot be applied to a parked
// goroutine: those calls with a mask go to libc and block the thread, between entersyscall
// and exitsyscall so that the P's other goroutines go on.
#include <liburing.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <cstdint>
#include <vector>

#include "hook.h"

namespace {

// msleft: poll's timeout argument for a wait until deadline (< 0: -1, for ever), rounded up.
int msleft(int64_t deadline, int64_t now) {
  if (deadline < 0) return -1;
  int64_t ms = (deadline - now + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : int(ms < 0 ? 0 : ms);
}

// kernelwait: the call is about to wait on the caller's thread, in the kernel (a signal
// mask, no timeout, a caller that cannot park): a goroutine-thread's pending signals go
// there first, where the call sees them (a signalfd in the set, a mask that lets one in).
template <typename F>
auto kernelwait(F call) {
  gmp::sigpendcall();
  return call();
}

// looknow: call(), a poll, select or epoll_wait that does not wait (a zero timeout), made
// again when the runtime alone cut it short with EINTR (remadeunseen; the kernel ends
// even such a call so when a handler runs): a look made again is the same look. Without it
// a sysmon request that landed as the thread got there showed the program an EINTR (one
// process in 500 of tests/apps/firstcalls.c).
template <typename F>
auto looknow(F call) {
  return gmp::remadeunseen(call);
}

// maskedwait: a ppoll or pselect with a signal mask, real(), in the kernel with its P handed
// on; one without a timeout (ts null) made again after an EINTR of the runtime's alone
// (remadeunseen: glibc gives the kernel a copy of *ts, so a try again would wait it anew).
template <typename F>
int maskedwait(const timespec* ts, F real) {
  auto once = [&] { return ts ? real() : gmp::remadeunseen(real); };
  return kernelwait([&] { return gmp::insyscall(once); });
}

// interrupted: a signal handler ended the wait (signal(7): never restarted).
int interrupted() {
  gmp::seterrno(EINTR);
  return -1;
}

}  // namespace

int gmp::parkready(int fd, unsigned events, int64_t deadline, intrmode mode) {
  int64_t now = nanotime();
  if (deadline >= 0 && deadline <= now) return 0;
  if (!hookable(true)) {
    REAL(poll);
    pollfd p{fd, short(events), 0};
    insyscall([&] { return real_poll(&p, 1, msleft(deadline, now)); });
    return 1;
  }
  io_uring_sqe* sqe = sqeuntil(deadline);
  io_uring_prep_poll_add(sqe, fd, events | POLLERR | POLLHUP);
  int32_t res = parkuntil(sqe, deadline, mode);
  if (res == -ETIME) return 0;
  if (res == -EINTR) return -2;
  if (res == restartcall) return 1;  // SA_RESTART: look again
  return res < 0 && res != -ECANCELED ? -1 : 1;  // cancelled: closed, which a look reports
}

namespace {

// epollof: a scratch epoll set watching fds' events (level-triggered), or -1 when one of them
// cannot be watched (a regular file: poll calls it always ready).
int epollof(const pollfd* fds, nfds_t n) {
  int saved = errno;  // a poll that succeeds leaves errno alone, as the kernel's
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return -1;
  for (nfds_t i = 0; i < n; i++) {
    if (fds[i].fd < 0) continue;
    epoll_event ev{};
    ev.events = uint32_t(fds[i].events) | EPOLLERR | EPOLLHUP;
    ev.data.fd = fds[i].fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i].fd, &ev) == 0) continue;
    if (errno == EEXIST) {  // the same fd twice: watch for either's events
      for (nfds_t k = 0; k < i; k++) {
        if (fds[k].fd == fds[i].fd) ev.events |= uint32_t(fds[k].events);
      }
      if (epoll_ctl(ep, EPOLL_CTL_MOD, fds[i].fd, &ev) == 0) continue;
    }
    if (errno == EBADF) continue;  // poll reports POLLNVAL for it: the re-check returns
    syscall(SYS_close, ep);  // ours (scratchset)
    errno = saved;  // the kernel's poll then says what went wrong, if anything
    return -1;
  }
  errno = saved;
  return ep;
}

// scratchset: pollg's epoll set, closed on every way out of the wait, a pthread_cancel's
// unwinding too; by the kernel's close, as it is the hook's own and no cancellation point.
struct scratchset {
  int fd = -1;
  ~scratchset() { drop(); }
  void drop() {
    if (fd >= 0) syscall(SYS_close, fd);
    fd = -1;
  }
};

// pollg: poll for a goroutine; deadline as parkready's.
int pollg(pollfd* fds, nfds_t n, int64_t deadline) {
  REAL(poll);
  scratchset ep;
  int stale = 0;  // wakes of the scratch set that found nothing ready
  for (;;) {
    int r = looknow([&] { return real_poll(fds, n, 0); });
    if (r != 0 || (deadline >= 0 && gmp::nanotime() >= deadline)) {
      ep.drop();
      return r;
    }
    // The scratch set woke us and nothing is ready: it may watch a file whose number now
    // names another (closed and reused, dup2'd over), which stays ready. A fresh set; and
    // if a fresh one does it again, the kernel's poll, rather than a busy loop.
    if (ep.fd >= 0) {
      ep.drop();
      if (++stale > 1) {
        int ms = msleft(deadline, gmp::nanotime());
        return gmp::insyscall([&] { return real_poll(fds, n, ms); });  // blocks the M
      }
    }
    int ready;
    if (n == 1 && fds[0].fd >= 0) {
      ready = gmp::parkready(fds[0].fd, unsigned(fds[0].events), deadline, gmp::intrAlways);
    } else {
      if (ep.fd < 0) ep.fd = epollof(fds, n);
      ready = ep.fd < 0 ? -1 : gmp::parkready(ep.fd, POLLIN, deadline, gmp::intrAlways);
    }
    if (ready <= 0) {
      ep.drop();
      if (ready == 0) {  // timed out: what is ready now, usually none
        return looknow([&] { return real_poll(fds, n, 0); });
      }
      if (ready == -2) return interrupted();
      int ms = msleft(deadline, gmp::nanotime());
      return gmp::insyscall([&] { return real_poll(fds, n, ms); });  // blocks the M
    }
  }
}

int64_t deadlinems(int ms) { return gmp::deadlinein(ms < 0 ? -1 : int64_t(ms) * 1000000); }

// deadlinets: a null timeout waits for ever.
int64_t deadlinets(const timespec* ts) { return ts ? gmp::deadlinein(gmp::nanos(*ts)) : -1; }

bool validornull(const timespec* ts) { return !ts || gmp::validts(ts); }

// selectg: select over pollg. The sets are rewritten as select's are; tv, if given, gets
// the time left, as Linux's select does.
int selectg(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, int64_t deadline) {
  std::vector<pollfd> fds;
  for (int fd = 0; fd < nfds; fd++) {
    short ev = 0;
    if (rd && FD_ISSET(fd, rd)) ev |= POLLIN;
    if (wr && FD_ISSET(fd, wr)) ev |= POLLOUT;
    if (ex && FD_ISSET(fd, ex)) ev |= POLLPRI;
    if (ev) fds.push_back(pollfd{fd, ev, 0});
  }
  int r = pollg(fds.data(), fds.size(), deadline);
  if (r < 0) return r;
  for (const pollfd& p : fds) {
    if (p.revents & POLLNVAL) {
      gmp::seterrno(EBADF);
      return -1;
    }
  }
  // The results go to sets of their own, copied out once all three are read, as the
  // kernel's are (fs/select.c: the longs that hold nfds bits, read set first): a program
  // may pass one set twice, select(n, &s, &s, ...), and the last copy is what it gets.
  fd_set out[3];
  for (fd_set& o : out) FD_ZERO(&o);
  int count = 0;
  for (const pollfd& p : fds) {
    // select's readable includes hang-up and error, its writable error (fs/select.c).
    bool r1 = rd && FD_ISSET(p.fd, rd) && (p.revents & (POLLIN | POLLHUP | POLLERR));
    bool w1 = wr && FD_ISSET(p.fd, wr) && (p.revents & (POLLOUT | POLLERR));
    bool e1 = ex && FD_ISSET(p.fd, ex) && (p.revents & POLLPRI);
    if (r1) FD_SET(p.fd, &out[0]);
    if (w1) FD_SET(p.fd, &out[1]);
    if (e1) FD_SET(p.fd, &out[2]);
    count += r1 + w1 + e1;
  }
  const size_t bytes = (size_t(nfds) + 63) / 64 * 8;
  fd_set* sets[3] = {rd, wr, ex};
  for (int i = 0; i < 3; i++) {
    if (sets[i]) memcpy(sets[i], &out[i], bytes);
  }
  return count;
}

}  // namespace

GMP_HOOK int poll(pollfd* fds, nfds_t n, int ms) {
  gmp::testcancel();
  REAL(poll);
  if (ms == 0) return kernelwait([&] { return looknow([&] { return real_poll(fds, n, 0); }); });
  if (!gmp::hookable(true)) return kernelwait([&] { return real_poll(fds, n, ms); });
  return pollg(fds, n, deadlinems(ms));
}

GMP_HOOK int ppoll(pollfd* fds, nfds_t n, const timespec* ts, const sigset_t* mask) {
  gmp::testcancel();
  REAL(ppoll);
  auto real = [&] { return real_ppoll(fds, n, ts, mask); };
  if (mask) return maskedwait(ts, real);
  if (!validornull(ts) || !gmp::hookable(true)) return kernelwait(real);
  if (ts && ts->tv_sec == 0 && ts->tv_nsec == 0) return kernelwait([&] { return looknow(real); });
  return pollg(fds, n, deadlinets(ts));
}

GMP_HOOK int select(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, timeval* tv) {
  gmp::testcancel();
  REAL(select);
  auto real = [&] { return real_select(nfds, rd, wr, ex, tv); };
  if (nfds < 0 || nfds > FD_SETSIZE || (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)) ||
      !gmp::hookable(true)) {
    return kernelwait(real);
  }
  if (tv && tv->tv_sec == 0 && tv->tv_usec == 0) return kernelwait([&] { return looknow(real); });
  int64_t deadline = -1;
  if (tv) {
    timespec ts{tv->tv_sec + tv->tv_usec / 1000000, long(tv->tv_usec % 1000000) * 1000};
    deadline = gmp::deadlinein(gmp::nanos(ts));
  }
  int r = selectg(nfds, rd, wr, ex, deadline);
  if (tv && deadline >= 0) {
    int64_t left = deadline - gmp::nanotime();
    if (left < 0) left = 0;
    tv->tv_sec = time_t(left / 1000000000);
    tv->tv_usec = suseconds_t(left % 1000000000 / 1000);
  }
  return r;
}

GMP_HOOK int pselect(int nfds, fd_set* rd, fd_set* wr, fd_set* ex, const timespec* ts,
                     const sigset_t* mask) {
  gmp::testcancel();
  REAL(pselect);
  auto real = [&] { return real_pselect(nfds, rd, wr, ex, ts, mask); };
  if (mask) return maskedwait(ts, real);
  if (nfds < 0 || nfds > FD_SETSIZE || !validornull(ts) || !gmp::hookable(true)) {
    return kernelwait(real);
  }
  if (ts && ts->tv_sec == 0 && ts->tv_nsec == 0) return kernelwait([&] { return looknow(real); });
  return selectg(nfds, rd, wr, ex, deadlinets(ts));
}

GMP_HOOK int epoll_wait(int ep, epoll_event* evs, int max, int ms) {
  gmp::testcancel();
  REAL(epoll_wait);
  auto now = [&] { return looknow([&] { return real_epoll_wait(ep, evs, max, 0); }); };
  if (ms == 0 && max > 0) return kernelwait(now);
  if (max <= 0 || !gmp::hookable(true)) {
    return kernelwait([&] { return real_epoll_wait(ep, evs, max, ms); });
  }
  int64_t deadline = deadlinems(ms);
  for (;;) {
    int r = now();
    if (r != 0) return r;
    int ready = gmp::parkready(ep, POLLIN, deadline, gmp::intrAlways);
    if (ready == 0) return now();
    if (ready == -2) return interrupted();
    if (ready < 0) {
      int ms = msleft(deadline, gmp::nanotime());
      timespec ts{ms / 1000, long(ms % 1000) * 1000000};
      return gmp::insyscall([&] {
        return gmp::remadeuntil(ms < 0 ? nullptr : &ts, [&](const timespec* left) {
          int64_t ns = left ? left->tv_sec * 1000000000 + left->tv_nsec : -1;
          return real_epoll_wait(ep, evs, max, ns < 0 ? -1 : msleft(ns, 0));
        });
      });
    }
  }
}

// _FORTIFY_SOURCE builds call the checking variants; they check, then are poll and ppoll.
GMP_HOOK int __poll_chk(pollfd* fds, nfds_t n, int ms, size_t fdslen) {
  if (fdslen / sizeof *fds < n) __chk_fail();
  return poll(fds, n, ms);
}

GMP_HOOK int __ppoll_chk(pollfd* fds, nfds_t n, const timespec* ts, const sigset_t* mask,
                         size_t fdslen) {
  if (fdslen / sizeof *fds < n) __chk_fail();
  return ppoll(fds, n, ts, mask);
}

GMP_HOOK int epoll_pwait(int ep, epoll_event* evs, int max, int ms, const sigset_t* mask) {
  gmp::testcancel();
  REAL(epoll_pwait);
  auto real = [&] { return real_epoll_pwait(ep, evs, max, ms, mask); };
  if (mask) return kernelwait([&] { return gmp::insyscall(real); });
  return epoll_wait(ep, evs, max, ms);
}

// epoll_pwait2 (a timespec timeout) blocks its thread, its P handed on meanwhile: unhooked,
// it held the P for the whole wait (sysmon leaves a call a signal would cut short alone).
GMP_HOOK int epoll_pwait2(int ep, epoll_event* evs, int max, const timespec* ts,
                          const sigset_t* mask) {
  gmp::testcancel();
  REAL(epoll_pwait2);
  auto real = [&] { return real_epoll_pwait2(ep, evs, max, ts, mask); };
  return kernelwait([&] { return gmp::insyscall(real); });
}
