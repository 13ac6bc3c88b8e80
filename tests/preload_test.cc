// preload_test.cc — LD_PRELOAD=libgmp.so on programs that know nothing of it must behave
// exactly as without it. This harness is itself a plain program (no runtime); it runs each
// command twice and compares exit status and output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <cstdlib>
#include <regex>
#include <string>

#include "child.h"

namespace {
using result = gmptest::childresult;

std::string env(const char* name) {
  const char* v = getenv(name);
  return v ? v : "";
}

// asanbuild: libgmp.so was built with ASan, which leaves the pthread takeover out (meson.build).
bool asanbuild() { return env("GMP_SO").find("libasan") != std::string::npos; }

result run(const std::string& cmd, bool preload) {
  // In an ASan build, LeakSanitizer would also judge the other programs run here (bash,
  // python) and, with libgmp.so preloaded, reports some of their own allocations as leaked
  // (not without it; not yet understood, see the issue's note): leaks are not checked.
  std::string full = preload ? "env " + std::string(asanbuild() ? "ASAN_OPTIONS=detect_leaks=0 " : "") +
                                   "LD_PRELOAD=" + env("GMP_SO") + " " + cmd
                             : cmd;
  return gmptest::runshell(full + " 2>&1");
}

void expectSame(const std::string& cmd) {
  result plain = run(cmd, false), pre = run(cmd, true);
  EXPECT_EQ(pre.status, plain.status) << cmd << "\n" << pre.out;
  EXPECT_EQ(pre.out, plain.out) << cmd;
}

std::string app(const char* name) { return env("GMP_APPS") + "/" + name; }

// expectAtOneAndTwoPs: app prints expect natively and preloaded, at GMPMAXPROCS=1 (its
// threads take turns on one OS thread) and 2; timeout: a call nothing ends would wait for ever.
void expectAtOneAndTwoPs(const char* name, const std::string& expect) {
  for (const char* procs : {"1", "2"}) {
    std::string cmd = std::string("env GMPMAXPROCS=") + procs + " timeout 60 " + app(name);
    expectSame(cmd);
    EXPECT_EQ(run(cmd, true).out, expect) << "GMPMAXPROCS=" << procs;
  }
}


// figure: the number after "name=" in out, or -1.
long figure(const std::string& out, const std::string& name) {
  size_t at = out.find(name + "=");
  return at == std::string::npos ? -1 : atol(out.c_str() + at + name.size() + 1);
}
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
  // A tree nothing changes while the tests run (/'s /proc counts the processes alive).
  expectSame("ls -la " + std::string(SOURCE_APPS));
  expectSame("sh -c 'echo a; exit 3'");
  expectSame("sh -c 'for i in 1 2 3; do /bin/echo $i; done | sort -r'");
}

// A default stack size past GMP_GO_STACK_MAX (or negative, which strtoull would wrap) is
// reported and ignored, as a malformed one is: it made the first stack's mapping fail.
TEST(Preload, OutOfRangeStackSizeIsReportedAndIgnored) {
  for (std::string v : {"99999999999999", "-1", "2048m"}) {
    result r = run("env GMPSTACK=" + v + " " + app("plain") + " 42", true);
    EXPECT_EQ(r.status, 42) << v << "\n" << r.out;
    EXPECT_NE(r.out.find("gmp: ignoring malformed GMPSTACK=" + v), std::string::npos) << r.out;
  }
  result ok = run("env GMPSTACK=1024m " + app("plain") + " 42", true);
  EXPECT_EQ(ok.status, 42) << ok.out;
  EXPECT_EQ(ok.out.find("GMPSTACK"), std::string::npos) << ok.out;
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
  expectAtOneAndTwoPs("sigwait",
                      "got SIGUSR1 20 times\n"
                      "main blocks SIGUSR2: 0\n"
                      "SIGUSR2 handled: 1\n"
                      "the thread blocks SIGUSR2: 1\n"
                      "signalfd: got SIGUSR1 5 times\n");
}

