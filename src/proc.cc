// proc.cc — the scheduler: Go's proc.go for C programs.
//
// Goroutine scheduler
//
// The scheduler's job is to distribute ready-to-run goroutines over worker threads.
//   G - goroutine (struct g).
//   M - worker thread, or machine (struct m): an OS thread made with raw clone (or pthreads).
//   P - processor (struct p): the resource an M needs to run goroutines. There are exactly
//       gomaxprocs Ps; an M holding a P runs goroutines from the P's local run queue.
//
// Worker thread parking/unparking
//
// We must keep enough running Ms to use the available Ps, and park the rest to save CPU.
// Two things make this hard: scheduler state is distributed (per-P run queues), so no single
// place knows whether work exists; and work may be submitted on one M while another is about
// to park. Designs rejected, as in Go: centralising all state (does not scale); direct
// hand-off of a g to an idle M (state thrashing, an M woken per readied g, bad locality).
//
// The protocol: an M is "spinning" when it has run out of local work and is looking for work
// in the global queue and the other Ps' queues (m->spinning, counted in sched.nmspinning).
// Spinning Ms hold a P. We start a new spinning M (wakep) when a goroutine becomes ready and
// there is an idle P but no spinning M. A spinning M that finds work stops spinning and calls
// wakep to start the next one (resetspinning): so parallelism ramps up one M at a time,
// without a thundering herd, and spinning never exceeds the idle Ps.
//
// The race to close: a submitter adds work at the same time as the last spinning M gives up.
//   submitter:  (1) publish work (runqput)  (2) #StoreLoad barrier  (3) check nmspinning
//   spinner:    (1) nmspinning--            (2) #StoreLoad barrier  (3) check all run queues
// Each side's barrier guarantees that at least one sees the other: either the submitter sees
// nmspinning == 0 and starts a spinner, or the spinner sees the work and takes a P back.
// Here the barriers are a seq_cst fence at the top of wakep and the seq_cst RMW on
// nmspinning in findRunnable.
//
// Machine fact behind the spinning: waking a futex-sleeping thread on the other CPU costs
// ~27 us on these VMs, a spinning hand-off ~100 ns. An idle M's park note yields the CPU a
// few times before it sleeps in the kernel, as long as other threads want the CPU
// (lock_futex.cc), and notewakeup skips the syscall while it yields.
//
// Where we differ from Go, on purpose:
//   - gosched puts the g on the global queue only when that queue has work, else at the
//     tail of the local one: no lock when goroutines of one P take turns.
//   - A g gets its stack when it first runs (execute), not in newproc, and gives it back in
//     goexit0: a million queued goroutines cost a million small records, and a storm of
//     short goroutines reuses a few hot stacks.
//   - Preemption (preempt.cc) stops only goroutines with a TCB of their own, and only
//     outside the runtime and libc: C code has no safe points, and a goroutine that shares
//     its M's TLS would leave a thread_local update half done for the next one. The others
//     run until they yield, park, exit or enter a syscall.
#include <sys/syscall.h>

#include <cerrno>
#include <cstdlib>
#include <new>

#include "annotate.h"
#include "gmp/gmp.h"
#include "probes.h"
#include "netpoll.h"
#include "runtime.h"

