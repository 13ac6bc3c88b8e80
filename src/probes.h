// probes.h — the runtime's USDT probes (provider `gmp`), for perf, bpftrace and SystemTap.
//
// Each is a single nop in the code plus an ELF note (`readelf -n libgmp.so`: stapsdt); a
// probe costs nothing until a tracer attaches. Arguments are 64-bit integers unless said:
//
//   gmp:goroutine__create   goid, fn (start function), parent goid (0: not a goroutine)
//   gmp:goroutine__start    goid, m id               a goroutine starts or resumes running
//   gmp:goroutine__park     goid, reason (waitreason), reason text (char*)
//   gmp:goroutine__ready    goid, readier goid (0: not a goroutine)
//   gmp:goroutine__exit     goid
//   gmp:steal               thief P id, victim P id, goroutines taken
//   gmp:m__start            m id, OS thread id       an M's thread begins
//   gmp:m__park             m id                     an M goes idle (stopm)
//   gmp:netpoll__wait       ns until the next timer  the idle M blocks in the poller (Go's
//                           (-1: none, I/O only)     netpoll(delay): timers and io_uring
//                                                    completions; netpoll_uring.cc)
//
// README.md ("Seeing inside") has the perf and bpftrace recipes.
#pragma once

#define SDT_USE_VARIADIC 1
#include <sys/sdt.h>

#define GMP_PROBE(name, ...) STAP_PROBEV(gmp, name, __VA_ARGS__)