// Threads that wait for each other by spinning, main among them: at one P each must be
// preempted for the one that holds the token to run (src/preempt.cc); it hung before.
TEST(Preload, ThreadsThatSpinAreTakenTurns) {
  expectAtOneAndTwoPs("spinring",
                      "token went round 10 times\n"
                      "thread 0: 61.626451\n"
                      "thread 1: 78.252903\n"
                      "thread 2: 94.879354\n");
}

// Threads that malloc and compute between spin barriers, preempted every 10 ms or so at
// one P: each keeps its errno, thread_local and registers (src/preempt.cc).
TEST(Preload, ThreadsPreemptedBetweenLibcCallsKeepTheirState) {
  expectAtOneAndTwoPs("spinbarrier",
                      "thread 0: 18707087.124929\n"
                      "thread 1: 18693190.652791\n"
                      "thread 2: 18715768.363200\n"
                      "thread 3: 18708313.360399\n"
                      "errno kept: yes\n");
}

// A write to a pipe whose reader is gone fails with EPIPE, and its SIGPIPE goes to the
// writer: a handler runs there, a blocked one waits there for sigtimedwait. The ring's write
// raised it on whichever M ran the request: another thread's handler ran, and a writer that
// blocked SIGPIPE had the process killed by it (preload/io.cc, fifowrite). The first write
// is also made at start-up in a run of processes: sysmon's /proc helper, made then, held a
// copy of every descriptor for a moment, the pipe's read end among them, and a write that
// should have failed wrote a byte no one would read (src/procfs.cc). That was a race (3
// start-ups in 200 in a one-off loop): 100 of them here catch it most times, not always.
TEST(Preload, WritesToAPipeWithoutReadersFailAndSignalTheWriter) {
  expectAtOneAndTwoPs("closedpipe",
                      "at once: -1 EPIPE, handled 1\n"
                      "handler: wrote some, handled 1, on the writer 1\n"
                      "handler: wrote some, handled 1, on the writer 1\n"
                      "handler: wrote some, handled 1, on the writer 1\n"
                      "blocked: wrote some, pending 1, taken 13\n"
                      "blocked: wrote some, pending 1, taken 13\n"
                      "blocked: wrote some, pending 1, taken 13\n"
                      "end\n");
  result r = run("sh -c 'for i in $(seq 100); do GMPMAXPROCS=1 timeout 60 " + app("closedpipe") +
                     " | sed -n 1p; done | grep -c -x \"at once: -1 EPIPE, handled 1\"'",
                 true);
  EXPECT_EQ(r.out, "100\n");
}

// A program that drops root drops it on every OS thread its threads run on: the Ms glibc does
// not know (and the one main started on, when main calls from another) kept root, and the
// threads running there acted as root (src/setxid.cc).
TEST(Preload, DroppingRootDropsItOnEveryThread) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  if (geteuid() != 0) GTEST_SKIP() << "not root: there is no root to drop";
  expectAtOneAndTwoPs("setxid", "dropped: 0, main's euid 4343, samples with the old ids: 0\n");
}

// A hook's first calls, made by sixteen threads at once, leave errno alone where the call
// succeeds: the lookup of libc's function waited on a function-local static's guard, whose
// futex wait wrote EAGAIN into errno (6 processes in 100 saw it at 2 Ps, one-off). A hundred
// fresh processes, each with its first calls.
TEST(Preload, FirstCallsOfAHookLeaveErrnoAlone) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("firstcalls", "errno changed under a call that succeeded: 0\n");
  result r = run("sh -c 'for i in $(seq 100); do GMPMAXPROCS=2 timeout 60 " + app("firstcalls") +
                     "; done | grep -c -x \"errno changed under a call that succeeded: 0\"'",
                 true);
  EXPECT_EQ(r.out, "100\n");
}

// A program linked to need an executable stack (GCC's nested functions: trampolines on the
// stack) runs on goroutine stacks made executable, as glibc makes its thread stacks: it died
// of a fatal SIGSEGV at its first trampoline, on goroutine 1 too (src/stack.cc, stackexec).
TEST(Preload, ProgramsThatNeedAnExecutableStackGetOne) {
  expectAtOneAndTwoPs("execstack", "main: 2\nthread: 2\n");
}

