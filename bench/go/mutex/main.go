// Command mutex is bench/mutex.cc in Go: two goroutines each lock a sync.Mutex, increment a
// shared counter and unlock it N times; main waits on a sync.WaitGroup and checks the
// counter is 2N; wall time / 2N lock/unlock pairs.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"os"
	"sync"
	"time"
)

var (
	mu      sync.Mutex
	counter uint64 // guarded by mu
	wg      sync.WaitGroup
)

func work(n uint64) {
	for i := uint64(0); i < n; i++ {
		mu.Lock()
		counter++
		mu.Unlock()
	}
	wg.Done()
}

func main() {
	n := harness.ArgN(2000000, 1, math.MaxUint64)

	t0 := time.Now()
	wg.Add(2)
	go work(n)
	go work(n)
	wg.Wait()
	elapsed := time.Since(t0)

	if counter != 2*n {
		fmt.Fprintf(os.Stderr, "mutex: counter %d, want %d\n", counter, 2*n)
		os.Exit(1)
	}
	fmt.Printf("mutex %.1f ns/op\n", float64(elapsed.Nanoseconds())/float64(2*n))
}
