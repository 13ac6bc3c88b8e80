// sysmon.cc — the system monitor: an M without a P that watches the scheduler.
//
// It sleeps 20 us, doubling after 50 quiet rounds up to 10 ms, and on each round:
//   - retakes Ps stuck in system calls (Psyscall for a sysmon round or more) and hands them
//     to other Ms (retake → handoffp), so a goroutine blocked in the kernel does not hold up
//     the runnable ones;
//   - has an M blocked in a call nothing hooks give up its P (lazysyscall.cc), and
//     preempts a goroutine that kept its P 10 ms while others wait (preempt.cc);
//   - wakes a spinning M when goroutines wait on a P's queue while other Ps idle (stuckwork);
//   - prints the SCHED line every GMPDEBUG=schedtrace=N ms;
//   - keeps sched.coarsenow, the clock gopark stamps waitsince with;
//   - makes the wake-ups signal handlers' sem_posts left (semsigflush, SEM5) when every M
//     is busy running goroutines.
// When every P has been idle for sysmonParkAfter (or the world is stopped) there is nothing
// to watch: it sleeps on sched.sysmonnote until a P turns busy (pidleget, entersyscall,
// start-the-world wake it), so an idle process uses no CPU. Not at once: a server whose Ps
// all idle between bursts of requests would wake it at each burst (a futex wake, ~27 us
// across CPUs on these VMs, in the path of the request), as Go wakes its sysmon only
// from system calls. Woken because a P turned busy, it resumes its rounds at the length they
// had; only a system call or a restarted world (sysmonquick) makes them 20 us again.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include "annotate.h"
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

namespace {
constexpr int64_t sysmonMinDelay = 20 * 1000;        // ns
constexpr int64_t sysmonMaxDelay = 10 * 1000 * 1000;  // ns
constexpr int64_t syscallRetakeIdle = 10 * 1000 * 1000;  // leave an idle syscall P this long
constexpr int64_t sysmonParkAfter = 1000 * 1000;  // ns every P idle before sysmon parks

note started;         // sysmon has settled useRawClone (wakes goroutine 1)
int64_t starttime;    // nanotime at sysmon start, for the SCHED line
// settled: the first sysmon settled useRawClone (written by it before it wakes goroutine
// 1, which orders it for every later newm); a forked child's sysmon reads it, set.
bool settled;

// retake hands off Ps that sit in Psyscall since the previous round. Returns how many.
int32_t retake(int64_t now) {
  int32_t n = 0;
  int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
  for (int32_t i = 0; i < procs; i++) {
    p* pp = allp[i];
    if (pp->status.load(std::memory_order_relaxed) != Psyscall) continue;
    sysmontick* pd = &pp->sysmontick_;
    uint32_t t = pp->syscalltick.load(std::memory_order_relaxed);
    if (pd->syscalltick != t || pd->syscallwhen == 0) {  // a new syscall: start the clock
      pd->syscalltick = t;
      pd->syscallwhen = now;
      continue;
    }
    // Nothing else to run and others already looking: let the syscall keep its P a while.
    if (runqempty(pp) &&
        sched.nmspinning.load(std::memory_order_relaxed) +
                sched.npidle.load(std::memory_order_relaxed) > 0 &&
        pd->syscallwhen + syscallRetakeIdle > now) {
      continue;
    }
    uint32_t s = Psyscall;
    if (pp->status.compare_exchange_strong(s, Pidle, std::memory_order_acq_rel)) {
      pp->syscalltick.fetch_add(1, std::memory_order_relaxed);
      pd->syscallwhen = 0;
      n++;
      handoffp(pp);
    }
  }
  return n;
}

// stuckwork: a P has goroutines queued while other Ps idle and no M is looking for work.
// That happens when the goroutine running on that P never reaches a scheduling point (and
// is not one preemption stops) after work was queued without a wakep (a yield queues the yielder on its
// own P): the queued ones would wait for ever although a P is free. sysmon then wakes a
// spinning M, which steals them.
bool stuckwork() {
  if (sched.npidle.load(std::memory_order_relaxed) == 0 ||
      sched.nmspinning.load(std::memory_order_relaxed) != 0) {
    return false;
  }
  if (sched.runqsize_.load(std::memory_order_relaxed) != 0) return true;
  int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
  for (int32_t i = 0; i < procs; i++) {
    if (!runqempty(allp[i])) return true;
  }
  return false;
}

// schedtrace prints Go's SCHED line; with scheddetail, Go's per-P, per-M and per-G lines
// instead of the queue lengths (the P and M lines under sched.lock, the G lines racily).
void schedtrace(int64_t now) {
  int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
  long ms = long((now - starttime) / 1000000);
  if (!debug.scheddetail) {
    char queues[4096];
    size_t k = 0;
    for (int32_t i = 0; i < procs && k + 16 < sizeof queues; i++) {
      p* pp = allp[i];
      uint32_t h = pp->runqhead.load(std::memory_order_relaxed);
      uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
      k += size_t(snprintf(queues + k, sizeof queues - k, "%s%u", i ? " " : "", t - h));
    }
    queues[k] = 0;
    printerrf("SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
              "idlethreads=%d runqueue=%ld [%s]\n",
              ms, procs, sched.npidle.load(std::memory_order_relaxed),
              sched.mcount.load(std::memory_order_relaxed),
              sched.nmspinning.load(std::memory_order_relaxed), sched.nmidle,
              long(sched.runqsize_.load(std::memory_order_relaxed)), queues);
    return;
  }
  sched.lock.lock();
  printerrf("SCHED %ldms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d "
            "idlethreads=%d runqueue=%ld gcwaiting=%d stopwait=%d sysmonwait=%d\n",
            ms, procs, sched.npidle.load(std::memory_order_relaxed),
            sched.mcount.load(std::memory_order_relaxed),
            sched.nmspinning.load(std::memory_order_relaxed), sched.nmidle,
            long(sched.runqsize_.load(std::memory_order_relaxed)),
            int(sched.gcwaiting.load(std::memory_order_relaxed)), sched.stopwait,
            int(sched.sysmonwait));
  for (int32_t i = 0; i < procs; i++) {
    p* pp = allp[i];
    m* mp = pp->m_;
    uint32_t h = pp->runqhead.load(std::memory_order_relaxed);
    uint32_t t = pp->runqtail.load(std::memory_order_relaxed);
    printerrf("  P%d: status=%u schedtick=%u syscalltick=%u m=%ld runqsize=%u gfreecnt=%ld\n",
              pp->id, pp->status.load(std::memory_order_relaxed),
              pp->schedtick.load(std::memory_order_relaxed),
              pp->syscalltick.load(std::memory_order_relaxed), mp ? long(mp->id) : -1L, t - h,
              long(pp->gfree.n));
  }
  for (m* mp = allm.load(std::memory_order_acquire); mp; mp = mp->alllink) {
    bool blocked = false;  // parked on sched.midle
    for (m* idle = sched.midle; idle; idle = idle->schedlink) blocked |= idle == mp;
    p* pp = mp->p_;
    g* cur = mp->curg;
    printerrf("  M%ld: p=%d curg=%ld spinning=%s blocked=%s\n", long(mp->id), pp ? pp->id : -1,
              cur ? long(cur->goid) : -1L, mp->spinning ? "true" : "false",
              blocked ? "true" : "false");
  }
  sched.lock.unlock();  // the G lines need no lock, and there may be millions of them
  int64_t n = gmp_allglen.load(std::memory_order_acquire);
  for (int64_t i = 0; i < n; i++) {
    g* gp = &gmp_allgs[i];
    uint32_t st = gp->atomicstatus.load(std::memory_order_acquire);
    if (st == Gidle || st == Gdead) continue;
    m* mp = gp->m_;
    uint8_t r = gp->waitreason_;
    printerrf("  G%ld: status=%u(%s) m=%ld\n", long(gp->goid), st,
              st == Gwaiting && r < waitReasonCount ? waitReasonStrings[r] : "",
              mp ? long(mp->id) : -1L);
  }
}
}  // namespace

