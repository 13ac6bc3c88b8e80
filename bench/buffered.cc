// bench/buffered.cc — cost of one value through a buffered channel.
//
// A producer goroutine sends 0..N-1 (argv[1], default 5000000) into a channel of capacity
// 128 and closes it; main (goroutine 1) receives until the channel is closed and drained and
// checks the count and the sum N(N-1)/2. Output:
//   buffered <wall ns / N> ns/op
// bench/go/buffered/main.go is the same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

constexpr size_t kCap = 128;

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 5000000);

    gmp_chan_t *ch = gmp_chan_make(sizeof(int64_t), kCap);
    if (!ch) {
        std::perror("buffered: gmp_chan_make");
        return 1;
    }
    bench::sendjob j{gmp_chan_retain(ch), 0, n, 0};

    const uint64_t t0 = bench::now_ns();
    const int64_t id = gmp_go(bench::sendrange, &j);
    if (id <= 0) {
        std::fprintf(stderr, "buffered: gmp_go returned %lld\n", (long long)id);
        return 1;
    }
    uint64_t count = 0, sum = 0;
    int64_t v;
    int r;
    while ((r = gmp_chan_recv(ch, &v)) == 1) {
        count++;
        sum += uint64_t(v);
    }
    const uint64_t t1 = bench::now_ns();
    gmp_chan_release(ch);

    // The close happens after the producer's last write to j.failed; the recv that saw it
    // returned 0, so that write is visible here.
    if (r != 0 || j.failed) {
        std::fprintf(stderr, "buffered: recv returned %d, producer failed %d\n", r, j.failed);
        return 1;
    }
    if (!bench::gotrange("buffered", count, sum, n)) return 1;
    std::printf("buffered %.1f ns/op\n", double(t1 - t0) / double(n));
    return 0;
}
