// bench/fiber_pingpong.cc — the pingpong workload on Boost.Fiber, the C++ peer that fits it:
// main sends i on one unbuffered channel N times (default 1000000), a second fiber answers
// i+1 on another, which main receives and checks. Both fibers run on this one thread (the
// default round-robin scheduler), so compare.py sets it beside libgmp at 1 P. Prints
// `pingpong_fiber <ns per round trip> ns/op`. Built only when Boost.Fiber is installed.
#include <boost/fiber/all.hpp>

#include "bench.h"

#include <cstdint>
#include <cstdio>

namespace fibers = boost::fibers;

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 1000000);

    fibers::unbuffered_channel<int64_t> ping, pong;
    bool failed = false;  // written by the ponger, read after join
    fibers::fiber ponger([&] {
        int64_t v;
        while (ping.pop(v) == fibers::channel_op_status::success) {
            if (pong.push(v + 1) != fibers::channel_op_status::success) {
                failed = true;
                return;
            }
        }
    });

    const uint64_t t0 = bench::now_ns();
    for (uint64_t i = 0; i < n; i++) {
        const int64_t v = int64_t(i);
        int64_t got = -1;
        if (ping.push(v) != fibers::channel_op_status::success ||
            pong.pop(got) != fibers::channel_op_status::success || got != v + 1) {
            std::fprintf(stderr, "fiber_pingpong: round trip %llu got %lld, want %lld\n",
                         (unsigned long long)i, (long long)got, (long long)(v + 1));
            return 1;
        }
    }
    const uint64_t t1 = bench::now_ns();

    ping.close();
    ponger.join();
    if (failed) {
        std::fprintf(stderr, "fiber_pingpong: the ponger saw a channel error\n");
        return 1;
    }
    std::printf("pingpong_fiber %.1f ns/op\n", double(t1 - t0) / double(n));
    return 0;
}