TEST(Preload, SignalHandlersInterruptTheMainThreadsCalls) {
  expectAtOneAndTwoPs("eintr",
            "read: -1 Interrupted system call\n"
            "read under SA_RESTART: 1 x\n"
            "poll: -1 Interrupted system call\n"
            "nanosleep: -1 Interrupted system call, time left: yes\n"
            "pause: -1 Interrupted system call\n"
            "alarms: 5 or more\n"
            "read while threads that block every signal wait: -1 Interrupted system call\n"
            "sem_wait: -1 Interrupted system call\n"
            "sem_timedwait under SA_RESTART: -1 Interrupted system call\n"
            "the other waiter: got the post\n"
            "sem_wait under SA_RESTART: 0 -, value 0\n"
            "wait under SA_RESTART: reaped the child 3 of 3 times, handlers ran 3 times\n");
}

// A handler's async-signal-safe calls (sem_post, write to a blocking pipe) wake the program's
// threads, whatever the handler interrupted: the runtime's locks held, a P's run queue half
// changed, an M asleep with every other (single alarms into an idle process).
TEST(Preload, SignalHandlersWakeThreadsWithAsyncSignalSafeCalls) {
  expectAtOneAndTwoPs("sigpost",
                      "sem_post from a handler woke two threads: 8000 waits\n"
                      "write from a handler: 1000 bytes read\n"
                      "single alarms woke the idle process: 20 times\n");
}

TEST(Preload, SignalsSentToAThreadInterruptItsCalls) {
  expectAtOneAndTwoPs("threadkill",
                      "read: -1 Interrupted system call, handler first: 1\n"
                      "read under SA_RESTART: still waiting: 1, handler ran: 1\n"
                      "read under SA_RESTART: 1 y\n"
                      "poll under SA_RESTART: -1 Interrupted system call, handler first: 1\n"
                      "sem_wait: -1 Interrupted system call, handler first: 1, value 0\n"
                      "recv MSG_WAITALL: -1 Interrupted system call, handler first: 1, on the "
                      "thread: 1\n"
                      "ppoll with a mask: -1 Interrupted system call, handler first: 1, on the "
                      "thread: 1\n"
                      "sigwait: SIGUSR2\n"
                      "setuid from a thread: 0\n");
}

// A signal sent to a thread that blocks it is that thread's alone until it takes it: its
// signalfd read, sigwait, sigpending and sigtimedwait see it, its handler runs on it when it
// unblocks, and main, which does not block it, never gets it (SIGUSR2's default action
// would end the process), whether pthread_kill sent it while the thread was parked, or the
// thread raised it, or its write to a pipe without readers did. A thread's sigsuspend gets
// a signal sent to the process while main, which sends it, runs (at one P too). So does a
// signal pthread_kill sends the main thread while it blocks it.
TEST(Preload, ASignalPendingForAThreadStaysItsAlone) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("sigpend",
                      "signalfd read: 128, User defined signal 2\n"
                      "after the pipe read (1): pending 1, sigwait 0 User defined signal 1\n"
                      "unblocked after the pipe read (1): handler ran then: 1, on this thread: "
                      "1\n"
                      "raise, pipe read (1), unblock: handler before: 0, at the unblock: 1, on "
                      "this thread: 1\n"
                      "write without readers: -1 Broken pipe; after the pipe read (1): pending "
                      "1, sigtimedwait Broken pipe\n"
                      "main's handler runs: 1\n"
                      "sigsuspend: -1 Interrupted system call, handler ran: 1, on this thread: "
                      "1\n"
                      "main, sent SIGUSR1 while it waited (1): pending 1, sigtimedwait User "
                      "defined signal 1, handler 0\n");
}

// A sleep whose submitting OS thread then blocks in a call nothing hooks, the other Ps idle,
// ends: the blocked thread's P, handed off, goes to an M that waits for the ring.
TEST(Preload, AGoroutineBlockedOnTheMThatSubmittedASleepLetsTheSleepEnd) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("sleepblock", "raw reads done after main's sleeps: 10\n");
}

