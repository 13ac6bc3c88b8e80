// preload_test.cc — LD_PRELOAD=libgmp.so on programs that know nothing of it must behave
// exactly as without it. This harness is itself a plain program (no runtime); it runs each
// command twice and compares exit status and output.
#include <gtest/gtest.h>

#include <cstring>
#include <cstdlib>
#include <string>

#include "child.h"

namespace {
using result = gmptest::childresult;

std::string env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

result run(const std::string& cmd, bool preload) {
  std::string full = preload ? "env LD_PRELOAD=" + env("GMP_SO") + " " + cmd : cmd;
  return gmptest::runshell(full + " 2>&1");
}

void expectSame(const std::string& cmd) {
  result plain = run(cmd, false), pre = run(cmd, true);
  EXPECT_EQ(pre.status, plain.status) << cmd << "\n" << pre.out;
  EXPECT_EQ(pre.out, plain.out) << cmd;
}

std::string app(const char* name) { return env("GMP_APPS") + "/" + name; }
}  // namespace

TEST(Preload, Environment) {
  ASSERT_FALSE(env("GMP_SO").empty()) << "GMP_SO must name build/libgmp.so";
  ASSERT_FALSE(env("GMP_APPS").empty());
}

TEST(Preload, PlainCProgramKeepsItsContract) {
  std::string cmd = app("plain") + " 42 two 'three four'";
  result plain = run(cmd, false), pre = run(cmd, true);
  EXPECT_EQ(plain.status, 42);
  EXPECT_EQ(pre.status, 42) << pre.out;
  // Identical but for where main's stack is.
  std::string expect = plain.out;
  size_t at = expect.find("main on thread stack: yes");
  ASSERT_NE(at, std::string::npos) << plain.out;
  expect.replace(at, strlen("main on thread stack: yes"), "main on thread stack: no");
  EXPECT_EQ(pre.out, expect);
  EXPECT_NE(pre.out.find("unflushed tail without newlineatexit handler ran"), std::string::npos)
      << "atexit handlers or the final stdio flush did not run: " << pre.out;
}

TEST(Preload, CxxProgramThrowsAndCatches) {
  expectSame(app("throws"));
  EXPECT_EQ(run(app("throws"), true).out, "caught 1000\nstatic destructor ran\n");
}

TEST(Preload, SystemProgramsBehaveTheSame) {
  expectSame("/bin/true");
  expectSame("/bin/false");
  expectSame("ls -la /");
  expectSame("sh -c 'echo a; exit 3'");
  expectSame("sh -c 'for i in 1 2 3; do /bin/echo $i; done | sort -r'");
}

TEST(Preload, PythonBehavesTheSame) {
  if (run("python3 -c 'pass'", false).status != 0) GTEST_SKIP() << "no python3 on this machine";
  expectSame("python3 -c 'import sys, threading; print(sys.argv, sum(range(10**6)))' x y");
}

TEST(Preload, PthreadMsPathToo) {
  std::string cmd = "env GMPDEBUG=mclone=pthread " + app("throws");
  EXPECT_EQ(run(cmd, true).out, "caught 1000\nstatic destructor ran\n");
}

TEST(Preload, SignalsBlockedByTheProgramStayBlocked) {
  expectSame(app("sigwait"));
  EXPECT_EQ(run(app("sigwait"), true).out, "got SIGUSR1 20 times\n");
}

TEST(Preload, SignalHandlersInterruptTheMainThreadsCalls) {
  // timeout: a call a signal failed to interrupt would wait for ever.
  const std::string cmd = "timeout 30 " + app("eintr");
  expectSame(cmd);
  EXPECT_EQ(run(cmd, true).out,
            "read: -1 Interrupted system call\n"
            "read under SA_RESTART: 1 x\n"
            "poll: -1 Interrupted system call\n"
            "nanosleep: -1 Interrupted system call, time left: yes\n"
            "pause: -1 Interrupted system call\n"
            "alarms: 5 or more\n");
}

TEST(Preload, StartsUnderAnAddressSpaceLimit) {
  if (env("GMP_SO").find("libasan") != std::string::npos) {
    GTEST_SKIP() << "an ASan build: ASan itself cannot start under ulimit -v";
  }
  expectSame("sh -c 'ulimit -v 1000000; exec " + app("throws") + "'");
  expectSame("sh -c 'ulimit -v 1000000; exec " + app("plain") + " 3 x' | grep -v 'thread stack'");
}