namespace gmp {

// The current g of this thread (runtime.h: getg). Read and written through asm only.
__thread g* gmp_tls_g __attribute__((tls_model("initial-exec"))) = nullptr;

schedt sched;
std::atomic<int32_t> gomaxprocs{0};
p* allp[maxgomaxprocs];
std::atomic<int32_t> nallp{0};
std::atomic<m*> allm{nullptr};
m m0;
g g0_m0;
std::atomic<bool> mainStarted{false};
std::atomic<bool> runtimeStarted{false};

namespace {
// worldsema: held (as a semaphore, so waiters park) by whoever stops the world.
std::atomic<uint32_t> worldsema{1};

[[noreturn]] void execute(g* gp, bool inheritTime);

inline m* getm() { return getg()->m_; }

uint32_t fastrandn(m* mp, uint32_t n) {
  // xorshift64*, per M.
  uint64_t x = mp->fastrand;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  mp->fastrand = x;
  return uint32_t(((x * 2685821657736338717ull) >> 32) * n >> 32);
}
}  // namespace

// ---- g status --------------------------------------------------------------------------------

uint32_t readgstatus(g* gp) { return gp->atomicstatus.load(std::memory_order_acquire); }

[[noreturn]] void badgstatus(g* gp, uint32_t oldval, uint32_t newval, uint32_t cur) {
  printerrf("casgstatus: goroutine %ld from %u to %u, but status is %u\n", long(gp->goid),
            oldval, newval, cur);
  fatal("casgstatus: bad incoming values");
}

// ---- Ms and Ps -------------------------------------------------------------------------------

namespace {

// mcommoninit: give mp its id and publish it on allm. Any thread.
void mcommoninit(m* mp) {
  sched.lock.lock();
  mp->id = sched.mnext++;
  sched.mcount.fetch_add(1, std::memory_order_relaxed);
  mp->fastrand = 0x9e3779b97f4a7c15ull * uint64_t(mp->id + 1) | 1;
  mp->alllink = allm.load(std::memory_order_relaxed);
  allm.store(mp, std::memory_order_release);  // publish to readers of allm
  sched.lock.unlock();
}

// mput puts mp on the idle list. sched.lock held.
void mput(m* mp) {
  mp->schedlink = sched.midle;
  sched.midle = mp;
  sched.nmidle++;
}

// mget takes an M from the idle list. sched.lock held.
m* mget() {
  m* mp = sched.midle;
  if (mp) {
    sched.midle = mp->schedlink;
    sched.nmidle--;
  }
  return mp;
}

// pidleput puts pp on the idle list. sched.lock held; pp must have no local work.
void pidleput(p* pp) {
  if (!runqempty(pp)) fatal("pidleput: P has non-empty run queue");
  pp->status.store(Pidle, std::memory_order_relaxed);
  pp->link = sched.pidle;
  sched.pidle = pp;
  sched.npidle.fetch_add(1, std::memory_order_seq_cst);  // see "Worker thread parking"
}

// acquirep: attach pp (Pidle, owned by nobody) to the current M. This M only.
void acquirep(p* pp) {
  m* mp = getm();
  if (mp->p_ || pp->m_ || pp->status.load(std::memory_order_relaxed) != Pidle) {
    fatal("acquirep: invalid p state");
  }
  mp->p_ = pp;
  pp->m_ = mp;
  pp->status.store(Prunning, std::memory_order_relaxed);
}

// releasep: detach and return the current M's P. This M only.
p* releasep() {
  m* mp = getm();
  p* pp = mp->p_;
  if (!pp || pp->m_ != mp || pp->status.load(std::memory_order_relaxed) != Prunning) {
    fatal("releasep: invalid p state");
  }
  mp->p_ = nullptr;
  pp->m_ = nullptr;
  pp->status.store(Pidle, std::memory_order_relaxed);
  return pp;
}

// sysmonmissing: a forked child has no sysmon yet (fork.cc: its child handler must not
// allocate). Set by procforkchild while the child has one thread; whoever exchanges it to
// false first — the child's first new M (newm), or fork's return (forkdone) — starts it.
std::atomic<bool> sysmonmissing{false};

// newm: a new M that will run fn (if any) and then schedule with pp. Any thread.
void newm(void (*fn)(), p* pp, bool spinning) {
  if (fn != sysmon && sysmonmissing.exchange(false, std::memory_order_relaxed)) {
    newm(sysmon, nullptr, false);
  }
  m* cur = acquirem();  // malloc, _dl_allocate_tls, clone: the caller may hold its P's state
  m* mp = new (std::nothrow) m();
  g* g0 = new (std::nothrow) g();
  if (!mp || !g0) fatal("newm: out of memory");
  g0->sched.gp = g0;
  g0->m_ = mp;
  g0->goid = 0;
  mp->g0 = g0;
  mp->mstartfn = fn;
  mp->nextp = pp;
  mp->spinning = spinning;
  mcommoninit(mp);
  if (!newosproc(mp)) fatal("newm: cannot create an OS thread");
  releasem(cur);
}

// otherthreads: the process has threads the runtime did not make (the program's own, a
// foreign library's): they may ready a goroutine at any time.
bool otherthreads() {
  int32_t n = procentries("/proc/self/task");
  if (n < 0) return true;  // cannot tell: assume so
  // procfs.cc's helper, once sysmon made it, is a thread of the runtime's that is no M.
  return n - procfshelpers() > sched.mcount.load(std::memory_order_relaxed);
}

// checkdead: Go's deadlock report. Called with sched.lock held when an M goes idle. When
// every M but sysmon is idle, no goroutine is runnable, no timer is pending and no other
// thread could ready anyone, the parked goroutines wait for each other: report it as Go
// does. (An M in a system call or sleeping until a timer is not idle; nor is the M kept in
// netpoll for the program's signal handlers, so a program that installed one, which may
// wake anyone, gets no report, as a Go program with signal.Notify gets none.)
void checkdead() {
  if (sched.mcount.load(std::memory_order_relaxed) - sched.nmidle - 1 > 0) return;
  if (sched.gcwaiting.load(std::memory_order_relaxed) || !mainStarted.load()) return;
  if (sched.runq.n != 0 || nexttimer() != 0 || netpollinflight() || gcount() == 0) return;
  // A reaping sysmon lowered inflight with goroutines still in its hands (NP4's release).
  std::atomic_thread_fence(std::memory_order_acquire);
  if (sched.sysmonpolling.load(std::memory_order_relaxed)) return;
  for (int32_t i = 0; i < gomaxprocs.load(std::memory_order_relaxed); i++) {
    if (!runqempty(allp[i])) return;
  }
  if (otherthreads()) return;
  sched.lock.unlock();  // the dump reads the scheduler's lists
  printerr("gmp: fatal error: all goroutines are asleep - deadlock!\n\n");
  dumpgoroutines(2, nullptr, nullptr, true, tracebacklevel(debug.traceback), false);
  crash(0);
}

// stopm: park the current M (no P) until startm hands it one. This M only.
void stopm() {
  m* mp = getm();
  if (mp->p_) fatal("stopm holding p");
  if (mp->spinning) fatal("stopm spinning");
  GMP_PROBE(m__park, mp->id);
  sched.lock.lock();
  mput(mp);
  checkdead();
  sched.lock.unlock();
  sigmaskidle(mp);
  notesleep(&mp->park);
  noteclear(&mp->park);
  acquirep(mp->nextp);
  mp->nextp = nullptr;
}

// startm: run pp (or an idle P if null) on some M: an idle one, or a new one. If spinning,
// the caller has already counted the new M in nmspinning (wakep), and startm undoes that
// when there is no P to give. Any thread.
void startm(p* pp, bool spinning) {
  sched.lock.lock();
  if (!pp) {
    pp = pidleget();
    if (!pp) {
      sched.lock.unlock();
      if (spinning && sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1 < 0) {
        fatal("startm: negative nmspinning");
      }
      return;
    }
  }
  m* nmp = mget();
  sched.lock.unlock();
  if (!nmp) {
    newm(nullptr, pp, spinning);
    return;
  }
  if (nmp->spinning) fatal("startm: m is spinning");
  if (nmp->nextp) fatal("startm: m has p");
  nmp->spinning = spinning;
  nmp->nextp = pp;
  notewakeup(&nmp->park);  // release: nextp and spinning are visible to nmp
}

// resetspinning: the current M found work after spinning. This M only.
void resetspinning() {
  m* mp = getm();
  if (!mp->spinning) fatal("resetspinning: not a spinning m");
  mp->spinning = false;
  if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1 < 0) {
    fatal("findRunnable: negative nmspinning");
  }
  // There may be more work than this M can do: start the next spinner (the chain).
  wakep();
}

}  // namespace

// pidleget takes a P from the idle list. sched.lock held.
p* pidleget() {
  p* pp = sched.pidle;
  if (pp) {
    sched.pidle = pp->link;
    sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
    if (sched.sysmonwait) sysmonwake(false);  // the process stops being idle
  }
  return pp;
}

// wakep: try to add one more spinning M if there is an idle P and nobody spins. Any thread.
// Callers have just published work (see "Worker thread parking/unparking").
void wakep() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // #StoreLoad: work, then nmspinning
  if (sched.npidle.load(std::memory_order_relaxed) == 0) return;
  // Be conservative: one spinner at a time; the spinner that finds work starts the next.
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) != 0 ||
      !sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
    return;
  }
  startm(nullptr, true);
}

// handoffp: the current M gives up pp (which it no longer runs) without blocking the P: start
// an M on it if there is work or nobody is looking for work, else park it. Any M.
void handoffp(p* pp) {
  netpollenter(pp);  // NP6: its M may not look for work before the P sits idle
  if (!runqempty(pp) || sched.runqsize_.load(std::memory_order_relaxed) != 0) {
    startm(pp, false);
    return;
  }
  // No local work: if nobody spins and no P is idle, this P should look for work itself.
  int32_t zero = 0;
  if (sched.nmspinning.load(std::memory_order_relaxed) +
              sched.npidle.load(std::memory_order_relaxed) ==
          0 &&
      sched.nmspinning.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) {
    startm(pp, true);
    return;
  }
  sched.lock.lock();
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    pp->status.store(Pgcstop, std::memory_order_relaxed);
    if (--sched.stopwait == 0) notewakeup(&sched.stopnote);
    sched.lock.unlock();
    return;
  }
  if (sched.runq.n != 0) {
    sched.lock.unlock();
    startm(pp, false);
    return;
  }
  // The last P to go idle while no M waits for the timers and the rings (the timer
  // sleeper, findRunnable) and something will come from them: an M takes it and becomes
  // that sleeper, as Go's handoffp wakes one to poll the network. Else a completion or a
  // timer waited for good: the idle Ms sleep in stopm, and sysmon sleeps when every P is
  // idle (Preload.AGoroutineBlockedOnTheMThatSubmittedASleepLetsTheSleepEnd).
  if (sched.npidle.load(std::memory_order_relaxed) ==
          gomaxprocs.load(std::memory_order_relaxed) - 1 &&
      !sched.timersleeper.load(std::memory_order_acquire) &&
      (nexttimer() != 0 || netpollinflight() || sighandlers())) {
    sched.lock.unlock();
    startm(pp, false);
    return;
  }
  pidleput(pp);
  sched.lock.unlock();
}

