// bench/parked.cc — memory held by a goroutine blocked in a channel receive.
//
// Reads VmRSS from /proc/self/status, then spawns N goroutines (argv[1], default 100000)
// that each bump an arrived counter and block receiving from one shared unbuffered channel.
// main (goroutine 1) yields until arrived == N, sleeps 10 ms, and checks with gmp_stats that
// at least N parks happened since the spawning began (its own sleeps discounted), so every
// goroutine really is parked; then it reads VmRSS again. It closes the channel, waits on a
// gmp_waitgroup_t for all N to wake and end, and checks each receive reported the close.
// Output:
//   parked_bytes <(VmRSS after - VmRSS before) / N> B
// bench/go/parked/main.go is the same workload in Go (without the parks check: Go has no
// such counter; its goroutines have nothing between the counter and the receive either).
#include <gmp/gmp.h>

#include "bench.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int64_t kSettleNs = 10 * 1000000;  // main's sleep once all have arrived
constexpr int kMaxExtraSleeps = 5000;       // 1 ms each: give up on the parks check after 5 s

gmp_chan_t *ch;
gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;
std::atomic<uint64_t> arrived{0}, closed{0};

// main's reference to ch covers the workers: it drops it only after wg.wait, i.e. after every
// worker's receive has returned.
void worker(void *) {
    arrived.fetch_add(1, std::memory_order_relaxed);
    if (gmp_chan_recv(ch, nullptr) == 0) closed.fetch_add(1, std::memory_order_relaxed);
    gmp_waitgroup_done(&wg);
}

uint64_t parks() {
    struct gmp_stats st;
    return gmp_stats(&st, sizeof st) == 0 ? st.parks : 0;
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 100000);

    ch = gmp_chan_make(0, 0);
    if (!ch) {
        std::perror("parked: gmp_chan_make");
        return 1;
    }
    const long before = bench::status_value("VmRSS:");
    const uint64_t parks0 = parks();
    gmp_waitgroup_add(&wg, int64_t(n));
    for (uint64_t i = 0; i < n; i++) {
        const int64_t id = gmp_go(worker, nullptr);
        if (id <= 0) {
            std::fprintf(stderr, "parked: gmp_go #%llu returned %lld\n", (unsigned long long)i,
                         (long long)id);
            return 1;
        }
    }
    while (arrived.load(std::memory_order_relaxed) < n) gmp_yield();
    gmp_sleep(kSettleNs);
    uint64_t sleeps = 1;  // every gmp_sleep parks main once
    while (parks() - parks0 < n + sleeps) {
        if (sleeps > kMaxExtraSleeps) {
            std::fprintf(stderr, "parked: only %llu of %llu goroutines parked after 5 s\n",
                         (unsigned long long)(parks() - parks0 - sleeps), (unsigned long long)n);
            return 1;
        }
        gmp_sleep(1000000);
        sleeps++;
    }
    const long after = bench::status_value("VmRSS:");

    gmp_chan_close(ch);
    gmp_waitgroup_wait(&wg);
    gmp_chan_release(ch);

    if (before < 0 || after < 0) {
        std::fprintf(stderr, "parked: no VmRSS in /proc/self/status\n");
        return 1;
    }
    if (closed.load(std::memory_order_relaxed) != n) {
        std::fprintf(stderr, "parked: %llu of %llu receives saw the close\n",
                     (unsigned long long)closed.load(), (unsigned long long)n);
        return 1;
    }
    std::printf("parked_bytes %.0f B\n", double(after - before) * 1024.0 / double(n));
    return 0;
}