// Coroutines on stacks of the program's (makecontext) park their blocking calls as their
// goroutine's own stack would: at 1 P the read blocked the only P's thread for good.
TEST(Preload, CoroutinesOnTheProgramsStacksParkTheirCalls) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("ucontext",
                      "thread's coroutine read: 2 hi\n"
                      "thread's coroutine poll: 0\n"
                      "thread: back once\n"
                      "thread's coroutine resumed\n"
                      "thread: back after its coroutine ended\n"
                      "main's coroutine read: 2 ho\n"
                      "main: back\n");
}

// A thread's goroutine in a dump names the call that created it, as Go names a go
// statement's function: pthread_create's caller, not the start routine (which was looked up
// one byte before it: the function in front of it).
TEST(Preload, ADumpNamesTheCallThatCreatedAThread) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  for (const char* procs : {"1", "2"}) {
    result r = run(std::string("env GMPMAXPROCS=") + procs + " " + app("threaddump"), true);
    EXPECT_EQ(r.status, 2) << r.out;  // SIGQUIT's dump, then exit 2
    size_t at = r.out.find("\nblocked_reader+0x");
    ASSERT_NE(at, std::string::npos) << r.out;
    std::string block = r.out.substr(at, r.out.find("\n\n", at) - at);
    EXPECT_TRUE(std::regex_search(block,
                                  std::regex(R"(\ncreated by main\+0x[0-9a-f]+ in goroutine 1\n)")))
        << "GMPMAXPROCS=" << procs << ":\n" << block;
  }
}

// pthread_getattr_np of the main thread gives the stack main runs on, goroutine 1's.
TEST(Preload, TheMainThreadsStackIsTheOneMainRunsOn) {
  if (asanbuild()) GTEST_SKIP() << "no pthread hooks in an ASan build (meson.build)";
  expectAtOneAndTwoPs("mainstack", "asked by main: 1\nasked from a thread: 1\n");
}

// The runtime's own fds (the eventfd, the rings) are not the program's: its loops that close
// every fd, and its dup2 onto the numbers they hold, leave the runtime working.
TEST(Preload, ClosingEveryFdOrDupingOntoOnesLeavesTheRuntimesOwn) {
  expectAtOneAndTwoPs("closeall",
                      "before: 1\nafter a close loop: 1\nafter close_range: 1\n"
                      "after closefrom: 1\ndup2 onto 4 numbers from half the limit: 4\n"
                      "after them: 1\nafter closing them: 1\n");
}

// pthread_cancel of a goroutine-thread, deferred: acted on where it waits (a pipe's read, a
// sleep, poll, sem_wait, pthread_join, a condition with its mutex held again) or where it
// asks (pthread_testcancel), where it computes with an asynchronous type (sysmon preempts
// it there), held while it disables it, and at a call that would not wait;
// not in a rwlock's wait, nor once the thread ends its own way.
// It hung every join before: pthread_cancel returned ENOTSUP.
TEST(Preload, CancelledThreadsEndWhereTheyWait) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  const char* each = ": cancel 0, join 0, canceled, cleanup 1, went on 0\n";
  std::string expect;
  for (const char* name :
       {"read", "sleep", "poll", "sem_wait", "join", "join of main", "testcancel",
        "asynchronous"}) {
    expect += std::string(name) + each;
  }
  expect += std::string("poll of two") + each + "  epoll sets left behind: 0\n";
  expect += "rwlock: got the lock 1, then canceled\n"
            "pthread_exit with a request pending: value 7, handler and destructor runs 2\n"
            "return with a request pending: value -1, handler and destructor runs 1\n";
  expect += std::string("cond_wait") + each + "  held in its handler: 1, free after: 1\n";
  expect += std::string("cond_timedwait") + each + "  held in its handler: 1\n";
  expect += "a signal after a cancel woke the other waiter: 1\n"
            "  disabled: old state enable, old type deferred, slept through\n"
            "  enabled again: old state disable\n";
  expect += std::string("disabled") + each + "ready read" + each;
  expect += "the byte is still there: 1\nother: cancel 0, join 0\nmain's setcancelstate: 0 0\n"
            "bad state: 1, bad type: 1\n";
  expectAtOneAndTwoPs("cancel", expect);
  // With a handler installed, the parks are armed for it too (sigintr.cc, SI7).
  expectAtOneAndTwoPs("cancel handlers", expect);
  // Requests landing anywhere in a loop of reads, sleeps and condition waits: every join
  // says PTHREAD_CANCELED.
  expectAtOneAndTwoPs("cancel stress 3000", "stress: 3000 of 3000 cancelled, mutex free: 1\n");
}

