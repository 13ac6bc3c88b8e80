// Command spawn is bench/spawn.cc in Go: the cost of starting, running and ending
// goroutines, printed in the same `name value unit` lines. Peak RSS is VmHWM, as there.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"os"
	"runtime"
	"sync/atomic"
	"time"
)

var sum, done atomic.Uint64

func work(i uint64) {
	sum.Add(i)
	done.Add(1)
}

// peakRSSKiB returns this process image's peak resident set size in KiB, or -1.

func main() {
	n := harness.ArgN(1000000, 1, math.MaxUint64)

	t0 := time.Now() // monotonic reading, like CLOCK_MONOTONIC
	for i := uint64(0); i < n; i++ {
		go work(i)
	}
	for done.Load() < n {
		runtime.Gosched()
	}
	elapsed := time.Since(t0)

	if got, want := sum.Load(), n*(n-1)/2; got != want {
		fmt.Fprintf(os.Stderr, "spawn: sum %d, want %d\n", got, want)
		os.Exit(1)
	}

	rss := harness.StatusValue("VmHWM:")
	if rss < 0 {
		fmt.Fprintln(os.Stderr, "spawn: no VmHWM in /proc/self/status")
		os.Exit(1)
	}
	fmt.Printf("spawn %.1f ns/goroutine\n", float64(elapsed.Nanoseconds())/float64(n))
	fmt.Printf("spawn_peak_rss %d KiB\n", rss)
}
