// bench/pingpong.cc — cost of a round trip over two unbuffered channels.
//
// main (goroutine 1) sends i on ping N times (argv[1], default 1000000); a second goroutine
// receives it and sends i + 1 back on pong, which main receives and checks. Every round trip
// is two hand-offs, each waking the other side. Output:
//   pingpong <wall ns / N> ns/op
// bench/go/pingpong/main.go is the same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

gmp_chan_t *ping, *pong;
gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;
int failed = 0;  // set by the ponger before wg.done; read by main after wg.wait

// ponger answers every v on ping with v + 1 on pong until ping is closed. It holds its own
// reference to both channels (taken by main before gmp_go) and drops it when done.
void ponger(void *) {
    int64_t v;
    int r;
    while ((r = gmp_chan_recv(ping, &v)) == 1) {
        const int64_t w = v + 1;
        if (gmp_chan_send(pong, &w) != 0) {
            failed = 1;
            break;
        }
    }
    if (r < 0) failed = 1;
    gmp_chan_release(ping);
    gmp_chan_release(pong);
    gmp_waitgroup_done(&wg);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 1000000);

    ping = gmp_chan_make(sizeof(int64_t), 0);
    pong = gmp_chan_make(sizeof(int64_t), 0);
    if (!ping || !pong) {
        std::perror("pingpong: gmp_chan_make");
        return 1;
    }
    gmp_chan_retain(ping);
    gmp_chan_retain(pong);
    gmp_waitgroup_add(&wg, 1);
    const int64_t id = gmp_go(ponger, nullptr);
    if (id <= 0) {
        std::fprintf(stderr, "pingpong: gmp_go returned %lld\n", (long long)id);
        return 1;
    }

    const uint64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < n; i++) {
        const int64_t v = int64_t(i);
        int64_t got = -1;
        if (gmp_chan_send(ping, &v) != 0 || gmp_chan_recv(pong, &got) != 1 || got != v + 1) {
            std::fprintf(stderr, "pingpong: round trip %llu got %lld, want %lld\n",
                         (unsigned long long)i, (long long)got, (long long)(v + 1));
            return 1;
        }
    }
    const uint64_t t1 = bench::now_ns();

    gmp_chan_close(ping);
    gmp_waitgroup_wait(&wg);
    gmp_chan_release(ping);
    gmp_chan_release(pong);
    if (failed) {
        std::fprintf(stderr, "pingpong: the ponger saw a channel error\n");
        return 1;
    }
    std::printf("pingpong %.1f ns/op\n", double(t1 - t0) / double(n));
    return 0;
}
