// hooks.h — the one interface between preload/ (libc's face) and the runtime (src/).
// The preload files call only what is declared here, never scheduler internals.
#pragma once

namespace gmp {

// rt0_go: Go's start-up sequence — check, args, osinit, schedinit, newproc(main), mstart.
// Runs mainfn(argc, argv, envp) as goroutine 1 and exit()s with its result. Never returns.
[[noreturn]] void rt0_go(int (*mainfn)(int, char**, char**), int argc, char** argv, char** envp);

}  // namespace gmp
