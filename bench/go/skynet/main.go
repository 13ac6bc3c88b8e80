// Command skynet is bench/skynet.cc in Go: the skynet benchmark over 0..N-1 (default
// 1000000), each node spawning 10 children that send their sums on an unbuffered channel
// the node reads; main checks the root's sum is N(N-1)/2 and prints the wall time in ms.
package main

import (
	"fmt"
	"gmpbench/internal/harness"
	"os"
	"time"
)

const fanout = 10

func skynet(out chan<- int64, num, size int64) {
	if size <= 1 {
		if size == 1 {
			out <- num
		} else {
			out <- 0
		}
		return
	}
	rc := make(chan int64)
	for i := int64(0); i < fanout; i++ {
		lo, hi := i*size/fanout, (i+1)*size/fanout
		go skynet(rc, num+lo, hi-lo)
	}
	var sum int64
	for i := 0; i < fanout; i++ {
		sum += <-rc
	}
	out <- sum
}

func main() {
	n := harness.ArgN(1000000, 1, 1<<31)

	c := make(chan int64)
	t0 := time.Now()
	go skynet(c, 0, int64(n))
	got := <-c
	elapsed := time.Since(t0)

	if want := int64(n * (n - 1) / 2); got != want {
		fmt.Fprintf(os.Stderr, "skynet: sum %d, want %d\n", got, want)
		os.Exit(1)
	}
	fmt.Printf("skynet %.1f ms\n", float64(elapsed.Nanoseconds())/1e6)
}
