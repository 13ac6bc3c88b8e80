// bench/bench.h — what every C++ benchmark shares: the clock, the N argument, a number from
// /proc/self/status and the range check. (bench/go/internal/harness is the same for Go.)
#pragma once

#include <gmp/gmp.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace bench {

inline uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

// arg_n returns argv[1] as N when it is a number in [lo, hi], def when there is no argv[1];
// otherwise it prints the usage and exits 2.
inline uint64_t arg_n(int argc, char **argv, uint64_t def, uint64_t lo = 1,
                      uint64_t hi = UINT64_MAX) {
    if (argc < 2) return def;
    char *end = nullptr;
    const uint64_t n = std::strtoull(argv[1], &end, 10);
    if (*end != '\0' || n < lo || n > hi) {
        std::fprintf(stderr, "usage: %s [N in %llu..%llu]\n", argv[0], (unsigned long long)lo,
                     (unsigned long long)hi);
        std::exit(2);
    }
    return n;
}

// status_value returns the number in a /proc/self/status field, or -1: KiB for "VmRSS:" and
// "VmHWM:", a count for "Threads:".
inline long status_value(const char *field) {
    long kib = -1;
    if (FILE *f = std::fopen("/proc/self/status", "r")) {
        char line[256];
        const size_t len = std::strlen(field);
        while (std::fgets(line, sizeof line, f))
            if (std::strncmp(line, field, len) == 0) kib = std::strtol(line + len, nullptr, 10);
        std::fclose(f);
    }
    return kib;
}

// sendrange: a producer goroutine. Sends first .. first+count-1 on ch, closes it and drops
// the reference its starter took for it; failed is set if a send failed (read after close).
struct sendjob {
    gmp_chan_t *ch;
    uint64_t first, count;
    int failed;
};
inline void sendrange(void *arg) {
    sendjob *j = static_cast<sendjob *>(arg);
    for (uint64_t i = 0; i < j->count; i++) {
        const int64_t v = int64_t(j->first + i);
        if (gmp_chan_send(j->ch, &v) != 0) {
            j->failed = 1;
            break;
        }
    }
    gmp_chan_close(j->ch);
    gmp_chan_release(j->ch);
}

// gotrange: the values 0..n-1 arrived, each once: count n and sum n(n-1)/2. Otherwise it
// says what arrived and returns false (the program exits 1).
inline bool gotrange(const char *name, uint64_t count, uint64_t sum, uint64_t n) {
    const uint64_t want = n * (n - 1) / 2;
    if (count == n && sum == want) return true;
    std::fprintf(stderr, "%s: received %llu values summing to %llu, want %llu and %llu\n", name,
                 (unsigned long long)count, (unsigned long long)sum, (unsigned long long)n,
                 (unsigned long long)want);
    return false;
}

}  // namespace bench
