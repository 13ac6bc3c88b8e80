// rt0.cc — start-up: Go's rt0_go, step for step (DESIGN.md, "The boot sequence").
#include <cstdint>

#include "hooks.h"
#include "runtime.h"

namespace gmp {

namespace {
// check: sanity checks before anything else runs. The TCB probe only decides how Ms are
// made (raw clone or pthreads); a failure here that the runtime cannot live with is fatal.
void check() {
  static_assert(sizeof(void*) == 8 && sizeof(int64_t) == 8 && sizeof(int32_t) == 4);
  std::atomic<uint32_t> z{1};
  uint32_t one = 1;
  if (!z.compare_exchange_strong(one, 2) || z.load() != 2) fatal("check: cas1");
  tcbprobe();  // the result is confirmed on sysmon's thread (sysmon.cc)
}
}  // namespace

[[noreturn]] void rt0_go(int (*mainfn)(int, char**, char**), int argc, char** argv,
                         char** envp) {
  check();
  osinit();
  schedinit();
  rt0_newmain(mainfn, argc, argv, envp);
  runtimeStarted.store(true, std::memory_order_release);
  mstart();
}

}  // namespace gmp
