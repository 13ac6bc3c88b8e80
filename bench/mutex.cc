// bench/mutex.cc — cost of a contended lock/unlock pair.
//
// Two goroutines each lock a gmp_mutex_t, increment a shared (plain, non-atomic) counter and
// unlock it N times (argv[1], default 2000000); main (goroutine 1) waits for both on a
// gmp_waitgroup_t and checks the counter is 2N. With one P the two take turns and rarely
// meet the lock held; with two they contend for it. Output:
//   mutex <wall ns / 2N> ns/op
// bench/go/mutex/main.go is the same workload in Go (sync.Mutex, sync.WaitGroup).
#include <gmp/gmp.h>

#include "bench.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

gmp_mutex_t mu = GMP_MUTEX_INIT;
uint64_t counter = 0;  // guarded by mu
gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;
int failed = 0;  // set under mu

void work(void *arg) {
    const uint64_t n = reinterpret_cast<uintptr_t>(arg);
    for (uint64_t i = 0; i < n; i++) {
        gmp_mutex_lock(&mu);
        counter++;
        if (gmp_mutex_unlock(&mu) != 0) failed = 1;  // -EPERM: it was not locked
    }
    gmp_waitgroup_done(&wg);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 2000000);

    const uint64_t t0 = bench::now_ns();
    gmp_waitgroup_add(&wg, 2);
    for (int g = 0; g < 2; g++) {
        const int64_t id = gmp_go(work, reinterpret_cast<void *>(uintptr_t(n)));
        if (id <= 0) {
            std::fprintf(stderr, "mutex: gmp_go returned %lld\n", (long long)id);
            return 1;
        }
    }
    gmp_waitgroup_wait(&wg);
    const uint64_t t1 = bench::now_ns();

    // wait returned after both done calls, which came after their last unlock.
    if (counter != 2 * n || failed) {
        std::fprintf(stderr, "mutex: counter %llu, want %llu (unlock failed: %d)\n",
                     (unsigned long long)counter, (unsigned long long)(2 * n), failed);
        return 1;
    }
    std::printf("mutex %.1f ns/op\n", double(t1 - t0) / double(2 * n));
    return 0;
}
