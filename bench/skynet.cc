// bench/skynet.cc — the skynet benchmark: a tree of goroutines summing over channels.
//
// The root goroutine covers the numbers 0..N-1 (argv[1], default 1000000). A node covering
// more than one number makes an unbuffered channel, spawns 10 children covering tenths of
// its range, receives their 10 sums on the channel and sends their total on its parent's
// channel; a node covering one number sends it (for N not a power of 10 some leaves cover
// none and send 0). With N = 10^6 that is 1111111 goroutines, 10^6 of them leaves. main
// (goroutine 1) receives the root's sum and checks it is N(N-1)/2 (499999500000). Output:
//   skynet <wall ms from spawning the root to its sum> ms
// bench/go/skynet/main.go is the same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

constexpr int64_t kFanout = 10;

std::atomic<bool> failed{false};

// A node's arguments. The parent keeps them in its own frame: it cannot return before the
// child has sent, and the child copies them first. out is a reference the parent took for the
// child, which the child drops after its send.
struct node {
    gmp_chan_t *out;
    int64_t num, size;
};

void send_and_release(gmp_chan_t *c, int64_t v) {
    if (gmp_chan_send(c, &v) != 0) failed.store(true, std::memory_order_relaxed);
    gmp_chan_release(c);
}

void skynet(void *arg) {
    const node a = *static_cast<node *>(arg);
    if (a.size <= 1) {
        send_and_release(a.out, a.size == 1 ? a.num : 0);
        return;
    }
    gmp_chan_t *rc = gmp_chan_make(sizeof(int64_t), 0);
    if (!rc) {
        failed.store(true, std::memory_order_relaxed);
        send_and_release(a.out, 0);
        return;
    }
    node kids[kFanout];
    int spawned = 0;
    for (int64_t i = 0; i < kFanout; i++) {
        const int64_t lo = i * a.size / kFanout, hi = (i + 1) * a.size / kFanout;
        kids[i] = node{gmp_chan_retain(rc), a.num + lo, hi - lo};
        if (gmp_go(skynet, &kids[i]) <= 0) {
            gmp_chan_release(rc);
            failed.store(true, std::memory_order_relaxed);
            break;
        }
        spawned++;
    }
    int64_t sum = 0;
    for (int i = 0; i < spawned; i++) {
        int64_t v = 0;
        if (gmp_chan_recv(rc, &v) != 1) failed.store(true, std::memory_order_relaxed);
        sum += v;
    }
    gmp_chan_release(rc);
    send_and_release(a.out, sum);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 1000000, 1, uint64_t(1) << 31);

    gmp_chan_t *c = gmp_chan_make(sizeof(int64_t), 0);
    if (!c) {
        std::perror("skynet: gmp_chan_make");
        return 1;
    }
    node root{gmp_chan_retain(c), 0, int64_t(n)};

    const uint64_t t0 = bench::now_ns();
    const int64_t id = gmp_go(skynet, &root);
    if (id <= 0) {
        std::fprintf(stderr, "skynet: gmp_go returned %lld\n", (long long)id);
        return 1;
    }
    int64_t got = -1;
    const int r = gmp_chan_recv(c, &got);
    const uint64_t t1 = bench::now_ns();
    gmp_chan_release(c);

    const int64_t want = int64_t(n * (n - 1) / 2);
    if (r != 1 || got != want || failed.load()) {
        std::fprintf(stderr, "skynet: sum %lld, want %lld (recv %d, failed %d)\n", (long long)got,
                     (long long)want, r, int(failed.load()));
        return 1;
    }
    std::printf("skynet %.1f ms\n", double(t1 - t0) / 1e6);
    return 0;
}