// A thread's CPU set, scheduling policy and prctl name, set and read back as natively
// (src/gthread.cc, GT3). glibc's calls failed with ESRCH on a goroutine-thread before.
TEST(Preload, ThreadAttributesReadBackAsSet) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("threadattrs",
                      "own set: 0, read back: 0, 1 CPU, CPU 0 in it: 1\n"
                      "an empty set: Invalid argument\n"
                      "policy: 0, SCHED_OTHER, priority 0\n"
                      "SCHED_BATCH: 0, read back SCHED_BATCH\n"
                      "SCHED_OTHER at priority 5: Invalid argument\n"
                      "setschedprio 1: Invalid argument, 0: 0\n"
                      "prctl name: 0, worker-with-a-l, pthread_getname_np: worker-with-a-l\n"
                      "seen from main: set 0, 1 CPU; policy 0, SCHED_BATCH; name "
                      "worker-with-a-l\n");
}

// Waits the kernel ends in EINTR for any pending signal see none of the runtime's: the task
// work of a ring operation another goroutine parked on from the same M (preload/hook.h,
// remadeunseen). semop ended in EINTR once at 1 P before.
TEST(Preload, WaitsSeeNoEintrOfTheRuntimes) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("quietwaits",
                      "semop: 0 (ok), EINTRs before: 0\n"
                      "semtimedop: 0 (ok), EINTRs before: 0\n"
                      "sigwaitinfo: 10 (SIGUSR1), EINTRs before: 0\n"
                      "sigtimedwait: 10 (SIGUSR1), EINTRs before: 0\n");
}

// Threads with an alternate signal stack of their own give up their P in a raw futex wait
// and are preempted in a spin (src/signal_unix.cc, gsigaltstack); sigaltstack reads back
// what it was given. Both hung at every P count before (gdb, which sets one, hung at 1 P).
TEST(Preload, ThreadsWithTheirOwnSignalStackGiveUpTheirP) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("altstack",
                      "a new thread's: disabled\n"
                      "set: 0, read back: the same, flags 0\n"
                      "bad flags: -1 Invalid argument\n"
                      "too small: -1 Cannot allocate memory\n"
                      "disabled: 0, it was ours, now disabled\n"
                      "both waiters woke, both spinners saw the flag\n");
}

// pthread_kill of the main thread is a signal to goroutine 1, which stands for it.
TEST(Preload, PthreadKillOfTheMainThreadInterruptsItsCall) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("threadkill main",
                      "main's read, pthread_kill of the main thread: -1 Interrupted system "
                      "call, handler first: 1\n");
}

TEST(Preload, ThreadsEndAsThreads) {
  if (asanbuild()) GTEST_SKIP() << "no pthread takeover in an ASan build (meson.build)";
  expectAtOneAndTwoPs("threadexit",
                      "handlers: pcba, value 42\n"
                      "handlers across parks: pcba, value 42\n"
                      "40 parked threads ran their own handler: 40\n"
                      "main's handler: main\n"
                      "main's key destructor: main's value\n"
                      "joined main: 7\n"
                      "last thread ends\n"
                      "atexit handler ran");
  expectAtOneAndTwoPs("threadexit alone", "main's handler: alone\natexit handler ran");
  // Real threads (GMPDEBUG, whose notes go to stderr, takes the shim away): counted too.
  expectSame("sh -c 'GMPDEBUG=takeover=0 " + app("threadexit") + " 2>/dev/null'");
}

TEST(Preload, StartsUnderAnAddressSpaceLimit) {
  if (asanbuild()) {
    GTEST_SKIP() << "an ASan build: ASan itself cannot start under ulimit -v";
  }
  expectSame("sh -c 'ulimit -v 1000000; exec " + app("throws") + "'");
  expectSame("sh -c 'ulimit -v 1000000; exec " + app("plain") + " 3 x' | grep -v 'thread stack'");
}

