// start.cc — the __libc_start_main hook: how libgmp takes over a program, preloaded or
// linked. The C runtime's _start calls __libc_start_main(main, ...); ours calls the real one
// with rt0_main in place of main, so the program's constructors run as usual and then rt0
// builds the runtime and runs main as goroutine 1.
//
// One unversioned definition serves both versions an executable may reference
// (__libc_start_main@GLIBC_2.2.5 and @GLIBC_2.34): ld.so accepts an unversioned definition
// for a versioned reference that is not hidden, and we come before libc in the lookup order.
#include <dlfcn.h>
#include <unistd.h>

#include "hook.h"

namespace {
using mainfn_t = int (*)(int, char**, char**);
using libc_start_main_t = int (*)(mainfn_t, int, char**, void (*)(), void (*)(), void (*)(),
                                  void*);

mainfn_t realmain;

int rt0_main(int argc, char** argv, char** envp) { gmp::rt0_go(realmain, argc, argv, envp); }
}  // namespace

extern "C" __attribute__((visibility("default"))) int __libc_start_main(
    mainfn_t mainfn, int argc, char** argv, void (*init)(), void (*fini)(), void (*rtld_fini)(),
    void* stack_end) {
  auto real = reinterpret_cast<libc_start_main_t>(dlsym(RTLD_NEXT, "__libc_start_main"));
  if (!real) {
    static const char msg[] = "gmp: fatal error: cannot find the real __libc_start_main\n";
    write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  realmain = mainfn;
  gmp::forkregister();  // before the program's constructors can register handlers
  return real(rt0_main, argc, argv, init, fini, rtld_fini, stack_end);
}