void sysmonstarted_wait() { notesleep(&started); }

void sysmonwake(bool quick) {
  sched.sysmonwait = false;
  if (quick) {
    sched.sysmonquick = true;
    sched.sysmonslow = false;
  } else {
    sched.sysmonslow = true;  // from now on: a system call must still wake it
  }
  if (sched.sysmonwoken) return;  // one wake-up per clear: sysmon has not spent the last
  sched.sysmonwoken = true;
  // sysmon slept through the idle time and will update coarsenow only after it wakes; a
  // goroutine parking before that must not see the time the process went idle.
  sched.coarsenow.store(nanotime(), std::memory_order_relaxed);
  notewakeup(&sched.sysmonnote);
}

void sysmon() {
  // sysmon never handles a signal: leave process-directed ones to the program's threads
  // (a program that blocks a signal in main and sigwaits for it must still get it).
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  if (!settled) {
    starttime = nanotime();
    // This is the first thread made by the real pthread_create: glibc is now
    // multi-threaded, and the TCB layout probed on M0 can be confirmed on a second thread.
    bool rawok = tcbconfirm();
    useRawClone = rawok && !debug.mclonePthread && !asanBuild;
    if (!rawok && debug.set && !debug.mclonePthread && !asanBuild) {
      printerr("gmp: raw-clone Ms unavailable (TCB layout probe failed); using pthread Ms\n");
    }
    settled = true;
    notewakeup(&started);
  }

  int64_t delay = sysmonMinDelay;
  int32_t idle = 0;
  int64_t idlesince = 0;  // when sysmon first saw every P idle; 0: a P runs
  int64_t lasttrace = starttime;
  bool slow = false;  // sched.sysmonslow as sysmon last read it (sysmon only)
  // spendwake: sched.lock held: clear the note (after a sleep on it, or before arming it
  // again) and do what the waker asked (sysmonquick: short rounds again).
  auto spendwake = [&] {
    noteclear(&sched.sysmonnote);
    sched.sysmonwoken = false;
    if (sched.sysmonquick) {
      sched.sysmonquick = false;
      sched.sysmonslow = false;
      idle = 0;
      delay = sysmonMinDelay;
    }
  };
  for (;;) {
    if (idle == 0) {
      delay = sysmonMinDelay;
    } else if (idle > 50) {
      delay *= 2;
    }
    if (delay > sysmonMaxDelay) delay = sysmonMaxDelay;
    if (slow) {
      // A system call may cut this round short (entersyscall: sysmonwake(true)).
      notetsleep(&sched.sysmonnote, delay);
      sched.lock.lock();
      spendwake();
      // Short rounds again (a retake, stuck work): nothing left to cut short.
      if (idle == 0) sched.sysmonslow = false;
      slow = sched.sysmonslow;
      sched.lock.unlock();
    } else {
      usleep_ns(delay);
    }
    sched.sysmonrounds.store(sched.sysmonrounds.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
    semsigflush();  // a handler's sem_post while every M runs one goroutine (SEM5)
    bool idlelong = false;  // every P idle at each look for sysmonParkAfter
    int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
    if (sched.npidle.load(std::memory_order_relaxed) != procs) {
      idlesince = 0;
    } else if (idlesince == 0) {
      idlesince = nanotime();
    } else {
      idlelong = nanotime() - idlesince >= sysmonParkAfter;
    }
    // A world being stopped still needs sysmon: a goroutine that runs on without a
    // scheduling point holds the stop up until it is preempted (stopwait > 0). A stopped one
    // does not (stopwait 0: start-the-world wakes sysmon), nor one frozen for a dying
    // process's dump.
    if (debug.schedtrace <= 0 && (sched.gcwaiting.load(std::memory_order_relaxed) || idlelong)) {
      sched.lock.lock();
      if ((sched.gcwaiting.load(std::memory_order_relaxed) &&
           (sched.stopwait == 0 || dumpactive())) ||
          sched.npidle.load(std::memory_order_relaxed) == gomaxprocs.load(std::memory_order_relaxed)) {
        // A system call may have cut this long round short meanwhile (a wake-up not yet
        // spent): spend it before sysmonwait arms the note again, for a note takes one
        // wake-up per clear. Every waker holds sched.lock.
        spendwake();
        sched.sysmonslow = false;
        slow = false;
        sched.sysmonwait = true;
        sched.lock.unlock();
        // Every P is idle: each entered its ring on the way (findRunnable, handoffp), but
        // nothing published may wait for a round of ours that will not come (NP6).
        int32_t np = nallp.load(std::memory_order_acquire);
        for (int32_t i = 0; i < np; i++) netpollenter(allp[i]);
        while (stackscavenge(1 << 20)) {  // and the memory of stacks nobody will need soon
        }
        notesleep(&sched.sysmonnote);
        sched.lock.lock();
        spendwake();  // the waker cleared sysmonwait under sched.lock
        slow = sched.sysmonslow;
        idlesince = 0;
        // Back to short rounds only for a system call or a restarted world. A P that turned
        // busy (a timer fired, I/O completed) leaves the rounds as long as they were when
        // sysmon parked, doubling on from there up to 10 ms while nothing needs it. Short
        // rounds after every such wake-up cost a process that wakes every 250 us for its
        // timers ~50 sleeps of 20 us a wake-up of sysmon: bench/tick at 1 P, bench/ab.py of
        // b681d6b against 94cbd93, 29.2 -> 6.4 us of CPU a wake-up. Those long rounds sleep
        // on sysmonnote (sysmonslow, set by the waker), so that the first system call after
        // the wake-up still makes them short at once, as Go's sysmon, which a P turning busy
        // does not wake, is woken by that call.
      }
      sched.lock.unlock();
    }
    int64_t now = nanotime();
    sched.coarsenow.store(now, std::memory_order_relaxed);
    // Go's "poll network if not polled for more than 10ms": goroutines whose I/O completed
    // while every P kept running (a yield loop never reaches findRunnable's poll) go to the
    // global queue, which the Ps look at every 61 ticks.
    if (now - sched.lastpoll.load(std::memory_order_relaxed) > 10 * 1000 * 1000 &&
        netpollinflight()) {
      gqueue q;
      sched.sysmonpolling.store(true, std::memory_order_seq_cst);
      if (netpollall(&q)) injectglist(&q);
      sched.sysmonpolling.store(false, std::memory_order_seq_cst);
    }
    netpollflushstale();  // NP6: operations whose owner has not entered for a round
    if (stackscavenge(256)) idle = 0;  // freed stacks beyond the pool's bound; more: soon
    lazysyscalls(now);
    bool stuck = stuckwork();
    if (stuck) wakep();
    if (retake(now) != 0 || stuck) {
      idle = 0;
    } else {
      idle++;
    }
    if (debug.schedtrace > 0 && now - lasttrace >= int64_t(debug.schedtrace) * 1000000) {
      lasttrace = now;
      schedtrace(now);
    }
  }
}

}  // namespace gmp
