// Command yield is bench/yield.cc in Go: two goroutines call runtime.Gosched N times each
// while main Gosched-waits; wall time / every Gosched call (main's included) is reported.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

var done atomic.Uint64

func work(n uint64) {
	for i := uint64(0); i < n; i++ {
		runtime.Gosched()
	}
	done.Add(1)
}

func main() {
	n := harness.ArgN(2000000, 1, math.MaxUint64)

	t0 := time.Now()
	go work(n)
	go work(n)
	mainYields := uint64(0)
	for done.Load() < 2 {
		runtime.Gosched()
		mainYields++
	}
	elapsed := time.Since(t0)

	fmt.Printf("yield %.1f ns/switch\n", float64(elapsed.Nanoseconds())/float64(2*n+mainYields))
}
