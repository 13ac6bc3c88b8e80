// Command tick is bench/tick.cc in Go: 4 goroutines, started a quarter of a millisecond
// apart, each sleep 1 ms N times; the process's CPU time (user + system) per wake-up.
package main

import (
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gmpbench/internal/harness"
)

const sleepers = 4

func cpuUs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

func main() {
	n := harness.ArgN(500, 1, math.MaxUint32)
	var wg sync.WaitGroup
	var early int64
	c0 := cpuUs()
	wg.Add(sleepers)
	for i := 0; i < sleepers; i++ {
		go func(i int) {
			time.Sleep(time.Duration(i) * time.Millisecond / sleepers)
			for k := uint64(0); k < n; k++ {
				t0 := time.Now()
				time.Sleep(time.Millisecond)
				if time.Since(t0) < time.Millisecond {
					atomic.AddInt64(&early, 1)
				}
			}
			wg.Done()
		}(i)
	}
	wg.Wait()
	c1 := cpuUs()
	if early != 0 {
		fmt.Fprintf(os.Stderr, "tick: %d sleeps ended before their deadline\n", early)
		os.Exit(1)
	}
	fmt.Printf("tick %.2f us/wake\n", (c1-c0)/float64(sleepers*n))
}