// Issue 6: threads become goroutines, and the program cannot tell.
TEST(Preload, ThreadsKeepTheirSemantics) {
  if (asanbuild()) GTEST_SKIP() << "an ASan build: the pthread takeover is not built in";
  // The third: TCBs switched by arch_prctl, as where the CPU hides FSGSBASE (GMPDEBUG's
  // notes go to stderr).
  for (const char* procs : {"1", "2", "2 GMPDEBUG=fsgsbase=0"}) {
    std::string cmd = std::string("sh -c 'env GMPMAXPROCS=") + procs + " " + app("pthreads") +
                      " 2>/dev/null'";
    result plain = run(cmd, false), pre = run(cmd, true);
    EXPECT_EQ(plain.status, 0) << plain.out;
    EXPECT_EQ(plain.out.find("WRONG"), std::string::npos) << plain.out;
    EXPECT_EQ(pre.status, 0) << "GMPMAXPROCS=" << procs << "\n" << pre.out;
    EXPECT_EQ(pre.out, plain.out) << "GMPMAXPROCS=" << procs;
  }
}

TEST(Preload, ThreadPerConnectionServerRunsOnAFewOsThreads) {
  if (asanbuild()) GTEST_SKIP() << "an ASan build: the pthread takeover is not built in";
  // 2,000 connections: 2,001 threads natively. stdout must match; stderr has the figures.
  std::string cmd = app("threadserver") + " 2000 5";
  result plain = gmptest::runshell("env GMPMAXPROCS=2 " + cmd + " 2>/dev/null");
  result pre = gmptest::runshell("env GMPMAXPROCS=2 LD_PRELOAD=" + env("GMP_SO") + " " + cmd +
                                 " 2>/dev/null");
  EXPECT_EQ(plain.status, 0) << plain.out;
  EXPECT_EQ(pre.status, 0) << pre.out;
  EXPECT_EQ(pre.out, plain.out);
  EXPECT_NE(plain.out.find("bytes checked: ok"), std::string::npos) << plain.out;
  result nat = gmptest::runshell(cmd + " 2>&1 >/dev/null");
  result ours = gmptest::runshell("env GMPMAXPROCS=2 LD_PRELOAD=" + env("GMP_SO") + " " + cmd +
                                  " 2>&1 >/dev/null");
  long natthreads = figure(nat.out, "os_threads"), threads = figure(ours.out, "os_threads");
  // All clients are connected then; the server's threads are still being made.
  EXPECT_GT(natthreads, 2000 / 2) << "natively each connection has a thread: " << nat.out;
  EXPECT_GT(threads, 0) << ours.out;
  EXPECT_LE(threads, 2 + 6) << "GMPMAXPROCS=2 and a few Ms (sysmon, blocked calls): " << ours.out;
}

TEST(Preload, TakeoverOffMakesRealThreads) {
  result r = gmptest::runshell("env GMPDEBUG=takeover=0 LD_PRELOAD=" + env("GMP_SO") + " " +
                               app("threadserver") + " 300 2 2>&1");
  EXPECT_EQ(r.status, 0) << r.out;
  // Far more than the 8 at most of the takeover. How many are alive at the count depends on
  // the machine's timing: 139 to 596 measured on 2 busy CPUs.
  EXPECT_GT(figure(r.out, "os_threads"), 64) << r.out;
}

TEST(Preload, ThreadChurnKeepsRssFlat) {
  if (asanbuild()) GTEST_SKIP() << "an ASan build: the pthread takeover is not built in";
  // 200,000 threads created and joined one after another (README: a million). Each exit
  // gives back its TCB, its stack and its malloc cache.
  result r = run(app("churn") + " 200000", true);
  ASSERT_EQ(r.status, 0) << r.out;
  long growth = figure(r.out, "growth_kb"), threads = figure(r.out, "os_threads");
  ASSERT_NE(figure(r.out, "rss_end_kb"), -1) << r.out;
  EXPECT_LT(growth, 4096) << "RSS grew by more than 4 MiB over 180,000 threads: " << r.out;
  EXPECT_GT(threads, 0) << r.out;
  EXPECT_LE(threads, 8) << "the threads ran on a few Ms, not one OS thread each: " << r.out;
}

