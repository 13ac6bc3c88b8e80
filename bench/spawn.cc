// bench/spawn.cc — cost of starting, running and ending goroutines.
//
// Spawns N goroutines (argv[1], default 1000000); each adds its index to a shared sum and
// bumps a done counter. main (goroutine 1) yields until all have run. Output, one
// `name value unit` line each:
//   spawn <wall ns / N> ns/goroutine
//   spawn_peak_rss <VmHWM> KiB
// Peak RSS is VmHWM, not getrusage's ru_maxrss: ru_maxrss also keeps the peak of the process
// image that exec'd us (a vfork'd python launcher reports its own ~15 MiB), VmHWM does not.
// bench/go/spawn/main.go is the same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace {

std::atomic<uint64_t> sum{0};
std::atomic<uint64_t> done{0};

void work(void *arg) {
    sum.fetch_add(reinterpret_cast<uintptr_t>(arg), std::memory_order_relaxed);
    done.fetch_add(1, std::memory_order_release);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 1000000);

    const uint64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < n; i++) {
        const int64_t id = gmp_go(work, reinterpret_cast<void *>(uintptr_t(i)));
        if (id <= 0) {
            std::fprintf(stderr, "spawn: gmp_go #%llu returned %lld\n", (unsigned long long)i,
                         (long long)id);
            return 1;
        }
    }
    while (done.load(std::memory_order_acquire) < n) gmp_yield();
    const uint64_t t1 = bench::now_ns();

    // The acquire load above saw every goroutine's release, so their relaxed adds are visible.
    const uint64_t want = n * (n - 1) / 2, got = sum.load(std::memory_order_relaxed);
    if (got != want) {
        std::fprintf(stderr, "spawn: sum %llu, want %llu\n", (unsigned long long)got,
                     (unsigned long long)want);
        return 1;
    }

    const long rss = bench::status_value("VmHWM:");
    if (rss < 0) {
        std::fprintf(stderr, "spawn: no VmHWM in /proc/self/status\n");
        return 1;
    }
    std::printf("spawn %.1f ns/goroutine\n", double(t1 - t0) / double(n));
    std::printf("spawn_peak_rss %ld KiB\n", rss);
    return 0;
}
