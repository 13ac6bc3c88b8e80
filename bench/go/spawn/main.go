// Command spawn is bench/spawn.cc in Go: the cost of starting, running and ending
// goroutines, printed in the same `name value unit` lines. Peak RSS is VmHWM, as there.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var sum, done atomic.Uint64

func work(i uint64) {
	sum.Add(i)
	done.Add(1)
}

// peakRSSKiB returns this process image's peak resident set size in KiB, or -1.
func peakRSSKiB() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(status), "\n") {
		// "VmHWM:	    2140 kB"
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			if kib, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kib
			}
		}
	}
	return -1
}

func main() {
	n := uint64(1000000)
	if len(os.Args) > 1 {
		v, err := strconv.ParseUint(os.Args[1], 10, 64)
		if err != nil || v == 0 {
			fmt.Fprintf(os.Stderr, "usage: %s [N>0]\n", os.Args[0])
			os.Exit(2)
		}
		n = v
	}

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

	rss := peakRSSKiB()
	if rss < 0 {
		fmt.Fprintln(os.Stderr, "spawn: no VmHWM in /proc/self/status")
		os.Exit(1)
	}
	fmt.Printf("spawn %.1f ns/goroutine\n", float64(elapsed.Nanoseconds())/float64(n))
	fmt.Printf("spawn_peak_rss %d KiB\n", rss)
}
