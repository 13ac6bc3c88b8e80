// bench/select4.cc — cost of a blocking select over four channels.
//
// Four producer goroutines each send N/4 values (argv[1], default 2000000; N >= 4) into
// their own channel of capacity 16 and close it: producer k sends k*(N/4) .. (k+1)*(N/4)-1.
// main (goroutine 1) receives with gmp_select over the four channels, dropping a channel from
// the select (chan = NULL, Go's nil channel) once it is closed and drained, until all four
// are; it checks the count 4*(N/4) and the sum of 0 .. 4*(N/4)-1. Output:
//   select4 <wall ns / values received> ns/op
// bench/go/select4/main.go is the same workload in Go.
#include <gmp/gmp.h>

#include "bench.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

constexpr int kChans = 4;
constexpr size_t kCap = 16;

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 2000000, kChans, UINT64_MAX);
    const uint64_t per = n / kChans, total = per * kChans;

    gmp_chan_t *chans[kChans];
    bench::sendjob jobs[kChans];
    int64_t slot[kChans];
    gmp_select_case cases[kChans];
    for (int k = 0; k < kChans; k++) {
        chans[k] = gmp_chan_make(sizeof(int64_t), kCap);
        if (!chans[k]) {
            std::perror("select4: gmp_chan_make");
            return 1;
        }
        jobs[k] = bench::sendjob{gmp_chan_retain(chans[k]), k * per, per, 0};
        cases[k] = gmp_select_case{chans[k], GMP_RECV, &slot[k], false};
    }

    const uint64_t t0 = bench::now_ns();
    for (int k = 0; k < kChans; k++) {
        const int64_t id = gmp_go(bench::sendrange, &jobs[k]);
        if (id <= 0) {
            std::fprintf(stderr, "select4: gmp_go returned %lld\n", (long long)id);
            return 1;
        }
    }
    uint64_t count = 0, sum = 0;
    for (int open = kChans; open > 0;) {
        const int i = gmp_select(cases, kChans, -1);
        if (i < 0 || i >= kChans) {
            std::fprintf(stderr, "select4: gmp_select returned %d\n", i);
            return 1;
        }
        if (!cases[i].ok) {  // closed and drained
            cases[i].chan = nullptr;
            open--;
            continue;
        }
        count++;
        sum += uint64_t(slot[i]);
    }
    const uint64_t t1 = bench::now_ns();

    for (int k = 0; k < kChans; k++) {
        gmp_chan_release(chans[k]);
        if (jobs[k].failed) {  // visible: its close was seen
            std::fprintf(stderr, "select4: producer %d failed to send\n", k);
            return 1;
        }
    }
    if (!bench::gotrange("select4", count, sum, total)) return 1;
    std::printf("select4 %.1f ns/op\n", double(t1 - t0) / double(total));
    return 0;
}
