// Asynchronous preemption (src/preempt.cc): a goroutine with TLS of its own that spins
// without a scheduling point is stopped after 10 ms when others wait for its P, and
// resumes with every register as it was.
#include <cpuid.h>
#include <signal.h>
#include <sys/syscall.h>

#include <thread>
#include <vector>

#include "export_test.h"

using gmptest::ScopedMaxprocs;
using gmptest::WaitGroup;
using gmp::gmp_allglen;
using gmp::gmp_allgs;

// tests/spinregs.S
extern "C" void gmptest_spinregs(const volatile int* flag, uint64_t* out, int avx);
extern "C" unsigned gmptest_x87tags();
// glibc's sigaction under its other name: the runtime's trampoline never sees the handler,
// as with sysv_signal's.
extern "C" int __sigaction(int sig, const struct sigaction* act, struct sigaction* old);

namespace {

constexpr int outWords = 17 + 64 + 5;

struct spinner {
  const volatile int* flag;
  uint64_t out[outWords];
  int avx;
  WaitGroup* wg;
};

void spin(void* arg) {
  auto* s = static_cast<spinner*>(arg);
  gmptest_spinregs(s->flag, s->out, s->avx);
  s->wg->done();
}

uint64_t preemptions() {
  struct gmp_stats st {};
  gmp_stats(&st, sizeof st);
  return st.preemptions;
}

bool haveavx() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX) || !(c & bit_OSXSAVE)) return false;
  uint32_t lo, hi;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6) == 6;  // the OS saves SSE and AVX state
}

// race: the flag the spinners wait for, set either by the test's goroutine (release) or,
// after watchdogms, by a watchdog thread; release says whether the goroutine came first.
struct race {
  volatile int flag = 0;
  std::atomic<bool> released{false};
  std::thread watchdog;
  explicit race(int watchdogms)
      : watchdog([this, watchdogms] {
          for (int i = 0; i < watchdogms && !released.load(); i++) usleep(1000);
          if (!released.exchange(true)) flag = 2;
        }) {}
  bool release() {
    bool mine = !released.exchange(true);
    flag = 1;
    return mine;
  }
  ~race() {
    release();
    watchdog.join();
  }
};

// newspinner: a spinner on r's flag that counts down wg when it is done.
spinner newspinner(race* r, WaitGroup* wg) {
  spinner s{};
  s.flag = &r->flag;
  s.avx = haveavx();
  s.wg = wg;
  return s;
}

// spinners runs n goroutines in gmptest_spinregs (with TLS of their own if owntls) at n Ps,
// so that every P is held by a spinner; this goroutine then sleeps 20 ms (a timer of its P,
// then a place in a run queue) and sets the flag. A watchdog thread sets it after
// watchdogms instead. Returns whether this goroutine set it, i.e. ran while they spun;
// their registers in outs.
bool spinners(int n, bool owntls, int watchdogms, std::vector<spinner>* outs) {
  ScopedMaxprocs procs(n);
  race r(watchdogms);
  WaitGroup wg(n);
  outs->assign(size_t(n), newspinner(&r, &wg));
  gmp_go_attr_t attr{};
  attr.flags = owntls ? GMP_GO_OWN_TLS : 0;
  for (auto& s : *outs) EXPECT_GT(gmp_go_with(spin, &s, &attr), 0);
  gmp_sleep(20 * 1000 * 1000);
  // At 1 P this goroutine runs on the M a spinner was stopped on: it starts with an empty
  // x87 stack, as after any call, not with the spinner's three values.
  EXPECT_EQ(gmptest_x87tags(), 0xffffu);
  bool mine = r.release();
  wg.wait();
  return mine;
}

std::vector<uint64_t> wanted(const spinner& s) {
  std::vector<uint64_t> w(outWords);
  for (int i = 0; i < 15; i++) w[size_t(i)] = 0x1111111111111111ull * uint64_t(i + 1);
  w[4] = reinterpret_cast<uint64_t>(s.out);   // rsi: out
  w[5] = reinterpret_cast<uint64_t>(s.flag);  // rdi: flag
  w[15] = 0x7f80;                             // MXCSR: round toward zero
  w[16] = 0x400;                              // DF
  auto* v = reinterpret_cast<uint8_t*>(&w[17]);
  for (int i = 0; i < 512; i++) v[i] = uint8_t(i);
  if (!s.avx) {  // xmm only: the upper halves of the slots stay as zeroed
    for (int r = 0; r < 16; r++) memset(v + r * 32 + 16, 0, 16);
  }
  w[81] = 5;  // x87 TOP: three values pushed
  double l2t, pi, one = 1;
  asm("fldl2t; fstpl %0" : "=m"(l2t));
  asm("fldpi; fstpl %0" : "=m"(pi));
  memcpy(&w[82], &l2t, 8);
  memcpy(&w[83], &pi, 8);
  memcpy(&w[84], &one, 8);
  w[85] = 0;  // no word of the red zone changed
  return w;
}

bool owntlsok() {
  gmp_go_attr_t attr{};
  attr.flags = GMP_GO_OWN_TLS;
  return gmp_go_with([](void*) {}, nullptr, &attr) > 0;
}

}  // namespace

