// membarrier.cc — an asymmetric fence: the runtime's locks release with a plain store, and a
// waiter about to sleep pays for the ordering instead, with membarrier(2).
//
// Why: on x86 every locked instruction costs ~6 ns here, and a channel operation or a
// sync.Mutex pair took two (the lock's and the unlock's). A release needs no locked
// instruction (x86 stores are release stores); what the exchange bought was a Dekker
// guarantee: the releaser saw a sleeper's mark made before its store, or the sleeper saw the
// store. Without it a releaser whose store still sits in its store buffer may read "no
// sleepers" while a sleeper marks itself and reads "locked". membarrier's private expedited
// command runs a full barrier on every CPU running one of our threads before it returns: a
// sleeper that marked itself and then calls heavyfence sees every release that its mark
// did not reach (the store buffer was drained), so it retries instead of sleeping. Sleeping
// is the slow path already (a futex wait, a park): the fence adds ~1 us there, ~20 us when
// another CPU runs our threads, against ~6 ns saved on every release.
//
// lightrelease is decided once in schedinit, before any M, gthread or goroutine exists, and
// never changes: a lock released with a plain store is only ever waited for by a sleeper
// that fences. Without membarrier (seccomp, kernels before 4.14, GMPDEBUG=membarrier=0) the
// locks release with an exchange as before. A fork child keeps the registration (it is the
// mm's, and fork copies it); exec starts a new runtime.
#include <linux/membarrier.h>
#include <sys/syscall.h>

#include "runtime.h"

namespace gmp {

bool lightrelease;

void membarrierinit() {
  if (debug.nomembarrier) return;
  long cmds = rawsyscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
  if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED)) return;
  if (rawsyscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) != 0) return;
  lightrelease = true;
}

void heavyfence() {
  long r = rawsyscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0);
  if (r != 0) fatal("membarrier failed after it was registered");
}

bool awaitrelease(const void* lockbyte) {
  if (ncpu <= 1) return false;  // the holder cannot run while we spin
  for (int i = 0; i < 16; i++) {  // 480 PAUSEs at most, ~9 us here
    if (loadword8(lockbyte) == 0) return true;
    procyield(30);
  }
  return false;
}

}  // namespace gmp
