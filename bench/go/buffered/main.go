// Command buffered is bench/buffered.cc in Go: a producer goroutine sends 0..N-1 into a
// channel of capacity 128 and closes it, main receives and sums them; wall time / N.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"time"
)

func main() {
	n := harness.ArgN(5000000, 1, math.MaxUint64)

	ch := make(chan int64, 128)

	t0 := time.Now()
	go func() {
		for i := uint64(0); i < n; i++ {
			ch <- int64(i)
		}
		close(ch)
	}()
	count, sum := uint64(0), uint64(0)
	for v := range ch {
		count++
		sum += uint64(v)
	}
	elapsed := time.Since(t0)

	harness.CheckRange("buffered", count, sum, n)
	fmt.Printf("buffered %.1f ns/op\n", float64(elapsed.Nanoseconds())/float64(n))
}