TEST(Preload, ForkExecAndSpawnFromThreads) {
  if (asanbuild()) GTEST_SKIP() << "an ASan build: the pthread takeover is not built in";
  // timeout: a child waiting for a thread it does not have would wait for ever.
  // pthread Ms too: glibc's fork then moves their TCBs to its stack cache (tls.cc).
  for (const char* procs : {"1", "2", "2 GMPDEBUG=mclone=pthread"}) {
    std::string cmd = std::string("env GMPMAXPROCS=") + procs + " timeout 120 " + app("forks");
    result plain = gmptest::runshell(cmd + " 2>/dev/null");
    result pre = gmptest::runshell("env LD_PRELOAD=" + env("GMP_SO") + " " + cmd + " 2>/dev/null");
    EXPECT_EQ(plain.status, 0) << plain.out;
    EXPECT_EQ(plain.out.find("WRONG"), std::string::npos) << plain.out;
    EXPECT_NE(plain.out.find("exec from a thread"), std::string::npos) << plain.out;
    EXPECT_EQ(pre.status, 0) << "GMPMAXPROCS=" << procs << "\n" << pre.out;
    EXPECT_EQ(pre.out, plain.out) << "GMPMAXPROCS=" << procs;
  }
  // 22 threads wait while the parent forks: as many OS threads natively, a few preloaded.
  std::string cmd = "env GMPMAXPROCS=2 timeout 120 " + app("forks");
  long nat = figure(gmptest::runshell(cmd + " 2>&1 >/dev/null").out, "os_threads");
  result ours = gmptest::runshell("env LD_PRELOAD=" + env("GMP_SO") + " " + cmd + " 2>&1 >/dev/null");
  EXPECT_GE(nat, 23);
  long threads = figure(ours.out, "os_threads");
  EXPECT_GT(threads, 0) << ours.out;
  EXPECT_LE(threads, 2 + 6) << ours.out;
}

namespace {
// expectRealProgram: tests/apps/realprograms.sh mode gives the same output and status
// natively and preloaded.
void expectRealProgram(const char* mode) {
  std::string cmd = "timeout 120 sh " + std::string(SOURCE_APPS) + "/realprograms.sh " + mode;
  result plain = run(cmd, false), pre = run(cmd, true);
  EXPECT_EQ(plain.status, 0) << mode << ": " << plain.out;
  EXPECT_FALSE(plain.out.empty()) << mode;
  EXPECT_EQ(pre.status, plain.status) << mode << ": " << pre.out;
  EXPECT_EQ(pre.out, plain.out) << mode;
}
}  // namespace

// Real Debian programs under the preload: the same output as natively. xz -T4, sort
// --parallel and git's pack and grep threads become goroutines; make, git and the shell
// fork and exec hundreds of children, each preloaded too.
TEST(Preload, RealProgramsBehaveTheSame) {
  for (const char* prog : {"sqlite3", "make", "git", "xz", "sort"}) {
    if (gmptest::runshell(std::string("command -v ") + prog + " >/dev/null").status != 0) {
      ADD_FAILURE() << prog << " is not installed (.ci/run installs it)";
    }
  }
  for (const char* mode : {"sqlite", "make", "git", "xz", "sort"}) expectRealProgram(mode);
}

// CPython's threaded socket server (40 client threads). CPython asks for
// PTHREAD_SCOPE_SYSTEM, so its threads stay real ones (its locks are ours); it keys its
// threads by pthread_self(), so its main thread must keep its identity when goroutine 1
// changes M (maintcbsplit).
TEST(Preload, ThreadedPythonServerBehavesTheSame) {
  if (gmptest::runshell("command -v python3 >/dev/null").status != 0) {
    ADD_FAILURE() << "python3 is not installed (.ci/run installs it)";
  }
  if (asanbuild()) {
    GTEST_SKIP() << "an ASan build: goroutine 1 shares its M's TLS there, so CPython's main "
                    "thread changes pthread_self() when goroutine 1 changes M and may hang";
  }
  expectRealProgram("python");
}