// ---- goroutine creation -----------------------------------------------------------------------

namespace {

// gfput puts a dead g (no stack) on pp's free list, spilling half to the global list when the
// local one grows past gfreemax. Owner P, or pp null: the global list (sched.lock taken
// here), as gfget.
void gfput(p* pp, g* gp) {
  if (!pp) {
    sched.lock.lock();
    sched.gfree.push_back(gp);
    sched.lock.unlock();
    return;
  }
  pp->gfree.push_back(gp);
  if (pp->gfree.n >= gfreemax) {
    sched.lock.lock();
    while (pp->gfree.n >= gfreemax / 2) sched.gfree.push_back(pp->gfree.pop());
    sched.lock.unlock();
  }
}

// gfget takes a dead g from pp's free list, refilling it from the global list. Owner P, or
// pp null (sched.lock taken here).
g* gfget(p* pp) {
  if (!pp) {
    sched.lock.lock();
    g* gp = sched.gfree.pop();
    sched.lock.unlock();
    return gp;
  }
  if (pp->gfree.n == 0 && sched.gfree.n != 0) {
    sched.lock.lock();
    while (pp->gfree.n < gfreemax / 2 && sched.gfree.n != 0) {
      pp->gfree.push_back(sched.gfree.pop());
    }
    sched.lock.unlock();
  }
  return pp->gfree.pop();
}

// newgoid hands out a goid from pp's cache (batches of 16 from sched.goidgen).
int64_t newgoid(p* pp) {
  constexpr int64_t batch = 16;
  if (!pp) return sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  if (pp->goidcache == pp->goidcacheend) {
    pp->goidcache = sched.goidgen.fetch_add(batch, std::memory_order_relaxed) + 1;
    pp->goidcacheend = pp->goidcache + batch;
  }
  return pp->goidcache++;
}

// gostartannotated: a new goroutine's first C++ code in stack_annotations builds (gostackinit
// starts it here instead of in startfn): it has arrived on its own stack.
void gostartannotated(void* arg) {
  g* gp = static_cast<g*>(arg);
  fiberarrive(nullptr);
  gp->startfn(gp->startarg);
}

// gostackinit lays out gp's fresh stack so that gogo starts it in gmp_gostart (see
// asm/amd64/gostart.S): a switchframe returning into gostart, with startfn in r12 and
// startarg in r13, default MXCSR and x87 control word.
void gostackinit(g* gp) {
  auto* f = reinterpret_cast<switchframe*>(gp->stk.hi - sizeof(switchframe));
  *f = switchframe{};
  f->mxcsr = 0x1f80;  // all exceptions masked, round to nearest
  f->fpucw = 0x037f;  // x87 default: extended precision, all exceptions masked
  if constexpr (stackAnnotations) {
    f->r12 = reinterpret_cast<uintptr_t>(&gostartannotated);
    f->r13 = reinterpret_cast<uintptr_t>(gp);
  } else {
    f->r12 = reinterpret_cast<uintptr_t>(gp->startfn);
    f->r13 = reinterpret_cast<uintptr_t>(gp->startarg);
  }
  f->ret = reinterpret_cast<uintptr_t>(&gmp_gostart);
  gp->sched.sp = reinterpret_cast<uintptr_t>(f);
  gp->sched.pc = f->ret;
}

}  // namespace

// newproc: create a goroutine running fn(arg) and put it on the current P's runnext. Returns
// its goid or -ENOMEM. Any thread: without a P the g goes to the global queue. fsbase: a TCB
// of the g's own (gthread.cc), or 0.
int64_t newproc(void (*fn)(void*), void* arg, uintptr_t callerpc, size_t stacksize,
                uintptr_t fsbase, bool bindstack) {
  g* me = getg();
  m* mp = me ? me->m_ : nullptr;
  p* pp = mp ? mp->p_ : nullptr;
  g* newg = gfget(pp);
  if (!newg) {
    newg = malg(pp);
    if (!newg) return -ENOMEM;
  }
  newg->startfn = fn;
  newg->startarg = arg;
  // A stack of the size gmp_go_with's caller chose is bound now (bindstack), unlike others
  // (execute binds them): a size that cannot be mapped is the caller's -ENOMEM, not a fatal
  // error when the goroutine first runs. newg->stk is empty here (malg, goexit0), and
  // stackalloc writes it only when it succeeds.
  if (stacksize && bindstack) {
    m* locked = acquirem();  // stackalloc maps memory with pp's caches in hand (LS2)
    bool ok = stackalloc(pp, stacksize, &newg->stk);
    releasem(locked);
    if (!ok) {
      if (readgstatus(newg) == Gidle) casgstatus(newg, Gidle, Gdead);
      gfput(pp, newg);
      return -ENOMEM;
    }
    gostackinit(newg);
  }
  newg->gopc = callerpc;
  newg->parentgoid = mp && mp->curg == me ? me->goid : 0;  // not on g0 or a foreign thread
  newg->stacksize = stacksize;
  newg->spawnstreak = 0;
  newg->cstate_ = cstate{};
  newg->fsbase = fsbase;
  // Its creator's signal mask, as a thread's: a goroutine's own, a foreign thread's real
  // one; the runtime's own goroutines (g0 creates goroutine 1) start with main's at start-up.
  if (newg->parentgoid) {
    newg->sigmask = me->sigmask;
  } else if (!mp) {
    rawsyscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, long(&newg->sigmask), sizeof(uint64_t));
  } else {
    newg->sigmask = initsigmaskbits;
  }
  newg->sigpending.store(0, std::memory_order_relaxed);  // SP3: none of the record's last g
  // Its TCB's g slot holds it before it first runs: gogo and switchto write the slot only
  // after their wrfsbase, and a signal in between must find the g there.
  if (fsbase) tcbsetg(fsbase, newg);
  int64_t goid = newgoid(pp);
  newg->goid = goid;  // read goid before publishing: newg may run and die at once
  GMP_PROBE(goroutine__create, goid, fn, newg->parentgoid);
  uint32_t st = readgstatus(newg);
  if (st != Gidle && st != Gdead) fatal("newproc: newg is not dead");
  casgstatus(newg, st, Grunnable);
  sigmaskcount(newg->sigmask, 1);  // SM1: before gcreated
  if (pp) {
    pp->gcreated.store(pp->gcreated.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
    runqput(pp, newg, true);
  } else {
    sched.gcreatedNoP.fetch_add(1, std::memory_order_relaxed);
    sched.lock.lock();
    globrunqput(newg);
    sched.lock.unlock();
  }
  if (mainStarted.load(std::memory_order_relaxed)) wakep();
  return goid;
}

