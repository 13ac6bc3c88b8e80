// Command pingpong is bench/pingpong.cc in Go: main sends i on an unbuffered channel N
// times, a second goroutine answers i+1 on another; wall time / N round trips is reported.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"math"
	"os"
	"sync"
	"time"
)

func main() {
	n := harness.ArgN(1000000, 1, math.MaxUint64)

	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		wg.Done()
	}()

	t0 := time.Now()
	for i := uint64(0); i < n; i++ {
		v := int64(i)
		ping <- v
		if got := <-pong; got != v+1 {
			fmt.Fprintf(os.Stderr, "pingpong: round trip %d got %d, want %d\n", i, got, v+1)
			os.Exit(1)
		}
	}
	elapsed := time.Since(t0)

	close(ping)
	wg.Wait()
	fmt.Printf("pingpong %.1f ns/op\n", float64(elapsed.Nanoseconds())/float64(n))
}
