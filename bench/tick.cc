// bench/tick.cc — what a mostly idle process pays for its timers: 4 goroutines, started a
// quarter of a millisecond apart, each sleep 1 ms N times (argv[1], default 500), so the
// process wakes every 250 us and has nothing to do in between. Output:
//   tick <CPU time of the process over the run, user + system, per wake-up> us/wake
// Every sleep is checked not to end before its deadline. bench/go/tick is the same workload
// in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <sys/resource.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace {

constexpr int kSleepers = 4;
constexpr int64_t kSleep = 1000 * 1000;  // ns
uint64_t n;
std::atomic<int64_t> early{0};
gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;

void ticker(void *arg) {
    gmp_sleep(int64_t(reinterpret_cast<intptr_t>(arg)) * kSleep / kSleepers);
    for (uint64_t i = 0; i < n; i++) {
        const int64_t t0 = gmp_nanotime();
        gmp_sleep(kSleep);
        if (gmp_nanotime() - t0 < kSleep) early.fetch_add(1, std::memory_order_relaxed);
    }
    gmp_waitgroup_done(&wg);
}

double cpu_us() {
    rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char **argv) {
    n = bench::arg_n(argc, argv, 500);
    const double c0 = cpu_us();
    gmp_waitgroup_add(&wg, kSleepers);
    for (intptr_t i = 0; i < kSleepers; i++) {
        if (gmp_go(ticker, reinterpret_cast<void *>(i)) <= 0) {
            std::fprintf(stderr, "tick: gmp_go failed\n");
            return 1;
        }
    }
    gmp_waitgroup_wait(&wg);
    const double c1 = cpu_us();
    if (early.load() != 0) {
        std::fprintf(stderr, "tick: %lld sleeps ended before their deadline\n",
                     (long long)early.load());
        return 1;
    }
    std::printf("tick %.2f us/wake\n", (c1 - c0) / double(kSleepers * n));
    return 0;
}
