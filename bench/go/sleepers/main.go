// Command sleepers is bench/sleepers.cc in Go: N goroutines each sleep 1 ms at once and
// measure how long after their deadline they ran again; max and mean lateness.
package main

import (
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gmpbench/internal/harness"
)

func main() {
	n := harness.ArgN(10000, 1, math.MaxUint64)
	var wg sync.WaitGroup
	var maxlate, sumlate, early int64
	wg.Add(int(n))
	for i := uint64(0); i < n; i++ {
		go func() {
			t0 := time.Now()
			time.Sleep(time.Millisecond)
			late := int64(time.Since(t0) - time.Millisecond)
			if late < 0 {
				atomic.AddInt64(&early, 1)
			}
			atomic.AddInt64(&sumlate, late)
			for {
				m := atomic.LoadInt64(&maxlate)
				if late <= m || atomic.CompareAndSwapInt64(&maxlate, m, late) {
					break
				}
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if early != 0 {
		fmt.Fprintf(os.Stderr, "sleepers: %d woke before their deadline\n", early)
		os.Exit(1)
	}
	fmt.Printf("sleepers_late_max %.3f ms\n", float64(maxlate)/1e6)
	fmt.Printf("sleepers_late_mean %.3f ms\n", float64(sumlate)/1e6/float64(n))
}