// schedstats: the C ABI's counters (gmp_stats), read racily. Any thread.
void schedstats(struct ::gmp_stats* st) {
  *st = {};
  st->goroutines = gcount();
  st->goroutines_created = sched.gcreatedNoP.load(std::memory_order_relaxed);
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {  // dead Ps keep their counts
    p* pp = allp[i];
    st->goroutines_created += pp->gcreated.load(std::memory_order_relaxed);
    st->context_switches += pp->nswitch.load(std::memory_order_relaxed);
    st->steals += pp->nsteal.load(std::memory_order_relaxed);
    st->parks += pp->npark.load(std::memory_order_relaxed);
    st->preemptions += pp->npreempt.load(std::memory_order_relaxed);
  }
  st->netpoll_waits = sched.npollwait.load(std::memory_order_relaxed);
  st->sysmon_rounds = sched.sysmonrounds.load(std::memory_order_relaxed);
  st->ms = sched.mcount.load(std::memory_order_relaxed);
  sched.lock.lock();
  st->ms_idle = sched.nmidle;
  sched.lock.unlock();
  st->ps = gomaxprocs.load(std::memory_order_relaxed);
  st->ps_idle = sched.npidle.load(std::memory_order_relaxed);
}

// gcount: live goroutines. Racy while goroutines come and go; exact when quiescent.
int64_t gcount() {
  int64_t n = int64_t(sched.gcreatedNoP.load(std::memory_order_relaxed));
  int32_t np = nallp.load(std::memory_order_acquire);
  for (int32_t i = 0; i < np; i++) {
    n += int64_t(allp[i]->gcreated.load(std::memory_order_relaxed)) -
         int64_t(allp[i]->gexited.load(std::memory_order_relaxed));
  }
  return n;
}

// ---- running goroutines -----------------------------------------------------------------------

namespace {

// runon makes gp the M's current g: everything execute does short of the jump, shared with
// gosched's fast path. On the M (g0, or the yielding g), holding a P.
// inheritTime: gp takes over the current time slice (it came from runnext).
[[gnu::always_inline]] inline void runon(m* mp, p* pp, g* gp, bool inheritTime) {
  mp->curg = gp;
  gp->m_ = mp;
  casgstatus(gp, Grunnable, Grunning);
  pp->nswitch.store(pp->nswitch.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  GMP_PROBE(goroutine__start, gp->goid, mp->id);
  if (inheritTime) {
    pp->runnextstreak++;
  } else {
    pp->runnextstreak = 0;
    pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  }
  sigmaskapply(mp, gp->sigmask);
  if (gp->stk.lo == 0) {
    if (!stackalloc(pp, gp->stacksize ? gp->stacksize : stackdefault, &gp->stk)) {
      fatal("out of memory allocating a goroutine stack");
    }
    gostackinit(gp);
  }
  restorecstate(mp, gp);
}

// execute runs gp on the current M. Binds a stack on first run. Never returns.
[[noreturn]] void execute(g* gp, bool inheritTime) {
  m* mp = getm();
  runon(mp, mp->p_, gp, inheritTime);
  fiberleave(nullptr, gp->stk.lo, gp->stk.hi);  // g0's frames are abandoned
  gmp_gogo(&gp->sched);
}

// dropg: disassociate the M from its current g (switch-out paths, on g0).
inline void dropg(m* mp, g* gp) {
  sigleave(mp, gp);
  mp->curg = nullptr;
  gp->m_ = nullptr;
}

// stealWork: try to steal a runnable g from other Ps. Spinning M, holds a P.
g* stealWork(p* pp) {
  m* mp = getm();
  constexpr int stealTries = 4;
  for (int i = 0; i < stealTries; i++) {
    bool stealRunNextG = i == stealTries - 1;  // last round: also take runnext
    uint32_t n = uint32_t(gomaxprocs.load(std::memory_order_relaxed));
    uint32_t start = fastrandn(mp, n);
    for (uint32_t k = 0; k < n; k++) {
      if (sched.gcwaiting.load(std::memory_order_relaxed)) return nullptr;
      p* p2 = allp[(start + k) % n];
      if (p2 == pp) continue;
      // Its expired timers too (Go's stealTimers): its M may be busy in a goroutine that
      // does not yield, or it may be idle. They ready their goroutines onto our P.
      if (stealRunNextG && p2->timer0when.load(std::memory_order_relaxed) != 0) {
        checktimers(p2, 0);
        bool inheritTime;
        if (g* gp = runqget(pp, &inheritTime)) return gp;
      }
      if (g* gp = runqsteal(pp, p2, stealRunNextG)) return gp;
    }
  }
  return nullptr;
}

// gcstopm: stop the current M for stop-the-world: give up the P and sleep. This M only.
void gcstopm() {
  m* mp = getm();
  if (!sched.gcwaiting.load(std::memory_order_relaxed)) fatal("gcstopm: not waiting for gc");
  if (mp->spinning) {
    mp->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1 < 0) {
      fatal("gcstopm: negative nmspinning");
    }
  }
  p* pp = releasep();
  sched.lock.lock();
  pp->status.store(Pgcstop, std::memory_order_relaxed);
  if (--sched.stopwait == 0) notewakeup(&sched.stopnote);
  sched.lock.unlock();
  stopm();
}

// pollwork: reap every ring; one of the goroutines whose I/O finished, the others queued
// (injectglist); null if none finished.
g* pollwork() {
  gqueue q;
  if (!netpollall(&q)) return nullptr;
  g* gp = q.pop();
  injectglist(&q);
  return gp;
}

// findRunnable: find a g to run, blocking (stopm) until there is one. On g0 with a P;
// returns with a P (maybe another one).
g* findRunnable(bool* inheritTime) {
  m* mp = getm();
top:
  p* pp = mp->p_;
  *inheritTime = false;
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    gcstopm();
    goto top;
  }
  checktimers(pp, 0);  // may ready goroutines onto this P
  semsigflush();       // and so may the wake-ups a signal handler's sem_post left (SEM5)
  // Fairness: look at the global queue once in a while, or two goroutines that keep
  // readying each other through runnext could starve it.
  if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 &&
      sched.runqsize_.load(std::memory_order_relaxed) > 0) {
    sched.lock.lock();
    g* gp = globrunqget(pp, 1);
    sched.lock.unlock();
    if (gp) return gp;
  }
  // The same for finished I/O: goroutines that keep each other busy (or one that yields in
  // a loop) must not keep those whose I/O completed waiting.
  if (pp->schedtick.load(std::memory_order_relaxed) % 61 == 0 && netpollpending(pp)) {
    netpollflush(pp);  // NP6: what parked meanwhile
    if (g* gp = pollwork()) return gp;
  }
  // Two goroutines that keep readying each other through runnext inherit one time slice
  // for ever (schedtick stands still) and would starve the rest of the P; Go's sysmon
  // preempts them after 10 ms. Until we preempt, end the streak after runnextStreakMax.
  if (pp->runnextstreak >= runnextStreakMax) {
    pp->runnextstreak = 0;
    if (g* nx = pp->runnext.exchange(nullptr, std::memory_order_acquire)) runqput(pp, nx, false);
    pp->schedtick.store(pp->schedtick.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  }
  if (g* gp = runqget(pp, inheritTime)) return gp;
  // The local queue is done: submit the operations its goroutines parked on (NP6), one
  // system call for the batch, before looking further or sleeping.
  netpollflush(pp);
  if (sched.runqsize_.load(std::memory_order_relaxed) > 0) {
    sched.lock.lock();
    g* gp = globrunqget(pp, 0);
    sched.lock.unlock();
    if (gp) return gp;
  }
  // Finished I/O (netpoll_uring.cc): reaping reads shared memory, no system call. Every
  // ring, not only this P's: a P busy running one goroutine does not reap its own.
  if (netpollinflight()) {
    if (g* gp = pollwork()) return gp;
  }
  // Steal, unless enough Ms are already spinning: at most half of the busy Ps spin, so
  // spinning does not burn the CPU when parallelism is low.
  {
    int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
    if (mp->spinning || 2 * sched.nmspinning.load(std::memory_order_relaxed) <
                            procs - sched.npidle.load(std::memory_order_relaxed)) {
      if (!mp->spinning) {
        mp->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      }
      if (g* gp = stealWork(pp)) return gp;
      if (sched.gcwaiting.load(std::memory_order_relaxed)) goto top;
    }
  }
  // Nothing to do: give up the P. Check the global queue one last time under the lock, so
  // a globrunqput that saw this P running is not missed.
  sched.lock.lock();
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    sched.lock.unlock();
    goto top;
  }
  if (sched.runq.n != 0) {
    g* gp = globrunqget(pp, 0);
    sched.lock.unlock();
    return gp;
  }
  releasep();
  pidleput(pp);
  sched.lock.unlock();

  if (mp->spinning) {
    // "Worker thread parking/unparking": drop out of nmspinning (a full barrier), then
    // re-check every run queue: work submitted by someone who saw us spinning is ours.
    mp->spinning = false;
    if (sched.nmspinning.fetch_sub(1, std::memory_order_seq_cst) - 1 < 0) {
      fatal("findRunnable: negative nmspinning");
    }
    // The global queue too: a thread without a P (a foreign gmp_go or goready, exitsyscall0)
    // may have queued work and seen us spinning (Go issue 43997).
    sched.lock.lock();
    if (sched.runq.n != 0) {
      if (p* p2 = pidleget()) {
        acquirep(p2);
        mp->spinning = true;
        sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
        g* gp = globrunqget(p2, 0);
        sched.lock.unlock();
        return gp;
      }
    }
    sched.lock.unlock();
    int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
    for (int32_t i = 0; i < procs; i++) {
      if (!runqempty(allp[i])) {
        sched.lock.lock();
        p* p2 = pidleget();
        sched.lock.unlock();
        if (p2) {
          acquirep(p2);
          mp->spinning = true;
          sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
          goto top;
        }
        break;
      }
    }
  }
  // "Sleeping until a timer" (time.cc), which is also Go's blocking netpoll: one idle M
  // waits for the earliest timer or a completion on any ring, then takes a P, runs what
  // completed, or looks for work as a spinning M would, other Ps' timers included. Where
  // the program handles signals, it also waits for a handler's sem_post (SEM5: netpollBreak)
  // when there is neither, as Go's signal_recv keeps an M waiting.
  if ((nexttimer() != 0 || netpollinflight() || sighandlers()) &&
      !sched.timersleeper.exchange(true, std::memory_order_acq_rel)) {
    int64_t until = nexttimer();
    if (until != 0 || netpollinflight() || sighandlers()) timersleep(until);
    sched.timersleeper.store(false, std::memory_order_release);
    gqueue q;
    netpollall(&q);
    sched.lock.lock();
    p* p2 = pidleget();
    sched.lock.unlock();
    if (p2) {
      acquirep(p2);
      if (g* gp = q.pop()) {
        injectglist(&q);
        return gp;
      }
      mp->spinning = true;
      sched.nmspinning.fetch_add(1, std::memory_order_seq_cst);
      goto top;
    }
    injectglist(&q);  // no P: the global queue
  }
  stopm();
  goto top;
}

}  // namespace

