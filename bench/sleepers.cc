// bench/sleepers.cc — how late timers fire under a burst: N goroutines (argv[1], default
// 10000) each sleep 1 ms at once; each measures how long after its deadline it ran again.
// Output:
//   sleepers_late_max <max lateness> ms
//   sleepers_late_mean <mean lateness> ms
// (The target: all wake within a few ms of their deadline.) bench/go/sleepers is the
// same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace {

constexpr int64_t kSleep = 1000 * 1000;  // ns
std::atomic<int64_t> maxlate{0}, sumlate{0}, early{0};
gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;

void sleeper(void *) {
    const int64_t t0 = gmp_nanotime();
    gmp_sleep(kSleep);
    const int64_t late = gmp_nanotime() - t0 - kSleep;
    if (late < 0) early.fetch_add(1, std::memory_order_relaxed);
    sumlate.fetch_add(late, std::memory_order_relaxed);
    int64_t m = maxlate.load(std::memory_order_relaxed);
    while (late > m && !maxlate.compare_exchange_weak(m, late, std::memory_order_relaxed)) {
    }
    gmp_waitgroup_done(&wg);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 10000);
    gmp_waitgroup_add(&wg, int64_t(n));
    for (uint64_t i = 0; i < n; i++) {
        if (gmp_go(sleeper, nullptr) <= 0) {
            std::fprintf(stderr, "sleepers: gmp_go failed\n");
            return 1;
        }
    }
    gmp_waitgroup_wait(&wg);
    if (early.load() != 0) {
        std::fprintf(stderr, "sleepers: %lld woke before their deadline\n", (long long)early.load());
        return 1;
    }
    std::printf("sleepers_late_max %.3f ms\n", double(maxlate.load()) / 1e6);
    std::printf("sleepers_late_mean %.3f ms\n", double(sumlate.load()) / 1e6 / double(n));
    return 0;
}
