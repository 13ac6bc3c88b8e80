// fork.cc — fork's family. The runtime rebuilds itself in a forked child from a child
// handler of glibc's fork (src/fork.cc), which must run before the program's own: glibc runs
// child handlers in the order they were registered (prepare handlers in the reverse order),
// so ours are registered before any other — at start-up (preload/start.cc), or earlier, when
// a library's constructor registers first through one of the two calls here. Our prepare
// handler, the last to run, blocks every signal on the forking thread; the parent's and the
// child's, the first, restore the mask, the child's once the runtime is rebuilt. fork itself
// is hooked only to finish in the child, after every child handler (forkdone).
//
// vfork is fork: a vfork child shares the parent's memory and runs on its goroutine's stack
// and TLS until it execs, where a hook it calls (close, dup2) would take it for the parked
// goroutine's thread. POSIX allows it; what differs: the handlers run, and a child that
// writes the parent's memory (vfork's contract forbids it) writes its own copy. posix_spawn,
// system and popen use glibc's own clone and run nothing of ours in the child; their child
// shares the parent's open file descriptions too, so the hooks forget what they knew of
// their blocking modes first (below; system in syscall.cc). _Fork (no handlers,
// async-signal-safe) leaves a child without a scheduler (forkoff).
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "hook.h"

extern "C" void* __dso_handle;

namespace {
using registerfn = int (*)(void (*)(), void (*)(), void (*)(), void*);

registerfn realregister() {
  static const auto f = reinterpret_cast<registerfn>(dlsym(RTLD_NEXT, "__register_atfork"));
  return f;
}

// The forking thread's mask, from our prepare handler to our parent or child handler (the
// same thread: nothing between them parks).
__thread sigset_t forkmask __attribute__((tls_model("initial-exec")));

void prepare() {
  sigset_t all;
  sigfillset(&all);
  gmp::threadmask(SIG_BLOCK, &all, &forkmask);
}

// Both sides share every open file description from now on: the hooks' knowledge of their
// blocking modes goes (io.cc).
void parent() {
  gmp::fdmodesunknown();
  gmp::threadmask(SIG_SETMASK, &forkmask, nullptr);
}

void child() {
  gmp::fdmodesunknown();
  gmp::threadsforkchild();  // TC1: whether or not a scheduler is rebuilt
  gmp::afterforkchild();
  gmp::signalforkchild();
  if (gmp::pthreadforkchild) gmp::pthreadforkchild();
  if (gmp::pthreadsyncforkchild) gmp::pthreadsyncforkchild();
  gmp::threadmask(SIG_SETMASK, &forkmask, nullptr);
}
}  // namespace

namespace gmp {
void forkregister() {
  static std::atomic<int> state{0};  // 0 not yet, 1 registering, 2 done
  int s = 0;
  if (state.compare_exchange_strong(s, 1, std::memory_order_acquire)) {
    realregister()(prepare, parent, child, &__dso_handle);  // fails only on ENOMEM
    state.store(2, std::memory_order_release);
    return;
  }
  while (state.load(std::memory_order_acquire) != 2) sched_yield();
}
}  // namespace gmp

// pthread_atfork comes from libc_nonshared.a and calls this one.
GMP_HOOK int __register_atfork(void (*prepare)(), void (*parent)(), void (*child)(),
                               void* dso) {
  gmp::forkregister();
  return realregister()(prepare, parent, child, dso);
}

// Old binaries call libc.so's own pthread_atfork (GLIBC_2.2.5), which reaches glibc's
// __register_atfork without our definition above. Their handlers stay registered for the
// life of the process, as with that pthread_atfork (libc's handle).
GMP_HOOK int pthread_atfork(void (*prepare)(), void (*parent)(), void (*child)()) noexcept {
  gmp::forkregister();
  return realregister()(prepare, parent, child, nullptr);
}

GMP_HOOK pid_t fork() noexcept {
  REAL(fork);
  pid_t pid = real_fork();
  if (pid == 0) gmp::forkdone();
  return pid;
}

GMP_HOOK pid_t vfork() noexcept { return fork(); }
GMP_HOOK pid_t __vfork() noexcept { return fork(); }

GMP_HOOK pid_t _Fork() noexcept {
  REAL(_Fork);
  pid_t pid = real__Fork();
  if (pid == 0) gmp::forkoff();
  return pid;
}

// posix_spawn, posix_spawnp and popen: a child that may set O_NONBLOCK on a description it
// shares (every caller; the blocking marks, io.cc).
GMP_HOOK int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* fa,
                         const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  REAL(posix_spawn);
  gmp::fdmodesunknown();
  return real_posix_spawn(pid, path, fa, attr, argv, envp);
}

GMP_HOOK int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* fa,
                          const posix_spawnattr_t* attr, char* const argv[], char* const envp[]) {
  REAL(posix_spawnp);
  gmp::fdmodesunknown();
  return real_posix_spawnp(pid, file, fa, attr, argv, envp);
}

GMP_HOOK FILE* popen(const char* cmd, const char* mode) {
  REAL(popen);
  gmp::fdmodesunknown();
  return real_popen(cmd, mode);
}