// schedule: one round of the scheduler: find a runnable g and run it. On g0. Never returns.
[[noreturn]] void schedule() {
  m* mp = getm();
  if (mp->curg) fatal("schedule: holding a g");
  if (!mp->p_) fatal("schedule: no p");
  bool inheritTime;
  g* gp = findRunnable(&inheritTime);
  if (mp->spinning) resetspinning();
  execute(gp, inheritTime);
}

namespace {

// park_m: gopark's second half, on g0. The g's context is already saved (mcall), so once
// its status is Gwaiting and unlockf has released the wait queue, a waker may run it.
void park_m(g* gp) {
  m* mp = getm();
  p* pp = mp->p_;
  savecstate(mp, gp);
  casgstatus(gp, Grunning, Gwaiting);
  dropg(mp, gp);
  pp->npark.store(pp->npark.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  GMP_PROBE(goroutine__park, gp->goid, int(gp->waitreason_), waitReasonStrings[gp->waitreason_]);
  if (auto fn = mp->waitunlockf) {
    bool ok = fn(gp, mp->waitlock);
    mp->waitunlockf = nullptr;
    mp->waitlock = nullptr;
    if (!ok) {  // the wait was called off: run gp again
      casgstatus(gp, Gwaiting, Grunnable);
      execute(gp, true);
    }
  }
  schedule();
}

// park_after: a direct park's second half (gopark), on the next g's stack once gp's frame
// is saved: commit the park as park_m does. A park called off puts gp back to run next.
void park_after(g* gp) {
  m* mp = getm();
  if (auto fn = mp->waitunlockf) {
    bool ok = fn(gp, mp->waitlock);
    mp->waitunlockf = nullptr;
    mp->waitlock = nullptr;
    if (!ok) {
      casgstatus(gp, Gwaiting, Grunnable);
      runqput(mp->p_, gp, true);
    }
  }
}

// gosched_m: gosched's second half, on g0: gp goes behind the other runnable goroutines —
// to the global queue when it has work (as in Go, so a yielder cannot starve it), else to
// the tail of the local queue (no lock: the common case of goroutines taking turns).
void gosched_m(g* gp) {
  m* mp = getm();
  savecstate(mp, gp);
  casgstatus(gp, Grunning, Grunnable);
  dropg(mp, gp);
  if (sched.runqsize_.load(std::memory_order_relaxed) != 0) {
    sched.lock.lock();
    globrunqput(gp);
    sched.lock.unlock();
  } else {
    runqput(mp->p_, gp, false);
  }
  schedule();
}

// goexit0: the goroutine ended, on g0: free its stack and record, schedule.
void goexit0(g* gp) {
  m* mp = getm();
  p* pp = mp->p_;
  casgstatus(gp, Grunning, Gdead);
  dropg(mp, gp);
  GMP_PROBE(goroutine__exit, gp->goid);
  if (gp->fsbase) gthreadexited(gp->fsbase);  // a thread: its TCB may go, %fs is the M's
  pp->gexited.store(pp->gexited.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  sigmaskcount(gp->sigmask, -1);  // SM1: after gexited
  stackfree(pp, gp->stk);
  gp->stk = stack{};
  gp->startfn = nullptr;
  gp->startarg = nullptr;
  gp->waitreason_ = waitReasonZero;
  gp->cleanup = nullptr;  // TC2: a handler left registered by a frame that longjmp'd away
  gp->exiting = nullptr;
  gp->asynccancel.store(false, std::memory_order_relaxed);
  gp->altstack = stack_t{};  // none (gsigaltstack)
  gfput(pp, gp);
  schedule();
}

// exitsyscall0: exitsyscall found no P, on g0: queue gp and stop this M.
void exitsyscall0(g* gp) {
  m* mp = getm();
  savecstate(mp, gp);
  casgstatus(gp, Gsyscall, Grunnable);
  dropg(mp, gp);
  sched.lock.lock();
  p* pp = sched.gcwaiting.load(std::memory_order_relaxed) ? nullptr : pidleget();
  if (!pp) globrunqput(gp);
  sched.lock.unlock();
  if (pp) {
    acquirep(pp);
    execute(gp, false);
  }
  stopm();
  schedule();
}

}  // namespace

namespace {
#if GMP_STACK_ANNOTATIONS
// mcallannotated: what gmp_mcall calls on g0 in stack_annotations builds.
void mcallannotated(g* gp) {
  fiberarrive(nullptr);
  getm()->mcallfn(gp);
}
#endif

// mcall: gmp_mcall, and in stack_annotations builds the switch's annotations around it (see
// annotate.h). dying: the g never comes back (goexit). Current goroutine.
inline void mcall(void (*fn)(g*), bool dying = false) {
#if GMP_STACK_ANNOTATIONS
  m* mp = getm();
  g* gp = mp->curg;
  mp->mcallfn = fn;
  fiberleave(dying ? nullptr : &gp->fiberfake, mp->g0->stk.lo, mp->g0->stk.hi);
  gmp_mcall(mcallannotated);
  fiberarrive(getg()->fiberfake);  // resumed, perhaps on another M
#else
  (void)dying;
  gmp_mcall(fn);
  // Not a tail call: the caller's frame (gopark, say) stays on the parked g's stack, so
  // dumps and debuggers show it, as Go's show gopark.
  asm volatile("");
#endif
}
}  // namespace

// gopark: park the current goroutine; unlockf(gp, lock) runs on g0 after the g is Gwaiting
// and may return false to cancel the park. Current goroutine only.
void gopark(bool (*unlockf)(g*, void*), void* lock, waitreason reason) {
  m* mp = getm();
  g* gp = mp->curg;
  if (gp != getg()) fatal("gopark: not on a user goroutine");
  mp->waitlock = lock;
  mp->waitunlockf = unlockf;
  gp->waitreason_ = reason;
  gp->waitsince = sched.coarsenow.load(std::memory_order_relaxed);
  // "Parking without g0": the goroutine this one readied last (runnext) runs next anyway;
  // switch to it directly, as a yield does ("Yielding without g0"), and commit the park
  // (unlockf) from its stack once our frame is saved: until unlockf releases the wait
  // queue's lock, no waker can find us. The same exceptions as gosched's fast path: a
  // stop-the-world pending, a runnext streak at its cap (findRunnable then looks at the
  // global queue and the timers), annotated builds.
  p* pp = mp->p_;
  g* next = nullptr;
  if (!stackAnnotations && !sched.gcwaiting.load(std::memory_order_relaxed) &&
      pp->runnextstreak < runnextStreakMax) {
    next = pp->runnext.load(std::memory_order_relaxed);
    // RN1: a thief may take runnext concurrently.
    if (next && !pp->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acquire,
                                                     std::memory_order_relaxed)) {
      next = nullptr;
    }
  }
  if (!next) {
    mcall(park_m);
    return;
  }
  savecstate(mp, gp);
  casgstatus(gp, Grunning, Gwaiting);
  sigleave(mp, gp);
  gp->m_ = nullptr;
  pp->npark.store(pp->npark.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  GMP_PROBE(goroutine__park, gp->goid, int(reason), waitReasonStrings[reason]);
  runon(mp, pp, next, true);
  gmp_switchto(gp, &next->sched, park_after);
}

// injectglist: run the gs of q (runnable already, from netpoll): on this M's P when it has
// one, else on the global queue; wake an idle P for them. Any M.
void injectglist(gqueue* q) {
  if (q->n == 0) return;
  m* mp = getm();
  if (p* pp = mp ? mp->p_ : nullptr) {
    while (g* gp = q->pop()) runqput(pp, gp, false);
  } else {
    sched.lock.lock();
    globrunqputbatch(q);
    sched.lock.unlock();
  }
  wakep();
}

// goready: make a parked gp runnable, next on the current P (or the global queue when the
// caller has no P). Any thread.
void goready(g* gp) {
  casgstatus(gp, Gwaiting, Grunnable);
  g* me = getg();
  GMP_PROBE(goroutine__ready, gp->goid, me && me->m_->curg == me ? me->goid : 0);
  p* pp = me ? me->m_->p_ : nullptr;
  if (pp) {
    runqput(pp, gp, true);
  } else {
    sched.lock.lock();
    globrunqput(gp);
    sched.lock.unlock();
  }
  wakep();
}

// Yielding without g0.
//
// A yield that finds another goroutine on its own P's local queue switches to it directly
// (gmp_switchto) instead of going through g0 and schedule(): one stack switch instead of two
// and none of findRunnable's checks, which is most of what a yield costs. The yielding g can
// only be queued once its context is saved, or a thief could resume a half-saved g; so it is
// queued by gosched_put, which switchto calls on the next g's stack after the save. The
// result is what gosched_m + schedule would do: the yielder goes to the local tail and the
// head (runnext first) runs. Everything that needs schedule's judgement takes the slow path:
// a stop-the-world pending, work on the global queue (the yielder must go there, so that a
// yield loop cannot starve it), a runnext streak at its cap, this P's timers every 61st
// slice when it has any (findRunnable runs them), or an empty local queue (the
// yielder alone: schedule() looks further, at the network poller among others), and
// stack_annotations builds, whose switches must all be announced (annotate.h).
namespace {
void gosched_put(g* gp) {
  // On the next g's stack, its M current: gp's context is complete.
  runqput(getm()->p_, gp, false);
}
}  // namespace

// gosched: yield the processor; the current goroutine stays runnable.
void gosched() {
  m* mp = getm();
  p* pp = mp->p_;
  bool inheritTime;
  g* next = nullptr;
  if (!stackAnnotations && !sched.gcwaiting.load(std::memory_order_relaxed) &&
      sched.runqsize_.load(std::memory_order_relaxed) == 0 &&
      pp->runnextstreak < runnextStreakMax &&
      (pp->schedtick.load(std::memory_order_relaxed) % 61 != 0 ||
       (pp->timer0when.load(std::memory_order_relaxed) == 0 && !netpollpending(pp)))) {
    next = runqget(pp, &inheritTime);
  }
  if (!next) {
    mcall(gosched_m);
    return;
  }
  g* gp = mp->curg;
  savecstate(mp, gp);
  casgstatus(gp, Grunning, Grunnable);
  sigleave(mp, gp);
  gp->m_ = nullptr;
  runon(mp, pp, next, inheritTime);
  gmp_switchto(gp, &next->sched, gosched_put);
}

extern "C" [[noreturn]] void gmp_goexit1() {
  mcall(goexit0, true);
  __builtin_unreachable();
}

extern "C" [[noreturn]] void gmp_badmcall() { fatal("mcall: function returned"); }

// ---- system calls ----------------------------------------------------------------------------

// entersyscall: the current goroutine is about to block in the kernel. Its P goes to
// Psyscall; sysmon hands it to another M if the call lasts (retake). Current goroutine.
void entersyscall() {
  m* mp = getm();
  g* gp = mp->curg;
  p* pp = mp->p_;
  netpollflush(pp);  // NP6: nothing parked on its ring waits for this call to end
  casgstatus(gp, Grunning, Gsyscall);
  pp->m_ = nullptr;
  mp->oldp = pp;
  mp->p_ = nullptr;
  pp->status.store(Psyscall, std::memory_order_seq_cst);  // then read gcwaiting/sysmonwait
  if (sched.gcwaiting.load(std::memory_order_seq_cst)) {
    // Someone is stopping the world and may be waiting for this P: give it up now.
    uint32_t s = Psyscall;
    if (pp->status.compare_exchange_strong(s, Pgcstop)) {
      sched.lock.lock();
      if (--sched.stopwait == 0) notewakeup(&sched.stopnote);
      sched.lock.unlock();
    }
  }
  sched.lock.lock();
  // sysmon must watch this syscall: wake it from its park or from a long round.
  if (sched.sysmonwait || sched.sysmonslow) sysmonwake(true);
  sched.lock.unlock();
}

// exitsyscallfast: back from the kernel, on mp (with its curg). Reacquire the old P if
// sysmon left it, else any idle P; false if there is none (or the world is stopping).
bool exitsyscallfast(m* mp) {
  g* gp = mp->curg;
  p* oldp = mp->oldp;
  uint32_t s = Psyscall;
  if (oldp && oldp->status.compare_exchange_strong(s, Pidle, std::memory_order_acq_rel)) {
    mp->oldp = nullptr;
    oldp->syscalltick.fetch_add(1, std::memory_order_relaxed);
    acquirep(oldp);
    casgstatus(gp, Gsyscall, Grunning);
    return true;
  }
  if (sched.gcwaiting.load(std::memory_order_relaxed)) return false;
  sched.lock.lock();
  p* pp = sched.gcwaiting.load(std::memory_order_relaxed) ? nullptr : pidleget();
  sched.lock.unlock();
  if (!pp) return false;
  mp->oldp = nullptr;
  acquirep(pp);
  casgstatus(gp, Gsyscall, Grunning);
  return true;
}

// exitsyscall: exitsyscallfast, else queue the goroutine and park the M. Current goroutine.
void exitsyscall() {
  m* mp = getm();
  if (exitsyscallfast(mp)) return;
  mp->oldp = nullptr;
  mcall(exitsyscall0);
}

// ---- start-up ---------------------------------------------------------------------------------

namespace {

// procresize: make n Ps; the world is stopped (or not yet started). The current M keeps its
// P if it survives, else takes allp[0]. Returns the Ps with local work, linked through
// p.link and each given an idle M in p.m_ where one exists; the others go idle.
// sched.lock held.
p* procresize(int32_t n) {
  int32_t old = gomaxprocs.load(std::memory_order_relaxed);
  for (int32_t i = 0; i < n; i++) {
    if (!allp[i]) {
      m* mp = acquirem();  // sched.lock is held (LS2)
      p* pp = new (std::nothrow) p();
      releasem(mp);
      if (!pp) fatal("procresize: out of memory");
      pp->id = i;
      pp->status.store(Pgcstop, std::memory_order_relaxed);
      allp[i] = pp;
      nallp.store(i + 1, std::memory_order_release);
    } else if (i >= old) {
      allp[i]->status.store(Pgcstop, std::memory_order_relaxed);  // revive a dead P
    }
  }
  // Destroy the Ps beyond n: their goroutines and caches move to the global pools.
  for (int32_t i = n; i < old; i++) {
    p* pp = allp[i];
    gqueue q;
    runqdrain(pp, &q);
    globrunqputbatch(&q);
    while (g* gp = pp->gfree.pop()) sched.gfree.push_back(gp);
    stackcache_drain(pp);
    movetimers(pp, allp[0]);
    netpollenter(pp);  // NP6: what its goroutines parked on
    pp->status.store(Pdead, std::memory_order_relaxed);
  }
  m* mp = getm();
  if (mp->p_ && mp->p_->id < n) {
    mp->p_->status.store(Prunning, std::memory_order_relaxed);
  } else {
    if (mp->p_) mp->p_->m_ = nullptr;
    mp->p_ = nullptr;
    allp[0]->m_ = nullptr;
    allp[0]->status.store(Pidle, std::memory_order_relaxed);
    acquirep(allp[0]);
  }
  gomaxprocs.store(n, std::memory_order_relaxed);
  p* runnable = nullptr;
  for (int32_t i = n - 1; i >= 0; i--) {
    p* pp = allp[i];
    if (mp->p_ == pp) continue;
    pp->status.store(Pidle, std::memory_order_relaxed);
    if (runqempty(pp)) {
      pidleput(pp);
    } else {
      pp->m_ = mget();
      pp->link = runnable;
      runnable = pp;
    }
  }
  return runnable;
}

void runmain(void* arg);

struct mainargs {
  int (*fn)(int, char**, char**);
  int argc;
  char** argv;
  char** envp;
} themain;
uintptr_t mainfsbase;  // goroutine 1's TCB: the main thread's (maintcbsplit), or 0

}  // namespace

// Stopping the world
//
// The caller (a goroutine) takes worldsema, sets sched.gcwaiting and counts in
// sched.stopwait the Ps still running. Idle Ps and Ps in syscalls are stopped on the spot
// (Pgcstop); a running P stops when its M next enters the scheduler (findRunnable → gcstopm),
// and the last one wakes sched.stopnote. A goroutine with TLS of its own that runs on is
// preempted for it (preempt.cc); one of gmp_go's that never yields, parks or exits delays
// the stop. Start-the-world resizes the Ps and hands
// those with work to Ms.
int procresize_world(int32_t n) {
  semacquire(&worldsema);
  m* mp = getm();
  sched.lock.lock();
  int32_t old = gomaxprocs.load(std::memory_order_relaxed);
  sched.stopwait = old;
  sched.gcwaiting.store(true, std::memory_order_seq_cst);
  mp->p_->status.store(Pgcstop, std::memory_order_relaxed);
  sched.stopwait--;
  for (int32_t i = 0; i < old; i++) {
    uint32_t s = Psyscall;
    if (allp[i]->status.compare_exchange_strong(s, Pgcstop, std::memory_order_seq_cst)) {
      sched.stopwait--;
    }
  }
  while (p* pp = sched.pidle) {  // take the idle Ps without waking sysmon
    sched.pidle = pp->link;
    sched.npidle.fetch_sub(1, std::memory_order_seq_cst);
    pp->status.store(Pgcstop, std::memory_order_relaxed);
    sched.stopwait--;
  }
  bool wait = sched.stopwait > 0;
  sched.lock.unlock();
  if (wait) {
    notesleep(&sched.stopnote);
    noteclear(&sched.stopnote);
  }
  for (int32_t i = 0; i < old; i++) {
    if (allp[i]->status.load(std::memory_order_relaxed) != Pgcstop) {
      fatal("stopTheWorld: not stopped");
    }
  }
  // The world is stopped: resize, then start it again.
  sched.lock.lock();
  p* runnable = procresize(n);
  sched.gcwaiting.store(false, std::memory_order_seq_cst);
  if (sched.sysmonwait) sysmonwake(true);
  sched.lock.unlock();
  while (p* pp = runnable) {
    runnable = pp->link;
    if (m* nmp = pp->m_) {
      pp->m_ = nullptr;
      if (nmp->nextp) fatal("startTheWorld: inconsistent m->nextp");
      nmp->nextp = pp;
      notewakeup(&nmp->park);
    } else {
      newm(nullptr, pp, false);
    }
  }
  wakep();
  semrelease(&worldsema);
  return old;
}

// schedinit: the scheduler's state, M0 and its g0 (the original thread stack), the Ps.
// Runs on the main thread before any goroutine exists.
void schedinit() {
  parsedebugvars();
  membarrierinit();
  initsig();
  sched.coarsenow.store(nanotime(), std::memory_order_relaxed);
  allginit();
  stackinit();
  netpollinit();
  m0.g0 = &g0_m0;
  g0_m0.sched.gp = &g0_m0;
  g0_m0.m_ = &m0;
  mcommoninit(&m0);
  mainfsbase = maintcbsplit();
  setg(&g0_m0);
  int32_t procs = ncpu;
  if (debug.maxprocs > 0) procs = debug.maxprocs;
  if (procs > maxgomaxprocs) procs = maxgomaxprocs;
  if (procs < 1) procs = 1;
  sched.lock.lock();
  if (procresize(procs)) fatal("schedinit: unexpected runnable P");
  sched.lock.unlock();
}

// mstart_on_thread: every M begins here, on its own thread and g0 stack, with its C state
// set up (minit_tls). g0 restarts from
// this point every time mcall switches to it, so the frame below is reused freely.
[[noreturn]] void mstart_on_thread(m* mp) {
  setg(mp->g0);
  minitsig(mp);
  GMP_PROBE(m__start, mp->id, mp->procid.load(std::memory_order_relaxed));
  uintptr_t sp;
  asm volatile("movq %%rsp, %0" : "=r"(sp));
  // mcall lands here: below our own frame, 16-byte aligned (SysV call alignment).
  mp->g0->sched.sp = (sp - 256) & ~uintptr_t(15);
  mp->g0->stk = mp->g0stack;
  uint32_t mxcsr;
  uint16_t fpucw;
  asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fpucw));
  mp->fpctl = uint64_t(mxcsr) | uint64_t(fpucw) << 32;  // FP1
  rawsyscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, long(&mp->cursigmask), sizeof(uint64_t));
  if (mp->mstartfn) mp->mstartfn();  // sysmon never returns
  if (mp->nextp) {
    acquirep(mp->nextp);
    mp->nextp = nullptr;
  }
  schedule();
}