// At 1 and 2 Ps, every P held by a goroutine (TLS of its own) that spins on a flag in a
// loop without a call: the goroutine that sets the flag runs all the same, within the 10 s
// the watchdog allows, and each spinner comes back with every register it had (the general
// ones, MXCSR, the direction flag, ymm0-15, the x87 stack) and its red zone intact.
TEST(Preempt, SpinnersWithTheirOwnTlsLetTheOthersRun) {
  if (!owntlsok()) GTEST_SKIP() << "goroutines cannot have TLS of their own in this build";
  for (int n : {1, 2}) {
    uint64_t before = preemptions();
    std::vector<spinner> outs;
    EXPECT_TRUE(spinners(n, true, 10 * 1000, &outs)) << n << " P: the spinners were not preempted";
    EXPECT_GT(preemptions(), before) << n << " P";
    for (auto& s : outs) {
      EXPECT_EQ(std::vector<uint64_t>(s.out, s.out + outWords), wanted(s)) << n << " P";
    }
  }
}

// A gmp_go goroutine shares its M's TLS and is never preempted (preempt.cc PR1); nor is one
// with TLS of its own under GMPDEBUG=asyncpreemptoff=1. The others wait for the spinner:
// the watchdog (300 ms) ends the spin, not the sleeping goroutine.
TEST(Preempt, SharedTlsAndAsyncPreemptOffAreLeftAlone) {
  if (!owntlsok()) GTEST_SKIP() << "goroutines cannot have TLS of their own in this build";
  std::vector<spinner> outs;
  uint64_t before = preemptions();
  EXPECT_FALSE(spinners(1, false, 300, &outs)) << "a goroutine on its M's TLS was preempted";
  __atomic_store_n(&gmp::debug.noasyncpreempt, true, __ATOMIC_RELAXED);
  EXPECT_FALSE(spinners(1, true, 300, &outs)) << "preempted under asyncpreemptoff=1";
  __atomic_store_n(&gmp::debug.noasyncpreempt, false, __ATOMIC_RELAXED);
  EXPECT_EQ(preemptions(), before);
  EXPECT_EQ(std::vector<uint64_t>(outs[0].out, outs[0].out + outWords), wanted(outs[0]));
}

// gmp_maxprocs stops the world: a goroutine with TLS of its own that spins on another P is
// preempted for it (sysmon stays awake while the stop waits), instead of holding the stop
// up until the watchdog (10 s) ends its spin.
TEST(Preempt, StopTheWorldStopsASpinner) {
  if (!owntlsok()) GTEST_SKIP() << "goroutines cannot have TLS of their own in this build";
  ScopedMaxprocs two(2);
  race r(10 * 1000);
  WaitGroup wg(1);
  spinner s = newspinner(&r, &wg);
  gmp_go_attr_t attr{};
  attr.flags = GMP_GO_OWN_TLS;
  int64_t goid = gmp_go_with(spin, &s, &attr);
  ASSERT_GT(goid, 0);
  // Until the spinner runs on the other P, and then at once: a spin of 10 ms before the stop
  // would have sysmon preempt it whatever the stop does.
  gmp::g* sg = nullptr;
  for (int64_t i = 0; i < gmp_allglen.load(); i++) {
    if (gmp_allgs[i].goid == goid) sg = &gmp_allgs[i];
  }
  ASSERT_NE(sg, nullptr);
  for (int i = 0; i < 50000 && sg->atomicstatus.load() != gmp::Grunning; i++) {
    gmp_sleep(100 * 1000);
  }
  ASSERT_EQ(sg->atomicstatus.load(), uint32_t(gmp::Grunning));
  uint64_t before = preemptions();
  EXPECT_EQ(gmp_maxprocs(1), 2);
  EXPECT_TRUE(r.release()) << "the stop of the world waited for the watchdog";
  EXPECT_GT(preemptions(), before);
  wg.wait();
  EXPECT_EQ(std::vector<uint64_t>(s.out, s.out + outWords), wanted(s));
}

namespace {
spinner* inhandlerspinner;
void spinhandler(int) {
  gmptest_spinregs(inhandlerspinner->flag, inhandlerspinner->out, inhandlerspinner->avx);
}
}  // namespace

// A handler no trampoline counts (installed behind the hooks' back, as sysv_signal's are),
// running on the goroutine's stack with the goroutine's mask (SA_NODEFER, no sa_mask), is
// not preempted: its kernel signal frame is on the stack (preempt.cc PR3), and its
// rt_sigreturn on another M would give that M this M's signal stack. The other goroutine
// waits for the watchdog (300 ms).
TEST(Preempt, UncountedHandlerOnTheGoroutinesStackIsLeftAlone) {
  if (!owntlsok()) GTEST_SKIP() << "goroutines cannot have TLS of their own in this build";
  ScopedMaxprocs one(1);
  struct sigaction sa {}, old {};
  sa.sa_handler = spinhandler;
  sa.sa_flags = SA_NODEFER;
  ASSERT_EQ(__sigaction(SIGUSR2, &sa, &old), 0);
  race r(300);
  WaitGroup wg(1);
  spinner s = newspinner(&r, &wg);
  inhandlerspinner = &s;
  gmp_go_attr_t attr{};
  attr.flags = GMP_GO_OWN_TLS;
  uint64_t before = preemptions();
  ASSERT_GT(gmp_go_with([](void* a) {
    syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);  // the handler spins
    static_cast<spinner*>(a)->wg->done();
  }, &s, &attr), 0);
  gmp_sleep(20 * 1000 * 1000);
  EXPECT_FALSE(r.release()) << "preempted inside the handler";
  wg.wait();
  EXPECT_EQ(preemptions(), before);
  EXPECT_EQ(std::vector<uint64_t>(s.out, s.out + outWords), wanted(s));
  __sigaction(SIGUSR2, &old, nullptr);
}
