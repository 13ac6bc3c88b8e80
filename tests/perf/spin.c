/*
 * spin.c — the program tests/perf/perf_test.py records: CPU-bound goroutines running
 * through three known functions, spin_outer → spin_middle → spin_inner, for about half a
 * second. The driver checks that perf's call chains for samples in spin_inner
 * run up through spin_middle and spin_outer and end at gmp_gostart, the goroutine root.
 *
 * Each spinner yields (gmp_yield) after every four spin_inner slices, about once a
 * millisecond, so all but its first slice's samples are taken in a goroutine that has been
 * switched out and back in: by gmp_switchto straight from another g on its P, or through
 * g0 and gogo (gosched always switches, even when the yielder runs next). main yields until
 * the spinners are done; the count of yields is printed for the driver.
 *
 * Plain C, the public header only: rt0 takes over through the link and main is goroutine 1.
 * Usage: spin [milliseconds [spinners]]   (defaults 600 and 2; wall-clock time, so the run
 * stays short on a busy machine). Two spinners on two Ps put samples on the main thread and
 * on a gmp-m<N> thread.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gmp/gmp.h"

#define NOINLINE __attribute__((noinline, noclone))

static atomic_int done;                 /* spinners finished */
static atomic_long yields;              /* gmp_yield calls: switches out and back in */
static volatile double sink;            /* keeps the work from being optimised away */

/* spin_seed: mixes the seed; out of line so that spin_inner makes a call. GCC 12 gives a
 * leaf function no frame (no push %rbp) even with -fno-omit-frame-pointer
 * -mno-omit-leaf-frame-pointer, and a frame-pointer unwind of a sample in a frameless leaf
 * skips the leaf's caller: perf -g would show spin_inner → spin_outer. */
NOINLINE static uint64_t spin_seed(uint64_t seed) {
    return seed * 0x9e3779b97f4a7c15ull ^ (seed >> 29);
}

/* spin_inner: a slice of floating-point and integer work, where nearly all samples land. */
NOINLINE static double spin_inner(uint64_t seed) {
    uint64_t h = spin_seed(seed);
    double x = (double)(h & 0xffff) + 1.0;
    for (int i = 0; i < 20000; i++) {
        x = x * 1.0000001 + 0.5 / x;    /* floating-point dependency chain */
        h = h * 6364136223846793005ull + 1442695040888963407ull;  /* LCG */
    }
    return x + (double)(h >> 40);
}

/* spin_middle: a few inner slices, then give the P away. */
NOINLINE static double spin_middle(uint64_t seed) {
    double s = 0;
    for (int i = 0; i < 4; i++) s += spin_inner(seed + (uint64_t)i);
    gmp_yield();                        /* switched out and back in: must unwind the same */
    atomic_fetch_add_explicit(&yields, 1, memory_order_relaxed);
    return s;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* spin_outer: the goroutine's body; spins for `ms` milliseconds. */
NOINLINE static void spin_outer(void *arg) {
    double end = now_ms() + (double)(intptr_t)arg;
    uint64_t seed = 1;
    while (now_ms() < end) sink = spin_middle(seed++);
    atomic_fetch_add_explicit(&done, 1, memory_order_release);
}

int main(int argc, char **argv) {
    intptr_t ms = argc > 1 ? atoi(argv[1]) : 600;
    int n = argc > 2 ? atoi(argv[2]) : 2;
    for (int i = 0; i < n; i++) {
        if (gmp_go(spin_outer, (void *)ms) <= 0) {
            fprintf(stderr, "spin: gmp_go failed\n");
            return 1;
        }
    }
    while (atomic_load_explicit(&done, memory_order_acquire) < n) gmp_yield();
    printf("spin: %d spinners done, %ld yields (main is goroutine %lld)\n", n,
           atomic_load(&yields), (long long)gmp_goid());
    return 0;
}