// mstart: M0 enters the scheduler. Never returns.
[[noreturn]] void mstart() {
  minit_tls(&m0);
  if constexpr (stackAnnotations) g0bounds(&m0);
  m0.procid.store(gettid_(), std::memory_order_relaxed);
  mstart_on_thread(&m0);
}

namespace {

// runmain: goroutine 1. Starts sysmon (which settles how Ms are made), then runs main and
// exits the process with its result, as returning from main does (a pthread_exit in main
// ends only the main thread: threadexit.cc).
void runmain(void*) {
  mainStarted.store(true, std::memory_order_relaxed);
  sigintrmain(getg());
  startsysmon();
  sysmonstarted_wait();
  mainthreadrun(themain.fn, themain.argc, themain.argv, themain.envp);
}

}  // namespace

void startsysmon() { newm(sysmon, nullptr, false); }

void forkdone() {
  if (sysmonmissing.exchange(false, std::memory_order_relaxed)) startsysmon();
}

// procforkchild: the scheduler of a forked child (fork.cc, FK1-FK3), on gp, the goroutine
// that forked, the child's one thread: gp's M alone on allm, gp's P running, every other P
// idle, all of them with empty queues and heaps. The rings are gone already
// (netpollforkchild), the ghosts are dead (allgforkchild). sysmon comes later (forkdone).
// Allocates nothing: a malloc of the program's (jemalloc) may still be locked.
void procforkchild(g* gp) {
  m* mp = gp->m_;
  p* mine = mp->p_;
  sched.lock.key.store(0, std::memory_order_relaxed);
  sched.midle = nullptr;
  sched.nmidle = 0;
  sched.mcount.store(1, std::memory_order_relaxed);
  sched.pidle = nullptr;
  sched.npidle.store(0, std::memory_order_relaxed);
  sched.nmspinning.store(0, std::memory_order_relaxed);
  sched.runq = gqueue{};
  sched.runqsize_.store(0, std::memory_order_relaxed);
  sched.gfree = gqueue{};  // ghosts' records may be on it, half moved: left alone
  sched.gcwaiting.store(false, std::memory_order_relaxed);
  sched.stopwait = 0;
  noteclear(&sched.stopnote);
  sched.sysmonwait = false;
  sched.sysmonquick = false;
  sched.sysmonslow = false;
  sched.sysmonwoken = false;
  noteclear(&sched.sysmonnote);
  sched.timerwhen.store(0, std::memory_order_relaxed);
  sched.timersleeper.store(false, std::memory_order_relaxed);
  sched.npollwait.store(0, std::memory_order_relaxed);
  sched.sysmonrounds.store(0, std::memory_order_relaxed);
  sched.sysmonpolling.store(false, std::memory_order_relaxed);
  sched.gcreatedNoP.store(1, std::memory_order_relaxed);  // gp, the one goroutine (gcount)
  sigmaskforkchild(gp);
  sigpendforkchild(mp, gp);
  worldsema.store(1, std::memory_order_relaxed);
  sysmonmissing.store(true, std::memory_order_relaxed);
  mp->alllink = nullptr;
  mp->nextp = nullptr;
  mp->oldp = nullptr;
  mp->sigreq.store(0, std::memory_order_relaxed);
  mp->dumpreq.store(0, std::memory_order_relaxed);
  noteclear(&mp->park);
  allm.store(mp, std::memory_order_release);
  int32_t procs = gomaxprocs.load(std::memory_order_relaxed);
  for (int32_t i = nallp.load(std::memory_order_acquire) - 1; i >= 0; i--) {
    p* pp = allp[i];
    pp->runqhead.store(0, std::memory_order_relaxed);
    pp->runqtail.store(0, std::memory_order_relaxed);
    pp->runnext.store(nullptr, std::memory_order_relaxed);
    pp->runnextstreak = 0;
    pp->sysmontick_ = sysmontick{};
    for (auto* c : {&pp->gcreated, &pp->gexited, &pp->nswitch, &pp->nsteal, &pp->npark}) {
      c->store(0, std::memory_order_relaxed);
    }
    timersforkchild(pp);
    if (pp == mine) continue;  // its caches were gp's M's alone: kept
    pp->gfree = gqueue{};
    pp->goidcache = pp->goidcacheend = 0;
    pp->gbatch = nullptr;
    pp->gbatchn = 0;
    pp->nstack = 0;
    pp->m_ = nullptr;
    if (i < procs) pidleput(pp);
  }
}

void rt0_newmain(int (*fn)(int, char**, char**), int argc, char** argv, char** envp) {
  themain = mainargs{fn, argc, argv, envp};
  if (newproc(runmain, nullptr, reinterpret_cast<uintptr_t>(fn), mainstacksize(), mainfsbase) < 0) {
    fatal("newproc: cannot create the main goroutine");
  }
}

}  // namespace gmp
