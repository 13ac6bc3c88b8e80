// Command parked is bench/parked.cc in Go: VmRSS growth per goroutine blocked receiving from
// one shared unbuffered channel. N goroutines each bump an arrived counter and receive; main
// Gosched-waits for arrived == N, sleeps 10 ms, reads VmRSS, then closes the channel, waits
// for all on a sync.WaitGroup and checks each receive reported the close.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var (
	ch              = make(chan struct{})
	wg              sync.WaitGroup
	arrived, closed atomic.Uint64
)

func worker() {
	arrived.Add(1)
	if _, ok := <-ch; !ok {
		closed.Add(1)
	}
	wg.Done()
}

// rssKiB returns this process's resident set size in KiB, or -1.

func main() {
	n := harness.ArgN(100000, 1, math.MaxUint64)

	before := harness.StatusValue("VmRSS:")
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go worker()
	}
	for arrived.Load() < n {
		runtime.Gosched()
	}
	time.Sleep(10 * time.Millisecond)
	after := harness.StatusValue("VmRSS:")

	close(ch)
	wg.Wait()

	if before < 0 || after < 0 {
		fmt.Fprintln(os.Stderr, "parked: no VmRSS in /proc/self/status")
		os.Exit(1)
	}
	if got := closed.Load(); got != n {
		fmt.Fprintf(os.Stderr, "parked: %d of %d receives saw the close\n", got, n)
		os.Exit(1)
	}
	fmt.Printf("parked_bytes %.0f B\n", float64(after-before)*1024/float64(n))
}
