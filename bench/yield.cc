// bench/yield.cc — cost of one gmp_yield, i.e. of a goroutine switch.
//
// Two goroutines each call gmp_yield N times (argv[1], default 2000000); main (goroutine 1)
// yields until both are done, so with one P three goroutines take turns. Every yield counts,
// main's waiting ones included, and the result is wall time / total yields:
//   yield <ns per yield> ns/switch
// bench/go/yield/main.go is the same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

std::atomic<uint64_t> done{0};

void work(void *arg) {
    const uint64_t n = reinterpret_cast<uintptr_t>(arg);
    for (uint64_t i = 0; i < n; i++) gmp_yield();
    done.fetch_add(1, std::memory_order_release);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 2000000);

    const uint64_t t0 = bench::now_ns();
    for (int g = 0; g < 2; g++) {
        const int64_t id = gmp_go(work, reinterpret_cast<void *>(uintptr_t(n)));
        if (id <= 0) {
            std::fprintf(stderr, "yield: gmp_go returned %lld\n", (long long)id);
            return 1;
        }
    }
    uint64_t main_yields = 0;
    while (done.load(std::memory_order_acquire) < 2) {
        gmp_yield();
        main_yields++;
    }
    const uint64_t t1 = bench::now_ns();

    std::printf("yield %.1f ns/switch\n", double(t1 - t0) / double(2 * n + main_yields));
    return 0;
}
