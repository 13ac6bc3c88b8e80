// dump_test.cc — what goroutine dumps, fatal signals and stack overflows print, read from
// dumpapp's output (the app's goroutines sit in known functions; see dumpapp.cc). This
// harness is a plain program: it runs dumpapp as a child with a given environment.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "../child.h"

namespace {

using result = gmptest::childresult;

// run runs `env ... dumpapp mode` with cores off and returns what it printed (both streams).
// prefix: shell commands to run first.
result run(const std::string& mode, const std::string& envs, const std::string& prefix = "") {
  const char* app = getenv("DUMPAPP");
  return gmptest::runshell(prefix + "ulimit -c 0; env " + envs + " " + (app ? app : "dumpapp") +
                           " " + mode + " 2>&1");
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

// A goroutine's block: its header line and the lines up to the next blank one.
struct block {
  std::string header;
  std::vector<std::string> body;
};

std::vector<block> goroutines(const std::string& out) {
  std::vector<block> bs;
  bool in = false;
  for (const auto& l : lines(out)) {
    if (l.rfind("goroutine ", 0) == 0) {
      bs.push_back({l, {}});
      in = true;
    } else if (l.empty()) {
      in = false;
    } else if (in) {
      bs.back().body.push_back(l);
    }
  }
  return bs;
}

const block* find(const std::vector<block>& bs, const std::string& fn) {
  for (const auto& b : bs) {
    for (const auto& l : b.body) {
      if (l.rfind(fn, 0) == 0) return &b;
    }
  }
  return nullptr;
}

// frames: the function lines of a block (every other line; the module lines start with a tab).
std::vector<std::string> frames(const block& b) {
  std::vector<std::string> f;
  for (const auto& l : b.body) {
    if (!l.empty() && l[0] != '\t') f.push_back(l);
  }
  return f;
}

bool startswith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

const char* const procsConfigs[] = {"GMPMAXPROCS=1", "GMPMAXPROCS=2",
                                    "GMPMAXPROCS=2 GMPDEBUG=mclone=pthread"};

class Dump : public ::testing::TestWithParam<const char*> {};

TEST_P(Dump, ListsEveryGoroutineWithFramesAndCreator) {
  result r = run("dump", GetParam());
  ASSERT_EQ(r.status, 0) << r.out;
  auto bs = goroutines(r.out);
  ASSERT_FALSE(bs.empty()) << r.out;
  // The caller first, from its own stack.
  EXPECT_EQ(bs[0].header, "goroutine 1 [running]:") << r.out;
  ASSERT_FALSE(frames(bs[0]).empty());
  EXPECT_TRUE(startswith(frames(bs[0])[0], "gmp_dump+0x")) << r.out;
  EXPECT_TRUE(startswith(frames(bs[0])[1], "main+0x")) << r.out;
  EXPECT_TRUE(startswith(frames(bs[0]).back(), "gmp_gostart+0x")) << r.out;

  // The parked goroutine: wait reason, its function below the runtime's, the root, creator.
  const block* parked = find(bs, "parked_in_semacquire+0x");
  ASSERT_NE(parked, nullptr) << r.out;
  EXPECT_EQ(parked->header, "goroutine 2 [semacquire]:");
  auto pf = frames(*parked);
  EXPECT_TRUE(startswith(pf[0], "gmp::gopark(")) << pf[0];
  EXPECT_TRUE(startswith(pf[1], "gmp::semacquire(std::atomic<unsigned int>*")) << pf[1];
  EXPECT_TRUE(startswith(pf[pf.size() - 2], "gmp_gostart+0x")) << r.out;
  EXPECT_TRUE(std::regex_match(pf.back(), std::regex(R"(created by main\+0x[0-9a-f]+ in goroutine 1)")))
      << pf.back();

  // Goroutines that never ran: runnable, shown by their function.
  int neverRan = 0;
  for (const auto& b : bs) {
    auto f = frames(b);
    if (!f.empty() && f[0] == "never_ran+0x0") {
      EXPECT_TRUE(std::regex_match(b.header, std::regex(R"(goroutine \d+ \[runnable\]:)"))) << b.header;
      neverRan++;
    }
  }
  EXPECT_EQ(neverRan, 3) << r.out;

  // With two Ps a goroutine spins on the other M: that M printed it from its signal context.
  if (std::string(GetParam()).find("GMPMAXPROCS=2") != std::string::npos) {
    const block* spin = find(bs, "spin_forever+0x");
    ASSERT_NE(spin, nullptr) << r.out;
    EXPECT_TRUE(std::regex_match(spin->header, std::regex(R"(goroutine \d+ \[running\]:)")));
    EXPECT_TRUE(startswith(frames(*spin)[1], "gmp_gostart+0x")) << r.out;
  }
  EXPECT_NE(r.out.find("gmp_dump returned 0"), std::string::npos);
}

// Each frame's module line is `\t<path>+0x<offset>`, and addr2line maps it back to the
// function the frame line names.
TEST_P(Dump, ModuleOffsetsResolveWithAddr2line) {
  result r = run("dump", GetParam());
  ASSERT_EQ(r.status, 0) << r.out;
  auto bs = goroutines(r.out);
  const block* parked = find(bs, "parked_in_semacquire+0x");
  ASSERT_NE(parked, nullptr) << r.out;
  std::smatch m;
  std::string where;
  for (size_t i = 0; i + 1 < parked->body.size(); i++) {
    if (startswith(parked->body[i], "parked_in_semacquire+0x")) where = parked->body[i + 1];
  }
  ASSERT_TRUE(std::regex_match(where, m, std::regex(R"(\t(/.+)\+(0x[0-9a-f]+))"))) << where;
  // A return address: the call is the instruction before it.
  unsigned long off = std::stoul(m[2].str(), nullptr, 16) - 1;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "addr2line -f -e '%s' 0x%lx", m[1].str().c_str(), off);
  FILE* f = popen(cmd, "r");
  ASSERT_NE(f, nullptr);
  char fn[256] = {};
  ASSERT_NE(fgets(fn, sizeof fn, f), nullptr) << cmd;
  pclose(f);
  EXPECT_STREQ(fn, "parked_in_semacquire\n") << cmd;
}

TEST_P(Dump, WaitTimeShownOnceOverAMinute) {
  result r = run("minutes", GetParam());
  ASSERT_EQ(r.status, 0) << r.out;
  auto bs = goroutines(r.out);
  const block* parked = find(bs, "parked_in_semacquire+0x");
  ASSERT_NE(parked, nullptr) << r.out;
  EXPECT_EQ(parked->header, "goroutine 2 [semacquire, 3 minutes]:");
}

TEST_P(Dump, SigquitDumpsAndExits2) {
  result r = run("quit", GetParam());
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(startswith(r.out, "SIGQUIT: quit\nPC=0x")) << r.out;
  auto bs = goroutines(r.out);
  ASSERT_FALSE(bs.empty()) << r.out;
  EXPECT_EQ(bs[0].header, "goroutine 1 [running]:");
  ASSERT_NE(find(bs, "parked_in_semacquire+0x"), nullptr) << r.out;
}

// A fault of the program's kills it with its signal after the report, as it would without
// the runtime (the status a shell reads, a core where the system keeps them).
TEST_P(Dump, SegvReportsFaultingGoroutineFirst) {
  result r = run("segv", GetParam());
  EXPECT_EQ(r.status, 128 + SIGSEGV) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(^gmp: fatal error: unexpected signal SIGSEGV: addr=0x0 pc=0x[0-9a-f]+\n)")))
      << r.out;
  auto bs = goroutines(r.out);
  ASSERT_GE(bs.size(), 3u) << r.out;
  EXPECT_TRUE(std::regex_match(bs[0].header, std::regex(R"(goroutine \d+ \[running\]:)")));
  EXPECT_TRUE(startswith(frames(bs[0])[0], "(anonymous namespace)::write_null(void*)+0x"))
      << r.out;
  EXPECT_NE(find(bs, "parked_in_semacquire+0x"), nullptr) << "the others follow\n" << r.out;
}

TEST_P(Dump, AbortIsReported) {
  result r = run("abort", GetParam());
  EXPECT_EQ(r.status, 128 + SIGABRT) << r.out;
  EXPECT_TRUE(startswith(r.out, "gmp: fatal error: unexpected signal SIGABRT:")) << r.out;
  auto bs = goroutines(r.out);
  ASSERT_FALSE(bs.empty());
  EXPECT_NE(find({bs[0]}, "(anonymous namespace)::doabort(void*)+0x"), nullptr) << r.out;
}

TEST_P(Dump, StackOverflowIsReportedNeverSilent) {
  result r = run("overflow", GetParam());
  EXPECT_EQ(r.status, 128 + SIGSEGV) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(^gmp: fatal error: goroutine \d+ stack overflow \(65536-byte stack\)\n)")))
      << r.out.substr(0, 2000);
  auto bs = goroutines(r.out);
  ASSERT_FALSE(bs.empty());
  EXPECT_TRUE(startswith(frames(bs[0])[0], "(anonymous namespace)::recurse(int)"));
}

TEST_P(Dump, ProgramsOwnHandlerWins) {
  result r = run("handler", GetParam());
  EXPECT_EQ(r.status, 42) << r.out;
  EXPECT_EQ(r.out.find("gmp: fatal error"), std::string::npos) << r.out;
}

// A program started with SIGQUIT ignored (nohup-style, or from a background job of a
// non-interactive shell) keeps it ignored: the raise does nothing and main returns 3.
TEST_P(Dump, InheritedIgnoredQuitStaysIgnored) {
  result r = run("quit", GetParam(), "trap '' QUIT; ");
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_EQ(r.out, "") << r.out;
}

INSTANTIATE_TEST_SUITE_P(Procs, Dump, ::testing::ValuesIn(procsConfigs));

TEST(Traceback, SingleShowsOnlyTheFailingGoroutine) {
  result r = run("segv", "GMPMAXPROCS=2 GMPTRACEBACK=single");
  EXPECT_EQ(r.status, 128 + SIGSEGV) << r.out;
  auto bs = goroutines(r.out);
  ASSERT_EQ(bs.size(), 1u) << r.out;
  EXPECT_TRUE(startswith(frames(bs[0])[0], "(anonymous namespace)::write_null(void*)+0x"));
}

TEST(Traceback, NoneShowsOnlyTheMessage) {
  result r = run("segv", "GMPMAXPROCS=2 GMPTRACEBACK=none");
  EXPECT_EQ(r.status, 128 + SIGSEGV) << r.out;
  EXPECT_TRUE(startswith(r.out, "gmp: fatal error: unexpected signal SIGSEGV:")) << r.out;
  EXPECT_TRUE(goroutines(r.out).empty()) << r.out;
}

TEST(Traceback, CrashDiesOfTheSignal) {
  result segv = run("segv", "GMPMAXPROCS=2 GMPTRACEBACK=crash");
  EXPECT_EQ(segv.status, 128 + SIGSEGV) << segv.out;
  EXPECT_FALSE(goroutines(segv.out).empty()) << "the dump comes first\n" << segv.out;
  result quit = run("quit", "GMPMAXPROCS=2 GMPTRACEBACK=crash");
  EXPECT_EQ(quit.status, 128 + SIGABRT) << quit.out;
}

TEST(Traceback, MalformedValueIsReportedAndIgnored) {
  result r = run("segv", "GMPMAXPROCS=2 GMPTRACEBACK=loud");
  EXPECT_EQ(r.status, 128 + SIGSEGV);
  EXPECT_NE(r.out.find("gmp: ignoring malformed GMPTRACEBACK=loud"), std::string::npos) << r.out;
  EXPECT_GE(goroutines(r.out).size(), 3u) << "the default is all\n" << r.out;
}

// waitready: what the shell runs after `app linger &` to wait (10 s at most) until the app
// has every goroutine in place (DUMPAPP_READY, a fresh file): a fixed 50 ms sleep lost the
// race on a loaded machine (3 goroutines of 5 in the dump).
const std::string waitready =
    "i=0; while [ ! -e \"$DUMPAPP_READY\" ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done; ";

// A signal from outside while main is still working: main's exit() (its sleep cut short by
// the dump's signals) must neither end the process before the dump is out nor change its
// status.
TEST_P(Dump, KillQuitFromOutsideDumpsEverythingAndExits2) {
  const char* app = getenv("DUMPAPP");
  // (A shell starts background jobs with SIGQUIT ignored, which the runtime respects.)
  std::string cmd = "export DUMPAPP_READY=$(mktemp -u); ulimit -c 0; "
                    "env --default-signal=QUIT " + std::string(GetParam()) + " " +
                    (app ? app : "dumpapp") + " linger 2>&1 & pid=$!; " + waitready +
                    "kill -QUIT $pid; wait $pid; echo rc=$?; rm -f \"$DUMPAPP_READY\"";
  result r = gmptest::runshell(cmd);
  EXPECT_NE(r.out.find("rc=2\n"), std::string::npos) << r.out;
  auto bs = goroutines(r.out);
  size_t want = std::string(GetParam()).find("GMPMAXPROCS=2") != std::string::npos ? 6 : 5;
  EXPECT_EQ(bs.size(), want) << r.out;
}

TEST(Traceback, CrashRaisesASignalSentFromOutside) {
  const char* app = getenv("DUMPAPP");
  std::string cmd = "export DUMPAPP_READY=$(mktemp -u); ulimit -c 0; "
                    "env GMPMAXPROCS=2 GMPTRACEBACK=crash " + std::string(app ? app : "dumpapp") +
                    " linger 2>/dev/null & pid=$!; " + waitready +
                    "kill -SEGV $pid; wait $pid; echo rc=$?; rm -f \"$DUMPAPP_READY\"";
  result r = gmptest::runshell(cmd);
  EXPECT_EQ(r.out, "rc=139\n") << "killed by SIGSEGV, as the crash level asks";
}

TEST_P(Dump, DeadlockIsReportedAsGoDoes) {
  result r = run("deadlock", GetParam());
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(startswith(r.out, "gmp: fatal error: all goroutines are asleep - deadlock!\n"))
      << r.out;
  auto bs = goroutines(r.out);
  ASSERT_EQ(bs.size(), 2u) << r.out;
  int recv = 0;
  for (const auto& b : bs) recv += b.header.find("[chan receive]") != std::string::npos;
  EXPECT_EQ(recv, 2) << r.out;
}

TEST_P(Dump, EscapingExceptionIsAPanic) {
  result r = run("panic", GetParam());
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(startswith(r.out, "gmp: panic: boom\n")) << r.out;
  auto bs = goroutines(r.out);
  ASSERT_FALSE(bs.empty()) << r.out;
  EXPECT_TRUE(std::regex_match(bs[0].header, std::regex(R"(goroutine \d+ \[running\]:)")));
  EXPECT_NE(find(bs, "gmp_panic+0x"), nullptr) << r.out;
}

TEST_P(Dump, PendingTimerIsNotADeadlock) {
  result r = run("nodeadlock", GetParam());
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST(Schedtrace, PrintsGosLineEveryNMilliseconds) {
  result r = run("linger", "GMPMAXPROCS=2 GMPDEBUG=schedtrace=10");
  ASSERT_EQ(r.status, 0) << r.out;
  std::regex line(R"(SCHED \d+ms: gomaxprocs=2 idleprocs=\d+ threads=\d+ spinningthreads=\d+ )"
                  R"(idlethreads=\d+ runqueue=\d+ \[\d+ \d+\])");
  int n = 0;
  for (const auto& l : lines(r.out)) {
    if (startswith(l, "SCHED ")) {
      EXPECT_TRUE(std::regex_match(l, line)) << l;
      n++;
    }
  }
  EXPECT_GE(n, 3) << "300 ms at one line per 10 ms\n" << r.out;
}

TEST(Schedtrace, DetailListsEveryPMAndG) {
  result r = run("linger", "GMPMAXPROCS=2 GMPDEBUG=schedtrace=10,scheddetail=1");
  ASSERT_EQ(r.status, 0) << r.out;
  auto ls = lines(r.out);
  size_t first = 0;
  while (first < ls.size() && !startswith(ls[first], "SCHED ")) first++;
  ASSERT_LT(first, ls.size()) << r.out;
  EXPECT_TRUE(std::regex_match(ls[first], std::regex(
      R"(SCHED \d+ms: gomaxprocs=2 idleprocs=\d+ threads=\d+ spinningthreads=\d+ idlethreads=\d+ )"
      R"(runqueue=\d+ gcwaiting=0 stopwait=0 sysmonwait=0)"))) << ls[first];
  std::string block;
  for (size_t i = first + 1; i < ls.size() && startswith(ls[i], "  "); i++) block += ls[i] + "\n";
  EXPECT_TRUE(std::regex_search(block, std::regex(R"(  P0: status=\d schedtick=\d+ syscalltick=\d+ m=-?\d+ runqsize=\d+ gfreecnt=\d+\n)"))) << block;
  EXPECT_TRUE(std::regex_search(block, std::regex(R"(  P1: status=)"))) << block;
  EXPECT_TRUE(std::regex_search(block, std::regex(R"(  M0: p=-?\d+ curg=-?\d+ spinning=(true|false) blocked=(true|false)\n)"))) << block;
  // G1 runs (linger), or is still parked in the set-up's usleep, which a hook parks.
  EXPECT_TRUE(std::regex_search(block, std::regex(R"(  G1: status=\d\((sleep)?\) m=-?\d+\n)"))) << block;
  EXPECT_TRUE(std::regex_search(block, std::regex(R"(  G2: status=4\(semacquire\) m=-1\n)"))) << block;
}

TEST(DumpAbi, BadFdIsRejected) {
  result r = run("badfd", "GMPMAXPROCS=1");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "-9 -9\n");  // -EBADF twice
}

}  // namespace
